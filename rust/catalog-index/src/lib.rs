//! The catalog API's list queries answered in memory, with the same answers as its SQL: a
//! case-insensitive title substring (a suffix array over the lower-cased titles), a year range,
//! genres and cast (all of them), a provider; sorted by title or year either way with the id
//! as tie-break, one keyset page at a time, with the exact number of matches.
//!
//! Why: in `PostgreSQL`, the exact `total` of a substring with thousands of matches visits every
//! match's row (20-90 ms of CPU for the most common substrings of 300,000 titles); here, one
//! binary search finds all of a substring's occurrences, and every other filter is a posting
//! list or an array lookup. The index answers with ids; the page's rows come from `PostgreSQL`.
//!
//! Movies have a *rank*, their place in `ORDER BY title, id` (the order they are fed in).

mod builder;
mod copy;
mod values;

pub use builder::{Builder, Movie, COLUMNS};
pub use copy::CopyError;

use memchr::memmem;
use suffix::SuffixTable;
use values::Values;
use xxhash_rust::xxh3::xxh3_64;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Title,
    TitleDesc,
    Year,
    YearDesc,
}

/// The row a page starts after, as a cursor names it: its sort value and id.
#[derive(Debug, Clone, Copy)]
pub enum After<'a> {
    Title(&'a str, i64),
    Year(i32, i64),
}

#[derive(Debug, Default)]
pub struct Query<'a> {
    /// Already lower-cased the way `PostgreSQL` lower-cases titles.
    pub title: Option<&'a str>,
    /// Inclusive bounds.
    pub year_from: Option<i32>,
    pub year_to: Option<i32>,
    pub genres: Vec<&'a str>,
    pub cast: Vec<&'a str>,
    pub provider: Option<&'a str>,
    pub sort: Sort,
    pub after: Option<After<'a>>,
    pub limit: usize,
}

#[derive(Debug, PartialEq, Eq)]
pub struct Page {
    /// Every match, not only those after the cursor.
    pub total: usize,
    /// Up to `limit` ids, in the sort's order.
    pub ids: Vec<i64>,
}

pub struct Index {
    ids: Vec<i64>,
    years: Vec<i32>,
    /// XXH3 of each original title: a title cursor names its row by title and id.
    title_hashes: Vec<u64>,
    /// Where each movie's lower-cased title starts in the text (plus the text's end).
    starts: Vec<u32>,
    /// The lower-cased titles, each followed by NUL, and their suffixes in order.
    suffixes: SuffixTable<'static, 'static>,
    genres: Values,
    cast: Values,
    providers: Values,
    /// Ranks in `ORDER BY year, id`, and each rank's place there.
    by_year: Vec<u32>,
    year_place: Vec<u32>,
    by_id: Vec<(i64, u32)>,
}

/// What the filters ask for, names resolved to ids.
struct Filter<'a> {
    title: Option<&'a str>,
    years: (i32, i32),
    genres: Vec<u32>,
    cast: Vec<u32>,
    provider: Option<u32>,
}

impl Filter<'_> {
    fn is_empty(&self) -> bool {
        self.title.is_none()
            && self.years == (i32::MIN, i32::MAX)
            && self.genres.is_empty()
            && self.cast.is_empty()
            && self.provider.is_none()
    }
}

impl Index {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// Heap memory held, in bytes.
    pub fn heap_bytes(&self) -> usize {
        let n = self.ids.capacity();
        n * (8 + 4 + 8 + 4 + 4 + 4 + 16)
            + self.suffixes.text().len()
            + self.suffixes.table().len() * 4
            + self.genres.heap_bytes()
            + self.cast.heap_bytes()
            + self.providers.heap_bytes()
    }

    /// One page and the total; `None` when the cursor's row is not in the index as the cursor
    /// names it (changed or gone since): only the database can place such a cursor.
    pub fn search(&self, q: &Query<'_>) -> Option<Page> {
        let after = match q.after {
            None => None,
            Some(after) => Some(self.key(q.sort, self.place(q.sort, after)?)),
        };
        let Some(filter) = self.filter(q).filter(|_| !self.is_empty()) else {
            return Some(Page { total: 0, ids: Vec::new() }); // a value no movie has, or none
        };
        let n = self.len() as u32;
        if filter.is_empty() {
            // Every movie: the page is a run of keys.
            let first = after.map_or(0, |a| a + 1);
            let keys = first..n.min(first.saturating_add(u32::try_from(q.limit).unwrap_or(u32::MAX)));
            let ids = keys.map(|k| self.ids[self.rank(q.sort, k) as usize]).collect();
            return Some(Page { total: self.len(), ids });
        }
        let matches = self.matches(&filter);
        let mut keys: Vec<u32> = matches
            .iter()
            .map(|&rank| self.key(q.sort, rank))
            .filter(|&k| after.is_none_or(|a| k > a))
            .collect();
        if q.limit < keys.len() {
            keys.select_nth_unstable(q.limit);
            keys.truncate(q.limit);
        }
        keys.sort_unstable();
        let ids = keys.iter().map(|&k| self.ids[self.rank(q.sort, k) as usize]).collect();
        Some(Page { total: matches.len(), ids })
    }

    /// A movie's place in the sort's order.
    fn key(&self, sort: Sort, rank: u32) -> u32 {
        let last = self.len() as u32 - 1;
        match sort {
            Sort::Title => rank,
            Sort::TitleDesc => last - rank,
            Sort::Year => self.year_place[rank as usize],
            Sort::YearDesc => last - self.year_place[rank as usize],
        }
    }

    /// The inverse of [`Index::key`].
    fn rank(&self, sort: Sort, key: u32) -> u32 {
        let last = self.len() as u32 - 1;
        match sort {
            Sort::Title => key,
            Sort::TitleDesc => last - key,
            Sort::Year => self.by_year[key as usize],
            Sort::YearDesc => self.by_year[(last - key) as usize],
        }
    }

    /// The cursor's row, if it is here with the value the cursor gives for the sort's key.
    fn place(&self, sort: Sort, after: After<'_>) -> Option<u32> {
        let (After::Title(_, id) | After::Year(_, id)) = after;
        let at = self.by_id.binary_search_by_key(&id, |&(id, _)| id).ok()?;
        let rank = self.by_id[at].1;
        let same = match (sort, after) {
            (Sort::Title | Sort::TitleDesc, After::Title(title, _)) => {
                self.title_hashes[rank as usize] == xxh3_64(title.as_bytes())
            }
            (Sort::Year | Sort::YearDesc, After::Year(year, _)) => self.years[rank as usize] == year,
            _ => false,
        };
        same.then_some(rank)
    }

    fn filter<'a>(&self, q: &Query<'a>) -> Option<Filter<'a>> {
        let ids =
            |values: &Values, names: &[&str]| names.iter().map(|n| values.id(n)).collect::<Option<Vec<_>>>();
        if q.title.is_some_and(|t| t.contains('\0')) {
            return None; // no title holds NUL; the separator between titles does
        }
        Some(Filter {
            title: q.title.filter(|t| !t.is_empty()),
            years: (q.year_from.unwrap_or(i32::MIN), q.year_to.unwrap_or(i32::MAX)),
            genres: ids(&self.genres, &q.genres)?,
            cast: ids(&self.cast, &q.cast)?,
            provider: match q.provider {
                Some(p) => Some(self.providers.id(p)?),
                None => None,
            },
        })
    }

    /// The ranks of every match, each once. Candidates come from the filter that has the
    /// fewest; the other filters are checked on each.
    fn matches(&self, f: &Filter<'_>) -> Vec<u32> {
        let positions = f.title.map(|t| self.suffixes.positions(t));
        let (lo, hi) = f.years;
        let years = (lo, hi) != (i32::MIN, i32::MAX);
        let in_years = if years {
            let start = self.by_year.partition_point(|&r| self.years[r as usize] < lo);
            let end = self.by_year.partition_point(|&r| self.years[r as usize] <= hi);
            &self.by_year[start..end.max(start)]
        } else {
            &self.by_year[..]
        };
        let lists = f.genres.iter().map(|&g| self.genres.movies(g));
        let lists = lists.chain(f.cast.iter().map(|&c| self.cast.movies(c)));
        let lists = lists.chain(f.provider.map(|p| self.providers.movies(p)));
        let shortest = lists.chain(years.then_some(in_years)).min_by_key(|l| l.len());
        let finder = f.title.map(memmem::Finder::new);
        let all = 0..self.len() as u32;
        match (positions, shortest) {
            (Some(p), Some(list)) if list.len() < p.len() => {
                list.iter().copied().filter(|&r| self.accepts(f, finder.as_ref(), r)).collect()
            }
            // More occurrences than movies (a needle like "e"): testing each title is cheaper.
            (Some(p), None) if p.len() > self.len() => {
                all.filter(|&r| self.accepts(f, finder.as_ref(), r)).collect()
            }
            (Some(p), _) => self.title_ranks(p).filter(|&r| self.accepts(f, None, r)).collect(),
            (None, Some(list)) => list.iter().copied().filter(|&r| self.accepts(f, None, r)).collect(),
            (None, None) => all.filter(|&r| self.accepts(f, None, r)).collect(),
        }
    }

    /// The movies whose titles hold these positions, ascending, each once.
    fn title_ranks(&self, positions: &[u32]) -> impl Iterator<Item = u32> + '_ {
        let mut sorted = positions.to_vec();
        sorted.sort_unstable();
        let mut rank = 0usize;
        let mut last = None;
        sorted.into_iter().filter_map(move |pos| {
            // The next title starting after `pos` (titles are in text order).
            rank += self.starts[rank + 1..].partition_point(|&s| s <= pos);
            let r = rank as u32;
            (last.replace(r) != Some(r)).then_some(r)
        })
    }

    /// Every filter holds for the movie (the title only when a finder is given).
    fn accepts(&self, f: &Filter<'_>, title: Option<&memmem::Finder<'_>>, rank: u32) -> bool {
        let r = rank as usize;
        let year = self.years[r];
        year >= f.years.0
            && year <= f.years.1
            && f.provider.is_none_or(|p| self.providers.has(rank, p))
            && f.genres.iter().all(|&g| self.genres.has(rank, g))
            && f.cast.iter().all(|&c| self.cast.has(rank, c))
            && title.is_none_or(|finder| {
                let text = self.suffixes.text().as_bytes();
                finder.find(&text[self.starts[r] as usize..self.starts[r + 1] as usize]).is_some()
            })
    }
}

#[cfg(test)]
mod tests;
