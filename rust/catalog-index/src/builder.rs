//! An [`Index`] built from the rows of [`COLUMNS`], in the order the API sorts titles by
//! (`ORDER BY title, id`): taking that order from `PostgreSQL` keeps the database's collation,
//! whatever it is, without reimplementing it.

use crate::base::Base;
use crate::copy::{invalid, CopyError, Reader};
use crate::error::Error;
use crate::format::Aligned;
use crate::parts::Parts;
use crate::Index;
use xxhash_rust::xxh3::xxh3_64;

/// The columns the COPY statement must select, in this order.
pub const COLUMNS: [&str; 7] = ["id", "title_search", "title", "year", "provider", "genres", "cast"];

/// One movie as the index reads it. `title_search` is the title lower-cased by `PostgreSQL`.
pub struct Movie<'a> {
    pub id: i64,
    pub title_search: &'a str,
    pub title: &'a [u8],
    pub year: i32,
    pub provider: &'a str,
    pub genres: Vec<&'a str>,
    pub cast: Vec<&'a str>,
}

pub struct Builder {
    pending: Vec<u8>,
    header_read: bool,
    ended: bool,
    parts: Parts,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    /// A builder that gathers the movies' columns in memory.
    pub fn new() -> Self {
        Builder::gathering_in(None)
    }

    /// A builder that gathers the movies' columns (ids, title hashes, years, titles) in files
    /// of `folder` (the segments' tmpfs), in pieces, until [`Builder::finish_into`] moves them
    /// into the segment file there: held in memory meanwhile are the posting lists only.
    pub fn spilling(folder: &std::path::Path) -> Self {
        Builder::gathering_in(Some(folder))
    }

    fn gathering_in(folder: Option<&std::path::Path>) -> Self {
        Builder { pending: Vec::new(), header_read: false, ended: false, parts: Parts::new(folder) }
    }

    /// The next movie in title order.
    pub fn push(&mut self, movie: &Movie<'_>) -> Result<(), Error> {
        if movie.title_search.contains('\0') {
            return Err(Error::Copy("a title holds a NUL character".into()));
        }
        // (`PostgreSQL`'s text holds none; a delta's entries keep their names NUL-ended)
        let names = movie.genres.iter().chain(&movie.cast).chain([&movie.provider]);
        if names.into_iter().any(|n| n.contains('\0')) {
            return Err(Error::Copy("a name holds a NUL character".into()));
        }
        let p = &mut self.parts;
        let rank = p.push(movie.id, xxh3_64(movie.title), movie.year, movie.title_search.as_bytes())?;
        p.genres.push(rank, &movie.genres);
        p.cast.push(rank, &movie.cast);
        p.providers.push(rank, &[movie.provider]);
        Ok(())
    }

    /// Read binary COPY data of [`COLUMNS`]; a tuple cut at the chunk's end waits for the next.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), Error> {
        if self.ended {
            return Err(Error::Copy("data after the end of the COPY data".into()));
        }
        self.pending.extend_from_slice(chunk);
        let pending = std::mem::take(&mut self.pending);
        let mut r = Reader::new(&pending);
        let mut done = 0;
        let result = loop {
            match self.next(&mut r) {
                Ok(true) => done = r.pos,
                Ok(false) => {
                    done = r.pos;
                    self.ended = true;
                    break if done == pending.len() {
                        Ok(())
                    } else {
                        Err(Error::Copy("data after the trailer".into()))
                    };
                }
                Err(Step::Copy(CopyError::Incomplete)) => break Ok(()),
                Err(Step::Copy(CopyError::Invalid(why))) => {
                    break Err(Error::Copy(format!("movie {}: {why}", self.parts.len() + 1)))
                }
                Err(Step::Index(e)) => break Err(e),
            }
        };
        self.pending = pending;
        self.pending.drain(..done);
        result
    }

    /// The header, or one tuple: `false` at the trailer. Nothing is consumed if incomplete.
    fn next(&mut self, r: &mut Reader<'_>) -> Result<bool, Step> {
        let start = r.pos;
        let read = (|| {
            if !self.header_read {
                r.header()?;
                self.header_read = true;
                return Ok(true);
            }
            let fields = r.i16()?;
            if fields == -1 {
                return Ok(false);
            }
            if usize::try_from(fields).ok() != Some(COLUMNS.len()) {
                return Err(invalid(&format!("{fields} columns, not the {}", COLUMNS.len())).into());
            }
            let movie = Movie {
                id: r.int8("id")?,
                title_search: r.text("title_search")?,
                title: r.bytes("title")?,
                year: r.int4("year")?,
                provider: r.text("provider")?,
                genres: r.text_array("genres")?,
                cast: r.text_array("cast")?,
            };
            self.push(&movie).map_err(Step::Index)?;
            Ok(true)
        })();
        if matches!(read, Err(Step::Copy(CopyError::Incomplete))) {
            r.pos = start;
        }
        read
    }

    /// The index; the COPY data, if fed, must have ended.
    pub fn finish(self) -> Result<Index, Error> {
        let mut bytes = self.parts()?.write(Aligned::default(), None)?;
        bytes.shrink();
        Ok(Index::from_base(Base::built(bytes)?))
    }

    /// Write the index's segment straight to a file (as [`Index::save`] does), without
    /// holding it in memory as well: open the file to use it.
    pub fn finish_into(self, path: &std::path::Path) -> Result<(), Error> {
        let parts = self.parts()?;
        crate::index::write_atomically(path, |w, written| parts.write(w, Some(written)))
    }

    fn parts(self) -> Result<Parts, Error> {
        if (self.header_read || !self.pending.is_empty()) && !self.ended {
            return Err(Error::Copy("the COPY data ended before its trailer".into()));
        }
        Ok(self.parts)
    }
}

/// Why reading a tuple stopped: the COPY data, or the movie it holds.
enum Step {
    Copy(CopyError),
    Index(Error),
}

impl From<CopyError> for Step {
    fn from(e: CopyError) -> Self {
        Step::Copy(e)
    }
}
