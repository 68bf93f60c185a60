//! A new base from the base and the delta, written section by section as it is read: the live
//! movies in their maintained order (the base's ranks less the removed, the delta's entries by
//! position), ranked anew; the id and year orders and the posting lists are the base's merged
//! with the delta's through the new ranks (`merge_lists.rs`, `renumber.rs`), each movie's bits
//! and blooms the base's (renumbered) and the delta's, the title trigrams counted and filled
//! again. Held meanwhile: the delta's postings, a count of removed and delta movies for each
//! 64 base ranks, and one section's working memory. No database: the predecessor order is the
//! title order.

use crate::base::{Base, View};
use crate::delta::{base_pos, Delta};
use crate::error::Error;
use crate::format::{Aligned, Header, Sink, Writer};
use crate::index::write_atomically;
use crate::ints::Narrow;
use crate::merge_lists::Merged;
use crate::renumber::NewRanks;
use crate::tables;
use crate::values::u32_len;
use crate::{trigram, Index};
use std::path::Path;

impl Index {
    /// The same movies with an empty delta (the same base if there is nothing to fold in).
    pub fn merged(&self) -> Result<Index, Error> {
        if self.delta.is_empty() {
            // Entries added and removed again may be left in the delta's batches: not kept.
            return Ok(Index { base: self.base.clone(), delta: crate::delta::Delta::default() });
        }
        let mut bytes = self.write_merged(Aligned::default())?;
        bytes.shrink();
        Ok(Index::from_base(Base::built(bytes)?))
    }

    /// Write the merged base straight to a segment file (as [`Index::save`] does), without
    /// holding it in memory as well: open the file to use it.
    pub fn merge_into(&self, path: &Path) -> Result<(), Error> {
        if self.delta.is_empty() {
            return self.save(path);
        }
        write_atomically(path, |w, _| self.write_merged(w))
    }

    fn write_merged<S: Sink>(&self, sink: S) -> Result<S, Error> {
        let m = Merge::new(self.base.view(), &self.delta)?;
        let mut w = Writer::new(sink)?;
        for which in 0..3 {
            tables::write(&Merged::new(&m.v, m.d, &m.new_rank, &m.delta_rank, which), m.n, &mut w)?;
        }
        m.id.write(&mut w, m.live().map(|l| m.id(l)))?;
        w.column(m.live().map(|l| m.hash(l)))?;
        m.year.write(&mut w, m.live().map(|l| i64::from(m.year(l))))?;
        let mut at = 0u32;
        let starts = m.live().map(|l| {
            let start = at;
            at += m.title(l).len() as u32; // the total was checked
            start
        });
        w.column(starts.chain(std::iter::once(m.text)))?;
        let mut text = w.stream::<u8>();
        m.live().for_each(|l| text.extend(m.title(l)));
        text.finish()?;
        m.by_year(&mut w)?;
        m.by_id(&mut w)?;
        let titles = |f: &mut dyn FnMut(u32, &[u8])| {
            for (rank, l) in m.live().enumerate() {
                f(rank as u32, m.title(l));
            }
        };
        trigram::write(&titles, &mut w)?;
        let (id, year) = (m.id, m.year);
        let movies = m.n as u64;
        drop(m);
        w.finish(&Header {
            movies,
            id_width: id.width,
            id_base: id.base,
            year_width: year.width,
            year_base: year.base,
        })
    }
}

/// A live movie: a base rank or a delta entry's place.
#[derive(Clone, Copy)]
pub enum Live {
    Base(u32),
    Delta(usize),
}

/// The live movies in the new rank order.
pub struct Walk<'a> {
    /// Movies in the base.
    n: u32,
    d: &'a Delta,
    rank: u32,
    entry: usize,
}

impl<'a> Walk<'a> {
    pub fn new(base_movies: usize, d: &'a Delta) -> Self {
        Walk { n: base_movies as u32, d, rank: 0, entry: 0 }
    }
}

impl Iterator for Walk<'_> {
    type Item = Live;

    #[inline]
    fn next(&mut self) -> Option<Live> {
        let n = self.n;
        loop {
            let entry = self.entry;
            if entry < self.d.len() && (self.rank >= n || self.d.pos[entry] < base_pos(self.rank)) {
                self.entry += 1;
                return Some(Live::Delta(entry));
            }
            if self.rank >= n {
                return None;
            }
            self.rank += 1;
            if !self.d.removed.has(self.rank - 1) {
                return Some(Live::Base(self.rank - 1));
            }
        }
    }
}

/// The base and the delta, read as the new base's movies.
struct Src<'a> {
    v: View<'a>,
    d: &'a Delta,
}

impl<'a> Src<'a> {
    fn live(&self) -> Walk<'_> {
        Walk::new(self.v.n, self.d)
    }

    fn id(&self, l: Live) -> i64 {
        match l {
            Live::Base(r) => self.v.id(r),
            Live::Delta(i) => self.d.at(i).id,
        }
    }

    fn hash(&self, l: Live) -> u64 {
        match l {
            Live::Base(r) => self.v.hashes[r as usize],
            Live::Delta(i) => self.d.at(i).hash,
        }
    }

    fn year(&self, l: Live) -> i32 {
        match l {
            Live::Base(r) => self.v.year(r),
            Live::Delta(i) => self.d.scan[i].year,
        }
    }

    fn title(&self, l: Live) -> &'a [u8] {
        match l {
            Live::Base(r) => self.v.title(r),
            // The delta's text column: each title and a NUL.
            Live::Delta(i) => {
                let (start, end) = (self.d.starts[i] as usize, self.d.starts[i + 1] as usize);
                &self.d.text[start..end.saturating_sub(1).max(start)]
            }
        }
    }
}

struct Merge<'a> {
    src: Src<'a>,
    /// The new rank of each base movie (`u32::MAX`: removed) and of each delta entry.
    new_rank: NewRanks<'a>,
    delta_rank: Vec<u32>,
    n: usize,
    /// Bytes of text.
    text: u32,
    id: Narrow,
    year: Narrow,
}

impl<'a> std::ops::Deref for Merge<'a> {
    type Target = Src<'a>;

    fn deref(&self) -> &Src<'a> {
        &self.src
    }
}

impl<'a> Merge<'a> {
    fn new(v: View<'a>, d: &'a Delta) -> Result<Self, Error> {
        let src = Src { v, d };
        let mut delta_rank = vec![0; d.len()];
        let (mut ids, mut years, mut text) = ((i64::MAX, i64::MIN), (i64::MAX, i64::MIN), 0usize);
        let mut n = 0usize;
        for l in src.live() {
            let rank = u32::try_from(n).map_err(|_| Error::Copy("more than 2^32 movies".into()))?;
            if let Live::Delta(i) = l {
                delta_rank[i] = rank;
            }
            let (id, year) = (src.id(l), i64::from(src.year(l)));
            ids = (ids.0.min(id), ids.1.max(id));
            years = (years.0.min(year), years.1.max(year));
            text += src.title(l).len();
            n += 1;
        }
        let (id, year) = if n > 0 {
            (Narrow::new(ids.0, ids.1, 4), Narrow::new(years.0, years.1, 2))
        } else {
            (Narrow::new(0, 0, 4), Narrow::new(0, 0, 2))
        };
        let new_rank = NewRanks::new(src.v.n, d);
        Ok(Merge { src, new_rank, delta_rank, n, text: u32_len(text)?, id, year })
    }

    /// The delta's `(id, new rank)`, by id.
    fn delta_by_id(&self) -> Vec<(i64, u32)> {
        let rank = |pos| self.d.pos.binary_search(pos).map_or(u32::MAX, |i| self.delta_rank[i]);
        self.d.by_id.iter().map(|(id, pos)| (*id, rank(pos))).collect()
    }

    /// New ranks in `(year, id)` order: the base's order (less the removed) and the delta's.
    fn by_year<S: Sink>(&self, w: &mut Writer<S>) -> Result<(), Error> {
        let by_id = self.delta_by_id();
        let rank = |id| by_id.binary_search_by_key(&id, |&(id, _)| id).map_or(u32::MAX, |k| by_id[k].1);
        let delta: Vec<_> = self.d.by_year.iter().map(|&(year, id)| ((year, id), rank(id))).collect();
        drop(by_id);
        spliced(w, self.v.by_year, |r| (self.v.year(r), self.v.id(r)), &self.new_rank, &delta)
    }

    /// New ranks in id order.
    fn by_id<S: Sink>(&self, w: &mut Writer<S>) -> Result<(), Error> {
        spliced(w, self.v.by_id, |r| self.v.id(r), &self.new_rank, &self.delta_by_id())
    }
}

/// Ranks of a base order read at a time.
const CHUNK: usize = 1 << 12;

/// An order of the base (`old`, ranks ascending by `key`) through the new ranks, less the
/// removed, with the delta's new ranks (ascending by key) put in, as the next section. The
/// base's new ranks and keys are gathered a chunk at a time, in loops whose reads do not
/// wait for each other (each is a cache miss: one at a time, they would cost seconds).
fn spliced<S: Sink, K: Ord + Copy>(
    w: &mut Writer<S>,
    old: &[u32],
    key: impl Fn(u32) -> K,
    new_rank: &NewRanks<'_>,
    delta: &[(K, u32)],
) -> Result<(), Error> {
    let mut out = w.stream::<u32>();
    let (mut keys, mut ranks) = (Vec::with_capacity(CHUNK), Vec::with_capacity(CHUNK));
    let mut delta = delta.iter().peekable();
    for chunk in old.chunks(CHUNK) {
        ranks.clear();
        ranks.extend(chunk.iter().map(|&r| new_rank.get(r)));
        keys.clear();
        if delta.peek().is_some() {
            keys.extend(chunk.iter().map(|&r| key(r)));
        }
        for (i, &rank) in ranks.iter().enumerate() {
            if let Some(k) = keys.get(i) {
                while let Some((_, d)) = delta.next_if(|(dk, _)| dk < k) {
                    out.push(*d);
                }
            }
            if rank != u32::MAX {
                out.push(rank);
            }
        }
    }
    delta.for_each(|(_, d)| out.push(*d));
    out.finish()
}
