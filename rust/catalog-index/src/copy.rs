//! `PostgreSQL`'s binary COPY format, read a tuple at a time from bytes that arrive in chunks of
//! any size: a tuple cut by the end of a chunk is read again once the rest has arrived.

use std::fmt;

pub const SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CopyError {
    /// The bytes so far end inside a tuple (or the header): feed more.
    Incomplete,
    /// The bytes are not what the index's COPY statement produces.
    Invalid(String),
}

impl fmt::Display for CopyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CopyError::Incomplete => f.write_str("the COPY data ends inside a tuple"),
            CopyError::Invalid(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for CopyError {}

pub struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CopyError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.buf.len());
        let end = end.ok_or(CopyError::Incomplete)?;
        let s = &self.buf[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], CopyError> {
        let b = self.take(N)?;
        let mut out = [0; N];
        out.copy_from_slice(b);
        Ok(out)
    }

    pub fn i16(&mut self) -> Result<i16, CopyError> {
        self.fixed().map(i16::from_be_bytes)
    }

    pub fn i32(&mut self) -> Result<i32, CopyError> {
        self.fixed().map(i32::from_be_bytes)
    }

    /// The header: signature, flags, and an extension area this reader skips.
    pub fn header(&mut self) -> Result<(), CopyError> {
        let signature = self.take(SIGNATURE.len())?;
        if signature != SIGNATURE {
            return Err(invalid("not binary COPY data (bad signature)"));
        }
        let _flags = self.i32()?;
        let extension = self.i32()?;
        self.take(usize::try_from(extension).map_err(|_| invalid("bad header extension length"))?)?;
        Ok(())
    }

    /// A field's bytes, `None` for NULL.
    pub fn field(&mut self) -> Result<Option<&'a [u8]>, CopyError> {
        let len = self.i32()?;
        if len == -1 {
            return Ok(None);
        }
        let len = usize::try_from(len).map_err(|_| invalid("negative field length"))?;
        self.take(len).map(Some)
    }

    fn required(&mut self, what: &str) -> Result<&'a [u8], CopyError> {
        self.field()?.ok_or_else(|| invalid(&format!("{what} is NULL")))
    }

    pub fn int8(&mut self, what: &str) -> Result<i64, CopyError> {
        let b = self.required(what)?;
        b.try_into().map(i64::from_be_bytes).map_err(|_| invalid(&format!("{what} is not an int8")))
    }

    pub fn int4(&mut self, what: &str) -> Result<i32, CopyError> {
        let b = self.required(what)?;
        b.try_into().map(i32::from_be_bytes).map_err(|_| invalid(&format!("{what} is not an int4")))
    }

    pub fn text(&mut self, what: &str) -> Result<&'a str, CopyError> {
        utf8(self.required(what)?, what)
    }

    pub fn bytes(&mut self, what: &str) -> Result<&'a [u8], CopyError> {
        self.required(what)
    }

    /// A one-dimensional text[]; NULL elements are left out (they match no requested value).
    pub fn text_array(&mut self, what: &str) -> Result<Vec<&'a str>, CopyError> {
        let body = self.required(what)?;
        let mut r = Reader::new(body);
        // The whole field is here: running out inside it means it is malformed.
        let malformed = |_| invalid(&format!("{what} is not a text array"));
        let dims = r.i32().map_err(malformed)?;
        let _has_nulls = r.i32().map_err(malformed)?;
        let _element_type = r.i32().map_err(malformed)?;
        if dims == 0 {
            return Ok(Vec::new());
        }
        if dims != 1 {
            return Err(invalid(&format!("{what} has {dims} dimensions")));
        }
        let n = r.i32().map_err(malformed)?;
        let _lower_bound = r.i32().map_err(malformed)?;
        // Never more elements than 4-byte length words fit in the field (n is the data's word).
        let mut values = Vec::with_capacity(usize::try_from(n).unwrap_or(0).min(body.len() / 4));
        for _ in 0..n {
            if let Some(b) = r.field().map_err(malformed)? {
                values.push(utf8(b, what)?);
            }
        }
        Ok(values)
    }
}

fn utf8<'a>(b: &'a [u8], what: &str) -> Result<&'a str, CopyError> {
    std::str::from_utf8(b).map_err(|_| invalid(&format!("{what} is not valid UTF-8")))
}

pub fn invalid(why: &str) -> CopyError {
    CopyError::Invalid(why.to_owned())
}
