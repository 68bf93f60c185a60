//! Error codes and error values of the provider format (docs/provider-format.md).

/// Codes of errors that make one record invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    Type,
    Required,
    Length,
    Range,
    Format,
    TooManyItems,
    DuplicateField,
    DuplicateKey,
    Parse,
}

impl ErrorCode {
    pub const ALL: [ErrorCode; 9] = [
        ErrorCode::Type,
        ErrorCode::Required,
        ErrorCode::Length,
        ErrorCode::Range,
        ErrorCode::Format,
        ErrorCode::TooManyItems,
        ErrorCode::DuplicateField,
        ErrorCode::DuplicateKey,
        ErrorCode::Parse,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Type => "type",
            ErrorCode::Required => "required",
            ErrorCode::Length => "length",
            ErrorCode::Range => "range",
            ErrorCode::Format => "format",
            ErrorCode::TooManyItems => "too_many_items",
            ErrorCode::DuplicateField => "duplicate_field",
            ErrorCode::DuplicateKey => "duplicate_key",
            ErrorCode::Parse => "parse",
        }
    }
}

/// Codes of errors after which no record of the file is usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileErrorCode {
    Empty,
    Encoding,
    Parse,
    TopLevel,
    Depth,
    TooLarge,
}

impl FileErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            FileErrorCode::Empty => "empty",
            FileErrorCode::Encoding => "encoding",
            FileErrorCode::Parse => "parse",
            FileErrorCode::TopLevel => "top_level",
            FileErrorCode::Depth => "depth",
            FileErrorCode::TooLarge => "too_large",
        }
    }
}

/// One record error as reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub record: u64,
    pub line: u64,
    pub pointer: String,
    pub code: ErrorCode,
    pub message: String,
}

/// The whole-file error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    pub code: FileErrorCode,
    pub message: String,
    pub line: u64,
    pub offset: u64,
}

/// Append one RFC 6901 reference token (`~` → `~0`, `/` → `~1`).
pub fn push_pointer_token(pointer: &mut String, token: &str) {
    pointer.push('/');
    for c in token.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            _ => pointer.push(c),
        }
    }
}
