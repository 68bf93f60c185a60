//! A base's columns gathered in rank order (by the builder from COPY data, or by a merge),
//! and their writing as one segment.

use crate::error::{segment, Error};
use crate::format::{Header, Sink, Writer};
use crate::values::Postings;
use crate::{ints, trigram};

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
        starts.push(u32::try_from(text.len()).map_err(|_| segment("text too long"))?);
        let mut by_id: Vec<u32> = (0..n as u32).collect();
        by_id.sort_unstable_by_key(|&r| ids[r as usize]);
        if by_id.windows(2).any(|w| ids[w[0] as usize] == ids[w[1] as usize]) {
            return Err(Error::Copy("an id appears twice".into()));
        }
        let mut by_year: Vec<u32> = (0..n as u32).collect();
        by_year.sort_unstable_by_key(|&r| (years[r as usize], ids[r as usize]));
        let (year_width, year_base, year_bytes) = ints::encode(&years, 2);
        drop(years);
        let (id_width, id_base, id_bytes) = ints::encode(&ids, 4);
        drop(ids);
        let mut w = Writer::new(sink)?;
        w.section(&id_bytes)?;
        drop(id_bytes);
        w.section(&hashes)?;
        drop(hashes);
        w.section(&year_bytes)?;
        w.section(&starts)?;
        w.section(&text)?;
        w.section(&by_year)?;
        drop(by_year);
        w.section(&by_id)?;
        drop(by_id);
        genres.write(n, &mut w)?;
        cast.write(n, &mut w)?;
        providers.write(n, &mut w)?;
        trigram::write(&text, &starts, &mut w)?;
        let header = Header { movies: n as u64, id_width, id_base, year_width, year_base };
        w.finish(&header)
    }
}
