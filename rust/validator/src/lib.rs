//! `moviestore._validator`: the Python face of the Rust crates, `validator_core` and the API's
//! in-memory `catalog_index`. It only converts; the rules live in the core crates.

mod batch;
mod convert;
mod index;
mod validator;

use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyTuple};

pyo3::create_exception!(
    _validator,
    CatalogFileError,
    pyo3::exceptions::PyValueError,
    "A whole-file error: no record of the file is usable."
);

#[pymodule]
fn _validator(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<validator::PyValidator>()?;
    m.add_class::<batch::Batch>()?;
    m.add_class::<convert::PyReport>()?;
    m.add_class::<index::IndexBuilder>()?;
    m.add_class::<index::SearchIndex>()?;
    m.add("INDEX_COLUMNS", PyTuple::new(py, catalog_index::COLUMNS)?)?;
    m.add("CHANGE_COLUMNS", PyTuple::new(py, catalog_index::CHANGE_COLUMNS)?)?;
    m.add("CatalogFileError", py.get_type::<CatalogFileError>())?;
    m.add_function(wrap_pyfunction!(batch::decode_copy, m)?)?;
    m.add("COPY_COLUMNS", PyTuple::new(py, validator_core::copy::COLUMNS)?)?;
    m.add("COPY_HEADER", PyBytes::new(py, validator_core::copy::HEADER))?;
    m.add("COPY_TRAILER", PyBytes::new(py, validator_core::copy::TRAILER))?;
    Ok(())
}
