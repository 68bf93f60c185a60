//! The immutable main segment: movies in title order (their *rank*), read in place from one
//! buffer that is owned or memory-mapped, every invariant checked once when it is opened.

use crate::error::{segment, Error};
use crate::format::{self, Header};
use crate::ints::Ints;
use crate::trigram::Trigrams;
use crate::values::Table;
use std::ops::Range;

/// The bytes of a segment: an [`crate::format::Aligned`] buffer, or a mapped file (whose
/// contents must not change while it is mapped).
pub type Storage = Box<dyn AsRef<[u8]> + Send + Sync>;

pub struct Base {
    storage: Storage,
    header: Header,
    ranges: Vec<Range<usize>>,
    mapped: bool,
}

/// The sections as slices, made anew for each use (a few casts).
pub struct View<'a> {
    pub n: usize,
    pub ids: Ints<'a>,
    pub hashes: &'a [u64],
    pub years: Ints<'a>,
    pub starts: &'a [u32],
    pub text: &'a [u8],
    /// Ranks in `ORDER BY year, id`.
    pub by_year: &'a [u32],
    /// Ranks in id order.
    pub by_id: &'a [u32],
    pub genres: Table<'a>,
    pub cast: Table<'a>,
    pub providers: Table<'a>,
    pub trigrams: Trigrams<'a>,
}

fn bytes_of(storage: &Storage) -> &[u8] {
    let s: &(dyn AsRef<[u8]> + Send + Sync) = &**storage;
    s.as_ref()
}

fn cast<'a, T: bytemuck::Pod>(bytes: &'a [u8], r: &Range<usize>) -> Result<&'a [T], Error> {
    bytemuck::try_cast_slice(&bytes[r.clone()]).map_err(|_| segment("a section is misaligned"))
}

fn view<'a>(bytes: &'a [u8], h: &Header, r: &[Range<usize>]) -> Result<View<'a>, Error> {
    let ints = |s: usize, width, base| {
        Ints::view(&bytes[r[s].clone()], width, base).ok_or_else(|| segment("a column of unknown width"))
    };
    let table = |s: usize| -> Result<Table<'a>, Error> {
        // Written in the order lists, list offsets, counts, name offsets, names, bits, skip
        // offsets, skips, blooms.
        let sections = (
            cast(bytes, &r[s + 3])?,
            cast(bytes, &r[s + 4])?,
            cast(bytes, &r[s + 1])?,
            cast(bytes, &r[s + 2])?,
            cast(bytes, &r[s])?,
            &bytes[r[s + 5].clone()],
        );
        let t = Table::new(sections).ok_or_else(|| segment("a column's bits are misaligned"))?;
        Ok(t.with_skips(cast(bytes, &r[s + 6])?, cast(bytes, &r[s + 7])?, cast(bytes, &r[s + 8])?))
    };
    // The order they are written in: the tables first (the builder lets their lists go).
    Ok(View {
        n: usize::try_from(h.movies).map_err(|_| segment("too many movies"))?,
        genres: table(0)?,
        cast: table(9)?,
        providers: table(18)?,
        ids: ints(27, h.id_width, h.id_base)?,
        hashes: cast(bytes, &r[28])?,
        years: ints(29, h.year_width, h.year_base)?,
        starts: cast(bytes, &r[30])?,
        text: cast(bytes, &r[31])?,
        by_year: cast(bytes, &r[32])?,
        by_id: cast(bytes, &r[33])?,
        trigrams: Trigrams::new(
            cast(bytes, &r[34])?,
            cast(bytes, &r[35])?,
            cast(bytes, &r[36])?,
            cast(bytes, &r[37])?,
        ),
    })
}

impl Base {
    /// A segment written by [`crate::parts::Parts::write`], checked whole.
    pub fn open(storage: Storage, mapped: bool) -> Result<Base, Error> {
        let (header, ranges) = format::parse(bytes_of(&storage))?;
        validate(&view(bytes_of(&storage), &header, &ranges)?)?;
        Ok(Base { storage, header, ranges, mapped })
    }

    /// A segment this process just wrote: its lengths and checksums are checked, not the rest.
    pub fn built(bytes: crate::format::Aligned) -> Result<Base, Error> {
        let storage: Storage = Box::new(bytes);
        let (header, ranges) = format::parse(bytes_of(&storage))?;
        view(bytes_of(&storage), &header, &ranges)?;
        Ok(Base { storage, header, ranges, mapped: false })
    }

    pub fn view(&self) -> View<'_> {
        // Checked on open, and the bytes do not change: the fallback (no movies) is never used.
        view(self.bytes(), &self.header, &self.ranges).unwrap_or_else(|_| View::empty())
    }

    pub fn bytes(&self) -> &[u8] {
        bytes_of(&self.storage)
    }

    pub fn is_mapped(&self) -> bool {
        self.mapped
    }
}

impl View<'_> {
    fn empty() -> Self {
        let Some(t) = Table::new((&[0], &[], &[0], &[], &[], &[])) else { unreachable!("no bits") };
        View {
            n: 0,
            ids: Ints::W8(&[]),
            hashes: &[],
            years: Ints::W8(&[]),
            starts: &[0],
            text: &[],
            by_year: &[],
            by_id: &[],
            genres: t,
            cast: t,
            providers: t,
            trigrams: Trigrams::new(&[], &[], &[0], &[]),
        }
    }
}

impl<'a> View<'a> {
    #[inline]
    pub fn id(&self, rank: u32) -> i64 {
        self.ids.get(rank as usize)
    }

    #[inline]
    pub fn year(&self, rank: u32) -> i32 {
        self.years.get(rank as usize) as i32
    }

    #[inline]
    pub fn title(&self, rank: u32) -> &'a [u8] {
        let r = rank as usize;
        &self.text[self.starts[r] as usize..self.starts[r + 1] as usize]
    }

    /// The rank of the movie with this id, removed or not. An id beyond the base's largest
    /// (a movie added since: ids only grow) is answered without a search.
    pub fn rank_of(&self, id: i64) -> Option<u32> {
        if self.by_id.last().is_none_or(|&r| id > self.id(r)) {
            return None;
        }
        let at = self.by_id.partition_point(|&r| self.id(r) < id);
        self.by_id.get(at).copied().filter(|&r| self.id(r) == id)
    }

    pub fn section_bytes(&self) -> [(&'static str, usize); 8] {
        let ints = |c: &Ints<'_>| c.len() * c.width();
        [
            ("ids", ints(&self.ids)),
            ("title hashes", self.hashes.len() * 8),
            ("years", ints(&self.years)),
            ("title starts + text", self.starts.len() * 4 + self.text.len()),
            ("year order + id order", (self.by_year.len() + self.by_id.len()) * 4),
            ("genres + providers", self.genres.heap_bytes() + self.providers.heap_bytes()),
            ("cast", self.cast.heap_bytes()),
            ("title trigrams", self.trigrams.heap_bytes()),
        ]
    }
}

fn validate(v: &View<'_>) -> Result<(), Error> {
    let n = v.n;
    if n > u32::MAX as usize {
        return Err(segment("too many movies"));
    }
    let lengths =
        [v.ids.len(), v.hashes.len(), v.years.len(), v.starts.len(), v.by_year.len(), v.by_id.len()];
    if lengths != [n, n, n, n + 1, n, n] || !v.ids.fits() {
        return Err(segment("column lengths disagree"));
    }
    if (0..n).any(|r| i32::try_from(v.years.get(r)).is_err()) {
        return Err(segment("a year out of range"));
    }
    if v.starts[0] != 0 || !v.starts.is_sorted() || v.starts[n] as usize != v.text.len() {
        return Err(segment("bad title offsets"));
    }
    let text = std::str::from_utf8(v.text).map_err(|_| segment("titles are not UTF-8"))?;
    if v.starts.iter().any(|&s| !text.is_char_boundary(s as usize)) {
        return Err(segment("a title starts inside a character"));
    }
    if v.by_id.iter().chain(v.by_year).any(|&r| r as usize >= n) {
        return Err(segment("a rank out of range"));
    }
    // Each rank's values read once (these reads jump about: the costliest checks here).
    let mut ids = v.by_id.iter().map(|&r| v.id(r));
    if ids.next().is_some_and(|first| ids.try_fold(first, |last, id| (id > last).then_some(id)).is_none()) {
        return Err(segment("ids out of order"));
    }
    let mut keys = v.by_year.iter().map(|&r| (v.year(r), v.id(r)));
    if keys.next().is_some_and(|first| keys.try_fold(first, |last, k| (k > last).then_some(k)).is_none()) {
        return Err(segment("the year order is not"));
    }
    v.genres.validate("genres", n)?;
    v.cast.validate("cast", n)?;
    v.providers.validate("providers", n)?;
    v.trigrams.validate(n)
}
