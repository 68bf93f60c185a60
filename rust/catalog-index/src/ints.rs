//! A column of integers stored in the fewest bytes their range allows: 2, 4 or 8 bytes a
//! value, as an offset from the column's smallest value.

use crate::error::Error;
use crate::format::{Sink, Writer};

#[derive(Clone, Copy)]
pub enum Ints<'a> {
    W2(&'a [u16], i64),
    W4(&'a [u32], i64),
    W8(&'a [i64]),
}

impl<'a> Ints<'a> {
    /// A view of a section written by [`encode`]; `None` if the width is unknown or the bytes
    /// do not hold whole, aligned values.
    pub fn view(bytes: &'a [u8], width: u32, base: i64) -> Option<Ints<'a>> {
        match width {
            2 => bytemuck::try_cast_slice(bytes).ok().map(|v| Ints::W2(v, base)),
            4 => bytemuck::try_cast_slice(bytes).ok().map(|v| Ints::W4(v, base)),
            8 => bytemuck::try_cast_slice(bytes).ok().map(Ints::W8),
            _ => None,
        }
    }

    #[inline]
    pub fn get(&self, i: usize) -> i64 {
        match *self {
            Ints::W2(v, base) => base.wrapping_add(i64::from(v[i])),
            Ints::W4(v, base) => base.wrapping_add(i64::from(v[i])),
            Ints::W8(v) => v[i],
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Ints::W2(v, _) => v.len(),
            Ints::W4(v, _) => v.len(),
            Ints::W8(v) => v.len(),
        }
    }

    /// The smallest and largest value a stored offset can stand for fit `i64` (no wrapping).
    pub fn fits(&self) -> bool {
        match *self {
            Ints::W2(_, base) => base.checked_add(i64::from(u16::MAX)).is_some(),
            Ints::W4(_, base) => base.checked_add(i64::from(u32::MAX)).is_some(),
            Ints::W8(_) => true,
        }
    }
}

/// How a column is stored: the narrowest of 2, 4 or 8 bytes a value (no fewer than
/// `min_width`) that holds every value from `lo` to `hi`, as an offset from `base`.
#[derive(Clone, Copy, Debug)]
pub struct Narrow {
    pub width: u32,
    pub base: i64,
}

impl Narrow {
    pub fn new(lo: i64, hi: i64, min_width: u32) -> Narrow {
        let span = i128::from(hi) - i128::from(lo);
        if min_width <= 2 && span <= i128::from(u16::MAX) {
            Narrow { width: 2, base: lo }
        } else if min_width <= 4 && span <= i128::from(u32::MAX) {
            Narrow { width: 4, base: lo }
        } else {
            Narrow { width: 8, base: 0 }
        }
    }

    /// The values (between the bounds it was made for) as the next section.
    pub fn write<S: Sink>(&self, w: &mut Writer<S>, values: impl Iterator<Item = i64>) -> Result<(), Error> {
        let base = self.base;
        match self.width {
            2 => w.column(values.map(|x| u16::try_from(x.wrapping_sub(base)).unwrap_or(u16::MAX))),
            4 => w.column(values.map(|x| u32::try_from(x.wrapping_sub(base)).unwrap_or(u32::MAX))),
            _ => w.column(values),
        }
    }
}

impl Ints<'_> {
    pub fn width(&self) -> usize {
        match self {
            Ints::W2(..) => 2,
            Ints::W4(..) => 4,
            Ints::W8(_) => 8,
        }
    }
}
