//! A table (genres, cast or providers) of a merged base, read as [`Lists`]: the base's names
//! and the delta's, in name order; each list the base's ranks through their new ranks (the
//! removed left out), merged with the delta's. Only the delta's postings are held (8 bytes
//! each); the base's lists are read in place each time they are asked for.

use crate::base::View;
use crate::delta::{Delta, Entry};
use crate::hash::FastMap;
use crate::merge::{Live, Walk};
use crate::renumber::NewRanks;
use crate::tables::Lists;
use crate::values::{bloom_bit, Table};
use std::ops::Range;

pub struct Merged<'a> {
    base: Table<'a>,
    base_movies: usize,
    d: &'a Delta,
    which: usize,
    new_rank: &'a NewRanks<'a>,
    /// Each name: its list in the base, and its ranks among `delta`'s.
    names: Vec<(&'a str, Option<usize>, Range<usize>)>,
    /// The delta's new ranks, by name, each name's ascending.
    delta: Vec<u32>,
}

/// The names of one table of an entry (each once): 0 genres, 1 cast, 2 its provider.
fn names(e: &Entry, which: usize) -> impl Iterator<Item = &str> {
    let (genres, cast) = (e.genres().take(if which == 0 { usize::MAX } else { 0 }), e.cast());
    genres.chain(cast.take(if which == 1 { usize::MAX } else { 0 })).chain((which >= 2).then(|| e.provider()))
}

impl<'a> Merged<'a> {
    pub fn new(
        v: &View<'a>,
        d: &'a Delta,
        new_rank: &'a NewRanks<'a>,
        delta_rank: &[u32],
        which: usize,
    ) -> Self {
        let base = [v.genres, v.cast, v.providers][which.min(2)];
        // The delta's names, numbered as met, then its postings as (name, rank), sorted.
        let mut numbers: FastMap<&'a str, u32> = FastMap::default();
        let mut pairs: Vec<u64> = Vec::new();
        for (i, &rank) in delta_rank.iter().enumerate() {
            for name in names(d.at(i), which) {
                let next = numbers.len() as u32;
                let number = *numbers.entry(name).or_insert(next);
                pairs.push(u64::from(number) << 32 | u64::from(rank));
            }
        }
        let mut delta_names: Vec<(&'a str, u32)> = numbers.into_iter().collect();
        delta_names.sort_unstable();
        let mut order = vec![0u32; delta_names.len()]; // number -> place in name order
        for (place, &(_, number)) in delta_names.iter().enumerate() {
            order[number as usize] = place as u32;
        }
        for p in &mut pairs {
            *p = u64::from(order[(*p >> 32) as usize]) << 32 | (*p & u64::from(u32::MAX));
        }
        pairs.sort_unstable();
        let delta: Vec<u32> = pairs.iter().map(|&p| p as u32).collect();
        let mut ranges = Vec::with_capacity(delta_names.len());
        let mut start = 0;
        for place in 0..delta_names.len() as u64 {
            let end = start + pairs[start..].partition_point(|&p| p >> 32 == place);
            ranges.push(start..end);
            start = end;
        }
        drop(pairs);
        // Both name orders merged.
        let mut names = Vec::with_capacity(base.len() + delta_names.len());
        let (mut at_base, mut at_delta) = (0, 0);
        while at_base < base.len() || at_delta < delta_names.len() {
            let from_base = (at_base < base.len()).then(|| base.name(at_base));
            let from_delta = delta_names.get(at_delta).map(|&(name, _)| name);
            match (from_base, from_delta) {
                (Some(a), Some(b)) if a == b => {
                    names.push((a, Some(at_base), ranges[at_delta].clone()));
                    (at_base, at_delta) = (at_base + 1, at_delta + 1);
                }
                (Some(a), b) if b.is_none_or(|b| a < b) => {
                    names.push((a, Some(at_base), 0..0));
                    at_base += 1;
                }
                (_, Some(b)) => {
                    names.push((b, None, ranges[at_delta].clone()));
                    at_delta += 1;
                }
                _ => break,
            }
        }
        Merged { base, base_movies: v.n, d, which, new_rank, names, delta }
    }
}

impl Lists for Merged<'_> {
    fn len(&self) -> usize {
        self.names.len()
    }

    fn name(&self, i: usize) -> &str {
        self.names[i].0
    }

    fn has_marks(&self, bloom: bool) -> bool {
        if bloom {
            self.base.keeps_skips() || self.base.is_empty()
        } else {
            self.base.keeps_bits() || self.base.is_empty()
        }
    }

    /// The base's movies' bits (their values numbered anew) or blooms (a value's bloom bit
    /// is its name's), and the delta's made from its names: in rank order, read in place.
    fn marks(&self, kept: &[usize], bloom: bool, f: &mut dyn FnMut(u32)) {
        let mut anew = vec![0u32; self.base.len()];
        for (j, &i) in kept.iter().enumerate() {
            if let (Some(k), false) = (self.names[i].1, bloom) {
                anew[k] = 1 << j;
            }
        }
        let bit_of = |name: &str| {
            if bloom {
                bloom_bit(name)
            } else {
                kept.binary_search_by(|&i| self.names[i].0.cmp(name)).map_or(0, |j| 1 << j)
            }
        };
        for live in Walk::new(self.base_movies, self.d) {
            f(match live {
                Live::Base(r) if bloom => self.base.bloom_of(r),
                Live::Base(r) => {
                    let (mut old, mut bits) = (self.base.bits_of(r), 0);
                    while old != 0 {
                        bits |= anew.get(old.trailing_zeros() as usize).copied().unwrap_or(0);
                        old &= old - 1;
                    }
                    bits
                }
                Live::Delta(i) => names(self.d.at(i), self.which).fold(0, |b, n| b | bit_of(n)),
            });
        }
    }

    fn ranks(&self, i: usize, mut f: impl FnMut(u32)) {
        let (_, base, range) = &self.names[i];
        let mut delta = self.delta[range.clone()].iter().copied().peekable();
        if let Some(list) = base {
            for r in self.base.list(*list) {
                let rank = self.new_rank.get(r);
                if rank == u32::MAX {
                    continue;
                }
                while let Some(d) = delta.next_if(|&d| d < rank) {
                    f(d);
                }
                f(rank);
            }
        }
        delta.for_each(f);
    }
}
