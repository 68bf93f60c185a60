//! The index against the slow, obvious model: filter every movie, sort, skip to the cursor.
#![allow(clippy::cast_possible_wrap)] // small test numbers

use super::*;

#[derive(Clone, Debug)]
struct Owned {
    id: i64,
    title: String,
    year: i32,
    provider: String,
    genres: Vec<String>,
    cast: Vec<String>,
}

/// The database's title order, as the tests' database has it: not the bytes' order (which the
/// index must never assume), but case-insensitive with the characters read backwards, the
/// bytes breaking ties; only the order rows and predecessors are given in tells the index.
fn collated(title: &str) -> (Vec<char>, Vec<u8>) {
    (title.to_lowercase().chars().rev().collect(), title.as_bytes().to_vec())
}

/// A tiny deterministic generator (no dependency for a test).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len())]
    }
}

const WORDS: [&str; 8] = ["Love", "the", "Night", "lovers", "Ève", "Ab", "aBa", "Noël"];
const GENRES: [&str; 4] = ["Drama", "Comedy", "Horror", "drama"];
const PEOPLE: [&str; 5] = ["Ann Lee", "Bo Li", "Cy Twombly", "Di", "Ed"];
const PROVIDERS: [&str; 2] = ["acme", "zeta"];

fn catalog(rng: &mut Rng, n: usize) -> Vec<Owned> {
    let mut movies: Vec<Owned> = (0..n)
        .map(|i| {
            let words = 1 + rng.below(3);
            let title = (0..words).map(|_| rng.pick(&WORDS)).collect::<Vec<_>>().join(" ");
            Owned {
                id: (i as i64) * 7 + 3,
                title,
                year: 1990 + rng.below(6) as i32,
                provider: rng.pick(&PROVIDERS).to_owned(),
                genres: (0..rng.below(3)).map(|_| rng.pick(&GENRES).to_owned()).collect(),
                cast: (0..rng.below(4)).map(|_| rng.pick(&PEOPLE).to_owned()).collect(),
            }
        })
        .collect();
    // The order `PostgreSQL` feeds (its collation), ids breaking ties.
    movies.sort_by_key(|m| (collated(&m.title), m.id));
    movies
}

/// A movie of the year 2000 with a title, from provider "p", with no genre and no cast.
fn plain(id: i64, title: &str) -> Owned {
    let (year, provider, genres, cast) = (2000, "p".into(), vec![], vec![]);
    Owned { id, title: title.into(), year, provider, genres, cast }
}

fn movie(m: &Owned) -> Movie<'_> {
    Movie {
        id: m.id,
        title_search: leak_lower(&m.title),
        title: m.title.as_bytes(),
        year: m.year,
        provider: &m.provider,
        genres: m.genres.iter().map(String::as_str).collect(),
        cast: m.cast.iter().map(String::as_str).collect(),
    }
}

fn leak_lower(title: &str) -> &'static str {
    Box::leak(title.to_lowercase().into_boxed_str())
}

fn built(movies: &[Owned]) -> Index {
    let mut b = Builder::new();
    for m in movies {
        b.push(&movie(m)).unwrap_or_else(|e| unreachable!("{e}"));
    }
    b.finish().unwrap_or_else(|e| unreachable!("{e}"))
}

fn model(movies: &[Owned], q: &Query<'_>) -> Page {
    let mut found: Vec<&Owned> = movies
        .iter()
        .filter(|m| q.title.is_none_or(|t| m.title.to_lowercase().contains(t)))
        .filter(|m| q.year_from.is_none_or(|y| m.year >= y) && q.year_to.is_none_or(|y| m.year <= y))
        .filter(|m| q.genres.iter().all(|g| m.genres.iter().any(|x| x == g)))
        .filter(|m| q.any_genres.is_empty() || q.any_genres.iter().any(|g| m.genres.iter().any(|x| x == g)))
        .filter(|m| !q.exclude_genres.iter().any(|g| m.genres.iter().any(|x| x == g)))
        .filter(|m| q.cast.iter().all(|c| m.cast.iter().any(|x| x == c)))
        .filter(|m| q.provider.is_none_or(|p| m.provider == p))
        .collect();
    let total = found.len();
    let title_key = |m: &Owned| (collated(&m.title), m.id);
    match q.sort {
        Sort::Title => found.sort_by_key(|m| title_key(m)),
        Sort::TitleDesc => found.sort_by_key(|m| std::cmp::Reverse(title_key(m))),
        Sort::Year => found.sort_by_key(|m| (m.year, m.id)),
        Sort::YearDesc => found.sort_by_key(|m| std::cmp::Reverse((m.year, m.id))),
    }
    // Keyset: the movies after the cursor's (value, id) in the sort's direction, whether or
    // not the cursor's own movie matches.
    let after = |m: &Owned| match q.after {
        None => true,
        Some(After::Title(t, id)) => {
            let (key, at) = ((collated(&m.title), m.id), (collated(t), id));
            if q.sort == Sort::TitleDesc {
                key < at
            } else {
                key > at
            }
        }
        Some(After::Year(y, id)) => {
            if q.sort == Sort::YearDesc {
                (m.year, m.id) < (y, id)
            } else {
                (m.year, m.id) > (y, id)
            }
        }
    };
    let ids = found.into_iter().filter(|m| after(m)).take(q.limit).map(|m| m.id).collect();
    Page { total, ids }
}

const SORTS: [Sort; 4] = [Sort::Title, Sort::TitleDesc, Sort::Year, Sort::YearDesc];

fn random_query<'a>(rng: &mut Rng, movies: &'a [Owned], needles: &[&'a str]) -> Query<'a> {
    let mut q = Query { sort: SORTS[rng.below(4)], limit: 1 + rng.below(6), ..Query::default() };
    if rng.below(2) == 0 {
        q.title = Some(needles[rng.below(needles.len())]);
    }
    if rng.below(3) == 0 {
        q.year_from = Some(1989 + rng.below(8) as i32);
    }
    if rng.below(3) == 0 {
        q.year_to = Some(1989 + rng.below(8) as i32);
    }
    for _ in 0..rng.below(3) {
        q.genres.push(rng.pick(&GENRES));
    }
    for _ in 0..rng.below(2) {
        q.cast.push(rng.pick(&PEOPLE));
    }
    // Any of (a name no movie has among them at times) and none of.
    let genre_or_none = |rng: &mut Rng| if rng.below(6) == 0 { "Nowhere" } else { rng.pick(&GENRES) };
    for _ in 0..rng.below(4) {
        q.any_genres.push(genre_or_none(rng));
    }
    for _ in 0..rng.below(3) {
        q.exclude_genres.push(genre_or_none(rng));
    }
    if rng.below(4) == 0 {
        q.provider = Some(rng.pick(&PROVIDERS));
    }
    if rng.below(2) == 0 && !movies.is_empty() {
        // A cursor on a movie that may or may not match the filters, as a page's last row.
        let m = &movies[rng.below(movies.len())];
        q.after = Some(match q.sort {
            Sort::Title | Sort::TitleDesc => After::Title(&m.title, m.id),
            Sort::Year | Sort::YearDesc => After::Year(m.year, m.id),
        });
    }
    q
}

#[test]
fn every_query_answers_as_the_model_does() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let movies = catalog(&mut rng, 400);
    let index = built(&movies);
    let needles =
        ["love", "lo", "e", "è", "ève", "night lo", "aba", "ab", "noël", "the love", "zz", " ", "l"];
    let mut nonempty = 0;
    for _ in 0..20_000 {
        let q = random_query(&mut rng, &movies, &needles);
        let expected = model(&movies, &q);
        nonempty += usize::from(!expected.ids.is_empty());
        assert_eq!(index.search(&q), Some(expected), "{q:?}");
    }
    assert!(nonempty > 5_000, "the queries must mostly find something: {nonempty}");
}

/// Every page from the first to the last, each page's cursor its last movie's; each page must
/// give the same total.
fn walk<'a>(index: &Index, movies: &'a [Owned], mut q: Query<'a>, total: usize) -> Vec<i64> {
    let mut seen: Vec<i64> = Vec::new();
    loop {
        let page = index.search(&q).unwrap_or_else(|| unreachable!("{q:?}"));
        assert_eq!(page.total, total);
        let Some(&last) = page.ids.last() else { break };
        seen.extend(&page.ids);
        let m = movies.iter().find(|m| m.id == last).unwrap_or_else(|| unreachable!());
        q.after = Some(match q.sort {
            Sort::Title | Sort::TitleDesc => After::Title(&m.title, m.id),
            Sort::Year | Sort::YearDesc => After::Year(m.year, m.id),
        });
    }
    seen
}

#[test]
fn walking_pages_visits_every_match_once_in_order() {
    let mut rng = Rng(42);
    let movies = catalog(&mut rng, 300);
    let index = built(&movies);
    for sort in SORTS {
        let q = Query { title: Some("o"), sort, limit: 7, ..Query::default() };
        let all = model(
            &movies,
            &Query { limit: usize::MAX, ..Query { title: Some("o"), sort, ..Query::default() } },
        );
        let seen = walk(&index, &movies, q, all.total);
        assert_eq!(seen, all.ids, "{sort:?}");
    }
}

#[test]
fn a_cursor_the_index_cannot_place_is_refused() {
    let mut rng = Rng(7);
    let movies = catalog(&mut rng, 50);
    let index = built(&movies);
    let m = &movies[10];
    let q = |after| Query { after: Some(after), limit: 5, ..Query::default() };
    assert!(index.search(&q(After::Title(&m.title, m.id))).is_some());
    assert_eq!(index.search(&q(After::Title("renamed since", m.id))), None);
    assert_eq!(index.search(&q(After::Title(&m.title, 1_000_000))), None); // gone
    assert_eq!(index.search(&q(After::Year(m.year, m.id))), None); // a year cursor, title sort
    let by_year =
        Query { sort: Sort::Year, after: Some(After::Year(m.year + 1, m.id)), limit: 5, ..Query::default() };
    assert_eq!(index.search(&by_year), None);
}

#[test]
fn unknown_values_match_nothing() {
    let mut rng = Rng(9);
    let movies = catalog(&mut rng, 50);
    let index = built(&movies);
    for q in [
        Query { genres: vec!["Western"], limit: 5, ..Query::default() },
        Query { cast: vec!["Nobody"], limit: 5, ..Query::default() },
        Query { provider: Some("other"), limit: 5, ..Query::default() },
        Query { title: Some("\0"), limit: 5, ..Query::default() },
    ] {
        assert_eq!(index.search(&q), Some(Page { total: 0, ids: vec![] }), "{q:?}");
    }
}

#[test]
fn a_substring_never_spans_two_titles() {
    let movies = vec![plain(1, "ab"), plain(2, "cd")];
    let index = built(&movies);
    let q = |t| Query { title: Some(t), limit: 5, ..Query::default() };
    assert_eq!(index.search(&q("bc")).map(|p| p.total), Some(0));
    assert_eq!(index.search(&q("b")).map(|p| p.ids), Some(vec![1]));
}

// --- COPY --------------------------------------------------------------------------------

#[path = "../../examples/common/copy.rs"]
mod encode;
use encode::{array, field};

/// Binary COPY of movies; with `after`, of change rows (each movie's predecessor last).
fn copy_of(movies: &[Owned], after: Option<&[Option<i64>]>) -> Vec<u8> {
    let mut out = copy::SIGNATURE.to_vec();
    out.extend(0i32.to_be_bytes());
    out.extend(0i32.to_be_bytes());
    for (i, m) in movies.iter().enumerate() {
        out.extend((7 + i16::from(after.is_some())).to_be_bytes());
        field(&mut out, &m.id.to_be_bytes());
        field(&mut out, m.title.to_lowercase().as_bytes());
        field(&mut out, m.title.as_bytes());
        field(&mut out, &m.year.to_be_bytes());
        field(&mut out, m.provider.as_bytes());
        array(&mut out, &m.genres);
        array(&mut out, &m.cast);
        match after.map(|a| a[i]) {
            None => {}
            Some(None) => out.extend((-1i32).to_be_bytes()),
            Some(Some(id)) => field(&mut out, &id.to_be_bytes()),
        }
    }
    out.extend((-1i16).to_be_bytes());
    out
}

fn copy_bytes(movies: &[Owned]) -> Vec<u8> {
    copy_of(movies, None)
}

#[test]
fn copy_data_fed_in_chunks_of_any_size_builds_the_same_index() {
    let mut rng = Rng(11);
    let movies = catalog(&mut rng, 120);
    let data = copy_bytes(&movies);
    let expected = built(&movies);
    for size in [1, 2, 3, 7, 64, 1000, data.len()] {
        let mut b = Builder::new();
        for chunk in data.chunks(size) {
            b.feed(chunk).unwrap_or_else(|e| unreachable!("{e}"));
        }
        let index = b.finish().unwrap_or_else(|e| unreachable!("{e}"));
        for sort in SORTS {
            let q = Query { title: Some("lo"), sort, limit: 50, ..Query::default() };
            assert_eq!(index.search(&q), expected.search(&q), "chunks of {size}");
        }
        assert_eq!(index.len(), movies.len());
    }
}

#[test]
fn malformed_copy_data_is_refused_with_the_movie_it_is_in() {
    let mut rng = Rng(12);
    let movies = catalog(&mut rng, 3);
    let data = copy_bytes(&movies);
    let error = |data: &[u8]| {
        let mut b = Builder::new();
        match b.feed(data) {
            Err(e) => e.to_string(),
            Ok(()) => b.finish().err().map(|e| e.to_string()).unwrap_or_default(),
        }
    };
    assert!(error(b"PGCOPY\nnot binary").contains("signature"));
    assert!(error(b"PGCOPY\n").contains("before its trailer"));
    assert!(error(&data[..data.len() - 2]).contains("before its trailer"));
    let mut extra = data.clone();
    extra.push(0);
    assert!(error(&extra).contains("after the trailer"));
    let mut wrong = data.clone();
    wrong[19..21].copy_from_slice(&3i16.to_be_bytes()); // the first tuple's field count
    assert_eq!(error(&wrong), "movie 1: 3 columns, not the 7");
    let mut null_year = copy_bytes(&movies[..1]);
    let lower = movies[0].title.to_lowercase();
    let at = 19 + 2 + 12 + 4 + lower.len() + 4 + movies[0].title.len(); // the year's length
    null_year[at..at + 4].copy_from_slice(&(-1i32).to_be_bytes());
    null_year.drain(at + 4..at + 8);
    assert_eq!(error(&null_year), "movie 1: year is NULL");
    let mut nul = movies[0].clone();
    nul.cast = vec!["Ann\0Lee".into()];
    assert_eq!(error(&copy_bytes(&[nul.clone()])), "a name holds a NUL character");
    let index = built(&movies[1..]);
    let refused = index.apply(&[nul.id], &copy_of(&[nul], Some(&[None]))).err().map(|e| e.to_string());
    assert!(refused.unwrap_or_default().contains("change row 1: a name holds a NUL character"));
}

#[test]
fn an_empty_catalog_answers_every_query_with_nothing() {
    let index = built(&[]);
    assert!(index.is_empty());
    for sort in SORTS {
        for q in [
            Query { sort, limit: 5, ..Query::default() },
            Query { sort, title: Some("a"), year_from: Some(2000), limit: 5, ..Query::default() },
        ] {
            assert_eq!(index.search(&q), Some(Page { total: 0, ids: vec![] }), "{q:?}");
        }
    }
    let after = Query { after: Some(After::Title("a", 1)), limit: 5, ..Query::default() };
    assert_eq!(index.search(&after), None);
}

mod changes;
mod segment;
