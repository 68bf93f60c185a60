//! A change set applied to an index, making a new one that shares the base.
//!
//! Each changed movie is removed (a base rank becomes a tombstone, a delta entry goes), then
//! each row is inserted right after its predecessor, the live movie right before it in
//! `ORDER BY title, id`. That keeps the order exact without knowing the collation: every live
//! movie after the predecessor sorts after the row too (none lies between them), and removed
//! base movies stay only as anchors of positions. Rows that follow each other (each the
//! predecessor of the next) are spread evenly over the gap they go in; a group whose gap ran
//! out is renumbered. Cost: the rows (sorted by id and year) plus a copy of the delta's flat
//! columns; no entry of the delta is read but those the change set names.

use crate::base::View;
use crate::change::{self, Change};
use crate::delta::{base_pos, Delta, Entry, Pos, Scan, Slot};
use crate::error::{change as fault, Error};
use crate::hash::{FastMap, FastSet};
use crate::tombstones::Tombstones;
use crate::Index;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The gap left after the last movie of a group for movies appended there later.
const STEP: u128 = 1 << 40;
const SEQ: u128 = (1 << 64) - 1;

impl Index {
    /// `rows`: binary COPY of [`change::CHANGE_COLUMNS`], in any order; every row's id is
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
        drop(seen);
        let mut removed = self.delta.removed.clone();
        for &id in &changed {
            if let Some(rank) = v.rank_of(id) {
                removed.insert(rank);
            }
        }
        let mut order = Order::new(&self.delta, &changed);
        // Runs of rows, each the predecessor of the next, go in together: their lengths,
        // then the rows taken from one vector (no vector for each run).
        let rows = chained(rows)?;
        let mut runs: Vec<usize> = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            match runs.last_mut() {
                Some(len) if i > 0 && row.after == Some(rows[i - 1].entry.id) => *len += 1,
                _ => runs.push(1),
            }
        }
        let mut rows = rows.into_iter();
        for len in runs {
            let Some(first) = rows.as_slice().first() else { break };
            let (first_id, first_after) = (first.entry.id, first.after);
            let at = |order: &Order<'_>| match first_after {
                None => Some(0),
                Some(after) => order.live_pos(&v, &removed, &changed, after),
            };
            let Some(mut pos) = at(&order) else {
                let after = first_after.unwrap_or_default();
                return Err(fault(format!(
                    "movie {first_id}: its predecessor, movie {after}, is not live in the index"
                )));
            };
            let step = if let Some(step) = order.step(pos, len) {
                step
            } else {
                order.renumber(pos >> 64, len);
                pos = at(&order).unwrap_or(pos);
                let full = || fault(format!("movie {first_id}: no room left in the title order"));
                order.step(pos, len).ok_or_else(full)?
            };
            for (i, row) in rows.by_ref().take(len).enumerate() {
                let p = pos + step * (i as u128 + 1);
                order.moved.insert(row.entry.id, p);
                order.placed.insert(p, row.entry);
            }
        }
        drop((rows, changed)); // (what the new delta's columns are made beside)
        Ok(Index { base: self.base.clone(), delta: order.finish(removed) })
    }
}

/// The rows in an order where each comes after its predecessor when that is a row too: each
/// chain of rows (every row the predecessor of the next, as consecutive movies of the title
/// order) from its head, the row whose predecessor is not a row. The title order itself is
/// not needed: chains are independent of each other, a movie having one successor at most.
fn chained(mut rows: Vec<Change>) -> Result<Vec<Change>, Error> {
    let ids: FastSet<i64> = rows.iter().map(|r| r.entry.id).collect();
    let mut next: FastMap<i64, usize> = FastMap::default();
    for (i, row) in rows.iter().enumerate() {
        if let Some(after) = row.after.filter(|a| ids.contains(a)) {
            if next.insert(after, i).is_some() {
                return Err(fault(format!("movie {after}: the predecessor of two rows")));
            }
        }
    }
    let heads: Vec<usize> =
        (0..rows.len()).filter(|&i| rows[i].after.is_none_or(|a| !ids.contains(&a))).collect();
    // Each row's place in that order, then the rows moved there in place (a change set of
    // 110,000 movies is 7 MB of rows: not copied).
    let mut place = vec![u32::MAX; rows.len()];
    let mut placed = 0u32;
    for head in heads {
        let mut at = Some(head);
        while let Some(i) = at.filter(|&i| place[i] == u32::MAX) {
            (place[i], placed) = (placed, placed + 1);
            at = next.get(&rows[i].entry.id).copied();
        }
    }
    if let Some(i) = place.iter().position(|&p| p == u32::MAX) {
        return Err(fault(format!("movie {}: its predecessors go round in a circle", rows[i].entry.id)));
    }
    for i in 0..rows.len() {
        while place[i] as usize != i {
            let j = place[i] as usize;
            rows.swap(i, j);
            place.swap(i, j);
        }
    }
    Ok(rows)
}

/// The delta's title order while a change set is placed.
struct Order<'a> {
    old: &'a Delta,
    /// The old delta's entries that stay: their places there, and their positions.
    kept_at: Vec<usize>,
    kept_pos: Vec<Pos>,
    /// Those that go, ascending in the id and year orders.
    gone_ids: Vec<i64>,
    gone_years: Vec<(i32, i64)>,
    /// The change set's rows placed so far.
    placed: BTreeMap<Pos, Entry>,
    /// Positions given in this change set (rows placed, entries renumbered), by id.
    moved: FastMap<i64, Pos>,
    /// The kept entries renumbered (rarely any).
    renumbered: FastMap<i64, Pos>,
}

impl<'a> Order<'a> {
    /// The delta's entries that go are found through its id order (no question asked of the
    /// others: an apply costs the change set and a copy of the delta's columns).
    fn new(old: &'a Delta, changed: &FastSet<i64>) -> Self {
        let mut gone: Vec<usize> = changed.iter().filter_map(|&id| old.index_of(id)).collect();
        gone.sort_unstable();
        let count = old.len() - gone.len();
        let (mut kept_at, mut kept_pos) = (Vec::with_capacity(count), Vec::with_capacity(count));
        let mut start = 0;
        for end in gone.iter().copied().chain([old.len()]) {
            kept_at.extend(start..end);
            kept_pos.extend_from_slice(&old.pos[start..end]);
            start = end + 1;
        }
        let mut gone_ids: Vec<i64> = gone.iter().map(|&i| old.at(i).id).collect();
        gone_ids.sort_unstable();
        let mut gone_years: Vec<(i32, i64)> = gone.iter().map(|&i| (old.at(i).year, old.at(i).id)).collect();
        gone_years.sort_unstable();
        let (placed, moved, renumbered) = (BTreeMap::new(), FastMap::default(), FastMap::default());
        Order { old, kept_at, kept_pos, gone_ids, gone_years, placed, moved, renumbered }
    }

    fn live_pos(&self, v: &View<'_>, removed: &Tombstones, changed: &FastSet<i64>, id: i64) -> Option<Pos> {
        if let Some(&pos) = self.moved.get(&id) {
            return Some(pos);
        }
        if changed.contains(&id) {
            return None; // removed, and not (yet) added again
        }
        if let Some(pos) = self.old.pos_of(id) {
            return Some(pos);
        }
        v.rank_of(id).filter(|&r| !removed.has(r)).map(base_pos)
    }

    /// The spacing for `count` movies right after `pos`, or `None` if the gap is too small.
    fn step(&self, pos: Pos, count: usize) -> Option<u128> {
        let end = (pos | SEQ) + 1; // the next group's start
        let next_kept = self.kept_pos.get(self.kept_pos.partition_point(|&p| p <= pos)).copied();
        let next_placed = self.placed.range(pos + 1..).next().map(|(&p, _)| p);
        let next = next_kept.unwrap_or(end).min(next_placed.unwrap_or(end)).min(end);
        let slots = count as u128 + 1;
        let step = if next == end { ((next - pos) / slots).min(STEP) } else { (next - pos) / slots };
        (step > 0).then_some(step)
    }

    /// Spread the positions of a group evenly, leaving room for `more`.
    fn renumber(&mut self, group: u128, more: usize) {
        let (lo, hi) = (group << 64, (group << 64) | SEQ);
        let start = self.kept_pos.partition_point(|&p| p < lo);
        let end = self.kept_pos.partition_point(|&p| p <= hi);
        let placed: Vec<Pos> = self.placed.range(lo..=hi).map(|(&p, _)| p).collect();
        let mut all: Vec<(Pos, Option<usize>)> = (start..end).map(|k| (self.kept_pos[k], Some(k))).collect();
        all.extend(placed.iter().map(|&p| (p, None)));
        all.sort_unstable();
        let count = all.len() as u128 + more as u128 + 2;
        let step = (SEQ / count).min(STEP);
        for (i, (old, kept)) in all.into_iter().enumerate() {
            let pos = lo + step * (i as u128 + 1);
            if let Some(k) = kept {
                self.kept_pos[k] = pos;
                let id = self.old.at(self.kept_at[k]).id;
                self.moved.insert(id, pos);
                self.renumbered.insert(id, pos);
            } else if let Some(e) = self.placed.remove(&old) {
                self.moved.insert(e.id, pos);
                self.placed.insert(pos, e);
            }
        }
    }

    /// The new delta: the kept entries' columns copied from the old delta, merged by position
    /// with the placed rows (a new batch); the id and year orders merged likewise.
    fn finish(self, removed: Tombstones) -> Delta {
        let Order { old, kept_at, kept_pos, gone_ids, gone_years, placed, renumbered, moved } = self;
        drop(moved);
        let mut new_ids: Vec<(i64, Pos)> = placed.iter().map(|(&p, e)| (e.id, p)).collect();
        new_ids.sort_unstable();
        let mut new_years: Vec<(i32, i64)> = placed.values().map(|e| (e.year, e.id)).collect();
        new_years.sort_unstable();
        let count = kept_at.len() + placed.len();
        let batch_no = old.batches.len() as u32;
        let mut batch = Vec::with_capacity(placed.len());
        let mut c = Columns::with_capacity(
            count,
            old.text.len() + placed.values().map(|e| e.title().len() + 1).sum::<usize>(),
        );
        let mut placed = placed.into_iter().peekable();
        for (&i, &p) in kept_at.iter().zip(&kept_pos) {
            while let Some((q, e)) = placed.next_if(|(q, _)| *q < p) {
                c.push_new(q, Slot { batch: batch_no, index: batch.len() as u32 }, &e);
                batch.push(e);
            }
            c.push_old(old, i, p);
        }
        for (q, e) in placed {
            c.push_new(q, Slot { batch: batch_no, index: batch.len() as u32 }, &e);
            batch.push(e);
        }
        c.starts.push(c.text.len() as u32);
        let mut batches = (*old.batches).clone();
        if !batch.is_empty() {
            batches.push(Arc::new(batch));
        }
        let renumbered = |(id, pos): (i64, Pos)| {
            if renumbered.is_empty() {
                (id, pos)
            } else {
                (id, renumbered.get(&id).copied().unwrap_or(pos))
            }
        };
        let old_ids = without(&old.by_id, &gone_ids, |&(id, _)| id).map(renumbered);
        let old_years = without(&old.by_year, &gone_years, |&k| k);
        Delta {
            removed,
            batches: Arc::new(batches),
            slots: Arc::new(c.slots),
            pos: Arc::new(c.pos),
            scan: Arc::new(c.scan),
            text: Arc::new(c.text),
            starts: Arc::new(c.starts),
            by_id: Arc::new(merged(old_ids, new_ids)),
            by_year: Arc::new(merged(old_years, new_years)),
        }
    }
}

/// The new delta's columns in title order.
struct Columns {
    slots: Vec<Slot>,
    pos: Vec<Pos>,
    scan: Vec<Scan>,
    text: Vec<u8>,
    starts: Vec<u32>,
}

impl Columns {
    fn with_capacity(count: usize, text: usize) -> Self {
        Columns {
            slots: Vec::with_capacity(count),
            pos: Vec::with_capacity(count),
            scan: Vec::with_capacity(count),
            text: Vec::with_capacity(text),
            starts: Vec::with_capacity(count + 1),
        }
    }

    /// The old delta's `i`-th entry, at `pos`.
    fn push_old(&mut self, old: &Delta, i: usize, pos: Pos) {
        self.starts.push(self.text.len() as u32);
        self.text.extend_from_slice(&old.text[old.starts[i] as usize..old.starts[i + 1] as usize]);
        self.scan.push(old.scan[i]);
        self.slots.push(old.slots[i]);
        self.pos.push(pos);
    }

    fn push_new(&mut self, pos: Pos, slot: Slot, e: &Entry) {
        self.starts.push(self.text.len() as u32);
        self.text.extend(e.title().as_bytes());
        self.text.push(0);
        self.scan.push(Scan { bloom: e.bloom(), year: e.year });
        self.slots.push(slot);
        self.pos.push(pos);
    }
}

/// The items of `all` (ascending by key) whose key is not among `gone` (ascending).
fn without<'a, T: Copy, K: Ord + Copy + 'a>(
    all: &'a [T],
    gone: &'a [K],
    key: impl Fn(&T) -> K + 'a,
) -> impl Iterator<Item = T> + 'a {
    let mut gone = gone.iter().copied().peekable();
    all.iter().copied().filter(move |x| {
        let k = key(x);
        while gone.next_if(|&g| g < k).is_some() {}
        gone.peek() != Some(&k)
    })
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
