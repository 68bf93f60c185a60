//! A new base from the base and the delta: the live movies in their maintained order, ranked
//! anew; posting lists carried over through the new ranks, the title trigrams built again.
//! No database: the predecessor order is the title order.

use crate::base::Base;
use crate::delta::base_pos;
use crate::error::Error;
use crate::format::Aligned;
use crate::index::write_atomically;
use crate::parts::Parts;
use crate::Index;
use std::path::Path;

impl Index {
    /// The same movies with an empty delta (the same base if there is nothing to fold in).
    pub fn merged(&self) -> Result<Index, Error> {
        if self.delta.is_empty() {
            // Entries added and removed again may be left in the delta's batches: not kept.
            return Ok(Index { base: self.base.clone(), delta: crate::delta::Delta::default() });
        }
        let mut bytes = self.parts()?.write(Aligned::default())?;
        bytes.shrink();
        Ok(Index::from_base(Base::built(bytes)?))
    }

    /// Write the merged base straight to a segment file (as [`Index::save`] does), without
    /// holding it in memory as well: open the file to use it.
    pub fn merge_into(&self, path: &Path) -> Result<(), Error> {
        if self.delta.is_empty() {
            return self.save(path);
        }
        let parts = self.parts()?;
        write_atomically(path, |w| parts.write(w))
    }

    fn parts(&self) -> Result<Parts, Error> {
        let v = self.base.view();
        let removed = &self.delta.removed;
        let mut parts = Parts::default();
        let n = v.n as u32;
        parts.ids.reserve(self.len());
        let mut new_rank = vec![u32::MAX; v.n];
        let d = &self.delta;
        let mut delta = (0..d.len()).peekable();
        for r in 0..=n {
            let bound = if r < n { base_pos(r) } else { u128::MAX };
            while let Some(i) = delta.next_if(|&i| d.pos[i] < bound) {
                let e = d.at(i);
                let rank = parts.push(e.id, e.hash, e.year, e.title.as_bytes())?;

                parts.genres.push(rank, &names(&e.genres));
                parts.cast.push(rank, &names(&e.cast));
                parts.providers.push(rank, &[&e.provider]);
            }
            if r < n && !removed.has(r) {
                new_rank[r as usize] = parts.push(v.id(r), v.hashes[r as usize], v.year(r), v.title(r))?;
            }
        }
        for (table, postings) in
            [(v.genres, &mut parts.genres), (v.cast, &mut parts.cast), (v.providers, &mut parts.providers)]
        {
            for i in 0..table.len() {
                let ranks = table.list(i).map(|r| new_rank[r as usize]).filter(|&r| r != u32::MAX);
                postings.extend(table.name(i), table.count(i), ranks);
            }
        }
        Ok(parts)
    }
}

fn names(v: &[Box<str>]) -> Vec<&str> {
    v.iter().map(|s| &**s).collect()
}
