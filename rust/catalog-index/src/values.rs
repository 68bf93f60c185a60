//! A many-valued column (genres, cast; a provider is a column of one value per movie) as a
//! sorted string table of its distinct values and, for each, the ascending ranks of the movies
//! that carry it: names are found by binary search, posting lists are varint-coded gaps in one
//! flat byte array (a genre's list takes about a byte a movie, a person's two).
//! A column of 32 values or fewer (genres, providers) also keeps each movie's values as bits
//! (1, 2 or 4 bytes a movie), so that checking a candidate costs one read, not a search; a
//! column of more (cast) keeps skips into its lists and each movie's bloom of its values, so
//! that a movie's values are found without reading every list. Written by `tables.rs`.

use crate::error::{segment, Error};
use crate::varint::Ranks;

/// A table that keeps no bits keeps, every `SKIP` ranks of a list, that rank and where the
/// list goes on after it, and each movie's bloom: the bits of its values' hashes (16 bits).
/// Whether a movie is in a list costs a bloom test and, for a quarter of the lists, a search
/// and `SKIP` ranks read, not the list: a movie's cast among 4,000 lists in ~0.1 ms.
pub const SKIP: u32 = if cfg!(test) { 2 } else { 32 };

/// A value's bit in a movie's bloom (each movie's values of a table with skips, 16 bits).
pub fn bloom_bit(name: &str) -> u32 {
    1 << (xxhash_rust::xxh3::xxh3_64(name.as_bytes()) & 15)
}

/// Bytes a movie's bits take for a column of `values` values (0: none kept).
pub fn width(values: usize) -> usize {
    match values {
        1..=8 => 1,
        9..=16 => 2,
        17..=32 => 4,
        _ => 0, // none, or too many
    }
}

/// Each movie's values as bits, as stored.
#[derive(Clone, Copy)]
pub enum Bits<'a> {
    None,
    W1(&'a [u8]),
    W2(&'a [u16]),
    W4(&'a [u32]),
}

impl Bits<'_> {
    #[inline]
    fn get(&self, rank: u32) -> Option<u32> {
        let r = rank as usize;
        match self {
            Bits::None => None,
            Bits::W1(b) => b.get(r).map(|&x| u32::from(x)),
            Bits::W2(b) => b.get(r).map(|&x| u32::from(x)),
            Bits::W4(b) => b.get(r).copied(),
        }
    }

    fn len(&self) -> usize {
        match self {
            Bits::None => 0,
            Bits::W1(b) => b.len(),
            Bits::W2(b) => b.len(),
            Bits::W4(b) => b.len(),
        }
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
    counts: &'a [u32],
    postings: &'a [u8],
    bits: Bits<'a>,
    /// Each list's first skip, and the skips: `(rank, offset in the list after it)` pairs.
    skips_at: &'a [u32],
    skips: &'a [u32],
    blooms: &'a [u16],
}

/// A table's sections as they are read: name offsets, names, list offsets, list lengths,
/// lists, bits.
pub type Sections<'a> = (&'a [u32], &'a [u8], &'a [u32], &'a [u32], &'a [u8], &'a [u8]);

impl<'a> Table<'a> {
    /// `None` if the bits' bytes are not whole, aligned values of their width.
    pub fn new((names_at, names, lists_at, counts, postings, bits): Sections<'a>) -> Option<Self> {
        let bits = match width(counts.len()) {
            _ if bits.is_empty() => Bits::None,
            1 => Bits::W1(bits),
            2 => Bits::W2(bytemuck::try_cast_slice(bits).ok()?),
            4 => Bits::W4(bytemuck::try_cast_slice(bits).ok()?),
            _ => return None,
        };
        Some(Table {
            names_at,
            names,
            lists_at,
            counts,
            postings,
            bits,
            skips_at: &[],
            skips: &[],
            blooms: &[],
        })
    }

    pub fn with_skips(self, skips_at: &'a [u32], skips: &'a [u32], blooms: &'a [u16]) -> Self {
        Table { skips_at, skips, blooms, ..self }
    }

    pub fn keeps_skips(&self) -> bool {
        !self.skips_at.is_empty()
    }

    pub fn is_empty(&self) -> bool {
        self.counts.is_empty()
    }

    /// The movie's bloom (0 for a table without).
    pub fn bloom_of(&self, rank: u32) -> u32 {
        self.blooms.get(rank as usize).map_or(0, |&b| u32::from(b))
    }

    /// The movie's bits (0 for a table without).
    pub fn bits_of(&self, rank: u32) -> u32 {
        self.bits.get(rank).unwrap_or(0)
    }

    /// Which of these movies (`(rank, slot)`) carry which value, for a table with skips:
    /// `(value, slot)` in value order. A movie's bloom rules out most values; for the others,
    /// the list's skips are searched in one loop, then the lists read from there in another,
    /// so that the cache misses of each loop (two a pair) overlap.
    pub fn holding(&self, movies: &[(u32, usize)]) -> Vec<(usize, usize)> {
        let mut tries = Vec::new();
        for i in 0..self.len() {
            let bit = bloom_bit(self.name(i));
            for &(rank, slot) in movies {
                if self.blooms.get(rank as usize).is_none_or(|&b| u32::from(b) & bit != 0) {
                    tries.push((i, rank, slot));
                }
            }
        }
        let from: Vec<Ranks<'_>> = tries.iter().map(|&(i, rank, _)| self.seek(i, rank)).collect();
        let found = tries.iter().zip(from).filter_map(|(&(i, rank, slot), mut ranks)| {
            (ranks.find(|&r| r >= rank) == Some(rank)).then_some((i, slot))
        });
        found.collect()
    }

    /// List `i` from the last skip before `rank` (the whole list without skips).
    fn seek(&self, i: usize, rank: u32) -> Ranks<'a> {
        let skips = self
            .skips_at
            .get(i..i + 2)
            .map_or(&[][..], |at| self.skips.get(2 * at[0] as usize..2 * at[1] as usize).unwrap_or_default());
        // The skips before `rank`, those of a smaller rank: from where a list of ranks spread
        // evenly would have it, galloping (a cache miss or two, not a search's dozen).
        let m = skips.len() / 2;
        let guess = (u64::from(rank) * m as u64 / self.blooms.len().max(1) as u64) as usize;
        let (mut lo, mut hi) = (0, m);
        if guess < m && skips[2 * guess] < rank {
            let mut step = 1;
            lo = guess + 1;
            while guess + step < m && skips[2 * (guess + step)] < rank {
                lo = guess + step + 1;
                step *= 2;
            }
            hi = (guess + step).min(m);
        } else if guess <= m {
            let mut step = 1;
            hi = guess;
            while step <= guess && skips[2 * (guess - step)] >= rank {
                hi = guess - step;
                step *= 2;
            }
            lo = guess.saturating_sub(step) + usize::from(step <= guess);
        }
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if skips[2 * mid] < rank {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        let list = &self.postings[self.lists_at[i] as usize..self.lists_at[i + 1] as usize];
        match lo.checked_sub(1) {
            None => Ranks::new(list, self.counts[i]),
            Some(k) => Ranks::resume(
                list.get(skips[2 * k + 1] as usize..).unwrap_or_default(),
                skips[2 * k].wrapping_add(1),
                self.counts[i].saturating_sub(lo as u32 * SKIP),
            ),
        }
    }

    /// Does the movie carry value `i`? `None` if the table keeps no bits: ask the list.
    #[inline]
    pub fn has(&self, rank: u32, i: usize) -> Option<bool> {
        self.bits.get(rank).map(|b| b >> i & 1 == 1)
    }

    pub fn keeps_bits(&self) -> bool {
        !matches!(self.bits, Bits::None)
    }

    pub fn len(&self) -> usize {
        self.counts.len()
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

    /// How many movies carry value `i`.
    pub fn count(&self, i: usize) -> usize {
        self.counts[i] as usize
    }

    /// The ranks of the movies carrying value `i`, ascending.
    pub fn list(&self, i: usize) -> Ranks<'a> {
        Ranks::new(&self.postings[self.lists_at[i] as usize..self.lists_at[i + 1] as usize], self.counts[i])
    }

    pub fn heap_bytes(&self) -> usize {
        let bits = self.bits.len() * width(self.len());
        (self.names_at.len()
            + self.lists_at.len()
            + self.counts.len()
            + self.skips_at.len()
            + self.skips.len())
            * 4
            + self.names.len()
            + self.postings.len()
            + bits
            + self.blooms.len() * 2
    }

    /// Offsets in bounds and ascending, names UTF-8 and strictly ascending, lists whole and
    /// below `movies`, the bits those of the lists.
    pub fn validate(&self, what: &str, movies: usize) -> Result<(), Error> {
        let bad = |why: &str| segment(format!("{what}: {why}"));
        let k = self.len();
        if self.names_at.first() != Some(&0) || self.names_at.len() != k + 1 {
            return Err(bad("bad name offsets"));
        }
        if self.lists_at.first() != Some(&0) || self.lists_at.len() != k + 1 {
            return Err(bad("bad list offsets"));
        }
        if !self.names_at.is_sorted() || self.names_at[k] as usize != self.names.len() {
            return Err(bad("bad name offsets"));
        }
        if !self.lists_at.is_sorted() || self.lists_at[k] as usize != self.postings.len() {
            return Err(bad("bad list offsets"));
        }
        let skipping = !self.skips_at.is_empty();
        if skipping
            && (self.skips_at.len() != k + 1
                || self.skips_at[0] != 0
                || !self.skips_at.is_sorted()
                || self.skips_at[k] as usize * 2 != self.skips.len())
            || !skipping && !self.skips.is_empty()
            || self.blooms.len() != if skipping { movies } else { 0 }
        {
            return Err(bad("bad skip offsets"));
        }
        let mut blooms = vec![0u16; self.blooms.len()];
        let keeps_bits = width(k) > 0 && movies > 0;
        let mut bits = vec![0u32; if keeps_bits { movies } else { 0 }];
        for i in 0..k {
            if std::str::from_utf8(self.name_bytes(i)).is_err() {
                return Err(bad("a name is not UTF-8"));
            }
            if i > 0 && self.name_bytes(i - 1) >= self.name_bytes(i) {
                return Err(bad("names out of order"));
            }
            // Each list read once: whole, below `movies`, its skips its own, its movies' bits.
            let bit = if skipping { bloom_bit(self.name(i)) as u16 } else { 0 };
            let (from, to) =
                if skipping { (self.skips_at[i] as usize, self.skips_at[i + 1] as usize) } else { (0, 0) };
            if to - from != if skipping { (self.counts[i] / SKIP) as usize } else { 0 } {
                return Err(bad("a list's skips disagree with it"));
            }
            let mut skips = self.skips[2 * from..2 * to].chunks_exact(2);
            let mut ranks = self.list(i);
            let (mut n, mut last) = (0u32, None);
            while let Some(r) = ranks.next() {
                n += 1;
                last = Some(r);
                if skipping {
                    if n.is_multiple_of(SKIP) && skips.next().is_none_or(|s| s != [r, ranks.offset() as u32])
                    {
                        return Err(bad("a list's skips disagree with it"));
                    }
                    if let Some(b) = blooms.get_mut(r as usize) {
                        *b |= bit;
                    }
                }
                if let Some(b) = bits.get_mut(r as usize) {
                    *b |= 1 << i;
                }
            }
            let whole = ranks.offset() == (self.lists_at[i + 1] - self.lists_at[i]) as usize;
            if n != self.counts[i] || !whole || last.is_some_and(|r| r as usize >= movies) {
                return Err(bad("a posting list is damaged"));
            }
        }
        if blooms != self.blooms {
            return Err(bad("the movies' blooms disagree with the lists"));
        }
        let kept = (0..movies as u32).map_while(|r| self.bits.get(r));
        if self.bits.len() != bits.len() || !kept.eq(bits.iter().copied()) {
            return Err(bad("the movies' bits disagree with the lists"));
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
