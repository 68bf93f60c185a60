//! The catalog API's list queries answered in memory, with the same answers as its SQL: a
//! case-insensitive title substring, a year range, genres (all of them, any of them, none of
//! them), cast (all of them), a provider;
//! sorted by title or year either way with the id as tie-break, one keyset page at a time,
//! with the exact number of matches. The index answers with ids; the page's rows come from
//! `PostgreSQL`.
//!
//! An [`Index`] is an immutable value: a *base* segment and a *delta*, both shared.
//! [`Index::apply`] makes a new index from a change set in time proportional to the change
//! (and a copy of the delta's flat columns), the old one answering meanwhile; [`Index::merged`]
//! folds the delta into a new base, in the background, without the database. The delta's
//! movies are scanned on each query: keep it small (merge at some thousands of movies).
//!
//! **Order without a collation.** Movies have a *rank*, their place in `ORDER BY title, id`
//! under the database's collation, which this crate cannot reproduce: the base takes it from
//! the order rows are fed in. A changed movie comes with its *predecessor*, the live movie
//! right before it in that order, and is inserted right after it (`apply.rs`): every live movie
//! after the predecessor is after the new row too, so the live order stays exact; removed base
//! movies stay only as anchors of positions. The year order is numeric and needs no anchor.
//!
//! **The base segment** (`format.rs`, `base.rs`) is one position-independent buffer: a header
//! (magic, version, byte order, lengths, checksums), then 8-aligned flat arrays read in place
//! with `bytemuck`: genres/cast/providers as sorted string tables with varint-coded posting
//! lists (and, for 32 values or fewer, each movie's values as bits; for more, a skip every 32
//! ranks of a list and each movie's 16-bit bloom of its values, so that a movie's cast is found
//! without reading every list), ids and years in the fewest bytes their range allows, title
//! hashes, the lower-cased titles, ranks in year and id order, and the title trigrams'
//! varint-coded posting lists. It is read from an owned buffer or a memory-mapped file (the
//! binding maps it), so that the processes of a pod share one copy. Every invariant a search
//! relies on is checked on open: a damaged, truncated or foreign file is an
//! [`Error::Segment`], never a panic; a mapped file must not be changed while mapped (it is
//! written once, under a temporary name, and renamed into place).
//!
//! **Writing a base** holds little besides it: a section is written and let go before the
//! next is made. A merge (`merge.rs`, `merge_lists.rs`, `renumber.rs`) reads the old base in
//! place and the delta, holding the delta's postings and, to renumber the base's movies, two
//! counts for each block of 64 of them; a build (`builder.rs`, `parts.rs`) holds its posting lists
//! varint-coded and gathers the other columns in pieces (`spill.rs`: in memory, or files of
//! the segments' folder moved into the segment a piece at a time). The trigram lists are
//! counted, then filled a window of 32 MB at a time, the titles read again for each. At 3 M
//! movies a merge of a 110,000-movie delta grows the heap by 36 MB at its peak (it was 276),
//! a build into a file by 41 MB (it was 319), in about the time they took.
//!
//! **Titles** are found through trigrams instead of a suffix array (4 bytes a title byte):
//! the rarest lists of the needle's trigrams give candidates, checked with `memmem`; a 1- or
//! 2-byte needle is the union of the lists of the trigrams it begins (titles are read with two
//! end marks), exactly.
//!
//! **Memory** (`examples/bench.rs`, catalogs shaped like the API benchmark's): 76.5 bytes a
//! movie instead of the suffix array index's 196, 230 MB for 3 million movies: ids 4
//! (narrowed), title hashes 8, years 2, titles and their offsets 20, year and id orders 8,
//! genres and providers 7.5 (varint-coded lists, and each movie's values as bits), cast 10.5
//! (varint-coded lists 7.5, skips 1, blooms 2), title trigrams 17. Mapped from one file, a
//! pod's processes hold it once. A delta movie costs about 300 bytes of heap (its strings in
//! one allocation), and each apply copies the delta's flat columns: merge long before the
//! delta nears the base's size.

#![forbid(unsafe_code)]

mod apply;
mod base;
mod builder;
mod change;
mod copy;
mod delta;
mod error;
mod format;
mod hash;
mod index;
mod ints;
mod merge;
mod merge_lists;
mod parts;
mod renumber;
mod search;
mod spill;
mod tables;
mod tombstones;
mod trigram;
mod values;
mod varint;

pub use base::Storage;
pub use builder::{Builder, Movie, COLUMNS};
pub use change::CHANGE_COLUMNS;
pub use error::Error;
pub use format::Aligned;
pub use index::{Attributes, Index};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Title,
    TitleDesc,
    Year,
    YearDesc,
}

/// The row a page starts after, as a cursor names it: its sort value and id.
#[derive(Debug, Clone, Copy)]
pub enum After<'a> {
    Title(&'a str, i64),
    Year(i32, i64),
}

#[derive(Debug, Default)]
pub struct Query<'a> {
    /// Already lower-cased the way `PostgreSQL` lower-cases titles.
    pub title: Option<&'a str>,
    /// Inclusive bounds.
    pub year_from: Option<i32>,
    pub year_to: Option<i32>,
    /// Every one of them.
    pub genres: Vec<&'a str>,
    /// At least one of them (none given: no condition).
    pub any_genres: Vec<&'a str>,
    /// None of them.
    pub exclude_genres: Vec<&'a str>,
    pub cast: Vec<&'a str>,
    pub provider: Option<&'a str>,
    pub sort: Sort,
    pub after: Option<After<'a>>,
    pub limit: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    /// Every match, not only those after the cursor.
    pub total: usize,
    /// Up to `limit` ids, in the sort's order.
    pub ids: Vec<i64>,
}

#[cfg(test)]
mod tests;
