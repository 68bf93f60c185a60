//! What changed since the base was built: the base ranks removed, and the movies added (or
//! changed: removed, then added again) with their own attributes and their place in the title
//! order. Held in shared slices; an apply builds new ones (the old index keeps answering).

use crate::tombstones::Tombstones;
use std::sync::Arc;

/// A place in `ORDER BY title, id`: the high 64 bits are a *group*, the low 64 a sequence
/// number within it. The base movie of rank `r` is `(r + 1, 0)`; the movies inserted right
/// after it (directly or through each other) take `(r + 1, s > 0)`; group 0 is the very start.
pub type Pos = u128;

pub fn base_pos(rank: u32) -> Pos {
    (u128::from(rank) + 1) << 64
}

#[derive(Clone, Debug)]
pub struct Entry {
    pub id: i64,
    pub pos: Pos,
    pub year: i32,
    /// XXH3 of the original title (a title cursor names its row by title and id).
    pub hash: u64,
    /// The title lower-cased by `PostgreSQL`.
    pub title: Box<str>,
    pub provider: Box<str>,
    /// Sorted, each once.
    pub genres: Box<[Box<str>]>,
    pub cast: Box<[Box<str>]>,
}

impl Entry {
    pub fn heap_bytes(&self) -> usize {
        let names = |v: &[Box<str>]| v.iter().map(|s| s.len() + 16).sum::<usize>();
        std::mem::size_of::<Entry>()
            + self.title.len()
            + self.provider.len()
            + names(&self.genres)
            + names(&self.cast)
    }
}

#[derive(Clone)]
pub struct Delta {
    pub removed: Tombstones,
    /// In title order (by `pos`).
    pub movies: Arc<[Arc<Entry>]>,
    /// `(id, pos)` by id.
    pub by_id: Arc<[(i64, Pos)]>,
    /// `(year, id)` ascending.
    pub by_year: Arc<[(i32, i64)]>,
}

impl Default for Delta {
    fn default() -> Self {
        Delta {
            removed: Tombstones::default(),
            movies: Arc::from(Vec::new()),
            by_id: Arc::from(Vec::new()),
            by_year: Arc::from(Vec::new()),
        }
    }
}

impl Delta {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.movies.is_empty()
    }

    pub fn pos_of(&self, id: i64) -> Option<Pos> {
        let at = self.by_id.binary_search_by_key(&id, |&(id, _)| id).ok()?;
        Some(self.by_id[at].1)
    }

    pub fn entry(&self, id: i64) -> Option<&Entry> {
        let pos = self.pos_of(id)?;
        let at = self.movies.binary_search_by_key(&pos, |e| e.pos).ok()?;
        Some(&self.movies[at])
    }

    pub fn heap_bytes(&self) -> usize {
        let entries: usize = self.movies.iter().map(|e| e.heap_bytes() + 16).sum();
        entries + self.by_id.len() * 32 + self.by_year.len() * 16 + self.removed.heap_bytes()
    }
}
