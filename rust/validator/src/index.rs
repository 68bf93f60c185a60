//! `SearchIndex` and its `IndexBuilder`: the catalog API's list queries answered in memory
//! (the `catalog_index` crate). Building and searching release the GIL.

use catalog_index::{After, Builder, Index, Query, Sort};
use pyo3::exceptions::{PyRuntimeError, PyValueError};
use pyo3::prelude::*;

/// Reads `COPY (SELECT <INDEX_COLUMNS> ... ORDER BY title, id) TO STDOUT (FORMAT binary)`.
#[pyclass(module = "moviestore._validator")]
pub struct IndexBuilder {
    inner: Option<Builder>,
}

#[pymethods]
impl IndexBuilder {
    #[new]
    fn new() -> Self {
        IndexBuilder { inner: Some(Builder::new()) }
    }

    /// The next chunk of COPY data, cut anywhere. Raises `ValueError` on malformed data.
    fn feed(&mut self, py: Python<'_>, chunk: &[u8]) -> PyResult<()> {
        let builder = self.inner.as_mut().ok_or_else(finished)?;
        py.detach(|| builder.feed(chunk)).map_err(|e| PyValueError::new_err(e.to_string()))
    }

    /// The index (its suffix array is built here: about a second per 300,000 titles).
    fn finish(&mut self, py: Python<'_>) -> PyResult<SearchIndex> {
        let builder = self.inner.take().ok_or_else(finished)?;
        let index = py.detach(|| builder.finish()).map_err(|e| PyValueError::new_err(e.to_string()))?;
        Ok(SearchIndex { inner: index })
    }
}

fn finished() -> PyErr {
    PyRuntimeError::new_err("the index was already built")
}

#[pyclass(frozen, module = "moviestore._validator")]
pub struct SearchIndex {
    inner: Index,
}

#[pymethods]
impl SearchIndex {
    /// `(total, ids)` of one page, or `None` when the cursor's row is not in the index as the
    /// cursor names it. `title` must already be lower-cased as `PostgreSQL`'s `lower()` does.
    #[pyo3(signature = (*, title, year_from, year_to, genres, cast, provider, sort, after, limit))]
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
            cast: cast.iter().map(String::as_str).collect(),
            provider,
            sort,
            after,
            limit,
        };
        let index = &self.inner;
        Ok(py.detach(|| index.search(&q)).map(|page| (page.total, page.ids)))
    }

    fn __len__(&self) -> usize {
        self.inner.len()
    }

    /// Heap memory the index holds, in bytes.
    #[getter]
    fn memory_bytes(&self) -> usize {
        self.inner.heap_bytes()
    }
}
