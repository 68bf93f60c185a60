//! Text rules of the provider format: trimming, lengths in code points, http(s) URLs.

/// Trim Unicode `White_Space` from both ends of valid UTF-8 (as `char::is_whitespace` does).
/// Returns the trimmed sub-range of `bytes`. Only the edge characters are decoded.
pub fn trim(bytes: &[u8]) -> (usize, usize) {
    let mut start = 0;
    while let Some((c, len)) = char_at(bytes, start) {
        if !c.is_whitespace() {
            break;
        }
        start += len;
    }
    let mut end = bytes.len();
    while end > start {
        let mut k = end - 1;
        while k > start && (bytes[k] & 0xC0) == 0x80 {
            k -= 1;
        }
        match char_at(bytes, k) {
            Some((c, _)) if c.is_whitespace() => end = k,
            _ => break,
        }
    }
    (start, end)
}

/// The character starting at `bytes[i]` and its length in bytes.
fn char_at(bytes: &[u8], i: usize) -> Option<(char, usize)> {
    let lead = *bytes.get(i)?;
    if lead < 0x80 {
        return Some((char::from(lead), 1));
    }
    let len = match lead {
        0xC0..=0xDF => 2,
        0xE0..=0xEF => 3,
        _ => 4,
    };
    let s = std::str::from_utf8(bytes.get(i..i + len)?).ok()?;
    s.chars().next().map(|c| (c, len))
}

/// Number of code points in valid UTF-8.
pub fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

/// Is the length in code points within `min..=max`? Avoids counting when bytes decide.
pub fn length_ok(bytes: &[u8], min: usize, max: usize) -> bool {
    // A character is one to four bytes: the byte length often decides without counting.
    if bytes.len() < min {
        return false;
    }
    if bytes.len() <= max && bytes.len() >= min.saturating_mul(4) {
        return true;
    }
    let n = char_count(bytes);
    n >= min && n <= max
}

/// Text for a decoded JSON string that may hold unpaired surrogates (as WTF-8, from `\\uD800`
/// escapes): each surrogate becomes one U+FFFD, since no UTF-8 report can carry it.
pub fn wtf8_lossy(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == 0xED && bytes.get(i + 1).is_some_and(|&b| b >= 0xA0) && i + 2 < bytes.len() {
            out.extend_from_slice("\u{fffd}".as_bytes());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `http://` or `https://` (scheme in any ASCII case), then a first character that is not
/// `/`, `?` or `#`.
pub fn is_http_url(bytes: &[u8]) -> bool {
    let rest = if starts_with_ignore_case(bytes, b"http://") {
        &bytes[7..]
    } else if starts_with_ignore_case(bytes, b"https://") {
        &bytes[8..]
    } else {
        return false;
    };
    matches!(rest.first(), Some(&b) if !matches!(b, b'/' | b'?' | b'#'))
}

fn starts_with_ignore_case(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len() && bytes[..prefix.len()].eq_ignore_ascii_case(prefix)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trimmed(s: &str) -> &str {
        let (a, b) = trim(s.as_bytes());
        &s[a..b]
    }

    #[test]
    fn trims_unicode_white_space_only() {
        assert_eq!(trimmed("  a b \t"), "a b");
        assert_eq!(trimmed("\u{3000}\u{a0}x\u{2029}\u{85}"), "x");
        assert_eq!(trimmed("\u{200b}x"), "\u{200b}x"); // zero-width space is not White_Space
        assert_eq!(trimmed("\u{1c}x"), "\u{1c}x"); // nor the C0 separators Python's strip() eats
        assert_eq!(trimmed(" \u{b} "), "");
    }

    #[test]
    fn counts_code_points() {
        assert_eq!(char_count("é🎬a".as_bytes()), 3);
        assert!(length_ok("🎬🎬".as_bytes(), 1, 2));
        assert!(!length_ok("🎬🎬🎬".as_bytes(), 1, 2));
        assert!(!length_ok(b"", 1, 5));
    }

    #[test]
    fn http_urls() {
        for ok in ["http://a", "HTTPS://x.org/p.jpg", "hTTp://[::1]/"] {
            assert!(is_http_url(ok.as_bytes()), "{ok}");
        }
        for bad in ["ftp://a", "http://", "http:///x", "https://?q", "//x", "http:/x", ""] {
            assert!(!is_http_url(bad.as_bytes()), "{bad}");
        }
    }
}
