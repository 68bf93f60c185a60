//! `PostgreSQL` binary COPY: encoding valid records, and decoding them back (for tests and tools).
//!
//! Binary COPY needs no escaping, so a record's strings go out as one length and one memcpy each.

use xxhash_rust::xxh3::{xxh3_128, xxh3_64};

use crate::record::{Movie, Span};

/// Columns of every tuple, in order (see docs/validator-api.md).
pub const COLUMNS: [&str; 14] = [
    "title",
    "year",
    "provider_id",
    "href",
    "cast",
    "genres",
    "extract",
    "thumbnail",
    "thumbnail_width",
    "thumbnail_height",
    "record_key",
    "content_hash",
    "record",
    "line",
];

/// `PGCOPY\n\377\r\n\0`, flags, header extension length.
pub const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// A field count of -1 ends the data.
pub const TRAILER: &[u8] = b"\xff\xff";

const TEXT_OID: u32 = 25;

/// Identity of a record within a provider, and a fingerprint of its content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Identity {
    pub key: u128,
    pub content: u64,
}

/// Append one tuple for a valid record; returns its identity.
pub fn encode(
    out: &mut Vec<u8>,
    m: &Movie,
    input: &[u8],
    scratch: &[u8],
    record: u64,
    line: u64,
) -> Identity {
    let text = |s: &Span| s.bytes(input, scratch);
    let start = out.len();
    out.extend_from_slice(&(COLUMNS.len() as u16).to_be_bytes());
    let content_start = out.len();
    put_text(out, m.title.as_ref().map(text));
    put_int4(out, m.year);
    put_text(out, m.id.as_ref().map(text));
    put_text(out, m.href.as_ref().map(text));
    put_text_array(out, m.cast.iter().map(text));
    put_text_array(out, m.genres.iter().map(text));
    put_text(out, m.extract.as_ref().map(text));
    put_text(out, m.thumbnail.as_ref().map(text));
    put_int4(out, m.thumbnail_width);
    put_int4(out, m.thumbnail_height);
    // The tuple bytes so far are a canonical, length-prefixed form of the normalised content.
    let content = xxh3_64(&out[content_start..]);
    let key = record_key(m, input, scratch);
    put_field(out, &key.to_be_bytes());
    put_field(out, &content.to_be_bytes());
    put_field(out, &record.to_be_bytes());
    put_field(out, &line.to_be_bytes());
    debug_assert!(out.len() > start);
    Identity { key, content }
}

/// Set the record number and line of a tuple made by [`encode`] (its last two fields).
pub fn set_position(tuple: &mut [u8], record: u64, line: u64) {
    let n = tuple.len();
    tuple[n - 20..n - 12].copy_from_slice(&record.to_be_bytes());
    tuple[n - 8..].copy_from_slice(&line.to_be_bytes());
}

/// The content fingerprint of every deletion record: two deletions of one key are identical.
/// Its input cannot be the content bytes of a tuple, which start with a field length of -1 or
/// more, so a deletion never collapses with a movie record (short of a hash collision).
pub fn deletion_content() -> u64 {
    xxh3_64(b"\xff\xff\xff\xfedeleted")
}

/// `(id)` when present, else `(title, year, href)`, with tags so that the forms never collide
/// and absent `href` differs from `""`. Titles cannot hold U+0000, so it separates safely.
pub fn record_key(m: &Movie, input: &[u8], scratch: &[u8]) -> u128 {
    let mut key = Vec::with_capacity(64);
    if let Some(id) = &m.id {
        key.extend_from_slice(b"id\0");
        key.extend_from_slice(id.bytes(input, scratch));
    } else {
        key.extend_from_slice(b"tyh\0");
        if let Some(t) = &m.title {
            key.extend_from_slice(t.bytes(input, scratch));
        }
        key.push(0);
        key.extend_from_slice(&m.year.unwrap_or_default().to_be_bytes());
        if let Some(h) = &m.href {
            key.push(1);
            key.extend_from_slice(h.bytes(input, scratch));
        }
    }
    xxh3_128(&key)
}

fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn put_null(out: &mut Vec<u8>) {
    out.extend_from_slice(&(-1i32).to_be_bytes());
}

fn put_text(out: &mut Vec<u8>, value: Option<&[u8]>) {
    match value {
        Some(v) => put_field(out, v),
        None => put_null(out),
    }
}

fn put_int4(out: &mut Vec<u8>, value: Option<i32>) {
    match value {
        Some(v) => put_field(out, &v.to_be_bytes()),
        None => put_null(out),
    }
}

fn put_text_array<'a>(out: &mut Vec<u8>, items: impl ExactSizeIterator<Item = &'a [u8]>) {
    let len_at = out.len();
    out.extend_from_slice(&[0; 4]);
    let n = items.len() as u32;
    out.extend_from_slice(&u32::from(n > 0).to_be_bytes()); // dimensions
    out.extend_from_slice(&0u32.to_be_bytes()); // has nulls
    out.extend_from_slice(&TEXT_OID.to_be_bytes());
    if n > 0 {
        out.extend_from_slice(&n.to_be_bytes());
        out.extend_from_slice(&1u32.to_be_bytes()); // lower bound
        for item in items {
            put_field(out, item);
        }
    }
    let len = (out.len() - len_at - 4) as u32;
    out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
}

/// One decoded tuple.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub title: String,
    pub year: i32,
    pub id: Option<String>,
    pub href: Option<String>,
    pub cast: Vec<String>,
    pub genres: Vec<String>,
    pub extract: Option<String>,
    pub thumbnail: Option<String>,
    pub thumbnail_width: Option<i32>,
    pub thumbnail_height: Option<i32>,
    pub record_key: u128,
    pub content_hash: u64,
    pub record: u64,
    pub line: u64,
}

/// Why COPY bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub String);

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or_else(|| DecodeError(format!("truncated COPY data at byte {}", self.pos)))?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, DecodeError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn field(&mut self) -> Result<Option<&'a [u8]>, DecodeError> {
        let len = self.u32()?;
        if len == u32::MAX {
            return Ok(None); // -1: NULL
        }
        self.take(len as usize).map(Some)
    }

    fn required(&mut self) -> Result<&'a [u8], DecodeError> {
        self.field()?.ok_or_else(|| DecodeError(format!("unexpected NULL at byte {}", self.pos)))
    }

    fn text(&mut self) -> Result<Option<String>, DecodeError> {
        self.field()?.map(utf8).transpose()
    }

    fn int4(&mut self) -> Result<Option<i32>, DecodeError> {
        self.field()?.map(|b| fixed::<4>(b).map(i32::from_be_bytes)).transpose()
    }

    fn text_array(&mut self) -> Result<Vec<String>, DecodeError> {
        let body = self.required()?;
        let mut r = Reader { buf: body, pos: 0 };
        let dims = r.u32()?;
        let _has_nulls = r.u32()?;
        let _oid = r.u32()?;
        if dims == 0 {
            return Ok(Vec::new());
        }
        let n = r.u32()?;
        let _lower = r.u32()?;
        (0..n).map(|_| r.required().and_then(utf8)).collect()
    }
}

fn utf8(b: &[u8]) -> Result<String, DecodeError> {
    String::from_utf8(b.to_vec()).map_err(|e| DecodeError(format!("invalid UTF-8 in COPY text: {e}")))
}

fn fixed<const N: usize>(b: &[u8]) -> Result<[u8; N], DecodeError> {
    b.try_into().map_err(|_| DecodeError(format!("expected a {N}-byte field, got {} bytes", b.len())))
}

/// Decode tuples (no header or trailer) produced by [`encode`].
pub fn decode(data: &[u8]) -> Result<Vec<Row>, DecodeError> {
    let mut r = Reader { buf: data, pos: 0 };
    let mut rows = Vec::new();
    while r.pos < data.len() {
        let count = r.take(2)?;
        if u16::from_be_bytes([count[0], count[1]]) as usize != COLUMNS.len() {
            return Err(DecodeError(format!("expected {} columns at byte {}", COLUMNS.len(), r.pos - 2)));
        }
        let title = r.required().and_then(utf8)?;
        let year = r.int4()?.ok_or_else(|| DecodeError("NULL year".into()))?;
        rows.push(Row {
            title,
            year,
            id: r.text()?,
            href: r.text()?,
            cast: r.text_array()?,
            genres: r.text_array()?,
            extract: r.text()?,
            thumbnail: r.text()?,
            thumbnail_width: r.int4()?,
            thumbnail_height: r.int4()?,
            record_key: u128::from_be_bytes(fixed(r.required()?)?),
            content_hash: u64::from_be_bytes(fixed(r.required()?)?),
            record: u64::from_be_bytes(fixed(r.required()?)?),
            line: u64::from_be_bytes(fixed(r.required()?)?),
        });
    }
    Ok(rows)
}
