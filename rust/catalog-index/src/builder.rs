//! An [`Index`] built from the rows of [`COLUMNS`], in the order the API sorts titles by
//! (`ORDER BY title, id`): taking that order from `PostgreSQL` keeps the database's collation,
//! whatever it is, without reimplementing it.

use crate::copy::{invalid, CopyError, Reader};
use crate::values::Values;
use crate::Index;
use suffix::SuffixTable;
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
    ids: Vec<i64>,
    years: Vec<i32>,
    title_hashes: Vec<u64>,
    text: String,
    starts: Vec<u32>,
    genres: Values,
    cast: Values,
    providers: Values,
}

impl Default for Builder {
    fn default() -> Self {
        Builder::new()
    }
}

impl Builder {
    pub fn new() -> Self {
        Builder {
            pending: Vec::new(),
            header_read: false,
            ended: false,
            ids: Vec::new(),
            years: Vec::new(),
            title_hashes: Vec::new(),
            text: String::new(),
            starts: Vec::new(),
            genres: Values::new(),
            cast: Values::new(),
            providers: Values::new(),
        }
    }

    /// The next movie in title order.
    pub fn push(&mut self, movie: &Movie<'_>) -> Result<(), CopyError> {
        let rank = self.ids.len() as u32;
        if self.text.len() + movie.title_search.len() + 1 > u32::MAX as usize {
            return Err(invalid("the titles exceed the index's 4 GiB of text"));
        }
        if movie.title_search.contains('\0') {
            return Err(invalid("a title holds a NUL character"));
        }
        self.ids.push(movie.id);
        self.years.push(movie.year);
        self.title_hashes.push(xxh3_64(movie.title));
        self.starts.push(self.text.len() as u32);
        self.text.push_str(movie.title_search);
        self.text.push('\0'); // no substring match can span two titles
        self.genres.push(rank, &movie.genres);
        self.cast.push(rank, &movie.cast);
        self.providers.push(rank, &[movie.provider]);
        Ok(())
    }

    /// Read binary COPY data of [`COLUMNS`]; a tuple cut at the chunk's end waits for the next.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<(), CopyError> {
        if self.ended {
            return Err(invalid("data after the end of the COPY data"));
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
                        Err(invalid("data after the trailer"))
                    };
                }
                Err(CopyError::Incomplete) => break Ok(()),
                Err(CopyError::Invalid(why)) => {
                    break Err(CopyError::Invalid(format!("movie {}: {why}", self.ids.len() + 1)))
                }
            }
        };
        self.pending = pending;
        self.pending.drain(..done);
        result
    }

    /// The header, or one tuple: `false` at the trailer. Nothing is consumed if incomplete.
    fn next(&mut self, r: &mut Reader<'_>) -> Result<bool, CopyError> {
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
                return Err(invalid(&format!("{fields} columns, not the {}", COLUMNS.len())));
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
            self.push(&movie)?;
            Ok(true)
        })();
        if read == Err(CopyError::Incomplete) {
            r.pos = start;
        }
        read
    }

    /// The index; the COPY data, if fed, must have ended.
    pub fn finish(self) -> Result<Index, CopyError> {
        if (self.header_read || !self.pending.is_empty()) && !self.ended {
            return Err(invalid("the COPY data ended before its trailer"));
        }
        let Builder {
            mut ids,
            mut years,
            mut title_hashes,
            mut text,
            mut starts,
            mut genres,
            mut cast,
            mut providers,
            ..
        } = self;
        // Growing by doubling leaves up to half of each vector unused: kept for the index's life.
        ids.shrink_to_fit();
        years.shrink_to_fit();
        title_hashes.shrink_to_fit();
        text.shrink_to_fit();
        let n = ids.len();
        starts.push(text.len() as u32);
        let mut by_year: Vec<u32> = (0..n as u32).collect();
        by_year.sort_unstable_by_key(|&r| (years[r as usize], ids[r as usize]));
        let mut year_place = vec![0; n];
        for (place, &rank) in by_year.iter().enumerate() {
            year_place[rank as usize] = place as u32;
        }
        let mut by_id: Vec<(i64, u32)> = ids.iter().enumerate().map(|(r, &id)| (id, r as u32)).collect();
        by_id.sort_unstable();
        if by_id.windows(2).any(|w| w[0].0 == w[1].0) {
            return Err(invalid("an id appears twice"));
        }
        for values in [&mut genres, &mut cast, &mut providers] {
            values.shrink();
        }
        Ok(Index {
            ids,
            years,
            title_hashes,
            starts,
            suffixes: SuffixTable::new(text),
            genres,
            cast,
            providers,
            by_year,
            year_place,
            by_id,
        })
    }
}
