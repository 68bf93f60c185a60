//! What a validation run found: counts for everything, details for the first errors.

use crate::error::{ErrorCode, FileError, RecordError};

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub records_total: u64,
    pub records_valid: u64,
    /// Valid deletion records (`"deleted": true`), counted in `records_valid` too.
    pub deletions: u64,
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

    /// Count an error and keep it while fewer than `max_errors` are kept.
    pub fn add_error(&mut self, code: ErrorCode, max_errors: usize, error: Option<RecordError>) {
        self.error_counts[code as usize] += 1;
        self.errors_total += 1;
        if let Some(error) = error.filter(|_| self.errors.len() < max_errors) {
            self.errors.push(error);
        }
    }

    pub fn wants_details(&self, max_errors: usize) -> bool {
        self.errors.len() < max_errors
    }
}
