//! A many-valued column (genres, cast; a provider is a column of one value per movie) as a
//! sorted string table of its distinct values and, for each, the ascending ranks of the movies
//! that carry it: names are found by binary search, posting lists are one flat `u32` array.

use crate::error::{segment, Error};
use crate::format::Writer;
use std::collections::HashMap;

/// Posting lists being gathered, by name.
#[derive(Default)]
pub struct Postings {
    lists: HashMap<Box<str>, Vec<u32>>,
}

impl Postings {
    /// The values of the movie of this rank (repeats count once). Ranks come in any order;
    /// [`Postings::write`] sorts the lists that need it.
    pub fn push(&mut self, rank: u32, names: &[&str]) {
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                continue;
            }
            if let Some(list) = self.lists.get_mut(*name) {
                list.push(rank);
            } else {
                self.lists.insert((*name).into(), vec![rank]);
            }
        }
    }

    /// A whole list, ranks ascending (merging a base's list through the new ranks).
    pub fn extend(&mut self, name: &str, ranks: impl Iterator<Item = u32>) {
        let list = if let Some(list) = self.lists.get_mut(name) {
            list
        } else {
            self.lists.entry(name.into()).or_default()
        };
        list.extend(ranks);
    }

    /// Four sections: name offsets, names, list offsets, ranks.
    pub fn write<S: crate::format::Sink>(self, w: &mut Writer<S>) -> Result<(), Error> {
        let mut lists: Vec<(Box<str>, Vec<u32>)> =
            self.lists.into_iter().filter(|(_, l)| !l.is_empty()).collect();
        lists.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut names_at = vec![0u32];
        let mut names: Vec<u8> = Vec::new();
        let mut lists_at = vec![0u32];
        let total: usize = lists.iter().map(|(_, l)| l.len()).sum();
        let mut ranks = Vec::with_capacity(total);
        for (name, mut list) in lists {
            names.extend(name.as_bytes());
            names_at.push(u32_len(names.len())?);
            if !list.is_sorted() {
                list.sort_unstable();
            }
            list.dedup();
            ranks.extend(list);
            lists_at.push(u32_len(ranks.len())?);
        }
        w.section(&names_at)?;
        w.section(&names)?;
        w.section(&lists_at)?;
        w.section(&ranks)
    }
}

pub fn u32_len(n: usize) -> Result<u32, Error> {
    u32::try_from(n).map_err(|_| segment("a section exceeds 4 GiB"))
}

/// A written table, read in place.
#[derive(Clone, Copy)]
pub struct Table<'a> {
    names_at: &'a [u32],
    names: &'a [u8],
    lists_at: &'a [u32],
    ranks: &'a [u32],
}

impl<'a> Table<'a> {
    pub fn new(names_at: &'a [u32], names: &'a [u8], lists_at: &'a [u32], ranks: &'a [u32]) -> Self {
        Table { names_at, names, lists_at, ranks }
    }

    pub fn len(&self) -> usize {
        self.names_at.len().saturating_sub(1)
    }

    fn name_bytes(&self, i: usize) -> &'a [u8] {
        &self.names[self.names_at[i] as usize..self.names_at[i + 1] as usize]
    }

    /// Checked on open: `""` only for a table that was not validated.
    pub fn name(&self, i: usize) -> &'a str {
        std::str::from_utf8(self.name_bytes(i)).unwrap_or_default()
    }

    pub fn id(&self, name: &str) -> Option<usize> {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match self.name_bytes(mid).cmp(name.as_bytes()) {
                std::cmp::Ordering::Less => lo = mid + 1,
                std::cmp::Ordering::Greater => hi = mid,
                std::cmp::Ordering::Equal => return Some(mid),
            }
        }
        None
    }

    pub fn list(&self, i: usize) -> &'a [u32] {
        &self.ranks[self.lists_at[i] as usize..self.lists_at[i + 1] as usize]
    }

    pub fn heap_bytes(&self) -> usize {
        (self.names_at.len() + self.lists_at.len() + self.ranks.len()) * 4 + self.names.len()
    }

    /// Offsets in bounds and ascending, names UTF-8 and strictly ascending, lists strictly
    /// ascending below `movies`.
    pub fn validate(&self, what: &str, movies: usize) -> Result<(), Error> {
        let bad = |why: &str| segment(format!("{what}: {why}"));
        let k = self.len();
        if self.names_at.first() != Some(&0)
            || self.lists_at.first() != Some(&0)
            || self.lists_at.len() != k + 1
        {
            return Err(bad("bad offsets"));
        }
        if !self.names_at.is_sorted() || self.names_at[k] as usize != self.names.len() {
            return Err(bad("bad name offsets"));
        }
        if !self.lists_at.is_sorted() || self.lists_at[k] as usize != self.ranks.len() {
            return Err(bad("bad list offsets"));
        }
        for i in 0..k {
            if std::str::from_utf8(self.name_bytes(i)).is_err() {
                return Err(bad("a name is not UTF-8"));
            }
            if i > 0 && self.name_bytes(i - 1) >= self.name_bytes(i) {
                return Err(bad("names out of order"));
            }
            let list = self.list(i);
            if list.windows(2).any(|w| w[0] >= w[1]) || list.last().is_some_and(|&r| r as usize >= movies) {
                return Err(bad("a posting list out of order or out of range"));
            }
        }
        Ok(())
    }
}

/// Does a sorted list hold `r`? Remembers where the last look ended, so ascending looks cost
/// a gallop from there.
pub struct Member<'a> {
    list: &'a [u32],
    at: usize,
}

impl<'a> Member<'a> {
    pub fn new(list: &'a [u32]) -> Self {
        Member { list, at: 0 }
    }

    #[inline]
    pub fn has(&mut self, r: u32) -> bool {
        if self.at > 0 && self.list[self.at - 1] >= r {
            return self.list[..self.at].binary_search(&r).is_ok();
        }
        let rest = &self.list[self.at..];
        let mut bound = 1;
        while bound < rest.len() && rest[bound - 1] < r {
            bound *= 2;
        }
        self.at += rest[..bound.min(rest.len())].partition_point(|&x| x < r);
        self.list.get(self.at) == Some(&r)
    }
}
