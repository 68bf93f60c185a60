//! A column the builder gathers (ids, title hashes, years, title offsets, text) until it
//! writes the segment: in pieces of [`PIECE`] bytes, each kept in memory or, with a folder
//! (the segments' tmpfs), written to a file of its own there. Read back once, the pieces go
//! as they are read: a column moves into the segment holding a piece of it twice at most,
//! and nothing grows by doubling.

use crate::error::Error;
use std::fs::{self, File};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Small in tests, so that columns span pieces.
const PIECE: usize = if cfg!(test) { 1000 } else { 8 << 20 };

static SPILLS: AtomicU64 = AtomicU64::new(0);

enum Piece {
    Memory(Vec<u8>),
    File(PathBuf),
}

pub struct Column {
    /// Where files go, and how they are named: `.spill-<pid>-<n>-<piece>` (a name the
    /// segments' folder holds nothing else under).
    folder: Option<(PathBuf, String)>,
    pieces: Vec<Piece>,
    /// The piece being filled, in memory or its file.
    open: Vec<u8>,
    file: Option<BufWriter<File>>,
    open_len: usize,
}

impl Column {
    pub fn new(folder: Option<&Path>) -> Column {
        let name = format!(".spill-{}-{}", std::process::id(), SPILLS.fetch_add(1, Ordering::Relaxed));
        Column {
            folder: folder.map(|f| (f.to_path_buf(), name)),
            pieces: Vec::new(),
            open: Vec::new(),
            file: None,
            open_len: 0,
        }
    }

    pub fn push(&mut self, bytes: &[u8]) -> Result<(), Error> {
        let mut rest = bytes;
        while !rest.is_empty() {
            let take = rest.len().min(PIECE - self.open_len);
            let (now, later) = rest.split_at(take);
            match (&self.folder, &mut self.file) {
                (None, _) => {
                    if self.open.capacity() == 0 {
                        self.open.reserve_exact(PIECE);
                    }
                    self.open.extend_from_slice(now);
                }
                (Some(_), Some(file)) => file.write_all(now)?,
                (Some((folder, name)), None) => {
                    let path = folder.join(format!("{name}-{}", self.pieces.len()));
                    let mut file = BufWriter::with_capacity(1 << 16, File::create(&path)?);
                    self.pieces.push(Piece::File(path));
                    file.write_all(now)?;
                    self.file = Some(file);
                }
            }
            self.open_len += take;
            rest = later;
            if self.open_len == PIECE {
                self.seal()?;
            }
        }
        Ok(())
    }

    /// The open piece ends.
    fn seal(&mut self) -> Result<(), Error> {
        if let Some(file) = self.file.take() {
            file.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        } else if self.open_len > 0 {
            self.pieces.push(Piece::Memory(std::mem::take(&mut self.open)));
        }
        self.open_len = 0;
        Ok(())
    }

    /// The bytes pushed, from the start; each piece is let go (its file removed) once read.
    pub fn into_reader(mut self) -> Result<Drain, Error> {
        self.seal()?;
        let mut pieces = std::mem::take(&mut self.pieces);
        pieces.reverse();
        Ok(Drain { pieces, current: None, at: 0 })
    }
}

impl Drop for Column {
    fn drop(&mut self) {
        self.file = None;
        for piece in &self.pieces {
            if let Piece::File(path) = piece {
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// A column read once.
pub struct Drain {
    /// Last first.
    pieces: Vec<Piece>,
    current: Option<(Piece, Option<File>)>,
    at: usize,
}

impl Read for Drain {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let read = match &mut self.current {
                None | Some((Piece::File(_), None)) => 0,
                Some((Piece::Memory(bytes), _)) => {
                    let n = buf.len().min(bytes.len() - self.at);
                    buf[..n].copy_from_slice(&bytes[self.at..self.at + n]);
                    self.at += n;
                    n
                }
                Some((Piece::File(_), Some(file))) => file.read(buf)?,
            };
            if read > 0 || buf.is_empty() {
                return Ok(read);
            }
            if let Some((Piece::File(path), _)) = self.current.take() {
                fs::remove_file(path)?;
            }
            let Some(next) = self.pieces.pop() else { return Ok(0) };
            let file = match &next {
                Piece::File(path) => Some(File::open(path)?),
                Piece::Memory(_) => None,
            };
            (self.current, self.at) = (Some((next, file)), 0);
        }
    }
}

impl Drop for Drain {
    fn drop(&mut self) {
        let current = self.current.take().map(|(p, _)| p);
        for piece in self.pieces.iter().chain(&current) {
            if let Piece::File(path) = piece {
                let _ = fs::remove_file(path);
            }
        }
    }
}

/// Fill `items` from `r` (as many as it holds; fewer at its end): how many were read.
pub fn read_items<T: bytemuck::Pod>(r: &mut impl Read, items: &mut [T]) -> Result<usize, Error> {
    let bytes: &mut [u8] = bytemuck::cast_slice_mut(items);
    let mut filled = 0;
    while filled < bytes.len() {
        match r.read(&mut bytes[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled / size_of::<T>().max(1))
}

impl Column {
    /// The same bytes, in memory (read from its files if it has any).
    pub fn into_memory(self) -> Result<Column, Error> {
        if self.folder.is_none() {
            return Ok(self);
        }
        let mut memory = Column::new(None);
        let mut r = self.into_reader()?;
        let mut chunk = vec![0u8; 1 << 16];
        loop {
            match r.read(&mut chunk)? {
                0 => return Ok(memory),
                n => memory.push(&chunk[..n])?,
            }
        }
    }

    /// The bytes pushed, from the start, the column kept (one in memory: see
    /// [`Column::into_memory`]; a column of files reads as empty).
    pub fn reader(&self) -> Pieces<'_> {
        let mut slices: Vec<&[u8]> = self
            .pieces
            .iter()
            .filter_map(|p| match p {
                Piece::Memory(bytes) => Some(bytes.as_slice()),
                Piece::File(_) => None,
            })
            .collect();
        slices.push(&self.open);
        slices.reverse();
        Pieces { slices }
    }
}

/// A column in memory, read without letting it go.
pub struct Pieces<'a> {
    /// Last first.
    slices: Vec<&'a [u8]>,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while let Some(first) = self.slices.last_mut() {
            let n = first.read(buf)?;
            if n > 0 || buf.is_empty() {
                return Ok(n);
            }
            self.slices.pop();
        }
        Ok(0)
    }
}
