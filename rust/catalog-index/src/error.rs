//! The one error type of the crate: what went wrong, in words that name the movie or the file.

use std::fmt;

#[derive(Debug)]
pub enum Error {
    /// Binary COPY data that is not what the index's statements produce.
    Copy(String),
    /// A change set that does not fit the index (it names the movies); rebuild from the database.
    Change(String),
    /// Bytes that are not a segment this crate wrote, or a damaged one.
    Segment(String),
    /// The call does not fit the index's state (e.g. saving an index that holds changes).
    State(&'static str),
    Io(std::io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Copy(why) | Error::Change(why) => f.write_str(why),
            Error::Segment(why) => write!(f, "not a valid search index segment: {why}"),
            Error::State(why) => f.write_str(why),
            Error::Io(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<std::io::Error> for Error {
    #[cold]
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

#[cold]
pub fn segment(why: impl Into<String>) -> Error {
    Error::Segment(why.into())
}

#[cold]
pub fn change(why: impl Into<String>) -> Error {
    Error::Change(why.into())
}
