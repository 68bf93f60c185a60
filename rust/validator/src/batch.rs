//! Batches of valid records as COPY bytes, and their decoding into dicts.

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyDict, PyList};
use validator_core::copy::{decode, Row};

/// Valid records completed by one `feed` or `finish` call.
#[pyclass(frozen, module = "moviestore._validator")]
pub struct Batch {
    #[pyo3(get)]
    copy_data: Py<PyBytes>,
    #[pyo3(get)]
    count: usize,
    /// The keys of the deletion records completed by the call, 16 bytes each (a uuid's bytes).
    #[pyo3(get)]
    deleted_keys: Py<PyBytes>,
}

impl Batch {
    pub fn new(py: Python<'_>, data: &[u8], count: usize, deleted_keys: &[u8]) -> Self {
        Batch {
            copy_data: PyBytes::new(py, data).unbind(),
            count,
            deleted_keys: PyBytes::new(py, deleted_keys).unbind(),
        }
    }
}

#[pymethods]
impl Batch {
    /// The records as dicts, decoded from `copy_data` itself.
    fn records<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        decode_copy(py, self.copy_data.bind(py).as_bytes())
    }

    fn __len__(&self) -> usize {
        self.count
    }

    fn __repr__(&self, py: Python<'_>) -> String {
        format!("Batch(count={}, deletions={})", self.count, self.deleted_keys.bind(py).as_bytes().len() / 16)
    }
}

/// Decode binary COPY tuples (no header or trailer) into dicts.
#[pyfunction]
pub fn decode_copy<'py>(py: Python<'py>, data: &[u8]) -> PyResult<Bound<'py, PyList>> {
    let rows = decode(data).map_err(|e| PyValueError::new_err(e.0))?;
    let dicts = rows.into_iter().map(|row| row_dict(py, row)).collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, dicts)
}

fn row_dict(py: Python<'_>, row: Row) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("title", row.title)?;
    d.set_item("year", row.year)?;
    d.set_item("id", row.id)?;
    d.set_item("href", row.href)?;
    d.set_item("cast", row.cast)?;
    d.set_item("genres", row.genres)?;
    d.set_item("extract", row.extract)?;
    d.set_item("thumbnail", row.thumbnail)?;
    d.set_item("thumbnail_width", row.thumbnail_width)?;
    d.set_item("thumbnail_height", row.thumbnail_height)?;
    let k = format!("{:032x}", row.record_key);
    // PostgreSQL's text form of a uuid.
    d.set_item(
        "record_key",
        format!("{}-{}-{}-{}-{}", &k[..8], &k[8..12], &k[12..16], &k[16..20], &k[20..]),
    )?;
    // Signed, as PostgreSQL's int8 column holds it.
    d.set_item("content_hash", row.content_hash.cast_signed())?;
    d.set_item("record", row.record)?;
    d.set_item("line", row.line)?;
    Ok(d)
}
