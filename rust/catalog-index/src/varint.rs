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

/// Ascending, distinct ranks.
pub fn encode(out: &mut Vec<u8>, ranks: &[u32]) {
    let mut next = 0;
    for &r in ranks {
        put(out, r - next);
        next = r + 1;
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
