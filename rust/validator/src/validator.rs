//! `Validator`: feed chunks, get batches, read the report.

use std::time::{SystemTime, UNIX_EPOCH};

use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::PyList;
use validator_core::{Config, FileError, Validator};

use crate::batch::Batch;
use crate::convert::{error_list, file_error, PyReport};

const MAX_DEPTH_LIMIT: usize = 1024;
/// NDJSON lines are examined on one thread or two (see `validator_core::Config::threads`).
const MAX_THREADS: usize = 2;

#[pyclass(name = "Validator", module = "moviestore._validator")]
pub struct PyValidator {
    inner: Validator,
}

#[pymethods]
impl PyValidator {
    #[new]
    #[pyo3(signature = (
        *,
        filename = None,
        format = "auto",
        max_errors = 1000,
        max_depth = 64,
        max_bytes = None,
        max_record_bytes = 16_777_216,
        current_year = None,
        copy = true,
        stream_errors = false,
        threads = 1,
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        filename: Option<&str>,
        format: &str,
        max_errors: usize,
        max_depth: usize,
        max_bytes: Option<u64>,
        max_record_bytes: usize,
        current_year: Option<i64>,
        copy: bool,
        stream_errors: bool,
        threads: usize,
    ) -> PyResult<Self> {
        let name = filename.unwrap_or_default();
        let gzip = has_suffix(name, ".gz");
        let stem = if gzip { &name[..name.len() - 3] } else { name };
        let ndjson = match format {
            "auto" => has_suffix(stem, ".jsonl") || has_suffix(stem, ".ndjson"),
            "json" => false,
            "ndjson" => true,
            other => {
                return Err(PyValueError::new_err(format!(
                    "format must be 'auto', 'json' or 'ndjson', not {other:?}"
                )))
            }
        };
        if !(1..=MAX_DEPTH_LIMIT).contains(&max_depth) {
            return Err(PyValueError::new_err(format!("max_depth must be between 1 and {MAX_DEPTH_LIMIT}")));
        }
        if max_record_bytes == 0 {
            return Err(PyValueError::new_err("max_record_bytes must be positive"));
        }
        if !(1..=MAX_THREADS).contains(&threads) {
            return Err(PyValueError::new_err(format!("threads must be between 1 and {MAX_THREADS}")));
        }
        let current_year = current_year.unwrap_or_else(this_year);
        if !(1..=9999).contains(&current_year) {
            return Err(PyValueError::new_err("current_year must be between 1 and 9999"));
        }
        let cfg = Config {
            ndjson,
            max_errors,
            max_depth,
            max_bytes,
            max_record_bytes,
            current_year,
            copy,
            stream_errors,
            threads,
        };
        Ok(PyValidator { inner: Validator::new(cfg, gzip) })
    }

    /// Validate the next chunk; returns the valid records it completed. The GIL is released.
    fn feed(&mut self, py: Python<'_>, chunk: &[u8]) -> PyResult<Batch> {
        let inner = &mut self.inner;
        let result = py.detach(|| inner.feed(chunk));
        self.batch(py, result)
    }

    /// End of input: the remaining records; raises `CatalogFileError` on a whole-file error.
    fn finish(&mut self, py: Python<'_>) -> PyResult<Batch> {
        let inner = &mut self.inner;
        let result = py.detach(|| inner.finish());
        self.batch(py, result)
    }

    /// Every record error found since the last call (needs `stream_errors=True`).
    fn take_errors<'py>(&mut self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        error_list(py, &self.inner.take_errors())
    }

    #[getter]
    fn report(&self) -> PyReport {
        PyReport::new(self.inner.report())
    }

    #[getter]
    fn bytes_fed(&self) -> u64 {
        self.inner.bytes_fed()
    }
}

impl PyValidator {
    fn batch(&mut self, py: Python<'_>, result: Result<(), FileError>) -> PyResult<Batch> {
        match result {
            Ok(()) => {
                let deleted = self.inner.take_deleted_keys();
                Ok(self.inner.drain_output(|data, count| Batch::new(py, data, count, &deleted)))
            }
            Err(e) => Err(file_error(py, &e, self.inner.report())),
        }
    }
}

/// Does `name` end in `suffix` (ASCII case ignored)?
fn has_suffix(name: &str, suffix: &str) -> bool {
    name.len() >= suffix.len()
        && name.as_bytes()[name.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// The current year in UTC (civil-from-days, Howard Hinnant's algorithm).
fn this_year() -> i64 {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let days = i64::try_from(secs / 86_400).unwrap_or(0) + 719_468;
    let era = days.div_euclid(146_097);
    let doe = days.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(month <= 2)
}
