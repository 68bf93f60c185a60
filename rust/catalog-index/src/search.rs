//! A query over the base (less its removed movies) and the delta: both segments' matches,
//! each with its key in the sort's order, the smallest `limit` keys after the cursor's.

use crate::base::View;
use crate::delta::{base_pos, bloom, Entry, Pos, Scan};
use crate::values::{Member, Table};
use crate::{After, Index, Page, Query, Sort};
use memchr::memmem::Finder;
use std::collections::BinaryHeap;
use xxhash_rust::xxh3::xxh3_64;

/// A place in the sort's order, smaller first: the title order's `Pos`, or `(year, id)`;
/// inverted for the descending sorts.
type Key = u128;

/// The cursor's movie, found live with the value the cursor gives.
#[derive(Clone, Copy)]
struct Place {
    pos: Pos,
    year: i32,
    id: i64,
}

#[allow(clippy::cast_sign_loss)] // the sign bit flipped: unsigned order is signed order
fn year_key(year: i32, id: i64) -> Key {
    u128::from((year as u32) ^ (1 << 31)) << 64 | u128::from((id as u64) ^ (1 << 63))
}

fn key(sort: Sort, pos: Pos, year: i32, id: i64) -> Key {
    match sort {
        Sort::Title => pos,
        Sort::TitleDesc => !pos,
        Sort::Year => year_key(year, id),
        Sort::YearDesc => !year_key(year, id),
    }
}

/// What the filters ask for.
struct Filter<'q> {
    title: Option<&'q str>,
    years: (i32, i32),
    genres: &'q [&'q str],
    any_genres: &'q [&'q str],
    exclude_genres: &'q [&'q str],
    cast: &'q [&'q str],
    provider: Option<&'q str>,
}

impl Filter<'_> {
    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.years == (i32::MIN, i32::MAX)
            && self.genres.is_empty()
            && self.any_genres.is_empty()
            && self.exclude_genres.is_empty()
            && self.cast.is_empty()
            && self.provider.is_none()
    }

    fn accepts(&self, e: &Entry, title: Option<&Finder<'_>>) -> bool {
        e.year >= self.years.0
            && e.year <= self.years.1
            && self.provider.is_none_or(|p| e.provider() == p)
            && self.genres.iter().all(|g| e.genres().any(|x| x == *g))
            && (self.any_genres.is_empty() || self.any_genres.iter().any(|g| e.genres().any(|x| x == *g)))
            && !self.exclude_genres.iter().any(|g| e.genres().any(|x| x == *g))
            && self.cast.iter().all(|c| e.cast().any(|x| x == *c))
            && title.is_none_or(|f| f.find(e.title().as_bytes()).is_some())
    }
}

/// The `limit` smallest keys after the cursor's.
struct Top {
    limit: usize,
    after: Option<Key>,
    heap: BinaryHeap<(Key, i64)>,
}

impl Top {
    #[inline]
    fn offer(&mut self, key: Key, id: i64) {
        if self.after.is_some_and(|a| key <= a) || self.limit == 0 {
            return;
        }
        if self.heap.len() < self.limit {
            self.heap.push((key, id));
        } else if self.heap.peek().is_some_and(|&(top, _)| key < top) {
            self.heap.pop();
            self.heap.push((key, id));
        }
    }

    fn ids(self) -> Vec<i64> {
        self.heap.into_sorted_vec().into_iter().map(|(_, id)| id).collect()
    }
}

impl Index {
    /// One page and the total; `None` when the cursor's row is not in the index as the cursor
    /// names it (changed or gone since): only the database can place such a cursor.
    pub fn search(&self, q: &Query<'_>) -> Option<Page> {
        let v = self.base.view();
        let after = match q.after {
            None => None,
            Some(after) => Some(self.place(&v, q.sort, after)?),
        };
        if q.title.is_some_and(|t| t.contains('\0')) {
            return Some(Page { total: 0, ids: Vec::new() }); // no title holds NUL
        }
        let f = Filter {
            title: q.title.filter(|t| !t.is_empty()),
            years: (q.year_from.unwrap_or(i32::MIN), q.year_to.unwrap_or(i32::MAX)),
            genres: &q.genres,
            any_genres: &q.any_genres,
            exclude_genres: &q.exclude_genres,
            cast: &q.cast,
            provider: q.provider,
        };
        if f.is_empty() {
            return Some(Page { total: self.len(), ids: self.run(&v, q.sort, after, q.limit) });
        }
        let after_key = after.map(|a| key(q.sort, a.pos, a.year, a.id));
        let mut top = Top { limit: q.limit, after: after_key, heap: BinaryHeap::new() };
        let base = self.base_matches(&v, &f);
        for &r in &base {
            top.offer(key(q.sort, base_pos(r), v.year(r), v.id(r)), v.id(r));
        }
        let mut total = base.len();
        let delta = &self.delta;
        self.delta_matches(&f, |i| {
            total += 1;
            let e = delta.at(i);
            top.offer(key(q.sort, delta.pos[i], e.year, e.id), e.id);
        });
        Some(Page { total, ids: top.ids() })
    }

    /// The delta's matches: a title's occurrences in the delta's text, or a scan of the
    /// years and name bits; the entries themselves are read only for those that pass.
    fn delta_matches(&self, f: &Filter<'_>, mut found: impl FnMut(usize)) {
        let d = &self.delta;
        let mask = f.genres.iter().map(|g| bloom(1, g)).chain(f.cast.iter().map(|c| bloom(2, c)));
        let mask = mask.chain(f.provider.map(|p| bloom(0, p))).fold(0, |m, b| m | b);
        let (lo, hi) = f.years;
        let passes = |s: &Scan| s.year >= lo && s.year <= hi && s.bloom & mask == mask;
        if let Some(title) = f.title {
            let mut at = 0;
            let mut last = usize::MAX;
            for occurrence in Finder::new(title.as_bytes()).find_iter(&d.text) {
                at += d.starts[at + 1..].partition_point(|&s| s as usize <= occurrence);
                if at != last && passes(&d.scan[at]) && f.accepts(d.at(at), None) {
                    found(at);
                }
                last = at;
            }
            return;
        }
        for (i, s) in d.scan.iter().enumerate() {
            if passes(s) && f.accepts(d.at(i), None) {
                found(i);
            }
        }
    }

    /// The cursor's row, if it is live with the value the cursor gives for the sort's key.
    fn place(&self, v: &View<'_>, sort: Sort, after: After<'_>) -> Option<Place> {
        let (After::Title(_, id) | After::Year(_, id)) = after;
        let (pos, year, hash) = if let Some(i) = self.delta.index_of(id) {
            let e = self.delta.at(i);
            (self.delta.pos[i], e.year, e.hash)
        } else {
            let r = v.rank_of(id).filter(|&r| !self.delta.removed.has(r))?;
            (base_pos(r), v.year(r), v.hashes[r as usize])
        };
        let same = match (sort, after) {
            (Sort::Title | Sort::TitleDesc, After::Title(title, _)) => hash == xxh3_64(title.as_bytes()),
            (Sort::Year | Sort::YearDesc, After::Year(y, _)) => year == y,
            _ => false,
        };
        same.then_some(Place { pos, year, id })
    }

    /// Every live movie: the page is a run of each segment's order, merged.
    fn run(&self, v: &View<'_>, sort: Sort, after: Option<Place>, limit: usize) -> Vec<i64> {
        let removed = &self.delta.removed;
        let n = v.n as u32;
        let d = &self.delta;
        let live = |r: &u32| !removed.has(*r);
        let base_item = |r: u32| (key(sort, base_pos(r), v.year(r), v.id(r)), v.id(r));
        let entry_item = |i: usize| (key(sort, d.pos[i], d.at(i).year, d.at(i).id), d.at(i).id);
        let year_item = |&(y, id): &(i32, i64)| (key(sort, 0, y, id), id);
        // Ranks whose place is at or before `pos` (base movie r sits at (r + 1, 0)).
        let not_after = |pos: Pos| ((pos >> 64) as u64).min(u64::from(n)) as u32;
        let before = |pos: Pos| (((pos - 1) >> 64) as u64).min(u64::from(n)) as u32;
        let year_at = |r: u32| (v.year(r), v.id(r));
        match (sort, after) {
            (Sort::Title, a) => {
                let from = a.map_or(0, |a| not_after(a.pos));
                let at = a.map_or(0, |a| d.pos.partition_point(|&p| p <= a.pos));
                merge((from..n).filter(live).map(base_item), (at..d.len()).map(entry_item), limit)
            }
            (Sort::TitleDesc, a) => {
                let to = a.map_or(n, |a| before(a.pos));
                let at = a.map_or(d.len(), |a| d.pos.partition_point(|&p| p < a.pos));
                merge((0..to).rev().filter(live).map(base_item), (0..at).rev().map(entry_item), limit)
            }
            (Sort::Year, a) => {
                let from = a.map_or(0, |a| v.by_year.partition_point(|&r| year_at(r) <= (a.year, a.id)));
                let at = a.map_or(0, |a| d.by_year.partition_point(|&k| k <= (a.year, a.id)));
                let base = v.by_year[from..].iter().copied().filter(live).map(base_item);
                merge(base, d.by_year[at..].iter().map(year_item), limit)
            }
            (Sort::YearDesc, a) => {
                let to = a
                    .map_or(v.by_year.len(), |a| v.by_year.partition_point(|&r| year_at(r) < (a.year, a.id)));
                let at = a.map_or(d.by_year.len(), |a| d.by_year.partition_point(|&k| k < (a.year, a.id)));
                let base = v.by_year[..to].iter().rev().copied().filter(live).map(base_item);
                merge(base, d.by_year[..at].iter().rev().map(year_item), limit)
            }
        }
    }

    /// The base's matches (less its removed movies), each once. Candidates come from the
    /// filter with the fewest; the others are checked on each.
    fn base_matches(&self, v: &View<'_>, f: &Filter<'_>) -> Vec<u32> {
        let mut needs: Vec<Need<'_>> = Vec::new();
        let names = f.genres.iter().map(|g| (&v.genres, g)).chain(f.cast.iter().map(|c| (&v.cast, c)));
        for (table, name) in names.chain(f.provider.iter().map(|p| (&v.providers, p))) {
            match table.id(name) {
                Some(i) => needs.push(Need { table: *table, value: i }),
                None => return Vec::new(), // a value no movie of the base has
            }
        }
        needs.sort_by_key(Need::count);
        // Any of and none of: checked on each candidate, in the genres' bits or lists. A name
        // no base movie has counts for nothing.
        let genre_needs = |names: &[&str]| -> Vec<Need<'_>> {
            names.iter().filter_map(|g| v.genres.id(g)).map(|i| Need { table: v.genres, value: i }).collect()
        };
        let (any, none) = (genre_needs(f.any_genres), genre_needs(f.exclude_genres));
        if !f.any_genres.is_empty() && any.is_empty() {
            return Vec::new();
        }
        let (lo, hi) = f.years;
        let years = (lo, hi) != (i32::MIN, i32::MAX);
        let in_years = if years {
            let start = v.by_year.partition_point(|&r| v.year(r) < lo);
            let end = v.by_year.partition_point(|&r| v.year(r) <= hi);
            &v.by_year[start..end.max(start)]
        } else {
            v.by_year
        };
        let removed = &self.delta.removed;
        let finder = f.title.map(|t| Finder::new(t.as_bytes()));
        let holds = |r: u32| finder.as_ref().is_none_or(|f| f.find(v.title(r)).is_some());
        let plan = f.title.map(|t| v.trigrams.plan(t.as_bytes()));
        let title_cost = plan.as_ref().map_or(usize::MAX, |p| p.estimate);
        let list_cost = needs.first().map_or(usize::MAX, Need::count);
        // A year's candidates are looked up in each list without bits (a search); a list's
        // are walked in rank order, their years read at hand.
        let searched: usize = needs.iter().filter(|n| !n.table.keeps_bits()).map(|_| 16).sum();
        let year_cost = if years { in_years.len().saturating_mul(1 + searched) } else { usize::MAX };
        let ok = |r: u32| !removed.has(r) && (lo..=hi).contains(&v.year(r));
        let title_first = title_cost <= list_cost.min(year_cost);
        let list_first = !title_first && list_cost <= year_cost;
        // The lists checked on candidates, read whole (the driving list is walked instead).
        let lists: Vec<Vec<u32>> = needs
            .iter()
            .enumerate()
            .map(|(k, n)| {
                if n.table.keeps_bits() || (list_first && k == 0) {
                    Vec::new()
                } else {
                    n.table.list(n.value).collect()
                }
            })
            .collect();
        let mut checks: Vec<Check<'_>> =
            needs.iter().zip(&lists).map(|(n, l)| Check { need: n, list: Member::new(l) }).collect();
        let read =
            |n: &Need<'_>| if n.table.keeps_bits() { Vec::new() } else { n.table.list(n.value).collect() };
        let (any_lists, none_lists): (Vec<Vec<u32>>, Vec<Vec<u32>>) =
            (any.iter().map(read).collect(), none.iter().map(read).collect());
        let mut any_checks: Vec<Check<'_>> =
            any.iter().zip(&any_lists).map(|(n, l)| Check { need: n, list: Member::new(l) }).collect();
        let mut none_checks: Vec<Check<'_>> =
            none.iter().zip(&none_lists).map(|(n, l)| Check { need: n, list: Member::new(l) }).collect();
        let mut genres_hold = |r: u32| {
            (any_checks.is_empty() || any_checks.iter_mut().any(|c| c.holds(r)))
                && !none_checks.iter_mut().any(|c| c.holds(r))
        };
        if let (Some(plan), Some(t), true) = (plan.as_ref(), f.title, title_first) {
            let mut found = v.trigrams.find(plan, t.as_bytes(), v.n, holds);
            found.retain(|&r| ok(r) && checks.iter_mut().all(|c| c.holds(r)) && genres_hold(r));
            return found;
        }
        if list_first {
            let (first, rest) = checks.split_at_mut(1);
            let driver = first[0].need.table.list(first[0].need.value);
            return driver
                .filter(|&r| ok(r) && rest.iter_mut().all(|c| c.holds(r)) && holds(r) && genres_hold(r))
                .collect();
        }
        in_years
            .iter()
            .copied()
            .filter(|&r| {
                !removed.has(r) && checks.iter_mut().all(|c| c.holds(r)) && holds(r) && genres_hold(r)
            })
            .collect()
    }
}

/// A value a match must carry.
struct Need<'a> {
    table: Table<'a>,
    value: usize,
}

impl Need<'_> {
    fn count(&self) -> usize {
        self.table.count(self.value)
    }
}

/// A need checked on candidates: by its table's bits when it keeps them, else in its list.
struct Check<'a> {
    need: &'a Need<'a>,
    list: Member<'a>,
}

impl Check<'_> {
    #[inline]
    fn holds(&mut self, rank: u32) -> bool {
        self.need.table.has(rank, self.need.value).unwrap_or_else(|| self.list.has(rank))
    }
}

/// The first `limit` items of two runs each ascending by key.
fn merge(a: impl Iterator<Item = (Key, i64)>, b: impl Iterator<Item = (Key, i64)>, limit: usize) -> Vec<i64> {
    let (mut a, mut b) = (a.peekable(), b.peekable());
    let mut out = Vec::with_capacity(limit.min(1024));
    while out.len() < limit {
        let next = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => {
                if x.0 <= y.0 {
                    a.next()
                } else {
                    b.next()
                }
            }
            (Some(_), None) => a.next(),
            (None, _) => b.next(),
        };
        let Some((_, id)) = next else { break };
        out.push(id);
    }
    out
}
