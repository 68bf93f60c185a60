//! [`Index`]: a base segment and a delta, both shared; every change makes a new `Index`.

use crate::base::{Base, Storage};
use crate::delta::Delta;
use crate::error::Error;
use crate::format::Aligned;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

#[derive(Clone)]
pub struct Index {
    pub(crate) base: Arc<Base>,
    pub(crate) delta: Delta,
}

/// What the index holds of a movie: `(title_search, year, provider, genres, cast)`, genres and
/// cast in name order, each once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    pub title: String,
    pub year: i32,
    pub provider: String,
    pub genres: Vec<String>,
    pub cast: Vec<String>,
}

impl Index {
    pub(crate) fn from_base(base: Base) -> Index {
        Index { base: Arc::new(base), delta: Delta::default() }
    }

    /// A segment's bytes, every invariant checked (`mapped`: they belong to a mapped file).
    pub fn open(storage: Storage, mapped: bool) -> Result<Index, Error> {
        Ok(Index::from_base(Base::open(storage, mapped)?))
    }

    /// A segment file read into memory (no mapping).
    pub fn read(path: &Path) -> Result<Index, Error> {
        let mut file = File::open(path)?;
        let len = usize::try_from(file.metadata()?.len()).unwrap_or(usize::MAX);
        let mut aligned = Aligned::zeroed(len);
        std::io::Read::read_exact(&mut file, aligned.bytes_mut())?;
        Index::open(Box::new(aligned), false)
    }

    /// Live movies.
    pub fn len(&self) -> usize {
        self.base.view().n - self.delta.removed.len() + self.delta.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Movies held in the delta (added or changed since the base was built).
    pub fn delta_movies(&self) -> usize {
        self.delta.len()
    }

    /// Movies of the base removed (or changed) since it was built.
    pub fn removed_movies(&self) -> usize {
        self.delta.removed.len()
    }

    /// Heap memory held, in bytes: the base's buffer unless it is a mapped file, and the delta.
    pub fn heap_bytes(&self) -> usize {
        let base = if self.base.is_mapped() { 0 } else { self.base.bytes().len() };
        base + self.delta.heap_bytes()
    }

    /// Bytes of a memory-mapped base; 0 if it is owned.
    pub fn mapped_bytes(&self) -> usize {
        if self.base.is_mapped() {
            self.base.bytes().len()
        } else {
            0
        }
    }

    /// The base's bytes by part, for the figures.
    pub fn breakdown(&self) -> Vec<(&'static str, usize)> {
        self.base.view().section_bytes().to_vec()
    }

    /// Write the base segment to `path` (a temporary file in the same folder, synced, renamed
    /// into place): only an index without changes (built or merged) can be saved.
    pub fn save(&self, path: &Path) -> Result<(), Error> {
        if !self.delta.is_empty() {
            return Err(Error::State("the index holds changes: save the merged index"));
        }
        write_atomically(path, |mut w, _| {
            w.write_all(self.base.bytes())?;
            Ok(w)
        })
    }

    /// The indexed attributes of each id that is live in the index.
    pub fn attributes(&self, ids: &[i64]) -> Vec<Option<Attributes>> {
        let v = self.base.view();
        let mut out = Vec::with_capacity(ids.len());
        let mut in_base: Vec<(u32, usize)> = Vec::new();
        for (slot, &id) in ids.iter().enumerate() {
            if let Some(e) = self.delta.entry(id) {
                out.push(Some(Attributes {
                    title: e.title().to_owned(),
                    year: e.year,
                    provider: e.provider().to_owned(),
                    genres: e.genres().map(str::to_owned).collect(),
                    cast: e.cast().map(str::to_owned).collect(),
                }));
            } else if let Some(rank) = v.rank_of(id).filter(|&r| !self.delta.removed.has(r)) {
                let title = String::from_utf8_lossy(v.title(rank)).into_owned();
                let (provider, genres, cast) = (String::new(), Vec::new(), Vec::new());
                out.push(Some(Attributes { title, year: v.year(rank), provider, genres, cast }));
                in_base.push((rank, slot));
            } else {
                out.push(None);
            }
        }
        // A base keeps each movie's values as bits for small columns, and skips into the lists
        // of the others: each list is searched, not read.
        in_base.sort_unstable();
        for (which, table) in [v.genres, v.cast, v.providers].iter().enumerate() {
            let found: Vec<(usize, usize)> = if table.keeps_skips() && !table.keeps_bits() {
                table.holding(&in_base)
            } else {
                let mut found = Vec::new();
                for i in 0..table.len() {
                    let mut list = table.list(i).peekable();
                    for &(rank, slot) in &in_base {
                        let has = table.has(rank, i).unwrap_or_else(|| {
                            while list.next_if(|&r| r < rank).is_some() {}
                            list.peek() == Some(&rank)
                        });
                        if has {
                            found.push((i, slot));
                        }
                    }
                }
                found
            };
            for (i, slot) in found {
                if let Some(Some(a)) = out.get_mut(slot) {
                    let name = table.name(i).to_owned();
                    match which {
                        0 => a.genres.push(name),
                        1 => a.cast.push(name),
                        _ => a.provider = name,
                    }
                }
            }
        }
        out
    }
}

static TEMPORARY: AtomicU64 = AtomicU64::new(0);

/// Write a file whole under a temporary name in the same folder (handed to `write` with the
/// writer, to read back what it wrote), sync it and rename it into place: readers see the
/// old file or the new one, never a part.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(BufWriter<File>, &Path) -> Result<BufWriter<File>, Error>,
) -> Result<(), Error> {
    let name = path.file_name().ok_or_else(|| {
        Error::Io(std::io::Error::new(std::io::ErrorKind::InvalidInput, "the path names no file"))
    })?;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf);
    let n = TEMPORARY.fetch_add(1, Ordering::Relaxed);
    let tmp = dir.join(format!(".{}.{}-{n}.tmp", name.to_string_lossy(), std::process::id()));
    let result = (|| {
        let w = write(BufWriter::with_capacity(1 << 20, File::create(&tmp)?), &tmp)?;
        let file = w.into_inner().map_err(std::io::IntoInnerError::into_error)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(&dir)?.sync_all()?;
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}
