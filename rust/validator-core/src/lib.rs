//! Streaming validation of moviestore provider catalog files (docs/provider-format.md).
//!
//! No Python in here: `rust/validator` binds this crate for Python.

pub mod copy;
pub mod error;
pub mod json;
pub mod record;
pub mod report;
pub mod stream;
pub mod text;
pub mod validator;

pub use error::{ErrorCode, FileError, FileErrorCode, RecordError};
pub use report::Report;
pub use stream::Config;
pub use validator::Validator;
