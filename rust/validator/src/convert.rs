//! Reports and errors as Python objects.

use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use validator_core::{ErrorCode, FileError, RecordError, Report};

use crate::CatalogFileError;

/// What a validation run found (a snapshot).
#[pyclass(frozen, name = "Report", module = "moviestore._validator")]
pub struct PyReport {
    inner: Report,
}

impl PyReport {
    pub fn new(inner: Report) -> Self {
        PyReport { inner }
    }
}

#[pymethods]
impl PyReport {
    #[getter]
    fn records_total(&self) -> u64 {
        self.inner.records_total
    }
    #[getter]
    fn records_valid(&self) -> u64 {
        self.inner.records_valid
    }
    #[getter]
    fn deletions(&self) -> u64 {
        self.inner.deletions
    }
    #[getter]
    fn records_invalid(&self) -> u64 {
        self.inner.records_invalid
    }
    #[getter]
    fn duplicates_collapsed(&self) -> u64 {
        self.inner.duplicates_collapsed
    }
    #[getter]
    fn bytes_read(&self) -> u64 {
        self.inner.bytes_read
    }
    #[getter]
    fn errors_total(&self) -> u64 {
        self.inner.errors_total
    }
    #[getter]
    fn error_counts<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for code in ErrorCode::ALL {
            let n = self.inner.count(code);
            if n > 0 {
                d.set_item(code.as_str(), n)?;
            }
        }
        Ok(d)
    }
    #[getter]
    fn errors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        error_list(py, &self.inner.errors)
    }
    #[getter]
    fn file_error<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyDict>>> {
        self.inner.file_error.as_ref().map(|e| file_error_dict(py, e)).transpose()
    }

    /// The JSON shape printed by `moviestore validate --format json`.
    fn to_dict<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        d.set_item("records_total", self.records_total())?;
        d.set_item("records_valid", self.records_valid())?;
        d.set_item("deletions", self.deletions())?;
        d.set_item("records_invalid", self.records_invalid())?;
        d.set_item("duplicates_collapsed", self.duplicates_collapsed())?;
        d.set_item("bytes_read", self.bytes_read())?;
        d.set_item("error_counts", self.error_counts(py)?)?;
        d.set_item("errors", self.errors(py)?)?;
        d.set_item("errors_total", self.errors_total())?;
        d.set_item("file_error", self.file_error(py)?)?;
        Ok(d)
    }

    fn __repr__(&self) -> String {
        let r = &self.inner;
        format!(
            "Report(records_total={}, records_valid={}, records_invalid={}, duplicates_collapsed={}, errors_total={}, file_error={:?})",
            r.records_total,
            r.records_valid,
            r.records_invalid,
            r.duplicates_collapsed,
            r.errors_total,
            r.file_error.as_ref().map(|e| e.code.as_str())
        )
    }
}

/// Record errors as a list of dicts (the `RecordErrorDict` of the stub).
pub fn error_list<'py>(py: Python<'py>, errors: &[RecordError]) -> PyResult<Bound<'py, PyList>> {
    let items = errors
        .iter()
        .map(|e| {
            let d = PyDict::new(py);
            d.set_item("record", e.record)?;
            d.set_item("line", e.line)?;
            d.set_item("pointer", &e.pointer)?;
            d.set_item("code", e.code.as_str())?;
            d.set_item("message", &e.message)?;
            Ok(d)
        })
        .collect::<PyResult<Vec<_>>>()?;
    PyList::new(py, items)
}

fn file_error_dict<'py>(py: Python<'py>, e: &FileError) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("code", e.code.as_str())?;
    d.set_item("message", &e.message)?;
    d.set_item("line", e.line)?;
    d.set_item("offset", e.offset)?;
    Ok(d)
}

/// The one exception type that crosses the boundary, carrying the error and the report.
pub fn file_error(py: Python<'_>, e: &FileError, report: Report) -> PyErr {
    let message = format!("{} (line {}, byte {}): {}", e.code.as_str(), e.line, e.offset, e.message);
    let err = CatalogFileError::new_err(message);
    let value = err.value(py);
    let set = || -> PyResult<()> {
        value.setattr("code", e.code.as_str())?;
        value.setattr("line", e.line)?;
        value.setattr("offset", e.offset)?;
        value.setattr("report", Py::new(py, PyReport::new(report))?)?;
        Ok(())
    };
    match set() {
        Ok(()) => err,
        Err(other) => other,
    }
}
