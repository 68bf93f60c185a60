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

/// A movie of the delta: its strings in one allocation besides its fixed fields (they were ten,
/// a `Box<str>` each, and a delta movie took ~445 bytes of heap; ~280 now).
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: i64,
    /// XXH3 of the original title (a title cursor names its row by title and id).
    pub hash: u64,
    /// The title lower-cased by `PostgreSQL`, the provider, the genres and the cast (sorted,
    /// each once), each ended by NUL (which no text holds: `PostgreSQL`'s cannot).
    strings: Box<str>,
    pub year: i32,
    genres: u16,
    cast: u16,
}

/// The bits of a name in an entry's bloom; `kind` keeps a genre apart from a person.
pub fn bloom(kind: u8, name: &str) -> u128 {
    let h = xxhash_rust::xxh3::xxh3_64_with_seed(name.as_bytes(), u64::from(kind));
    1 << (h & 127) | 1 << ((h >> 7) & 127)
}

impl Entry {
    /// `None` if a string holds a NUL, or there are more than 65,535 genres or cast members.
    pub fn new(
        id: i64,
        hash: u64,
        year: i32,
        title: &str,
        provider: &str,
        genres: &[&str],
        cast: &[&str],
    ) -> Option<Entry> {
        let all = [title, provider].into_iter().chain(genres.iter().copied()).chain(cast.iter().copied());
        let mut strings = String::with_capacity(all.clone().map(|s| s.len() + 1).sum());
        for s in all {
            if s.contains('\0') {
                return None;
            }
            strings.push_str(s);
            strings.push('\0');
        }
        let (genres, cast) = (u16::try_from(genres.len()).ok()?, u16::try_from(cast.len()).ok()?);
        Some(Entry { id, hash, strings: strings.into_boxed_str(), year, genres, cast })
    }

    fn strings(&self) -> impl Iterator<Item = &str> {
        self.strings.split_terminator('\0')
    }

    /// The title lower-cased by `PostgreSQL`.
    pub fn title(&self) -> &str {
        self.strings().next().unwrap_or_default()
    }

    pub fn provider(&self) -> &str {
        self.strings().nth(1).unwrap_or_default()
    }

    /// Sorted, each once.
    pub fn genres(&self) -> impl Iterator<Item = &str> {
        self.strings().skip(2).take(self.genres.into())
    }

    /// Sorted, each once.
    pub fn cast(&self) -> impl Iterator<Item = &str> {
        self.strings().skip(2 + usize::from(self.genres)).take(self.cast.into())
    }

    /// Two bits for each of its provider, genres and cast: what a scan checks first.
    pub fn bloom(&self) -> u128 {
        let names = self.genres().map(|g| bloom(1, g)).chain(self.cast().map(|c| bloom(2, c)));
        names.fold(bloom(0, self.provider()), |b, x| b | x)
    }

    pub fn heap_bytes(&self) -> usize {
        // The allocator's header and rounding counted as 16 bytes.
        std::mem::size_of::<Entry>() + self.strings.len() + 16
    }
}

/// What a scan of the delta reads of each movie, kept together.
#[derive(Clone, Copy, Debug)]
pub struct Scan {
    pub bloom: u128,
    pub year: i32,
}

/// Where an entry is: its batch (one for each change set since the base) and its place there.
#[derive(Clone, Copy, Debug)]
pub struct Slot {
    pub batch: u32,
    pub index: u32,
}

/// The live delta as columns in title order, each shared by the indexes that have it: an apply
/// copies them (flat arrays, no entry is touched) and adds one batch of entries.
#[derive(Clone)]
pub struct Delta {
    pub removed: Tombstones,
    /// The entries of each change set, never changed (those changed or removed since stay,
    /// unreferenced, until a merge).
    pub batches: Arc<Vec<Arc<Vec<Entry>>>>,
    pub slots: Arc<Vec<Slot>>,
    /// Ascending.
    pub pos: Arc<Vec<Pos>>,
    pub scan: Arc<Vec<Scan>>,
    /// The titles, each followed by NUL, and where each starts (and the end).
    pub text: Arc<Vec<u8>>,
    pub starts: Arc<Vec<u32>>,
    /// `(id, pos)` by id.
    pub by_id: Arc<Vec<(i64, Pos)>>,
    /// `(year, id)` ascending.
    pub by_year: Arc<Vec<(i32, i64)>>,
}

impl Default for Delta {
    fn default() -> Self {
        Delta {
            removed: Tombstones::default(),
            batches: Arc::new(Vec::new()),
            slots: Arc::new(Vec::new()),
            pos: Arc::new(Vec::new()),
            scan: Arc::new(Vec::new()),
            text: Arc::new(Vec::new()),
            starts: Arc::new(vec![0]),
            by_id: Arc::new(Vec::new()),
            by_year: Arc::new(Vec::new()),
        }
    }
}

impl Delta {
    /// Live movies in the delta.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.slots.is_empty()
    }

    /// The entry at this place of the title order.
    #[inline]
    pub fn at(&self, i: usize) -> &Entry {
        let s = self.slots[i];
        &self.batches[s.batch as usize][s.index as usize]
    }

    pub fn pos_of(&self, id: i64) -> Option<Pos> {
        let at = self.by_id.binary_search_by_key(&id, |&(id, _)| id).ok()?;
        Some(self.by_id[at].1)
    }

    /// The place in the title order of the movie of this id.
    pub fn index_of(&self, id: i64) -> Option<usize> {
        let pos = self.pos_of(id)?;
        self.pos.binary_search(&pos).ok()
    }

    pub fn entry(&self, id: i64) -> Option<&Entry> {
        self.index_of(id).map(|i| self.at(i))
    }

    pub fn heap_bytes(&self) -> usize {
        let entries: usize = self.batches.iter().flat_map(|b| b.iter()).map(Entry::heap_bytes).sum();
        let columns = self.slots.len() * (8 + 16 + 32 + 4) + self.by_id.len() * 32 + self.by_year.len() * 16;
        entries + self.batches.len() * 32 + columns + self.text.len() + self.removed.heap_bytes()
    }
}
