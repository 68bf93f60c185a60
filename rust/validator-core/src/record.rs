//! One movie object: parse it, check every field rule, and keep the normalised values.
//!
//! Values are kept as spans into the input or into a scratch buffer (for strings with escapes),
//! so a valid record is checked and encoded without allocating per field.

use std::collections::HashSet;

use xxhash_rust::xxh3::xxh3_64;

use crate::error::ErrorCode;
use crate::json::{Cursor, Scan, Stop, Str};
use crate::text;

/// The fields of the format, in COPY column order for the text fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Title,
    Year,
    Id,
    Href,
    Cast,
    Genres,
    Extract,
    Thumbnail,
    ThumbnailWidth,
    ThumbnailHeight,
    Deleted,
}

impl Field {
    fn from_name(name: &[u8]) -> Option<Field> {
        Some(match name {
            b"title" => Field::Title,
            b"year" => Field::Year,
            b"id" => Field::Id,
            b"href" => Field::Href,
            b"cast" => Field::Cast,
            b"genres" => Field::Genres,
            b"extract" => Field::Extract,
            b"thumbnail" => Field::Thumbnail,
            b"thumbnail_width" => Field::ThumbnailWidth,
            b"thumbnail_height" => Field::ThumbnailHeight,
            b"deleted" => Field::Deleted,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            Field::Title => "title",
            Field::Year => "year",
            Field::Id => "id",
            Field::Href => "href",
            Field::Cast => "cast",
            Field::Genres => "genres",
            Field::Extract => "extract",
            Field::Thumbnail => "thumbnail",
            Field::ThumbnailWidth => "thumbnail_width",
            Field::ThumbnailHeight => "thumbnail_height",
            Field::Deleted => "deleted",
        }
    }
}

const TITLE_MAX: usize = 500;
const CAST_ITEM_MAX: usize = 200;
const CAST_MAX_ITEMS: usize = 1000;
const GENRE_MAX: usize = 64;
const GENRES_MAX_ITEMS: usize = 50;
const ID_MAX: usize = 200;
const HREF_MAX: usize = 1000;
const EXTRACT_MAX: usize = 100_000;
const THUMBNAIL_MAX: usize = 2000;
const DIMENSION_MAX: i64 = 100_000;
pub const YEAR_MIN: i64 = 1888;

/// A normalised string: a range in the record's input or in the parser's scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub in_scratch: bool,
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn bytes<'a>(&self, input: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        if self.in_scratch {
            &scratch[self.start..self.end]
        } else {
            &input[self.start..self.end]
        }
    }
}

/// The normalised values of a record (meaningful when the record has no issue).
#[derive(Debug, Default)]
pub struct Movie {
    pub title: Option<Span>,
    pub year: Option<i32>,
    pub id: Option<Span>,
    pub href: Option<Span>,
    pub cast: Vec<Span>,
    pub genres: Vec<Span>,
    pub extract: Option<Span>,
    pub thumbnail: Option<Span>,
    pub thumbnail_width: Option<i32>,
    pub thumbnail_height: Option<i32>,
    /// `"deleted": true`: a deletion record, which withdraws the movie its key names.
    pub deleted: bool,
}

/// Where in the record an issue is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Record,
    Field(Field),
    Item(Field, usize),
    /// A repeated field name, as written (decoded).
    Name(String),
}

/// Why: enough to write the message, built only for errors the report keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Why {
    NotObject(&'static str),
    WrongType { expected: &'static str, got: &'static str },
    NotInteger,
    Missing,
    TooShort,
    TooLong { max: usize, chars: usize },
    OutOfRange { min: i64, max: i64 },
    Nul,
    Surrogate,
    NotUrl,
    TooManyItems { max: usize },
    RepeatedField,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    pub code: ErrorCode,
    /// Offset in the record's input of the byte the error points at.
    pub at: usize,
    pub place: Place,
    pub why: Why,
}

impl Issue {
    pub fn message(&self) -> String {
        let what = match &self.place {
            Place::Record => "record".to_string(),
            Place::Field(f) => format!("'{}'", f.name()),
            Place::Item(f, i) => format!("item {i} of '{}'", f.name()),
            Place::Name(n) => format!("field '{n}'"),
        };
        match &self.why {
            Why::NotObject(got) => format!("record must be an object, got {got}"),
            Why::WrongType { expected, got } => format!("{what} must be {expected}, got {got}"),
            Why::NotInteger => {
                format!("{what} must be an integer, got a number with a fraction or exponent")
            }
            Why::Missing => format!("{what} is required"),
            Why::TooShort => format!("{what} must not be empty (after trimming white space)"),
            Why::TooLong { max, chars } => {
                format!("{what} is {chars} characters long; at most {max} are allowed")
            }
            Why::OutOfRange { min, max } => format!("{what} must be between {min} and {max}"),
            Why::Nul => format!("{what} contains U+0000, which cannot be stored"),
            Why::Surrogate => format!("{what} contains an unpaired UTF-16 surrogate escape"),
            Why::NotUrl => format!("{what} must be an http(s) URL"),
            Why::TooManyItems { max } => {
                let list = match &self.place {
                    Place::Item(f, _) | Place::Field(f) => f.name(),
                    _ => "the list",
                };
                format!("'{list}' has more than {max} items; the rest are not checked")
            }
            Why::RepeatedField => format!("{what} occurs more than once in the object"),
        }
    }
}

/// What a JSON value is, for messages.
fn kind_of(first: u8) -> &'static str {
    match first {
        b'{' => "an object",
        b'[' => "an array",
        b'"' => "a string",
        b't' | b'f' => "a boolean",
        b'n' => "null",
        _ => "a number",
    }
}

/// Checks one record at a time, reusing its buffers.
#[derive(Default)]
pub struct RecordParser {
    pub movie: Movie,
    pub issues: Vec<Issue>,
    pub scratch: Vec<u8>,
    stack: Vec<bool>,
    unknown_names: Vec<Str>,
    unknown_hashes: HashSet<u64>,
    item_hashes: HashSet<u64>,
    max_depth: usize,
    year_max: i64,
}

/// When a list grows past this, repeats are found through a hash set instead of a scan.
const LINEAR_LIMIT: usize = 16;

impl RecordParser {
    pub fn new(max_depth: usize, current_year: i64) -> Self {
        RecordParser { max_depth, year_max: current_year + 5, ..RecordParser::default() }
    }

    pub fn year_max(&self) -> i64 {
        self.year_max
    }

    /// Parse the value at the cursor as a movie record at container depth `depth`.
    pub fn parse(&mut self, cur: &mut Cursor, depth: usize) -> Scan<()> {
        self.movie = Movie {
            cast: std::mem::take(&mut self.movie.cast),
            genres: std::mem::take(&mut self.movie.genres),
            ..Movie::default()
        };
        self.movie.cast.clear();
        self.movie.genres.clear();
        self.issues.clear();
        self.scratch.clear();
        self.unknown_names.clear();
        self.unknown_hashes.clear();

        let start = cur.pos;
        let first = cur.peek()?;
        if first != b'{' {
            if !crate::json::starts_value(first) {
                return Err(cur.unexpected("expected a JSON value"));
            }
            cur.skip_value(depth, self.max_depth, &mut self.stack, &mut self.scratch)?;
            self.issue(ErrorCode::Type, start, Place::Record, Why::NotObject(kind_of(first)));
            return Ok(());
        }
        if depth > self.max_depth {
            return Err(Stop::Depth { at: start });
        }
        cur.pos += 1;
        cur.skip_ws();
        let mut seen = 0u16;
        let (mut title_given, mut year_given, mut id_given) = (false, false, false);
        if cur.peek()? == b'}' {
            cur.pos += 1;
        } else {
            loop {
                cur.skip_ws();
                if cur.peek()? != b'"' {
                    return Err(cur.unexpected("expected a string as object member name"));
                }
                let name_at = cur.pos;
                let name = cur.string(&mut self.scratch)?;
                cur.skip_ws();
                cur.expect(b':', "expected ':' after an object member name")?;
                cur.skip_ws();
                let name_bytes = name.bytes(cur.buf, &self.scratch);
                let field = Field::from_name(name_bytes);
                let repeated = match field {
                    Some(f) => {
                        let bit = 1u16 << (f as u16);
                        let again = seen & bit != 0;
                        seen |= bit;
                        again
                    }
                    None => self.unknown_name_repeated(name, cur.buf),
                };
                if repeated {
                    let shown = text::wtf8_lossy(name.bytes(cur.buf, &self.scratch));
                    self.issue(ErrorCode::DuplicateField, name_at, Place::Name(shown), Why::RepeatedField);
                    cur.skip_value(depth + 1, self.max_depth, &mut self.stack, &mut self.scratch)?;
                } else if let Some(field) = field {
                    let given = self.field(cur, field, depth + 1)?;
                    title_given |= field == Field::Title && given;
                    year_given |= field == Field::Year && given;
                    id_given |= field == Field::Id && given;
                } else {
                    cur.skip_value(depth + 1, self.max_depth, &mut self.stack, &mut self.scratch)?;
                }
                cur.skip_ws();
                match cur.peek()? {
                    b',' => cur.pos += 1,
                    b'}' => {
                        cur.pos += 1;
                        break;
                    }
                    _ => return Err(cur.unexpected("expected ',' or '}' after an object member")),
                }
            }
        }
        // A deletion record with an id names its movie by the id alone.
        let named_by_id = self.movie.deleted && id_given;
        if !title_given && !named_by_id {
            self.issue(ErrorCode::Required, start, Place::Field(Field::Title), Why::Missing);
        }
        if !year_given && !named_by_id {
            self.issue(ErrorCode::Required, start, Place::Field(Field::Year), Why::Missing);
        }
        Ok(())
    }

    fn issue(&mut self, code: ErrorCode, at: usize, place: Place, why: Why) {
        self.issues.push(Issue { code, at, place, why });
    }

    fn unknown_name_repeated(&mut self, name: Str, input: &[u8]) -> bool {
        let bytes = name.bytes(input, &self.scratch);
        let repeated = if self.unknown_names.len() < LINEAR_LIMIT {
            self.unknown_names.iter().any(|s| s.bytes(input, &self.scratch) == bytes)
        } else {
            if self.unknown_hashes.is_empty() {
                for s in &self.unknown_names {
                    self.unknown_hashes.insert(xxh3_64(s.bytes(input, &self.scratch)));
                }
            }
            !self.unknown_hashes.insert(xxh3_64(bytes))
                && self.unknown_names.iter().any(|s| s.bytes(input, &self.scratch) == bytes)
        };
        if !repeated {
            self.unknown_names.push(name);
        }
        repeated
    }

    /// Check one known field's value; returns whether a non-null value was given.
    fn field(&mut self, cur: &mut Cursor, field: Field, depth: usize) -> Scan<bool> {
        if cur.peek()? == b'n' {
            cur.literal()?;
            return Ok(false);
        }
        let place = Place::Field(field);
        match field {
            Field::Title => self.movie.title = self.string(cur, depth, place, 1, TITLE_MAX, false)?,
            Field::Href => self.movie.href = self.string(cur, depth, place, 0, HREF_MAX, false)?,
            Field::Extract => {
                self.movie.extract = self.string(cur, depth, place, 0, EXTRACT_MAX, false)?;
            }
            Field::Thumbnail => {
                self.movie.thumbnail = self.string(cur, depth, place, 0, THUMBNAIL_MAX, true)?;
            }
            Field::Year => self.movie.year = self.integer(cur, depth, place, YEAR_MIN, self.year_max)?,
            Field::ThumbnailWidth => {
                self.movie.thumbnail_width = self.integer(cur, depth, place, 1, DIMENSION_MAX)?;
            }
            Field::ThumbnailHeight => {
                self.movie.thumbnail_height = self.integer(cur, depth, place, 1, DIMENSION_MAX)?;
            }
            Field::Id => self.movie.id = self.id(cur, depth)?,
            Field::Deleted => self.movie.deleted = self.boolean(cur, depth, place)?,
            Field::Cast => self.list(cur, depth, field, CAST_ITEM_MAX, CAST_MAX_ITEMS)?,
            Field::Genres => self.list(cur, depth, field, GENRE_MAX, GENRES_MAX_ITEMS)?,
        }
        Ok(true)
    }

    /// Skip a value of the wrong type and record a `type` issue.
    fn wrong_type(
        &mut self,
        cur: &mut Cursor,
        depth: usize,
        place: Place,
        expected: &'static str,
    ) -> Scan<()> {
        let at = cur.pos;
        let first = cur.peek()?;
        if !crate::json::starts_value(first) {
            return Err(cur.unexpected("expected a JSON value"));
        }
        cur.skip_value(depth, self.max_depth, &mut self.stack, &mut self.scratch)?;
        self.issue(ErrorCode::Type, at, place, Why::WrongType { expected, got: kind_of(first) });
        Ok(())
    }

    /// A string field (or item): type, then U+0000/surrogates, then length, then URL.
    fn string(
        &mut self,
        cur: &mut Cursor,
        depth: usize,
        place: Place,
        min: usize,
        max: usize,
        url: bool,
    ) -> Scan<Option<Span>> {
        let at = cur.pos;
        if cur.peek()? != b'"' {
            self.wrong_type(cur, depth, place, "a string")?;
            return Ok(None);
        }
        let s = cur.string(&mut self.scratch)?;
        let why = self.check_string(s, cur.buf, min, max, url);
        match why {
            Ok(span) => Ok(Some(span)),
            Err((code, why)) => {
                self.issue(code, at, place, why);
                Ok(None)
            }
        }
    }

    fn check_string(
        &self,
        s: Str,
        input: &[u8],
        min: usize,
        max: usize,
        url: bool,
    ) -> Result<Span, (ErrorCode, Why)> {
        if s.lone_surrogate {
            return Err((ErrorCode::Format, Why::Surrogate));
        }
        if s.nul {
            return Err((ErrorCode::Format, Why::Nul));
        }
        let bytes = s.bytes(input, &self.scratch);
        let (a, b) = text::trim(bytes);
        let trimmed = &bytes[a..b];
        if !text::length_ok(trimmed, min, max) {
            let why = if trimmed.is_empty() {
                Why::TooShort
            } else {
                Why::TooLong { max, chars: text::char_count(trimmed) }
            };
            return Err((ErrorCode::Length, why));
        }
        if url && !text::is_http_url(trimmed) {
            return Err((ErrorCode::Format, Why::NotUrl));
        }
        Ok(Span { in_scratch: s.in_scratch, start: s.start + a, end: s.start + b })
    }

    /// An integer field: its value when it is an integer in `min..=max` (which fits an i32).
    fn integer(
        &mut self,
        cur: &mut Cursor,
        depth: usize,
        place: Place,
        min: i64,
        max: i64,
    ) -> Scan<Option<i32>> {
        let at = cur.pos;
        if !matches!(cur.peek()?, b'-' | b'0'..=b'9') {
            self.wrong_type(cur, depth, place, "an integer")?;
            return Ok(None);
        }
        let n = cur.number()?;
        if !n.integer {
            self.issue(ErrorCode::Type, at, place, Why::NotInteger);
            return Ok(None);
        }
        let token = &cur.buf[n.start..n.end];
        match parse_i64(token) {
            Some(v) if (min..=max).contains(&v) => Ok(i32::try_from(v).ok()),
            _ => {
                self.issue(ErrorCode::Range, at, place, Why::OutOfRange { min, max });
                Ok(None)
            }
        }
    }

    /// A JSON boolean (`false` when it has an error).
    fn boolean(&mut self, cur: &mut Cursor, depth: usize, place: Place) -> Scan<bool> {
        match cur.peek()? {
            b't' | b'f' => Ok(cur.literal()? == b't'),
            _ => {
                self.wrong_type(cur, depth, place, "a boolean")?;
                Ok(false)
            }
        }
    }

    /// `id`: a string, or an integer kept as its decimal string.
    fn id(&mut self, cur: &mut Cursor, depth: usize) -> Scan<Option<Span>> {
        let at = cur.pos;
        let place = Place::Field(Field::Id);
        match cur.peek()? {
            b'"' => self.string(cur, depth, place, 1, ID_MAX, false),
            b'-' | b'0'..=b'9' => {
                let n = cur.number()?;
                if !n.integer {
                    self.issue(ErrorCode::Type, at, place, Why::NotInteger);
                    return Ok(None);
                }
                let token = &cur.buf[n.start..n.end];
                let span = if token == b"-0" {
                    let start = self.scratch.len();
                    self.scratch.push(b'0');
                    Span { in_scratch: true, start, end: start + 1 }
                } else {
                    Span { in_scratch: false, start: n.start, end: n.end }
                };
                if span.end - span.start > ID_MAX {
                    let chars = span.end - span.start;
                    self.issue(ErrorCode::Length, at, place, Why::TooLong { max: ID_MAX, chars });
                    return Ok(None);
                }
                Ok(Some(span))
            }
            _ => {
                self.wrong_type(cur, depth, place, "a string or an integer")?;
                Ok(None)
            }
        }
    }

    /// `cast` / `genres`: an array of strings, trimmed, repeats collapsed, at most `max_items`.
    fn list(
        &mut self,
        cur: &mut Cursor,
        depth: usize,
        field: Field,
        item_max: usize,
        max_items: usize,
    ) -> Scan<()> {
        let open = cur.pos;
        if cur.peek()? != b'[' {
            return self.wrong_type(cur, depth, Place::Field(field), "an array of strings");
        }
        if depth > self.max_depth {
            return Err(Stop::Depth { at: open });
        }
        cur.pos += 1;
        cur.skip_ws();
        let mut items = std::mem::take(match field {
            Field::Cast => &mut self.movie.cast,
            _ => &mut self.movie.genres,
        });
        self.item_hashes.clear();
        let result = self.list_items(cur, depth, field, item_max, max_items, &mut items);
        match field {
            Field::Cast => self.movie.cast = items,
            _ => self.movie.genres = items,
        }
        result
    }

    fn list_items(
        &mut self,
        cur: &mut Cursor,
        depth: usize,
        field: Field,
        item_max: usize,
        max_items: usize,
        items: &mut Vec<Span>,
    ) -> Scan<()> {
        if cur.peek()? == b']' {
            cur.pos += 1;
            return Ok(());
        }
        let mut index = 0usize;
        loop {
            cur.skip_ws();
            let at = cur.pos;
            let place = Place::Item(field, index);
            if index < max_items {
                if let Some(span) = self.string(cur, depth + 1, place, 1, item_max, false)? {
                    self.push_unique(items, span, cur.buf);
                }
            } else {
                if index == max_items {
                    self.issue(ErrorCode::TooManyItems, at, place, Why::TooManyItems { max: max_items });
                }
                if !crate::json::starts_value(cur.peek()?) {
                    return Err(cur.unexpected("expected a JSON value"));
                }
                cur.skip_value(depth + 1, self.max_depth, &mut self.stack, &mut self.scratch)?;
            }
            index += 1;
            cur.skip_ws();
            match cur.peek()? {
                b',' => cur.pos += 1,
                b']' => {
                    cur.pos += 1;
                    return Ok(());
                }
                _ => return Err(cur.unexpected("expected ',' or ']' after an array element")),
            }
        }
    }

    fn push_unique(&mut self, items: &mut Vec<Span>, span: Span, input: &[u8]) {
        let value = span.bytes(input, &self.scratch);
        let present = if items.len() < LINEAR_LIMIT {
            items.iter().any(|s| s.bytes(input, &self.scratch) == value)
        } else {
            if self.item_hashes.is_empty() {
                for s in items.iter() {
                    self.item_hashes.insert(xxh3_64(s.bytes(input, &self.scratch)));
                }
            }
            !self.item_hashes.insert(xxh3_64(value))
                && items.iter().any(|s| s.bytes(input, &self.scratch) == value)
        };
        if !present {
            items.push(span);
        }
    }
}

/// Parse a JSON integer token; `None` when it does not fit in an i64.
fn parse_i64(token: &[u8]) -> Option<i64> {
    let (negative, digits) = match token.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, token),
    };
    let mut value: i64 = 0;
    for &d in digits {
        value = value.checked_mul(10)?.checked_add(i64::from(d - b'0'))?;
    }
    Some(if negative { -value } else { value })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(json: &str) -> (RecordParser, Scan<()>) {
        let mut p = RecordParser::new(64, 2026);
        let mut cur = Cursor::new(json.as_bytes(), 0, true);
        let r = p.parse(&mut cur, 2);
        (p, r)
    }

    fn codes(json: &str) -> Vec<(ErrorCode, Place)> {
        let (p, r) = check(json);
        assert_eq!(r, Ok(()), "{json}");
        p.issues.iter().map(|i| (i.code, i.place.clone())).collect()
    }

    #[test]
    fn a_valid_record_has_no_issue() {
        assert_eq!(
            codes(r#"{"title":" Carmen ","year":1915,"cast":["A","A "," B"],"genres":null,"x":[{"y":1}]}"#),
            vec![]
        );
        let (p, _) = check(r#"{"title":" Carmen ","year":1915,"cast":["A","A "," B"]}"#);
        assert_eq!(p.movie.cast.len(), 2);
    }

    #[test]
    fn year_rules() {
        use ErrorCode::{Range, Required, Type};
        let year = Place::Field(Field::Year);
        assert_eq!(codes(r#"{"title":"x","year":2010.0}"#), vec![(Type, year.clone())]);
        assert_eq!(codes(r#"{"title":"x","year":"2010"}"#), vec![(Type, year.clone())]);
        assert_eq!(codes(r#"{"title":"x","year":1887}"#), vec![(Range, year.clone())]);
        assert_eq!(codes(r#"{"title":"x","year":99999999999999999999999}"#), vec![(Range, year.clone())]);
        assert_eq!(codes(r#"{"title":"x","year":2031}"#), vec![]);
        assert_eq!(codes(r#"{"title":"x","year":2032}"#), vec![(Range, year.clone())]);
        assert_eq!(codes(r#"{"title":"x","year":null}"#), vec![(Required, year)]);
    }

    #[test]
    fn repeated_fields_are_errors_even_when_escaped() {
        assert_eq!(
            codes(r#"{"title":"x","year":2000,"t\u0069tle":"y"}"#),
            vec![(ErrorCode::DuplicateField, Place::Name("title".into()))]
        );
    }

    #[test]
    fn too_many_items_points_one_past_the_limit() {
        let genres: Vec<String> = (0..52).map(|i| format!("\"g{i}\"")).collect();
        let json = format!(r#"{{"title":"x","year":2000,"genres":[{}]}}"#, genres.join(","));
        assert_eq!(codes(&json), vec![(ErrorCode::TooManyItems, Place::Item(Field::Genres, 50))]);
    }

    #[test]
    fn integer_ids_keep_their_decimal_string() {
        let (p, _) = check(r#"{"title":"x","year":2000,"id":-0}"#);
        let id = p.movie.id.expect("id");
        assert_eq!(id.bytes(b"", &p.scratch), b"0");
        assert_eq!(
            codes(r#"{"title":"x","year":2000,"id":1.5}"#),
            vec![(ErrorCode::Type, Place::Field(Field::Id))]
        );
    }

    #[test]
    fn stored_strings_reject_nul_and_surrogates() {
        let t = Place::Field(Field::Title);
        assert_eq!(codes(r#"{"title":"a\u0000","year":2000}"#), vec![(ErrorCode::Format, t.clone())]);
        assert_eq!(codes(r#"{"title":"a\udc00","year":2000}"#), vec![(ErrorCode::Format, t)]);
    }

    #[test]
    fn a_deletion_record_with_an_id_needs_no_title_or_year() {
        assert_eq!(codes(r#"{"id":"a-1","deleted":true}"#), vec![]);
        let (p, _) = check(r#"{"deleted":true,"id":7}"#);
        assert!(p.movie.deleted);
        // Without an id, the title and year name it, so they are required as ever.
        let required = |f| (ErrorCode::Required, Place::Field(f));
        assert_eq!(codes(r#"{"deleted":true}"#), vec![required(Field::Title), required(Field::Year)]);
        assert_eq!(codes(r#"{"title":"x","year":2000,"deleted":true}"#), vec![]);
        // An id present but invalid still names the record: one error, not three.
        assert_eq!(codes(r#"{"id":"","deleted":true}"#), vec![(ErrorCode::Length, Place::Field(Field::Id))]);
        // false and null are ordinary records.
        assert_eq!(
            codes(r#"{"id":"a","deleted":false}"#),
            vec![required(Field::Title), required(Field::Year)]
        );
        assert_eq!(
            codes(r#"{"id":"a","deleted":null}"#),
            vec![required(Field::Title), required(Field::Year)]
        );
    }

    #[test]
    fn deleted_must_be_a_boolean() {
        let deleted = Place::Field(Field::Deleted);
        assert_eq!(
            codes(r#"{"title":"x","year":2000,"deleted":"yes"}"#),
            vec![(ErrorCode::Type, deleted.clone())]
        );
        assert_eq!(codes(r#"{"title":"x","year":2000,"deleted":1}"#), vec![(ErrorCode::Type, deleted)]);
        let (p, _) = check(r#"{"id":"a","deleted":"true"}"#);
        assert!(!p.movie.deleted);
    }

    #[test]
    fn not_an_object_is_a_type_error() {
        assert_eq!(codes("[1,2]"), vec![(ErrorCode::Type, Place::Record)]);
    }
}
