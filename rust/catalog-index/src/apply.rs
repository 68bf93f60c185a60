//! A change set applied to an index, making a new one that shares the base.
//!
//! Each changed movie is removed (a base rank becomes a tombstone, a delta entry goes), then
//! each row is inserted right after its predecessor, the live movie right before it in
//! `ORDER BY title, id`. That keeps the order exact without knowing the collation: every live
//! movie after the predecessor sorts after the row too (none lies between them), and removed
//! base movies stay only as anchors of positions. Rows that follow each other (each the
//! predecessor of the next) are spread evenly over the gap they go in; a group whose gap ran
//! out is renumbered. Cost: the rows (sorted by id and year) plus one pass over the delta.

use crate::base::View;
use crate::change::{self, Change};
use crate::delta::{base_pos, Delta, Entry, Pos, Scan};
use crate::error::{change as fault, Error};
use crate::hash::{FastMap, FastSet};
use crate::Index;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The gap left after the last movie of a group for movies appended there later.
const STEP: u128 = 1 << 40;
const SEQ: u128 = (1 << 64) - 1;

impl Index {
    /// `rows`: binary COPY of [`change::CHANGE_COLUMNS`] in title order; every row's id is
    /// among `changed`, and every id of `changed` that is in the index is removed first.
    pub fn apply(&self, changed: &[i64], rows: &[u8]) -> Result<Index, Error> {
        self.apply_changes(changed, change::read(rows)?)
    }

    pub fn apply_changes(&self, changed: &[i64], rows: Vec<Change>) -> Result<Index, Error> {
        let v = self.base.view();
        let changed: FastSet<i64> = changed.iter().copied().collect();
        let mut seen = FastSet::default();
        for row in &rows {
            let id = row.entry.id;
            if !changed.contains(&id) {
                return Err(fault(format!("movie {id}: a row whose id is not among the changed ids")));
            }
            if !seen.insert(id) {
                return Err(fault(format!("movie {id}: two rows in one change set")));
            }
        }
        let mut removed = self.delta.removed.clone();
        for &id in &changed {
            if let Some(rank) = v.rank_of(id) {
                removed.insert(rank);
            }
        }
        let mut kept = Vec::with_capacity(self.delta.movies.len());
        let mut kept_at = Vec::with_capacity(self.delta.movies.len());
        for (i, e) in self.delta.movies.iter().enumerate().filter(|(_, e)| !changed.contains(&e.id)) {
            kept.push(e.clone());
            kept_at.push(i);
        }
        let mut order = Order { kept, kept_at, placed: BTreeMap::new(), moved: FastMap::default() };
        let mut runs: Vec<Vec<Change>> = Vec::new();
        for row in rows {
            match runs.last_mut() {
                Some(run) if run.last().is_some_and(|last| row.after == Some(last.entry.id)) => run.push(row),
                _ => runs.push(vec![row]),
            }
        }
        for run in runs {
            let first = &run[0];
            let at = |order: &Order| match first.after {
                None => Some(0),
                Some(after) => order.live_pos(self, &v, &removed, &changed, after),
            };
            let Some(mut pos) = at(&order) else {
                let (id, after) = (first.entry.id, first.after.unwrap_or_default());
                return Err(fault(format!(
                    "movie {id}: its predecessor, movie {after}, is not live in the index"
                )));
            };
            let step = if let Some(step) = order.step(pos, run.len()) {
                step
            } else {
                order.renumber(pos >> 64, run.len());
                pos = at(&order).unwrap_or(pos);
                let full = || fault(format!("movie {}: no room left in the title order", first.entry.id));
                order.step(pos, run.len()).ok_or_else(full)?
            };
            for (i, mut row) in run.into_iter().enumerate() {
                row.entry.pos = pos + step * (i as u128 + 1);
                order.moved.insert(row.entry.id, row.entry.pos);
                order.placed.insert(row.entry.pos, row.entry);
            }
        }
        Ok(Index { base: self.base.clone(), delta: order.finish(&self.delta, &changed, removed) })
    }
}

/// The delta's title order while a change set is placed.
struct Order {
    /// The delta's entries that stay, by position, and where each was in the delta.
    kept: Vec<Arc<Entry>>,
    kept_at: Vec<usize>,
    /// The change set's rows placed so far.
    placed: BTreeMap<Pos, Entry>,
    /// Positions given in this change set (rows placed, entries renumbered), by id.
    moved: FastMap<i64, Pos>,
}

impl Order {
    fn live_pos(
        &self,
        index: &Index,
        v: &View<'_>,
        removed: &crate::tombstones::Tombstones,
        changed: &FastSet<i64>,
        id: i64,
    ) -> Option<Pos> {
        if let Some(&pos) = self.moved.get(&id) {
            return Some(pos);
        }
        if changed.contains(&id) {
            return None; // removed, and not (yet) added again
        }
        if let Some(pos) = index.delta.pos_of(id) {
            return Some(pos);
        }
        v.rank_of(id).filter(|&r| !removed.has(r)).map(base_pos)
    }

    /// The spacing for `count` movies right after `pos`, or `None` if the gap is too small.
    fn step(&self, pos: Pos, count: usize) -> Option<u128> {
        let end = (pos | SEQ) + 1; // the next group's start
        let at = self.kept.partition_point(|e| e.pos <= pos);
        let next_kept = self.kept.get(at).map_or(end, |e| e.pos);
        let next_placed = self.placed.range(pos + 1..).next().map_or(end, |(&p, _)| p);
        let next = next_kept.min(next_placed).min(end);
        let slots = count as u128 + 1;
        let step = if next == end { ((next - pos) / slots).min(STEP) } else { (next - pos) / slots };
        (step > 0).then_some(step)
    }

    /// Spread the positions of a group evenly, leaving room for `more`.
    fn renumber(&mut self, group: u128, more: usize) {
        let (lo, hi) = (group << 64, (group << 64) | SEQ);
        let start = self.kept.partition_point(|e| e.pos < lo);
        let end = self.kept.partition_point(|e| e.pos <= hi);
        let placed: Vec<Pos> = self.placed.range(lo..=hi).map(|(&p, _)| p).collect();
        let mut all: Vec<(Pos, Option<usize>)> = (start..end).map(|i| (self.kept[i].pos, Some(i))).collect();
        all.extend(placed.iter().map(|&p| (p, None)));
        all.sort_unstable();
        let count = all.len() as u128 + more as u128 + 2;
        let step = (SEQ / count).min(STEP);
        for (i, (old, kept)) in all.into_iter().enumerate() {
            let pos = lo + step * (i as u128 + 1);
            if let Some(k) = kept {
                let mut e = (*self.kept[k]).clone();
                e.pos = pos;
                self.moved.insert(e.id, pos);
                self.kept[k] = Arc::new(e);
            } else if let Some(mut e) = self.placed.remove(&old) {
                e.pos = pos;
                self.moved.insert(e.id, pos);
                self.placed.insert(pos, e);
            }
        }
    }

    /// The new delta: the kept and placed entries merged by position (the kept ones' scan
    /// fields and titles copied from the old delta's columns); the id and year orders merged
    /// likewise.
    fn finish(self, old: &Delta, changed: &FastSet<i64>, removed: crate::tombstones::Tombstones) -> Delta {
        let Order { kept, kept_at, placed, moved } = self;
        let mut new_ids: Vec<(i64, Pos)> = placed.values().map(|e| (e.id, e.pos)).collect();
        new_ids.sort_unstable();
        let mut new_years: Vec<(i32, i64)> = placed.values().map(|e| (e.year, e.id)).collect();
        new_years.sort_unstable();
        let count = kept.len() + placed.len();
        let mut columns = Columns {
            movies: Vec::with_capacity(count),
            scan: Vec::with_capacity(count),
            text: Vec::with_capacity(
                old.text.len() + placed.values().map(|e| e.title.len() + 1).sum::<usize>(),
            ),
            starts: Vec::with_capacity(count + 1),
        };
        let mut placed = placed.into_values().map(Arc::new).peekable();
        for (e, i) in kept.into_iter().zip(kept_at) {
            while let Some(p) = placed.next_if(|p| p.pos < e.pos) {
                columns.push_new(p);
            }
            let title = &old.text[old.starts[i] as usize..old.starts[i + 1] as usize];
            columns.push(e, old.scan[i], title);
        }
        placed.for_each(|p| columns.push_new(p));
        columns.starts.push(columns.text.len() as u32);
        let old_ids = old.by_id.iter().filter(|(id, _)| !changed.contains(id));
        let old_ids = old_ids.map(|&(id, pos)| (id, moved.get(&id).copied().unwrap_or(pos)));
        let old_years = old.by_year.iter().copied().filter(|(_, id)| !changed.contains(id));
        Delta {
            removed,
            movies: Arc::new(columns.movies),
            by_id: Arc::new(merged(old_ids, new_ids)),
            by_year: Arc::new(merged(old_years, new_years)),
            scan: Arc::new(columns.scan),
            text: Arc::new(columns.text),
            starts: Arc::new(columns.starts),
        }
    }
}

struct Columns {
    movies: Vec<Arc<Entry>>,
    scan: Vec<Scan>,
    text: Vec<u8>,
    starts: Vec<u32>,
}

impl Columns {
    /// `title` ends with its NUL.
    fn push(&mut self, e: Arc<Entry>, scan: Scan, title: &[u8]) {
        self.starts.push(self.text.len() as u32);
        self.text.extend(title);
        self.scan.push(scan);
        self.movies.push(e);
    }

    fn push_new(&mut self, e: Arc<Entry>) {
        self.starts.push(self.text.len() as u32);
        self.text.extend(e.title.as_bytes());
        self.text.push(0);
        self.scan.push(Scan { bloom: e.bloom, year: e.year });
        self.movies.push(e);
    }
}

fn merged<T: Ord + Copy>(a: impl Iterator<Item = T>, b: Vec<T>) -> Vec<T> {
    let mut out = Vec::with_capacity(a.size_hint().0 + b.len());
    let mut b = b.into_iter().peekable();
    for x in a {
        while let Some(y) = b.next_if(|y| *y < x) {
            out.push(y);
        }
        out.push(x);
    }
    out.extend(b);
    out
}
