//! The base segment's bytes: one buffer, position-independent, native-endian, readable in place
//! from an owned buffer or a memory-mapped file.
//!
//! ```text
//! header   80 bytes: magic, version, endianness mark, section count, id and year widths,
//!          movies, id and year bases, total length, checksum of the body, checksum of the
//!          header and section table
//! table    SECTIONS x (offset u64, length u64)
//! body     the sections, each at an offset that is a multiple of 8
//! ```
//!
//! Opening checks the lengths and both checksums, then every invariant a search relies on
//! (see `base.rs`): a damaged, truncated or foreign file is an error, never a panic.

use crate::error::{segment, Error};
use std::io::{Seek, SeekFrom, Write};
use std::ops::Range;
use xxhash_rust::xxh3::{xxh3_64, Xxh3};

pub const MAGIC: [u8; 8] = *b"MSINDEX\0";
/// 2: the tables first (genres, cast, providers: the builder lets their lists go first), each
/// table's posting lists before their offsets, counts and names (a merge streams them), and
/// skips into the lists of a table of more than 32 values and each movie's bloom of them (each
/// movie's values found fast).
pub const VERSION: u32 = 2;
const ENDIAN: u32 = 0x0102_0304;
pub const SECTIONS: usize = 38;
const HEADER_BYTES: usize = 80;
const CHECKED_HEADER: usize = 72; // everything before the header's own checksum
pub const BODY_START: usize = HEADER_BYTES + SECTIONS * 16;

/// What the header says besides the sections.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Header {
    pub movies: u64,
    pub id_width: u32,
    pub id_base: i64,
    pub year_width: u32,
    pub year_base: i64,
}

/// Where bytes go: a growing aligned buffer, or a file.
pub trait Sink {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error>;
    /// Overwrite bytes already put (the header, written last).
    fn patch(&mut self, at: usize, bytes: &[u8]) -> Result<(), Error>;
    /// Hand on what is buffered (so that a file's bytes can be read back).
    fn flush(&mut self) -> Result<(), Error> {
        Ok(())
    }
}

/// A byte buffer whose start is 8-aligned (a `Vec<u8>` gives no such promise).
#[derive(Default)]
pub struct Aligned {
    words: Vec<u64>,
    len: usize,
}

impl Aligned {
    pub fn bytes(&self) -> &[u8] {
        &bytemuck::cast_slice(&self.words)[..self.len]
    }

    /// `len` zero bytes, to be filled in place.
    pub fn zeroed(len: usize) -> Aligned {
        Aligned { words: vec![0; len.div_ceil(8)], len }
    }

    pub fn bytes_mut(&mut self) -> &mut [u8] {
        &mut bytemuck::cast_slice_mut(&mut self.words)[..self.len]
    }

    pub fn shrink(&mut self) {
        self.words.shrink_to_fit();
    }
}

impl AsRef<[u8]> for Aligned {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

impl Sink for Aligned {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let end = self.len + bytes.len();
        self.words.resize(end.div_ceil(8), 0);
        bytemuck::cast_slice_mut(&mut self.words)[self.len..end].copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }

    fn patch(&mut self, at: usize, bytes: &[u8]) -> Result<(), Error> {
        let target = bytemuck::cast_slice_mut(&mut self.words).get_mut(at..at + bytes.len());
        target.ok_or_else(|| segment("patch past the end"))?.copy_from_slice(bytes);
        Ok(())
    }
}

impl<W: Write + Seek> Sink for std::io::BufWriter<W> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        Ok(self.write_all(bytes)?)
    }

    fn patch(&mut self, at: usize, bytes: &[u8]) -> Result<(), Error> {
        let end = self.stream_position()?;
        self.seek(SeekFrom::Start(at as u64))?;
        self.write_all(bytes)?;
        self.seek(SeekFrom::Start(end))?;
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Error> {
        Ok(Write::flush(self)?)
    }
}

/// Bytes a [`Stream`] gathers before it hands them on.
const CHUNK: usize = 1 << 16;

/// Writes the sections in order, then the header.
pub struct Writer<S: Sink> {
    sink: S,
    at: usize,
    table: Vec<(u64, u64)>,
    body: Xxh3,
    /// Where the section being streamed starts.
    open: Option<usize>,
}

impl<S: Sink> Writer<S> {
    pub fn new(mut sink: S) -> Result<Self, Error> {
        sink.put(&[0; BODY_START])?;
        let table = Vec::with_capacity(SECTIONS);
        Ok(Writer { sink, at: BODY_START, table, body: Xxh3::new(), open: None })
    }

    fn put(&mut self, bytes: &[u8]) -> Result<(), Error> {
        self.body.update(bytes);
        self.at += bytes.len();
        self.sink.put(bytes)
    }

    /// The next section, whole.
    pub fn section<T: bytemuck::Pod>(&mut self, items: &[T]) -> Result<(), Error> {
        let mut s = self.stream();
        s.extend(items);
        s.finish()
    }

    /// The next section, from an iterator (a chunk of it held at a time).
    pub fn column<T: bytemuck::Pod>(&mut self, items: impl IntoIterator<Item = T>) -> Result<(), Error> {
        let mut s = self.stream();
        for x in items {
            s.push(x);
        }
        s.finish()
    }

    /// The next section, written as it is pushed: see [`Stream`].
    pub fn stream<T: bytemuck::Pod>(&mut self) -> Stream<'_, S, T> {
        let pad = self.at.next_multiple_of(8) - self.at;
        let error = self.put(&[0; 8][..pad]).err();
        self.open = Some(self.at);
        Stream { w: self, buf: Vec::with_capacity(CHUNK / size_of::<T>().max(1)), error }
    }

    /// Where the last section written lies.
    pub fn last_section(&self) -> std::ops::Range<usize> {
        self.table.last().map_or(0..0, |&(at, len)| at as usize..(at + len) as usize)
    }

    /// Hand on what the sink buffers.
    pub fn flush(&mut self) -> Result<(), Error> {
        self.sink.flush()
    }

    fn end(&mut self) {
        let start = self.open.take().unwrap_or(self.at);
        self.table.push((start as u64, (self.at - start) as u64));
    }

    pub fn finish(mut self, h: &Header) -> Result<S, Error> {
        if self.table.len() != SECTIONS {
            return Err(segment(format!("{} sections written, not {SECTIONS}", self.table.len())));
        }
        let mut head = Vec::with_capacity(BODY_START);
        head.extend(MAGIC);
        for v in [VERSION, ENDIAN, SECTIONS as u32, h.id_width, h.year_width, 0] {
            head.extend(v.to_ne_bytes());
        }
        head.extend(h.movies.to_ne_bytes());
        head.extend(h.id_base.to_ne_bytes());
        head.extend(h.year_base.to_ne_bytes());
        head.extend((self.at as u64).to_ne_bytes());
        head.extend(self.body.digest().to_ne_bytes());
        let mut table = Vec::with_capacity(SECTIONS * 16);
        for (offset, len) in &self.table {
            table.extend(offset.to_ne_bytes());
            table.extend(len.to_ne_bytes());
        }
        let mut checked = head.clone();
        checked.extend(&table);
        head.extend(xxh3_64(&checked).to_ne_bytes());
        head.extend(table);
        self.sink.patch(0, &head)?;
        Ok(self.sink)
    }
}

/// A section being written, a chunk at a time: pushing cannot fail (a closure that pushes
/// need not return errors); the first error of the sink is returned by [`Stream::finish`],
/// whatever was pushed after it dropped.
pub struct Stream<'w, S: Sink, T: bytemuck::Pod> {
    w: &'w mut Writer<S>,
    buf: Vec<T>,
    error: Option<Error>,
}

impl<S: Sink, T: bytemuck::Pod> Stream<'_, S, T> {
    #[inline]
    pub fn push(&mut self, x: T) {
        self.buf.push(x);
        if self.buf.len() == self.buf.capacity() {
            self.flush();
        }
    }

    pub fn extend(&mut self, xs: &[T]) {
        if self.buf.len() + xs.len() > self.buf.capacity() {
            self.flush();
        }
        if xs.len() >= self.buf.capacity() {
            self.hand_on(xs);
        } else {
            self.buf.extend_from_slice(xs);
        }
    }

    /// The items not yet handed on, to push into in place (then [`Stream::flush_if_full`]).
    pub fn buffer(&mut self) -> &mut Vec<T> {
        &mut self.buf
    }

    #[inline]
    pub fn flush_if_full(&mut self) {
        if self.buf.len() * size_of::<T>() >= CHUNK {
            self.flush();
        }
    }

    /// Items pushed so far.
    pub fn len(&self) -> usize {
        let start = self.w.open.unwrap_or(self.w.at);
        (self.w.at - start) / size_of::<T>().max(1) + self.buf.len()
    }

    fn flush(&mut self) {
        let buf = std::mem::take(&mut self.buf);
        self.hand_on(&buf);
        self.buf = buf;
        self.buf.clear();
    }

    fn hand_on(&mut self, xs: &[T]) {
        if self.error.is_none() {
            self.error = self.w.put(bytemuck::cast_slice(xs)).err();
        }
    }

    /// The section ends.
    pub fn finish(mut self) -> Result<(), Error> {
        self.flush();
        self.w.end();
        self.error.map_or(Ok(()), Err)
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_ne_bytes(w)
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut w = [0; 8];
    w.copy_from_slice(&b[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// The header and the byte range of each section, after checking lengths and checksums.
pub fn parse(bytes: &[u8]) -> Result<(Header, Vec<Range<usize>>), Error> {
    if bytes.len() < BODY_START {
        return Err(segment(format!("{} bytes, shorter than a header", bytes.len())));
    }
    if bytes[..8] != MAGIC {
        return Err(segment("it does not start with the index's magic bytes"));
    }
    if u32_at(bytes, 12) != ENDIAN {
        return Err(segment("written on a machine of the other byte order"));
    }
    let version = u32_at(bytes, 8);
    if version != VERSION {
        return Err(segment(format!("format version {version}, this build reads {VERSION}")));
    }
    if u32_at(bytes, 16) as usize != SECTIONS {
        return Err(segment("wrong number of sections"));
    }
    let total = u64_at(bytes, 56);
    if total != bytes.len() as u64 {
        return Err(segment(format!("{} bytes where the header says {total} (truncated?)", bytes.len())));
    }
    let mut checked = bytes[..CHECKED_HEADER].to_vec();
    checked.extend(&bytes[HEADER_BYTES..BODY_START]);
    if xxh3_64(&checked) != u64_at(bytes, CHECKED_HEADER) {
        return Err(segment("the header's checksum does not match"));
    }
    if xxh3_64(&bytes[BODY_START..]) != u64_at(bytes, 64) {
        return Err(segment("the body's checksum does not match"));
    }
    let header = Header {
        id_width: u32_at(bytes, 20),
        year_width: u32_at(bytes, 24),
        movies: u64_at(bytes, 32),
        id_base: i64::from_ne_bytes(u64_at(bytes, 40).to_ne_bytes()),
        year_base: i64::from_ne_bytes(u64_at(bytes, 48).to_ne_bytes()),
    };
    let mut ranges = Vec::with_capacity(SECTIONS);
    for s in 0..SECTIONS {
        let at = HEADER_BYTES + s * 16;
        let (offset, len) = (u64_at(bytes, at), u64_at(bytes, at + 8));
        let end = offset.checked_add(len).filter(|&e| e <= total && offset >= BODY_START as u64);
        if end.is_none() || offset % 8 != 0 {
            return Err(segment(format!("section {s} lies outside the file")));
        }
        ranges.push(offset as usize..(offset + len) as usize);
    }
    Ok((header, ranges))
}
