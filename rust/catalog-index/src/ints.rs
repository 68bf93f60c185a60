//! A column of integers stored in the fewest bytes their range allows: 2, 4 or 8 bytes a
//! value, as an offset from the column's smallest value.

use bytemuck::cast_slice;

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

/// `(width, base, bytes)`: the narrowest of 2, 4 or 8 bytes a value that holds every value.
pub fn encode<T: Copy + Into<i64>>(values: &[T], min_width: u32) -> (u32, i64, Vec<u8>) {
    let all = || values.iter().map(|&x| x.into());
    let lo = all().min().unwrap_or(0);
    let hi = all().max().unwrap_or(0);
    let span = i128::from(hi) - i128::from(lo);
    if min_width <= 2 && span <= i128::from(u16::MAX) {
        let v: Vec<u16> = all().map(|x| u16::try_from(x - lo).unwrap_or(u16::MAX)).collect();
        (2, lo, cast_slice(&v).to_vec())
    } else if min_width <= 4 && span <= i128::from(u32::MAX) {
        let v: Vec<u32> = all().map(|x| u32::try_from(x - lo).unwrap_or(u32::MAX)).collect();
        (4, lo, cast_slice(&v).to_vec())
    } else {
        let v: Vec<i64> = all().collect();
        (8, 0, cast_slice(&v).to_vec())
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
