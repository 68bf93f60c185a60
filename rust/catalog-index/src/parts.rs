//! The builder's columns, gathered in rank order from COPY data (`spill.rs`: in memory or in
//! files of the segments' folder), and their writing as one segment, section by section: each
//! is written and let go before the next is made. Held at most: the posting lists (about 11
//! bytes a movie, until the tables are written), then the ids and years (6 bytes a movie in
//! their fewest bytes) and the id and year orders (8), then a window of trigram lists.

use crate::error::Error;
use crate::format::{Header, Sink, Writer};
use crate::ints::{Ints, Narrow};
use crate::spill::{read_items, Column};
use crate::tables::{self, Postings};
use crate::trigram;
use crate::values::u32_len;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Items read back at a time (few in tests, so that titles span chunks).
const CHUNK: usize = if cfg!(test) { 7 } else { 1 << 14 };

pub struct Parts {
    ids: Column,
    hashes: Column,
    years: Column,
    starts: Column,
    text: Column,
    n: usize,
    text_len: usize,
    id_range: (i64, i64),
    year_range: (i64, i64),
    pub genres: Postings,
    pub cast: Postings,
    pub providers: Postings,
}

impl Parts {
    /// Columns kept in memory, or in files in `folder`.
    pub fn new(folder: Option<&Path>) -> Parts {
        Parts {
            ids: Column::new(folder),
            hashes: Column::new(folder),
            years: Column::new(folder),
            starts: Column::new(folder),
            text: Column::new(folder),
            n: 0,
            text_len: 0,
            id_range: (i64::MAX, i64::MIN),
            year_range: (i64::MAX, i64::MIN),
            genres: Postings::default(),
            cast: Postings::default(),
            providers: Postings::default(),
        }
    }

    /// The next movie in title order; its rank.
    pub fn push(&mut self, id: i64, hash: u64, year: i32, title: &[u8]) -> Result<u32, Error> {
        let rank = u32::try_from(self.n).map_err(|_| Error::Copy("more than 2^32 movies".into()))?;
        let start = u32::try_from(self.text_len)
            .ok()
            .filter(|&s| u32::try_from(title.len()).is_ok_and(|len| s.checked_add(len).is_some()))
            .ok_or_else(|| Error::Copy("the titles exceed the index's 4 GiB of text".into()))?;
        self.ids.push(&id.to_ne_bytes())?;
        self.hashes.push(&hash.to_ne_bytes())?;
        self.years.push(&year.to_ne_bytes())?;
        self.starts.push(&start.to_ne_bytes())?;
        self.text.push(title)?;
        self.n += 1;
        self.text_len += title.len();
        self.id_range = (self.id_range.0.min(id), self.id_range.1.max(id));
        let year = i64::from(year);
        self.year_range = (self.year_range.0.min(year), self.year_range.1.max(year));
        Ok(rank)
    }

    pub fn len(&self) -> usize {
        self.n
    }

    /// The segment; an error if an id appears twice. `file`: where the sink's bytes can be
    /// read back (the titles are then read from the segment, not kept).
    pub fn write<S: Sink>(self, sink: S, file: Option<&Path>) -> Result<S, Error> {
        let narrow =
            |(lo, hi), min| if self.n == 0 { Narrow::new(0, 0, min) } else { Narrow::new(lo, hi, min) };
        let (id, year) = (narrow(self.id_range, 4), narrow(self.year_range, 2));
        let Parts { ids, hashes, years, starts, text, n, text_len, genres, cast, providers, .. } = self;
        let mut w = Writer::new(sink)?;
        for postings in [genres, cast, providers] {
            tables::write(&postings.sorted(), n, &mut w)?;
        }
        let ids = Held::read::<i64>(ids, id, n)?;
        ids.write(&mut w)?;
        copy::<S, u64>(hashes.into_reader()?, &mut w)?;
        let years = Held::read::<i32>(years, year, n)?;
        years.write(&mut w)?;
        let end = u32_len(text_len)?.to_ne_bytes();
        let titles = if let Some(path) = file {
            let starts = copy::<S, u32>(starts.into_reader()?.chain(&end[..]), &mut w)?;
            let text = copy::<S, u8>(text.into_reader()?, &mut w)?;
            Titles::File(path.to_path_buf(), starts, text)
        } else {
            // Kept to be read again for the trigrams (in memory, where the sink is too).
            let (starts, text) = (starts.into_memory()?, text.into_memory()?);
            copy::<S, u32>(starts.reader().chain(&end[..]), &mut w)?;
            copy::<S, u8>(text.reader(), &mut w)?;
            Titles::Memory(Box::new((starts, text)), end)
        };
        let by_id = by_id(&ids.view())?;
        drop(ids);
        let by_year = by_year(&by_id, &years.view(), year);
        drop(years);
        w.section(&by_year)?;
        drop(by_year);
        w.section(&by_id)?;
        drop(by_id);
        w.flush()?;
        trigram::write(&|f| titles.each(f), &mut w)?;
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

/// A column read back into memory in its fewest bytes.
enum Held {
    W2(Vec<u16>, i64),
    W4(Vec<u32>, i64),
    W8(Vec<i64>),
}

impl Held {
    fn read<T: bytemuck::Pod + Into<i64>>(column: Column, narrow: Narrow, n: usize) -> Result<Held, Error> {
        let mut held = match narrow.width {
            2 => Held::W2(Vec::with_capacity(n), narrow.base),
            4 => Held::W4(Vec::with_capacity(n), narrow.base),
            _ => Held::W8(Vec::with_capacity(n)),
        };
        let mut r = column.into_reader()?;
        let mut chunk = vec![T::zeroed(); CHUNK];
        loop {
            let got = read_items(&mut r, &mut chunk)?;
            if got == 0 {
                break;
            }
            let values = chunk[..got].iter().map(|&x| x.into());
            match &mut held {
                Held::W2(v, base) => v.extend(values.map(|x| u16::try_from(x - *base).unwrap_or(u16::MAX))),
                Held::W4(v, base) => v.extend(values.map(|x| u32::try_from(x - *base).unwrap_or(u32::MAX))),
                Held::W8(v) => v.extend(values),
            }
        }
        Ok(held)
    }

    fn view(&self) -> Ints<'_> {
        match self {
            Held::W2(v, base) => Ints::W2(v, *base),
            Held::W4(v, base) => Ints::W4(v, *base),
            Held::W8(v) => Ints::W8(v),
        }
    }

    fn write<S: Sink>(&self, w: &mut Writer<S>) -> Result<(), Error> {
        match self {
            Held::W2(v, _) => w.section(v),
            Held::W4(v, _) => w.section(v),
            Held::W8(v) => w.section(v),
        }
    }
}

/// Items read from `r` as the next section, a chunk at a time; where it lies.
fn copy<S: Sink, T: bytemuck::Pod>(mut r: impl Read, w: &mut Writer<S>) -> Result<Range<usize>, Error> {
    let mut chunk = vec![T::zeroed(); CHUNK];
    let mut s = w.stream::<T>();
    loop {
        let got = read_items(&mut r, &mut chunk)?;
        if got == 0 {
            break;
        }
        s.extend(&chunk[..got]);
    }
    s.finish()?;
    Ok(w.last_section())
}

/// Where the trigram writer reads the titles from.
enum Titles {
    /// The segment's file: its title offsets and text sections.
    File(PathBuf, Range<usize>, Range<usize>),
    /// The columns, and the end of the text.
    Memory(Box<(Column, Column)>, [u8; 4]),
}

impl Titles {
    fn each(&self, f: &mut dyn FnMut(u32, &[u8])) {
        // A failure to read back what was just written ends the titles early: the counts
        // then disagree with the lists and the segment is refused when opened.
        let _ = match self {
            Titles::File(path, starts, text) => (|| {
                let open = |r: &Range<usize>| -> Result<_, Error> {
                    let mut file = File::open(path)?;
                    file.seek(SeekFrom::Start(r.start as u64))?;
                    Ok(std::io::BufReader::with_capacity(1 << 16, file.take((r.end - r.start) as u64)))
                };
                each_title(open(starts)?, open(text)?, f)
            })(),
            Titles::Memory(columns, end) => {
                each_title(columns.0.reader().chain(&end[..]), columns.1.reader(), f)
            }
        };
    }
}

/// Each title, from the title offsets (their end last) and the text, read in chunks.
fn each_title(
    mut starts: impl Read,
    mut text: impl Read,
    f: &mut dyn FnMut(u32, &[u8]),
) -> Result<(), Error> {
    #[allow(clippy::useless_vec)] // 64 KiB outside tests: on the heap
    let mut offsets = vec![0u32; CHUNK + 1];
    let mut bytes = Vec::new();
    let (mut rank, mut have) = (0u32, 0usize);
    loop {
        let got = read_items(&mut starts, &mut offsets[have..])?;
        if got == 0 {
            return Ok(());
        }
        have += got;
        if have < 2 {
            continue;
        }
        let first = offsets[0] as usize;
        bytes.resize((offsets[have - 1] as usize).saturating_sub(first), 0);
        text.read_exact(&mut bytes)?;
        for pair in offsets[..have].windows(2) {
            let at = (pair[0] as usize).saturating_sub(first)..(pair[1] as usize).saturating_sub(first);
            f(rank, bytes.get(at).unwrap_or_default());
            rank += 1;
        }
        offsets[0] = offsets[have - 1];
        have = 1;
    }
}

/// Ranks in id order; an error if an id appears twice.
fn by_id(ids: &Ints<'_>) -> Result<Vec<u32>, Error> {
    let mut by_id: Vec<u32> = (0..ids.len() as u32).collect();
    by_id.sort_unstable_by_key(|&r| ids.get(r as usize));
    if by_id.windows(2).any(|w| ids.get(w[0] as usize) == ids.get(w[1] as usize)) {
        return Err(Error::Copy("an id appears twice".into()));
    }
    Ok(by_id)
}

/// Ranks in `(year, id)` order: the id order spread stably over the years (counted first)
/// when they span 2^16 at most, else sorted.
fn by_year(by_id: &[u32], years: &Ints<'_>, year: Narrow) -> Vec<u32> {
    let slot = |r: u32| usize::try_from(years.get(r as usize) - year.base).unwrap_or(0);
    if year.width != 2 {
        let mut by_year = by_id.to_vec();
        // Stable: equal years keep the id order.
        by_year.sort_by_key(|&r| years.get(r as usize));
        return by_year;
    }
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
