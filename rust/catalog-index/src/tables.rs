//! A table's sections written (`values.rs` reads them): its lists streamed from [`Lists`],
//! a list at a time, then their offsets, counts and names, each movie's bits (or, for more
//! than 32 values, the skips and each movie's bloom); and the builder's lists gathered
//! varint-coded as movies come ([`Postings`]).

use crate::error::Error;
use crate::format::{Sink, Writer};
use crate::values::{bloom_bit, u32_len, width, SKIP};
use crate::varint::{self, Ranks};
use std::collections::HashMap;

/// A table's lists as a writer reads them: candidate names, ascending and distinct, each
/// with its ranks, ascending and distinct (a name whose list is empty is left out).
pub trait Lists {
    fn len(&self) -> usize;
    fn name(&self, i: usize) -> &str;
    /// Hand each rank of list `i` to `f`, ascending; as often as asked.
    fn ranks(&self, i: usize, f: impl FnMut(u32));
    /// List `i` as its varint bytes and count, if it is held so (copied as it is).
    fn encoded(&self, i: usize) -> Option<(&[u8], u32)> {
        let _ = i;
        None
    }

    /// Whether [`Lists::marks`] can tell each movie's bits (`bloom`: its bloom).
    fn has_marks(&self, bloom: bool) -> bool {
        let _ = bloom;
        false
    }

    /// Each movie's bits (`bloom`: its bloom) in rank order, handed to `f` without reading
    /// the lists (a merge reads the old base's), `kept` the lists written; if it can.
    fn marks(&self, kept: &[usize], bloom: bool, f: &mut dyn FnMut(u32)) {
        let _ = (kept, bloom, f);
    }
}

/// Bytes of each movie's bits made at a time from the lists (read again for each window).
const BITS_WINDOW: usize = if cfg!(test) { 64 } else { 4 << 20 };

/// Nine sections: lists, list offsets, list lengths, name offsets, names, each movie's bits
/// (empty for more than 32 values), and else the skips' offsets, the skips, each movie's
/// bloom. One list is held at a time, and the bits of a window of movies.
pub fn write<S: Sink, L: Lists>(lists: &L, movies: usize, w: &mut Writer<S>) -> Result<(), Error> {
    let mut kept = Vec::new();
    let (mut lists_at, mut counts) = (vec![0u32], Vec::new());
    // Skips and blooms for a table that keeps no bits (more than 32 values; a merge may leave
    // fewer, which then keeps both), else bits.
    let skipping = width(lists.len()) == 0;
    let (mut skips, mut skips_at) = (Vec::new(), vec![0u32]);
    let mut s = w.stream::<u8>();
    for i in 0..lists.len() {
        let start = s.len();
        let mut n = 0u32;
        let mut each = |r: u32, offset: usize| {
            n += 1;
            if skipping && n.is_multiple_of(SKIP) {
                // (a list is less than 4 GiB: its section's length is checked below)
                skips.extend([r, offset as u32]);
            }
        };
        if let Some((bytes, count)) = lists.encoded(i) {
            s.extend(bytes);
            let mut ranks = Ranks::new(bytes, count);
            while let Some(r) = ranks.next() {
                each(r, ranks.offset());
            }
        } else {
            let mut next = 0u32;
            lists.ranks(i, |r| {
                varint::put(s.buffer(), r.wrapping_sub(next));
                next = r.wrapping_add(1);
                each(r, s.len() - start);
                s.flush_if_full();
            });
        }
        if n > 0 {
            kept.push(i);
            counts.push(n);
            lists_at.push(u32_len(s.len())?);
            if skipping {
                skips_at.push(u32_len(skips.len() / 2)?);
            }
        }
    }
    s.finish()?;
    w.section(&lists_at)?;
    w.section(&counts)?;
    let mut names_at = vec![0u32];
    let mut end = 0;
    for &i in &kept {
        end += lists.name(i).len();
        names_at.push(u32_len(end)?);
    }
    w.section(&names_at)?;
    let mut s = w.stream::<u8>();
    for &i in &kept {
        s.extend(lists.name(i).as_bytes());
    }
    s.finish()?;
    // Bits if not skipping, blooms if skipping (both if a merge left 32 values or fewer of
    // more: then the bits are made from the lists).
    let made = |bloom: bool| lists.has_marks(bloom).then_some(bloom);
    let value = |j: usize, _| 1 << j;
    match width(kept.len()) {
        1 => bits::<S, L, u8>(lists, &kept, value, made(false), movies, w)?,
        2 => bits::<S, L, u16>(lists, &kept, value, made(false), movies, w)?,
        4 => bits::<S, L, u32>(lists, &kept, value, made(false), movies, w)?,
        _ => w.section::<u32>(&[])?,
    }
    w.section(if skipping { &skips_at[..] } else { &[] })?;
    w.section(&skips)?;
    if skipping {
        bits::<S, L, u16>(lists, &kept, |_, i| bloom_bit(lists.name(i)), made(true), movies, w)
    } else {
        w.section::<u16>(&[])
    }
}

/// Each movie's bits (or blooms): told by the lists (`told`: blooms if true), or made from
/// them a window of ranks at a time.
fn bits<S: Sink, L: Lists, T: bytemuck::Pod + TryFrom<u32> + std::ops::BitOrAssign>(
    lists: &L,
    kept: &[usize],
    bit_of: impl Fn(usize, usize) -> u32,
    told: Option<bool>,
    movies: usize,
    w: &mut Writer<S>,
) -> Result<(), Error> {
    if let Some(bloom) = told {
        let mut s = w.stream::<T>();
        lists.marks(kept, bloom, &mut |b| s.push(T::try_from(b).unwrap_or_else(|_| T::zeroed())));
        return s.finish();
    }
    let window = BITS_WINDOW / size_of::<T>();
    let mut bits = vec![T::zeroed(); window.min(movies)];
    let mut s = w.stream::<T>();
    for lo in (0..movies).step_by(window) {
        let hi = (lo + window).min(movies);
        bits[..hi - lo].fill(T::zeroed());
        for (j, &i) in kept.iter().enumerate() {
            let bit = T::try_from(bit_of(j, i)).unwrap_or_else(|_| T::zeroed());
            lists.ranks(i, |r| {
                if let Some(b) = (r as usize).checked_sub(lo).and_then(|at| bits.get_mut(at)) {
                    *b |= bit;
                }
            });
        }
        s.extend(&bits[..hi - lo]);
    }
    s.finish()
}

/// Posting lists being gathered from movies in rank order, by name, each as its varint
/// bytes (a byte or two a rank: a quarter of a list of `u32`).
#[derive(Default)]
pub struct Postings {
    lists: HashMap<Box<str>, List>,
}

#[derive(Default)]
struct List {
    bytes: Vec<u8>,
    /// The last rank pushed, plus one (0: none).
    next: u32,
    count: u32,
}

impl Postings {
    /// The values of the movie of this rank, which follows every rank pushed before (a value
    /// repeated counts once).
    pub fn push(&mut self, rank: u32, names: &[&str]) {
        for name in names {
            let list = if let Some(list) = self.lists.get_mut(*name) {
                list
            } else {
                self.lists.entry((*name).into()).or_default()
            };
            if list.count > 0 && list.next == rank.wrapping_add(1) {
                continue;
            }
            if list.bytes.capacity() - list.bytes.len() < 5 {
                // A quarter more, not double: the lists are most of what a build holds.
                list.bytes.reserve_exact(list.bytes.len() / 4 + 16);
            }
            varint::put(&mut list.bytes, rank.wrapping_sub(list.next));
            list.next = rank.wrapping_add(1);
            list.count += 1;
        }
    }

    /// The lists in name order.
    pub fn sorted(self) -> Gathered {
        let mut lists: Vec<(Box<str>, List)> = self.lists.into_iter().collect();
        lists.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Gathered(lists)
    }
}

/// [`Postings`] in name order.
pub struct Gathered(Vec<(Box<str>, List)>);

impl Lists for Gathered {
    fn len(&self) -> usize {
        self.0.len()
    }

    fn name(&self, i: usize) -> &str {
        &self.0[i].0
    }

    fn ranks(&self, i: usize, f: impl FnMut(u32)) {
        let list = &self.0[i].1;
        Ranks::new(&list.bytes, list.count).for_each(f);
    }

    fn encoded(&self, i: usize) -> Option<(&[u8], u32)> {
        let list = &self.0[i].1;
        Some((&list.bytes, list.count))
    }
}
