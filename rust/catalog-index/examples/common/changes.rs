//! Change sets over a generated catalog, as binary COPY of `CHANGE_COLUMNS`: movies changed in
//! place (year, genres, cast: the title kept) and new movies with the title of an existing one
//! and a larger id (so that each one's predecessor is known without a collation).

use super::catalog::{Catalog, Rng};
use super::copy::{array, field};
use std::collections::HashMap;

pub struct Changes<'a> {
    catalog: &'a Catalog,
    rng: Rng,
    next_id: i64,
    /// The last movie added after each place of the catalog (the end of a run of equal titles).
    added_after: HashMap<usize, i64>,
}

impl<'a> Changes<'a> {
    pub fn new(catalog: &'a Catalog, seed: u64) -> Self {
        let next_id = catalog.ids.iter().copied().max().unwrap_or(0) + 1;
        Changes { catalog, rng: Rng(seed | 1), next_id, added_after: HashMap::new() }
    }

    /// `(changed ids, rows)` of a change set of `size` movies, 30% of them new.
    pub fn next(&mut self, size: usize) -> (Vec<i64>, Vec<u8>) {
        let c = self.catalog;
        let n = c.len();
        // (place in the catalog, 0 for a change of that movie or 1 + k for the k-th added after it)
        let mut picks: Vec<(usize, usize)> = Vec::with_capacity(size);
        let mut chosen = std::collections::HashSet::new();
        while picks.len() < size {
            let i = self.rng.below(n);
            if self.rng.below(10) < 3 {
                let last_of_title = i + 1 == n || c.title(i + 1) != c.title(i);
                if last_of_title {
                    picks.push((i, 1 + picks.len()));
                }
            } else if chosen.insert(i) {
                picks.push((i, 0));
            }
        }
        picks.sort_unstable();
        let mut out = b"PGCOPY\n\xff\r\n\0".to_vec();
        out.extend([0; 8]);
        let mut changed = Vec::with_capacity(size);
        for (i, kind) in picks {
            let (id, after) = if kind == 0 {
                let before = i.checked_sub(1);
                let after = before.map(|b| self.added_after.get(&b).copied().unwrap_or(c.ids[b]));
                (c.ids[i], after)
            } else {
                let id = self.next_id;
                self.next_id += 1;
                let after = self.added_after.insert(i, id).unwrap_or(c.ids[i]);
                (id, Some(after))
            };
            changed.push(id);
            let m = c.movie(i);
            out.extend(8i16.to_be_bytes());
            field(&mut out, &id.to_be_bytes());
            field(&mut out, m.title_search.as_bytes());
            field(&mut out, m.title);
            field(&mut out, &(1900 + self.rng.below(126) as i32).to_be_bytes());
            field(&mut out, m.provider.as_bytes());
            array(&mut out, &m.genres);
            let mut cast = m.cast.clone();
            cast.push(c.people[self.rng.below(c.people.len())].as_str());
            array(&mut out, &cast);
            match after {
                Some(a) => field(&mut out, &a.to_be_bytes()),
                None => out.extend((-1i32).to_be_bytes()),
            }
        }
        out.extend((-1i16).to_be_bytes());
        (changed, out)
    }
}
