//! A multiplicative hash for integer keys (the standard `SipHash` costs more than the work
//! it serves here: trigram codes while building, ids while applying a change set).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Default)]
pub struct Mix(u64);

impl Hasher for Mix {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    }

    fn write_u32(&mut self, x: u32) {
        self.write_u64(u64::from(x));
    }

    fn write_u64(&mut self, x: u64) {
        self.0 = (self.0 ^ x).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(26);
    }

    fn write_i64(&mut self, x: i64) {
        self.write_u64(u64::from_ne_bytes(x.to_ne_bytes()));
    }
}

pub type FastMap<K, V> = HashMap<K, V, BuildHasherDefault<Mix>>;
pub type FastSet<K> = HashSet<K, BuildHasherDefault<Mix>>;
