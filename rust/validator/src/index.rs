//! `SearchIndex` and its `IndexBuilder`: the catalog API's list queries answered in memory
//! (the `catalog_index` crate). Building, searching, applying, merging, saving and opening
//! release the GIL.

use catalog_index::{After, Builder, Error, Index, Query, Sort};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use std::fs::File;
use std::path::{Path, PathBuf};

/// Reads `COPY (SELECT <INDEX_COLUMNS> ... ORDER BY title, id) TO STDOUT (FORMAT binary)`.
#[pyclass(module = "moviestore._validator")]
pub struct IndexBuilder {
    inner: Option<Builder>,
}

#[pymethods]
impl IndexBuilder {
    /// With a folder (the segments' tmpfs), the movies' columns are gathered in files there
    /// until `finish(path)` moves them into the segment: only the posting lists are held in
    /// memory meanwhile.
    #[new]
    #[pyo3(signature = (folder=None))]
    #[allow(clippy::needless_pass_by_value)] // extracted by value
    fn new(folder: Option<PathBuf>) -> Self {
        let builder = folder.as_deref().map_or_else(Builder::new, Builder::spilling);
        IndexBuilder { inner: Some(builder) }
    }

    /// The next chunk of COPY data, cut anywhere. Raises `ValueError` on malformed data.
    fn feed(&mut self, py: Python<'_>, chunk: &[u8]) -> PyResult<()> {
        let builder = self.inner.as_mut().ok_or_else(finished)?;
        py.detach(|| builder.feed(chunk)).map_err(raise)
    }

    /// The index (its title trigrams are gathered here: about 0.2 s per 300,000 titles).
    /// With a path, the index is written there (as `save` does) and mapped, never held twice.
    #[pyo3(signature = (path=None))]
    #[allow(clippy::needless_pass_by_value)] // extracted by value
    fn finish(&mut self, py: Python<'_>, path: Option<PathBuf>) -> PyResult<SearchIndex> {
        let builder = self.inner.take().ok_or_else(finished)?;
        let index = py
            .detach(|| match &path {
                None => builder.finish(),
                Some(path) => builder.finish_into(path).and_then(|()| open(path)),
            })
            .map_err(raise)?;
        Ok(SearchIndex { inner: index })
    }
}

#[cold]
fn finished() -> PyErr {
    PyRuntimeError::new_err("the index was already built")
}

/// `OSError` (of the errno's subclass) for I/O, `ValueError` for everything else.
#[cold]
fn raise(e: Error) -> PyErr {
    match e {
        Error::Io(e) => e.into(),
        e => PyValueError::new_err(e.to_string()),
    }
}

/// A segment file mapped read-only.
///
/// SAFETY: a mapping is undefined behaviour if the file changes while it is mapped. Segment
/// files are written once by `SearchIndex.save` (or `merged(path)`) under a temporary name,
/// synced, and renamed into place; nothing writes to them afterwards, and a newer segment
/// replaces a path by another rename (a new inode), leaving mapped ones as they were. Whoever
/// deploys the folder (a tmpfs shared by a pod's processes) must keep to that contract: never
/// truncate or rewrite a segment file in place.
#[allow(unsafe_code)]
fn map(path: &Path) -> std::io::Result<memmap2::Mmap> {
    let file = File::open(path)?;
    // SAFETY: see above: the file is never modified once it has its name.
    unsafe { memmap2::Mmap::map(&file) }
}

fn open(path: &Path) -> Result<Index, Error> {
    let map = map(path)?;
    Index::open(Box::new(map), true)
}

type Attributes = (String, i32, String, Vec<String>, Vec<String>);

#[pyclass(frozen, module = "moviestore._validator")]
pub struct SearchIndex {
    inner: Index,
}

#[pymethods]
impl SearchIndex {
    /// `(total, ids)` of one page, or `None` when the cursor's row is not in the index as the
    /// cursor names it. `title` must already be lower-cased as `PostgreSQL`'s `lower()` does.
    #[pyo3(signature = (*, title, year_from, year_to, genres, cast, provider, sort, after, limit,
                        any_genres=Vec::new(), exclude_genres=Vec::new()))]
    #[allow(clippy::too_many_arguments, clippy::needless_pass_by_value)] // keywords, extracted by value
    fn search(
        &self,
        py: Python<'_>,
        title: Option<&str>,
        year_from: Option<i32>,
        year_to: Option<i32>,
        genres: Vec<String>,
        cast: Vec<String>,
        provider: Option<&str>,
        sort: &str,
        after: Option<(Bound<'_, PyAny>, i64)>,
        limit: usize,
        any_genres: Vec<String>,
        exclude_genres: Vec<String>,
    ) -> PyResult<Option<(usize, Vec<i64>)>> {
        let sort = match sort {
            "title" => Sort::Title,
            "-title" => Sort::TitleDesc,
            "year" => Sort::Year,
            "-year" => Sort::YearDesc,
            other => return Err(PyValueError::new_err(format!("unknown sort {other:?}"))),
        };
        let after_title: Option<String>;
        let after = match after {
            None => None,
            Some((value, id)) => match sort {
                Sort::Title | Sort::TitleDesc => {
                    after_title = Some(value.extract()?);
                    after_title.as_deref().map(|t| After::Title(t, id))
                }
                Sort::Year | Sort::YearDesc => Some(After::Year(value.extract()?, id)),
            },
        };
        let q = Query {
            title,
            year_from,
            year_to,
            genres: genres.iter().map(String::as_str).collect(),
            any_genres: any_genres.iter().map(String::as_str).collect(),
            exclude_genres: exclude_genres.iter().map(String::as_str).collect(),
            cast: cast.iter().map(String::as_str).collect(),
            provider,
            sort,
            after,
            limit,
        };
        let index = &self.inner;
        Ok(py.detach(|| index.search(&q)).map(|page| (page.total, page.ids)))
    }

    /// A new index with a change set applied (this one is unchanged): every id of
    /// `changed_ids` in the index is removed, then each row of `rows` (binary COPY of
    /// `CHANGE_COLUMNS`, in any order) is inserted right after its `after_id`.
    #[allow(clippy::needless_pass_by_value)] // extracted by value
    fn apply(&self, py: Python<'_>, changed_ids: Vec<i64>, rows: &[u8]) -> PyResult<SearchIndex> {
        let index = &self.inner;
        let inner = py.detach(|| index.apply(&changed_ids, rows)).map_err(raise)?;
        Ok(SearchIndex { inner })
    }

    /// A new index of the same movies whose base holds them all (an empty delta). With a
    /// path, the new base is written there (as `save` does) and mapped, never held twice.
    #[pyo3(signature = (path=None))]
    #[allow(clippy::needless_pass_by_value)] // extracted by value
    fn merged(&self, py: Python<'_>, path: Option<PathBuf>) -> PyResult<SearchIndex> {
        let index = &self.inner;
        let inner = py
            .detach(|| match &path {
                None => index.merged(),
                Some(path) => index.merge_into(path).and_then(|()| open(path)),
            })
            .map_err(raise)?;
        Ok(SearchIndex { inner })
    }

    /// `(title_search, year, provider, genres, cast)` of each id live in the index, else
    /// `None`; genres and cast in name order.
    #[allow(clippy::needless_pass_by_value)] // extracted by value
    fn attributes(&self, py: Python<'_>, ids: Vec<i64>) -> Vec<Option<Attributes>> {
        let index = &self.inner;
        let found = py.detach(|| index.attributes(&ids));
        found.into_iter().map(|a| a.map(|a| (a.title, a.year, a.provider, a.genres, a.cast))).collect()
    }

    /// Write the base segment to `path` (temporary file, fsync, rename); `ValueError` if the
    /// index holds changes (save `merged()`).
    #[allow(clippy::needless_pass_by_value)] // extracted by value
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        let index = &self.inner;
        py.detach(|| index.save(&path)).map_err(raise)
    }

    /// The index of a segment file, memory-mapped (the processes that open one file share
    /// its pages), checked whole: `ValueError` if it is not a valid segment.
    #[staticmethod]
    #[allow(clippy::needless_pass_by_value)] // extracted by value
    fn open(py: Python<'_>, path: PathBuf) -> PyResult<SearchIndex> {
        let inner = py.detach(|| open(&path)).map_err(raise)?;
        Ok(SearchIndex { inner })
    }

    /// Live movies.
    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Movies held in the delta (added or changed since the base was built or merged).
    #[getter]
    fn delta_movies(&self) -> usize {
        self.inner.delta_movies()
    }

    /// Movies of the base removed or changed since it was built or merged.
    #[getter]
    fn removed_movies(&self) -> usize {
        self.inner.removed_movies()
    }

    /// Heap memory this index holds, in bytes (a mapped base's file not included).
    #[getter]
    fn memory_bytes(&self) -> usize {
        self.inner.heap_bytes()
    }

    /// Bytes of the memory-mapped base segment; 0 if the base is owned.
    #[getter]
    fn mapped_bytes(&self) -> usize {
        self.inner.mapped_bytes()
    }
}
