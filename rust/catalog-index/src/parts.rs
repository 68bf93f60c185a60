//! The builder's columns, gathered in rank order from COPY data, and their writing as one
//! segment, section by section: each is written and let go before the next is made, so that
//! no more than one section's working memory is held besides the columns.

use crate::error::Error;
use crate::format::{Header, Sink, Writer};
use crate::ints::Narrow;
use crate::trigram;
use crate::values::{self, u32_len, Postings};

#[derive(Default)]
pub struct Parts {
    pub ids: Vec<i64>,
    pub hashes: Vec<u64>,
    pub years: Vec<i32>,
    pub text: Vec<u8>,
    pub starts: Vec<u32>,
    pub genres: Postings,
    pub cast: Postings,
    pub providers: Postings,
}

impl Parts {
    /// The next movie in title order; its rank.
    pub fn push(&mut self, id: i64, hash: u64, year: i32, title: &[u8]) -> Result<u32, Error> {
        let rank = u32::try_from(self.ids.len()).map_err(|_| Error::Copy("more than 2^32 movies".into()))?;
        if self.text.len() + title.len() > u32::MAX as usize {
            return Err(Error::Copy("the titles exceed the index's 4 GiB of text".into()));
        }
        self.ids.push(id);
        self.hashes.push(hash);
        self.years.push(year);
        self.starts.push(self.text.len() as u32);
        self.text.extend(title);
        Ok(rank)
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The segment; an error if an id appears twice.
    pub fn write<S: Sink>(self, sink: S) -> Result<S, Error> {
        let Parts { ids, hashes, years, text, mut starts, genres, cast, providers } = self;
        let n = ids.len();
        starts.push(u32_len(text.len())?);
        let mut w = Writer::new(sink)?;
        let id = Narrow::of(ids.iter().copied(), 4);
        id.write(&mut w, ids.iter().copied())?;
        w.section(&hashes)?;
        drop(hashes);
        let year = Narrow::of(years.iter().map(|&y| i64::from(y)), 2);
        year.write(&mut w, years.iter().map(|&y| i64::from(y)))?;
        w.section(&starts)?;
        w.section(&text)?;
        let by_id = by_id(&ids)?;
        let by_year = by_year(&by_id, &ids, &years, year);
        drop((ids, years));
        w.section(&by_year)?;
        drop(by_year);
        w.section(&by_id)?;
        drop(by_id);
        for postings in [genres, cast, providers] {
            values::write(&postings.sorted(), n, &mut w)?;
        }
        let titles = |f: &mut dyn FnMut(u32, &[u8])| {
            for (rank, pair) in starts.windows(2).enumerate() {
                f(rank as u32, &text[pair[0] as usize..pair[1] as usize]);
            }
        };
        trigram::write(&titles, &mut w)?;
        let header = Header {
            movies: n as u64,
            id_width: id.width,
            id_base: id.base,
            year_width: year.width,
            year_base: year.base,
        };
        w.finish(&header)
    }
}

/// Ranks in id order; an error if an id appears twice.
fn by_id(ids: &[i64]) -> Result<Vec<u32>, Error> {
    let mut by_id: Vec<u32> = (0..ids.len() as u32).collect();
    by_id.sort_unstable_by_key(|&r| ids[r as usize]);
    if by_id.windows(2).any(|w| ids[w[0] as usize] == ids[w[1] as usize]) {
        return Err(Error::Copy("an id appears twice".into()));
    }
    Ok(by_id)
}

/// Ranks in `(year, id)` order: the id order spread stably over the years (counted first)
/// when they span 2^16 at most, else sorted.
fn by_year(by_id: &[u32], ids: &[i64], years: &[i32], year: Narrow) -> Vec<u32> {
    if year.width != 2 {
        let mut by_year = by_id.to_vec();
        by_year.sort_unstable_by_key(|&r| (years[r as usize], ids[r as usize]));
        return by_year;
    }
    let slot = |r: u32| usize::try_from(i64::from(years[r as usize]) - year.base).unwrap_or(0);
    let mut at = vec![0usize; 1 << 16];
    for &r in by_id {
        at[slot(r)] += 1;
    }
    let mut start = 0;
    for a in &mut at {
        (*a, start) = (start, start + *a);
    }
    let mut by_year = vec![0u32; by_id.len()];
    for &r in by_id {
        let a = &mut at[slot(r)];
        by_year[*a] = r;
        *a += 1;
    }
    by_year
}
