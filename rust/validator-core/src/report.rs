//! What a validation run found: counts for everything, details for the first errors.

use crate::error::{ErrorCode, FileError, RecordError};

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub records_total: u64,
    pub records_valid: u64,
    pub records_invalid: u64,
    pub duplicates_collapsed: u64,
    pub bytes_read: u64,
    /// Count per code, indexed like [`ErrorCode::ALL`].
    pub error_counts: [u64; ErrorCode::ALL.len()],
    pub errors: Vec<RecordError>,
    pub errors_total: u64,
    pub file_error: Option<FileError>,
}

impl Report {
    pub fn count(&self, code: ErrorCode) -> u64 {
        self.error_counts[code as usize]
    }

    /// Count an error; keep it only while fewer than `max_errors` are kept. The error is built
    /// only when kept, so a file of a million bad records does not build a million messages.
    pub fn add_error(&mut self, code: ErrorCode, max_errors: usize, build: impl FnOnce() -> RecordError) {
        self.error_counts[code as usize] += 1;
        self.errors_total += 1;
        if self.errors.len() < max_errors {
            self.errors.push(build());
        }
    }

    pub fn wants_details(&self, max_errors: usize) -> bool {
        self.errors.len() < max_errors
    }
}
