//! Text rules of the provider format: trimming, lengths in code points, http(s) URLs.

/// Trim Unicode `White_Space` from both ends of valid UTF-8 (as `char::is_whitespace` does).
/// Returns the trimmed sub-range of `bytes`.
pub fn trim(bytes: &[u8]) -> (usize, usize) {
    let edge_is_plain = |b: u8| b < 0x80 && !b.is_ascii_whitespace() && b != 0x0b;
    match (bytes.first(), bytes.last()) {
        (Some(&first), Some(&last)) if edge_is_plain(first) && edge_is_plain(last) => (0, bytes.len()),
        (None, _) | (_, None) => (0, 0),
        _ => match std::str::from_utf8(bytes) {
            Ok(s) => {
                let trimmed_start = s.trim_start();
                let start = s.len() - trimmed_start.len();
                (start, start + trimmed_start.trim_end().len())
            }
            // Not reachable for scanned strings (checked before); keep the value as it is.
            Err(_) => (0, bytes.len()),
        },
    }
}

/// Number of code points in valid UTF-8.
pub fn char_count(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count()
}

/// Is the length in code points within `min..=max`? Avoids counting when bytes decide.
pub fn length_ok(bytes: &[u8], min: usize, max: usize) -> bool {
    if bytes.len() < min {
        return false;
    }
    if bytes.len() <= max {
        return min == 0 || char_count(bytes) >= min;
    }
    let n = char_count(bytes);
    n >= min && n <= max
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
