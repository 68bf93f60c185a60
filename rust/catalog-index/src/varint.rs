//! Ascending ranks as varint-coded gaps (LEB128 of `rank - previous - 1`): a list of ranks close
//! together takes a byte a rank. Posting lists of titles' trigrams and of genres, cast and
//! providers are kept so.

pub fn put(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// Bytes [`put`] takes for `v`.
#[inline]
pub fn len(v: u32) -> u32 {
    match v {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        0x4000..0x20_0000 => 3,
        0x20_0000..0x1000_0000 => 4,
        _ => 5,
    }
}

/// [`put`] into a slice made long enough (by [`len`]), at `at`, which it moves on; bytes
/// past the slice's end are dropped (never, with the room counted).
#[inline]
pub fn put_at(out: &mut [u8], at: &mut usize, mut v: u32) {
    loop {
        let more = v >= 0x80;
        if let Some(b) = out.get_mut(*at) {
            *b = (v as u8 & 0x7f) | if more { 0x80 } else { 0 };
        }
        *at += 1;
        v >>= 7;
        if !more {
            break;
        }
    }
}

/// The ranks of one list, ascending; ends early on malformed bytes (never on checked ones).
pub struct Ranks<'a> {
    bytes: &'a [u8],
    at: usize,
    next: u32,
    left: u32,
}

impl<'a> Ranks<'a> {
    pub fn new(bytes: &'a [u8], count: u32) -> Self {
        Ranks { bytes, at: 0, next: 0, left: count }
    }

    /// The rest of a list from a skip: `bytes` start right after a rank of `next - 1`.
    pub fn resume(bytes: &'a [u8], next: u32, left: u32) -> Self {
        Ranks { bytes, at: 0, next, left }
    }

    /// Bytes read so far.
    pub fn offset(&self) -> usize {
        self.at
    }

    /// Every rank read and every byte used: the list is whole (the check on open).
    pub fn check(mut self, count: u32, movies: usize) -> bool {
        let mut n = 0;
        let mut last = None;
        for r in self.by_ref() {
            n += 1;
            last = Some(r);
        }
        n == count && self.at == self.bytes.len() && last.is_none_or(|r| (r as usize) < movies)
    }
}

impl Iterator for Ranks<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        if self.left == 0 {
            return None;
        }
        let mut gap = 0u32;
        let mut shift = 0;
        loop {
            let b = *self.bytes.get(self.at)?;
            self.at += 1;
            gap |= u32::from(b & 0x7f).checked_shl(shift)?;
            if b < 0x80 {
                break;
            }
            shift += 7;
            if shift > 28 {
                return None;
            }
        }
        let rank = self.next.checked_add(gap)?;
        self.next = rank.checked_add(1)?;
        self.left -= 1;
        Some(rank)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.left as usize))
    }
}
