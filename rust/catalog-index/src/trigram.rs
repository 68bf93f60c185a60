//! The title index: for each trigram (three bytes) of the lower-cased titles, the ascending
//! ranks of the titles holding it, as varint-coded gaps. A title is read with two end marks
//! (NUL, which no title holds) so that every byte starts a trigram: the titles holding a 1- or
//! 2-byte needle are the union of the lists of the trigrams it begins, exactly; a longer needle
//! is looked for in the rarest lists' titles with `memmem`.

use crate::error::{segment, Error};
use crate::format::{Sink, Writer};
use crate::hash::FastMap;
use crate::values::u32_len;
use crate::varint::{self, Ranks};

struct List {
    next: u32,
    count: u32,
    bytes: Vec<u8>,
}

/// The trigrams of `title` read with two end marks, each once, ascending.
fn trigrams_of(title: &[u8], out: &mut Vec<u32>) {
    out.clear();
    let at = |i: usize| u32::from(title.get(i).copied().unwrap_or(0));
    for i in 0..title.len() {
        out.push(at(i) << 16 | at(i + 1) << 8 | at(i + 2));
    }
    out.sort_unstable();
    out.dedup();
}

/// Four sections: keys, counts, list offsets, postings.
pub fn write<S: Sink>(text: &[u8], starts: &[u32], w: &mut Writer<S>) -> Result<(), Error> {
    let mut slots: FastMap<u32, u32> = FastMap::default();
    let mut lists: Vec<List> = Vec::new();
    let mut keys = Vec::new();
    for (rank, pair) in starts.windows(2).enumerate() {
        trigrams_of(&text[pair[0] as usize..pair[1] as usize], &mut keys);
        for &key in &keys {
            let slot = *slots.entry(key).or_insert_with(|| {
                lists.push(List { next: 0, count: 0, bytes: Vec::new() });
                lists.len() as u32 - 1
            });
            let list = &mut lists[slot as usize];
            varint::put(&mut list.bytes, rank as u32 - list.next);
            list.next = rank as u32 + 1;
            list.count += 1;
        }
    }
    let mut order: Vec<(u32, u32)> = slots.into_iter().collect();
    order.sort_unstable();
    let keys: Vec<u32> = order.iter().map(|&(k, _)| k).collect();
    let counts: Vec<u32> = order.iter().map(|&(_, s)| lists[s as usize].count).collect();
    let mut at = Vec::with_capacity(order.len() + 1);
    at.push(0u32);
    let mut postings = Vec::with_capacity(lists.iter().map(|l| l.bytes.len()).sum());
    for &(_, s) in &order {
        postings.extend(std::mem::take(&mut lists[s as usize].bytes));
        at.push(u32_len(postings.len())?);
    }
    drop(lists);
    w.section(&keys)?;
    w.section(&counts)?;
    w.section(&at)?;
    w.section(&postings)
}

#[derive(Clone, Copy)]
pub struct Trigrams<'a> {
    keys: &'a [u32],
    counts: &'a [u32],
    at: &'a [u32],
    postings: &'a [u8],
}

/// How a title needle will be found: its lists and how many postings they hold.
pub struct Plan {
    lists: Vec<usize>,
    /// Postings to read at most (an upper bound of the matches).
    pub estimate: usize,
    short: bool,
}

impl<'a> Trigrams<'a> {
    pub fn new(keys: &'a [u32], counts: &'a [u32], at: &'a [u32], postings: &'a [u8]) -> Self {
        Trigrams { keys, counts, at, postings }
    }

    pub fn heap_bytes(&self) -> usize {
        (self.keys.len() + self.counts.len() + self.at.len()) * 4 + self.postings.len()
    }

    fn ranks(&self, i: usize) -> Ranks<'a> {
        Ranks::new(&self.postings[self.at[i] as usize..self.at[i + 1] as usize], self.counts[i])
    }

    /// `needle` holds no NUL and is not empty.
    pub fn plan(&self, needle: &[u8]) -> Plan {
        if needle.len() < 3 {
            let prefix = needle.iter().fold(0u32, |k, &b| k << 8 | u32::from(b));
            let shift = 8 * (3 - needle.len() as u32);
            let lo = self.keys.partition_point(|&k| k < prefix << shift);
            let hi = self.keys.partition_point(|&k| k < (prefix + 1) << shift);
            let lists: Vec<usize> = (lo..hi).collect();
            let estimate = lists.iter().map(|&i| self.counts[i] as usize).sum();
            return Plan { lists, estimate, short: true };
        }
        let mut keys: Vec<u32> = needle
            .windows(3)
            .map(|w| u32::from(w[0]) << 16 | u32::from(w[1]) << 8 | u32::from(w[2]))
            .collect();
        keys.sort_unstable();
        keys.dedup();
        let lists: Option<Vec<usize>> = keys.iter().map(|k| self.keys.binary_search(k).ok()).collect();
        let Some(mut lists) = lists else {
            return Plan { lists: Vec::new(), estimate: 0, short: false };
        };
        lists.sort_by_key(|&i| self.counts[i]);
        let estimate = lists.first().map_or(0, |&i| self.counts[i] as usize);
        Plan { lists, estimate, short: false }
    }

    /// The ranks of the titles holding the needle, ascending; `holds` tells whether a title
    /// holds it (asked only of candidates when the lists alone cannot tell).
    pub fn find(&self, plan: &Plan, needle: &[u8], movies: usize, holds: impl Fn(u32) -> bool) -> Vec<u32> {
        if plan.short {
            if plan.estimate < movies / 8 {
                let mut all: Vec<u32> = plan.lists.iter().flat_map(|&i| self.ranks(i)).collect();
                all.sort_unstable();
                all.dedup();
                return all;
            }
            let mut bits = vec![0u64; movies.div_ceil(64)];
            for r in plan.lists.iter().flat_map(|&i| self.ranks(i)) {
                if let Some(w) = bits.get_mut(r as usize / 64) {
                    *w |= 1 << (r % 64);
                }
            }
            return ones(&bits);
        }
        let Some((&first, rest)) = plan.lists.split_first() else { return Vec::new() };
        let mut found: Vec<u32> = self.ranks(first).collect();
        for &i in rest {
            if self.counts[i] as usize > 16 * found.len() {
                break; // cheaper to look in the few titles left
            }
            let mut other = self.ranks(i).peekable();
            found.retain(|&r| {
                while other.next_if(|&o| o < r).is_some() {}
                other.peek() == Some(&r)
            });
        }
        if needle.len() > 3 {
            found.retain(|&r| holds(r));
        }
        found
    }

    /// Keys ascending below 2^24; each list decodes to exactly its count of ranks below
    /// `movies` and uses exactly its bytes.
    pub fn validate(&self, movies: usize) -> Result<(), Error> {
        let t = self.keys.len();
        if self.counts.len() != t || self.at.len() != t + 1 || self.at.first() != Some(&0) {
            return Err(segment("trigram table lengths disagree"));
        }
        if self.keys.windows(2).any(|w| w[0] >= w[1]) || self.keys.last().is_some_and(|&k| k >= 1 << 24) {
            return Err(segment("trigrams out of order"));
        }
        if !self.at.is_sorted() || self.at[t] as usize != self.postings.len() {
            return Err(segment("bad trigram list offsets"));
        }
        if (0..t).any(|i| !self.ranks(i).check(self.counts[i], movies)) {
            return Err(segment("a trigram list is damaged"));
        }
        Ok(())
    }
}

/// The set bits' positions, ascending.
pub fn ones(bits: &[u64]) -> Vec<u32> {
    let mut out = Vec::new();
    for (w, &word) in bits.iter().enumerate() {
        let mut x = word;
        while x != 0 {
            out.push((w * 64) as u32 + x.trailing_zeros());
            x &= x - 1;
        }
    }
    out
}
