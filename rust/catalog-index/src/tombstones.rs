//! The base ranks removed since the base was built: a bitset in chunks of 65,536 bits shared
//! between index versions, so that removing a movie copies one 8 KiB chunk at most.

use std::sync::Arc;

const WORDS: usize = 1024;
const CHUNK_BITS: u32 = 64 * WORDS as u32;

#[derive(Clone, Default)]
pub struct Tombstones {
    chunks: Vec<Option<Arc<[u64; WORDS]>>>,
    count: usize,
}

impl Tombstones {
    #[inline]
    pub fn has(&self, rank: u32) -> bool {
        match self.chunks.get((rank / CHUNK_BITS) as usize) {
            Some(Some(chunk)) => {
                let bit = rank % CHUNK_BITS;
                chunk[(bit / 64) as usize] >> (bit % 64) & 1 == 1
            }
            _ => false,
        }
    }

    /// `false` if it was already there.
    pub fn insert(&mut self, rank: u32) -> bool {
        let c = (rank / CHUNK_BITS) as usize;
        if self.chunks.len() <= c {
            self.chunks.resize(c + 1, None);
        }
        let chunk = Arc::make_mut(self.chunks[c].get_or_insert_with(|| Arc::new([0; WORDS])));
        let bit = rank % CHUNK_BITS;
        let word = &mut chunk[(bit / 64) as usize];
        let mask = 1 << (bit % 64);
        let new = *word & mask == 0;
        *word |= mask;
        self.count += usize::from(new);
        new
    }

    /// Ranks `64 w` to `64 w + 63`, one bit each.
    #[inline]
    pub fn word(&self, w: usize) -> u64 {
        match self.chunks.get(w / WORDS) {
            Some(Some(chunk)) => chunk[w % WORDS],
            _ => 0,
        }
    }

    pub fn len(&self) -> usize {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    pub fn heap_bytes(&self) -> usize {
        self.chunks.capacity() * 8 + self.chunks.iter().flatten().count() * WORDS * 8
    }
}
