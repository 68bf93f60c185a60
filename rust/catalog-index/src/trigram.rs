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

/// Bytes of posting lists filled at a time: the lists of a range of trigrams, the titles
/// read once for each range.
const WINDOW: usize = 32 << 20;

/// The titles in rank order, handed to the closure as often as asked.
pub type Titles<'a> = &'a dyn Fn(&mut dyn FnMut(u32, &[u8]));

/// Each trigram of `title` read with two end marks (repeats included).
#[inline]
fn each_trigram(title: &[u8], mut f: impl FnMut(u32)) {
    match title {
        [] => {}
        [a] => f(u32::from(*a) << 16),
        [a, b, rest @ ..] => {
            let mut key = u32::from(*a) << 8 | u32::from(*b);
            for &c in rest {
                key = (key << 8 | u32::from(c)) & 0x00ff_ffff;
                f(key);
            }
            f((key << 8) & 0x00ff_ffff);
            f((key << 16) & 0x00ff_ffff);
        }
    }
}

/// A trigram's list while it is counted, then filled.
#[derive(Clone, Copy, Default)]
struct Slot {
    count: u32,
    bytes: u32,
    /// The last rank put, plus one (0: none).
    next: u32,
    /// While filling: where the next rank goes in the window.
    at: u32,
}

/// Four sections: keys, counts, list offsets, postings. The titles are read once to count
/// each trigram's ranks and bytes, then once for each window of trigrams whose lists take up
/// to [`WINDOW`] bytes, filled in place and written: never more than a window of lists held.
pub fn write<S: Sink>(titles: Titles<'_>, w: &mut Writer<S>) -> Result<(), Error> {
    let mut slots_of: FastMap<u32, u32> = FastMap::default();
    let mut slots: Vec<Slot> = Vec::new();
    titles(&mut |rank, title| {
        each_trigram(title, |key| {
            let slot = *slots_of.entry(key).or_insert_with(|| {
                slots.push(Slot::default());
                slots.len() as u32 - 1
            });
            let s = &mut slots[slot as usize];
            if s.next != rank + 1 {
                // (else twice in one title)
                s.bytes = s.bytes.saturating_add(varint::len(rank - s.next));
                s.next = rank + 1;
                s.count += 1;
            }
        });
    });
    let mut keys: Vec<u32> = slots_of.keys().copied().collect();
    keys.sort_unstable();
    let mut slots: Vec<Slot> =
        keys.iter().map(|k| slots_of.get(k).map_or_else(Slot::default, |&s| slots[s as usize])).collect();
    for (i, k) in keys.iter().enumerate() {
        slots_of.insert(*k, i as u32);
    }
    w.section(&keys)?;
    w.column(slots.iter().map(|s| s.count))?;
    let mut total = 0usize;
    let at = slots.iter().map(|s| {
        total += s.bytes as usize;
        total
    });
    let at: Vec<u32> = std::iter::once(Ok(0)).chain(at.map(u32_len)).collect::<Result<_, _>>()?;
    w.section(&at)?;
    drop(at);
    let mut out = w.stream::<u8>();
    let (mut lo, mut window) = (0, Vec::new());
    while lo < keys.len() {
        let (mut hi, mut bytes) = (lo, 0usize);
        while hi < keys.len() && (hi == lo || bytes + slots[hi].bytes as usize <= WINDOW) {
            bytes += slots[hi].bytes as usize;
            hi += 1;
        }
        let mut start = 0;
        for s in &mut slots[lo..hi] {
            (s.at, s.next, start) = (start, 0, start + s.bytes);
        }
        window.clear();
        window.resize(bytes, 0);
        let (first, last) = (keys[lo], keys[hi - 1]);
        titles(&mut |rank, title| {
            each_trigram(title, |key| {
                if key.wrapping_sub(first) > last - first {
                    return;
                }
                // Every key of the titles was counted: the same titles are read again.
                let Some(s) = slots_of.get(&key).and_then(|&i| slots.get_mut(i as usize)) else { return };
                if s.next != rank + 1 {
                    let mut at = s.at as usize;
                    varint::put_at(&mut window, &mut at, rank - s.next);
                    (s.at, s.next) = (at as u32, rank + 1);
                }
            });
        });
        out.extend(&window);
        lo = hi;
    }
    out.finish()
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
