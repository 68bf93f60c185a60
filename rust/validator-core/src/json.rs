//! A strict (RFC 8259) JSON scanner over one contiguous slice.
//!
//! The streaming layer hands it a slice that may end in the middle of a value; every function
//! then answers [`Stop::Incomplete`] without side effects the caller cares about, and the caller
//! retries with more bytes from the same start. When the slice is known to be the end of the
//! input (`eof`), running out of bytes is a syntax error instead.

/// Why scanning stopped before a value was complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stop {
    /// The slice ended inside a value; more bytes may complete it.
    Incomplete,
    /// Not JSON at `at` (offset in the slice).
    Syntax { at: usize, msg: &'static str },
    /// Invalid UTF-8 at `at`.
    Encoding { at: usize },
    /// A container opened at `at` is nested deeper than the limit.
    Depth { at: usize },
    /// The unit starting at `at` does not end within the record size limit.
    TooLarge { at: usize },
}

pub type Scan<T> = Result<T, Stop>;

/// A number token: where it is and what kind it is.
#[derive(Debug, Clone, Copy)]
pub struct Number {
    pub start: usize,
    pub end: usize,
    /// No fraction and no exponent.
    pub integer: bool,
}

/// A decoded string: the bytes live in the input (no escapes) or in the scratch buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Str {
    pub in_scratch: bool,
    pub start: usize,
    pub end: usize,
    /// An escape produced an unpaired UTF-16 surrogate (stored as WTF-8 in scratch).
    pub lone_surrogate: bool,
    /// An escape produced U+0000 (the only way a string can hold it).
    pub nul: bool,
}

impl Str {
    pub fn bytes<'a>(&self, input: &'a [u8], scratch: &'a [u8]) -> &'a [u8] {
        if self.in_scratch {
            &scratch[self.start..self.end]
        } else {
            &input[self.start..self.end]
        }
    }
}

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

/// Can this byte start a JSON value? (Used to tell "wrong kind of value" from "not JSON".)
pub fn starts_value(b: u8) -> bool {
    matches!(b, b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n')
}

pub struct Cursor<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    pub eof: bool,
    /// Newlines skipped so far. JSON allows raw newlines only in whitespace, so counting them
    /// here gives line numbers without another pass over the input.
    pub newlines: u64,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], pos: usize, eof: bool) -> Self {
        Cursor { buf, pos, eof, newlines: 0 }
    }

    #[inline]
    pub fn skip_ws(&mut self) {
        while let Some(&b) = self.buf.get(self.pos) {
            if !is_ws(b) {
                break;
            }
            self.newlines += u64::from(b == b'\n');
            self.pos += 1;
        }
    }

    /// The next byte, or why there is none.
    #[inline]
    pub fn peek(&self) -> Scan<u8> {
        match self.buf.get(self.pos) {
            Some(&b) => Ok(b),
            None => Err(self.out_of_input()),
        }
    }

    #[cold]
    pub fn out_of_input(&self) -> Stop {
        if self.eof {
            Stop::Syntax { at: self.pos, msg: "unexpected end of input" }
        } else {
            Stop::Incomplete
        }
    }

    /// A syntax error at the current byte, unless that byte starts invalid UTF-8.
    #[cold]
    pub fn unexpected(&self, msg: &'static str) -> Stop {
        let at = self.pos;
        match self.buf.get(at) {
            Some(&b) if b >= 0x80 => match utf8_check(&self.buf[at..], self.eof) {
                Err(stop) => shift(stop, at),
                Ok(()) => Stop::Syntax { at, msg },
            },
            _ => Stop::Syntax { at, msg },
        }
    }

    pub fn expect(&mut self, byte: u8, msg: &'static str) -> Scan<()> {
        if self.peek()? == byte {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected(msg))
        }
    }

    /// Scan a string at `pos` (which holds `"`). Escaped strings are decoded into `scratch`.
    pub fn string(&mut self, scratch: &mut Vec<u8>) -> Scan<Str> {
        let buf = self.buf;
        let start = self.pos + 1;
        // Fast path: a string without escapes, found and checked in one pass (`scan_string`);
        // most bytes of a catalog are in such strings.
        let (mut i, high) = scan_string(buf, start);
        if i == buf.len() {
            return Err(self.string_end_missing(start, buf.len()));
        }
        if buf[i] < 0x20 || high {
            check_span(buf, start, i)?;
        }
        if buf[i] == b'"' {
            self.pos = i + 1;
            return Ok(Str { in_scratch: false, start, end: i, lone_surrogate: false, nul: false });
        }
        if buf[i] != b'\\' {
            return Err(Stop::Syntax { at: i, msg: "unescaped control character in string" });
        }
        // Slow path: decode escapes into scratch, span by span.
        let s_start = scratch.len();
        scratch.extend_from_slice(&buf[start..i]);
        let mut lone_surrogate = false;
        let mut nul = false;
        loop {
            // `buf[i]` is a backslash here.
            let (advance, surrogate) = self.escape(i, scratch, start)?;
            lone_surrogate |= surrogate;
            nul |= scratch.last() == Some(&0);
            i += advance;
            let (end, high) = scan_string(buf, i);
            if end == buf.len() {
                return Err(self.string_end_missing(start, buf.len()));
            }
            if buf[end] < 0x20 || high {
                check_span(buf, i, end).map_err(|stop| self.earlier_encoding(start, i, stop))?;
            }
            if buf[end] < 0x20 {
                return Err(Stop::Syntax { at: end, msg: "unescaped control character in string" });
            }
            scratch.extend_from_slice(&buf[i..end]);
            i = end;
            if buf[i] == b'"' {
                self.pos = i + 1;
                return Ok(Str { in_scratch: true, start: s_start, end: scratch.len(), lone_surrogate, nul });
            }
        }
    }

    /// Scan and discard a string, checking it as thoroughly as [`Cursor::string`].
    pub fn skip_string(&mut self, scratch: &mut Vec<u8>) -> Scan<()> {
        let mark = scratch.len();
        let result = self.string(scratch).map(|_| ());
        scratch.truncate(mark);
        result
    }

    /// Decode the escape at `i` (a backslash); returns (bytes consumed, produced a lone surrogate).
    fn escape(&self, i: usize, out: &mut Vec<u8>, start: usize) -> Scan<(usize, bool)> {
        let buf = self.buf;
        let Some(&kind) = buf.get(i + 1) else {
            return Err(self.string_end_missing(start, i + 1));
        };
        let simple = match kind {
            b'"' => b'"',
            b'\\' => b'\\',
            b'/' => b'/',
            b'b' => 0x08,
            b'f' => 0x0c,
            b'n' => b'\n',
            b'r' => b'\r',
            b't' => b'\t',
            b'u' => 0,
            _ => {
                return Err(self.first_of(start, i + 1, "invalid escape in string"));
            }
        };
        if kind != b'u' {
            out.push(simple);
            return Ok((2, false));
        }
        let first = self.hex4(i + 2, start)?;
        if (0xD800..0xDC00).contains(&first) {
            // A high surrogate: a low one must follow as another \u escape to make a pair.
            if buf.get(i + 6) == Some(&b'\\') && buf.get(i + 7) == Some(&b'u') {
                let second = self.hex4(i + 8, start)?;
                if (0xDC00..0xE000).contains(&second) {
                    let c = 0x10000 + ((first - 0xD800) << 10) + (second - 0xDC00);
                    push_code_point(out, c);
                    return Ok((12, false));
                }
            } else if buf.len() < i + 8 && !self.eof {
                // The pair may continue in bytes we do not have yet.
                return Err(Stop::Incomplete);
            }
            push_code_point(out, first);
            return Ok((6, true));
        }
        push_code_point(out, first);
        Ok((6, (0xDC00..0xE000).contains(&first)))
    }

    fn hex4(&self, at: usize, start: usize) -> Scan<u32> {
        let mut value = 0u32;
        for k in 0..4 {
            let Some(&h) = self.buf.get(at + k) else {
                return Err(self.string_end_missing(start, at + k));
            };
            let digit = match h {
                b'0'..=b'9' => h - b'0',
                b'a'..=b'f' => h - b'a' + 10,
                b'A'..=b'F' => h - b'A' + 10,
                _ => return Err(self.first_of(start, at + k, "invalid \\u escape")),
            };
            value = value * 16 + u32::from(digit);
        }
        Ok(value)
    }

    /// Out of bytes inside a string. Before asking for more, the bytes at hand are checked, so
    /// that the error found never depends on where the input was cut into chunks.
    #[cold]
    fn string_end_missing(&self, start: usize, at: usize) -> Stop {
        if self.eof {
            return self.first_of(start, at, "unterminated string");
        }
        match simdutf8::compat::from_utf8(&self.buf[start..at]) {
            Err(e) if e.error_len().is_some() => Stop::Encoding { at: start + e.valid_up_to() },
            _ => Stop::Incomplete,
        }
    }

    /// The error for a string that stopped at `at` for `msg`: invalid UTF-8 earlier in the
    /// string, or starting at `at` itself, comes first in stream order.
    #[cold]
    fn first_of(&self, start: usize, at: usize, msg: &'static str) -> Stop {
        let end = at.min(self.buf.len());
        if let Err(e) = simdutf8::compat::from_utf8(&self.buf[start..end]) {
            // A sequence cut short by the stopping byte (or by the true end) is invalid too.
            return Stop::Encoding { at: start + e.valid_up_to() };
        }
        self.at(end).unexpected(msg)
    }

    /// A stop inside a string's later span: invalid UTF-8 in an earlier span comes first.
    #[cold]
    fn earlier_encoding(&self, start: usize, span_start: usize, stop: Stop) -> Stop {
        match simdutf8::compat::from_utf8(&self.buf[start..span_start]) {
            Err(e) => Stop::Encoding { at: start + e.valid_up_to() },
            Ok(_) => stop,
        }
    }

    /// Scan a number token at `pos`.
    pub fn number(&mut self) -> Scan<Number> {
        let buf = self.buf;
        let start = self.pos;
        let mut i = start;
        if buf.get(i) == Some(&b'-') {
            i += 1;
        }
        match buf.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                i += 1;
                while matches!(buf.get(i), Some(b'0'..=b'9')) {
                    i += 1;
                }
            }
            Some(_) => return Err(self.at(i).unexpected("invalid number")),
            None => return Err(self.at(i).out_of_input()),
        }
        let mut integer = true;
        if buf.get(i) == Some(&b'.') {
            integer = false;
            i = self.digits(i + 1)?;
        }
        if matches!(buf.get(i), Some(b'e' | b'E')) {
            integer = false;
            i += 1;
            if matches!(buf.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            i = self.digits(i)?;
        }
        if i == buf.len() && !self.eof {
            // More digits may follow in bytes we do not have yet.
            return Err(Stop::Incomplete);
        }
        self.pos = i;
        Ok(Number { start, end: i, integer })
    }

    /// One or more digits from `i`; returns the end.
    fn digits(&self, mut i: usize) -> Scan<usize> {
        match self.buf.get(i) {
            Some(b'0'..=b'9') => {}
            Some(_) => return Err(self.at(i).unexpected("invalid number")),
            None => return Err(self.at(i).out_of_input()),
        }
        while matches!(self.buf.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
        Ok(i)
    }

    fn at(&self, pos: usize) -> Cursor<'a> {
        Cursor { buf: self.buf, pos, eof: self.eof, newlines: 0 }
    }

    /// `true`, `false` or `null` at `pos`; returns which one (the first byte).
    pub fn literal(&mut self) -> Scan<u8> {
        let first = self.peek()?;
        let word: &[u8] = match first {
            b't' => b"true",
            b'f' => b"false",
            b'n' => b"null",
            _ => return Err(self.unexpected("expected a JSON value")),
        };
        let rest = &self.buf[self.pos..];
        let n = rest.len().min(word.len());
        if rest[..n] != word[..n] {
            let bad = rest.iter().zip(word).take_while(|(a, b)| a == b).count();
            return Err(self.at(self.pos + bad).unexpected("invalid literal"));
        }
        if n < word.len() {
            return Err(self.at(self.pos + n).out_of_input());
        }
        self.pos += word.len();
        Ok(first)
    }

    /// Skip one value of any kind. `depth` is the depth a container at `pos` would have.
    /// Iterative, so hostile nesting costs memory bounded by `max_depth`, never the stack.
    pub fn skip_value(
        &mut self,
        depth: usize,
        max_depth: usize,
        stack: &mut Vec<bool>,
        scratch: &mut Vec<u8>,
    ) -> Scan<()> {
        stack.clear();
        loop {
            // A value starts here.
            self.skip_ws();
            match self.peek()? {
                open @ (b'{' | b'[') => {
                    if depth + stack.len() > max_depth {
                        return Err(Stop::Depth { at: self.pos });
                    }
                    self.pos += 1;
                    self.skip_ws();
                    let object = open == b'{';
                    let close = if object { b'}' } else { b']' };
                    if self.peek()? == close {
                        self.pos += 1;
                    } else {
                        stack.push(object);
                        if object {
                            self.member_name(scratch)?;
                        }
                        continue;
                    }
                }
                b'"' => self.skip_string(scratch)?,
                b'-' | b'0'..=b'9' => {
                    self.number()?;
                }
                _ => {
                    self.literal()?;
                }
            }
            // After a value: close containers until one wants another element.
            loop {
                let Some(&object) = stack.last() else {
                    return Ok(());
                };
                self.skip_ws();
                match self.peek()? {
                    b',' => {
                        self.pos += 1;
                        if object {
                            self.skip_ws();
                            self.member_name(scratch)?;
                        }
                        break;
                    }
                    b'}' if object => {
                        self.pos += 1;
                        stack.pop();
                    }
                    b']' if !object => {
                        self.pos += 1;
                        stack.pop();
                    }
                    _ => {
                        return Err(self.unexpected(if object {
                            "expected ',' or '}' after an object member"
                        } else {
                            "expected ',' or ']' after an array element"
                        }))
                    }
                }
            }
        }
    }

    /// `"name" :` inside an object whose name we do not need.
    fn member_name(&mut self, scratch: &mut Vec<u8>) -> Scan<()> {
        self.skip_ws();
        if self.peek()? != b'"' {
            return Err(self.unexpected("expected a string as object member name"));
        }
        self.skip_string(scratch)?;
        self.skip_ws();
        self.expect(b':', "expected ':' after an object member name")
    }
}

/// The first `"`, `\\` or control character at or after `from` (or `buf.len()`), and whether
/// any byte before it is non-ASCII. 32-byte blocks whose test compiles to a few SIMD
/// instructions skip the plain stretches; 8-byte words (SWAR) find the exact byte.
#[inline]
fn scan_string(buf: &[u8], from: usize) -> (usize, bool) {
    let mut i = from;
    let mut high_bits = 0u64;
    // Most strings by count are short (names, keys): try two words before any block.
    for _ in 0..2 {
        match find_in_word(buf, i, &mut high_bits) {
            Some(Ok(found)) => return found,
            Some(Err(())) => i += 8,
            None => return scan_tail(buf, i, high_bits),
        }
    }
    while let Some(block) = buf.get(i..i + 32) {
        let mut special = 0u8;
        let mut block_high = 0u8;
        for &b in block {
            special |= u8::from(b == b'"') | u8::from(b == b'\\') | u8::from(b < 0x20);
            block_high |= b;
        }
        if special != 0 {
            break;
        }
        high_bits |= u64::from(block_high);
        i += 32;
    }
    loop {
        match find_in_word(buf, i, &mut high_bits) {
            Some(Ok(found)) => return found,
            Some(Err(())) => i += 8,
            None => return scan_tail(buf, i, high_bits),
        }
    }
}

/// Look for a special byte in the 8 bytes at `i`: `Some(Ok(answer))` when found, `Some(Err)`
/// when the word is plain (its bytes join `high_bits`), `None` when fewer than 8 bytes remain.
#[inline]
#[allow(clippy::result_unit_err)]
fn find_in_word(buf: &[u8], i: usize, high_bits: &mut u64) -> Option<Result<(usize, bool), ()>> {
    let w = u64::from_le_bytes(*buf.get(i..)?.first_chunk::<8>()?);
    let found = special_bytes(w);
    if found == 0 {
        *high_bits |= w;
        return Some(Err(()));
    }
    let k = (found.trailing_zeros() / 8) as usize;
    let before = if k == 0 { 0 } else { w & (u64::MAX >> (64 - 8 * k)) };
    Some(Ok((i + k, (*high_bits | before) & WORD_HIGHS != 0)))
}

fn scan_tail(buf: &[u8], mut i: usize, high_bits: u64) -> (usize, bool) {
    let mut high = high_bits & WORD_HIGHS != 0;
    while let Some(&b) = buf.get(i) {
        if b == b'"' || b == b'\\' || b < 0x20 {
            break;
        }
        high |= b >= 0x80;
        i += 1;
    }
    (i, high)
}

const WORD_ONES: u64 = 0x0101_0101_0101_0101;
const WORD_HIGHS: u64 = 0x8080_8080_8080_8080;

/// High bit set in the byte lanes of `w` that are `"`, `\\` or below 0x20. Lanes above the
/// first such byte may be flagged wrongly (borrows), so only the lowest flag is exact.
#[inline]
fn special_bytes(w: u64) -> u64 {
    let zero_lanes = |x: u64| x.wrapping_sub(WORD_ONES) & !x & WORD_HIGHS;
    let control = w.wrapping_sub(WORD_ONES * 0x20) & !w & WORD_HIGHS;
    zero_lanes(w ^ (WORD_ONES * u64::from(b'"'))) | zero_lanes(w ^ (WORD_ONES * u64::from(b'\\'))) | control
}

/// `buf[start..end]`, raw string bytes before the first special byte (so free of control
/// characters): valid UTF-8, or an encoding error at the first bad byte.
#[inline]
fn check_span(buf: &[u8], start: usize, end: usize) -> Scan<()> {
    if simdutf8::basic::from_utf8(&buf[start..end]).is_ok() {
        return Ok(());
    }
    match simdutf8::compat::from_utf8(&buf[start..end]) {
        Err(e) => Err(Stop::Encoding { at: start + e.valid_up_to() }),
        Ok(_) => Ok(()),
    }
}

/// Is there a valid UTF-8 character at the start of `bytes`? Incomplete when cut short.
fn utf8_check(bytes: &[u8], eof: bool) -> Scan<()> {
    let n = bytes.len().min(4);
    match std::str::from_utf8(&bytes[..n]) {
        Ok(_) => Ok(()),
        Err(e) if e.valid_up_to() > 0 => Ok(()),
        Err(e) => match e.error_len() {
            Some(_) => Err(Stop::Encoding { at: 0 }),
            None if eof || n == 4 => Err(Stop::Encoding { at: 0 }),
            None => Err(Stop::Incomplete),
        },
    }
}

fn shift(stop: Stop, by: usize) -> Stop {
    match stop {
        Stop::Encoding { at } => Stop::Encoding { at: at + by },
        other => other,
    }
}

/// Append a code point as UTF-8; surrogates (only from unpaired escapes) as WTF-8.
fn push_code_point(out: &mut Vec<u8>, c: u32) {
    if c < 0x80 {
        out.push(c as u8);
    } else if c < 0x800 {
        out.extend_from_slice(&[0xC0 | (c >> 6) as u8, 0x80 | (c & 0x3F) as u8]);
    } else if c < 0x10000 {
        out.extend_from_slice(&[
            0xE0 | (c >> 12) as u8,
            0x80 | ((c >> 6) & 0x3F) as u8,
            0x80 | (c & 0x3F) as u8,
        ]);
    } else {
        out.extend_from_slice(&[
            0xF0 | (c >> 18) as u8,
            0x80 | ((c >> 12) & 0x3F) as u8,
            0x80 | ((c >> 6) & 0x3F) as u8,
            0x80 | (c & 0x3F) as u8,
        ]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn skip(s: &str, max_depth: usize) -> Scan<usize> {
        let mut c = Cursor::new(s.as_bytes(), 0, true);
        c.skip_value(1, max_depth, &mut Vec::new(), &mut Vec::new())?;
        Ok(c.pos)
    }

    #[test]
    fn skips_nested_values() {
        assert_eq!(skip(r#"{"a":[1,2,{"b":null}],"c":"x\"y"} "#, 64), Ok(33));
    }

    #[test]
    fn rejects_lax_json() {
        for bad in [
            "[1,]",
            "{\"a\":1,}",
            "NaN",
            "[01]",
            "[1.]",
            "[.5]",
            "[+1]",
            "'x'",
            "[1 2]",
            "{\"a\" 1}",
            "\"a\tb\"",
            "\"\\x\"",
        ] {
            let r = skip(bad, 64);
            assert!(
                matches!(r, Err(Stop::Syntax { .. })) || r.as_ref().is_ok_and(|&p| p < bad.len()),
                "{bad}: {r:?}"
            );
        }
    }

    #[test]
    fn depth_limit_counts_the_value_itself() {
        assert!(skip(&format!("{}{}", "[".repeat(3), "]".repeat(3)), 3).is_ok());
        assert_eq!(skip(&format!("{}{}", "[".repeat(4), "]".repeat(4)), 3), Err(Stop::Depth { at: 3 }));
    }

    #[test]
    fn incomplete_is_not_an_error_before_eof() {
        for partial in ["[1,2", "\"abc", "tru", "12", "{\"a\":", "\"\\ud83d"] {
            let mut c = Cursor::new(partial.as_bytes(), 0, false);
            let r = c.skip_value(1, 64, &mut Vec::new(), &mut Vec::new());
            assert_eq!(r, Err(Stop::Incomplete), "{partial}");
        }
    }

    #[test]
    fn decodes_escapes_and_pairs() {
        let mut scratch = Vec::new();
        let mut c = Cursor::new(br#""a\n\u00e9\ud83c\udfac\ud800x""#, 0, true);
        let s = c.string(&mut scratch).unwrap_or_else(|e| unreachable!("{e:?}"));
        assert!(s.lone_surrogate);
        assert_eq!(s.bytes(c.buf, &scratch), b"a\n\xc3\xa9\xf0\x9f\x8e\xac\xed\xa0\x80x");
    }

    #[test]
    fn invalid_utf8_before_a_syntax_error_wins() {
        let mut c = Cursor::new(b"\"a\xffb\x01\"", 0, true);
        assert_eq!(c.string(&mut Vec::new()), Err(Stop::Encoding { at: 2 }));
    }
}
