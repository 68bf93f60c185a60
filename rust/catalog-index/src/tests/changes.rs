//! Change sets applied one after another, merges and save/open round trips interleaved: after
//! each step, every query shape answers as the model does for the catalog of that moment.

use super::*;

/// The model's answer, `None` when the cursor names a movie not live with that value.
fn expected(movies: &[Owned], q: &Query<'_>) -> Option<Page> {
    let placed = match q.after {
        None => true,
        Some(After::Title(t, id)) => movies.iter().any(|m| m.id == id && m.title == t),
        Some(After::Year(y, id)) => movies.iter().any(|m| m.id == id && m.year == y),
    };
    placed.then(|| model(movies, q))
}

fn sort_catalog(movies: &mut [Owned]) {
    movies.sort_by_key(|m| (collated(&m.title), m.id));
}

fn random_movie(rng: &mut Rng, id: i64) -> Owned {
    let words = rng.below(4); // 0: an empty title
    let title = (0..words).map(|_| rng.pick(&WORDS)).collect::<Vec<_>>().join(" ");
    Owned {
        id,
        title,
        year: 1990 + rng.below(6) as i32,
        provider: rng.pick(&["acme", "zeta", "new"]).to_owned(),
        genres: (0..rng.below(3))
            .map(|_| rng.pick(&["Drama", "Comedy", "Horror", "drama", "Noir"]).to_owned())
            .collect(),
        cast: (0..rng.below(4))
            .map(|_| rng.pick(&["Ann Lee", "Bo Li", "Cy Twombly", "Di", "Ed", "Zoë"]).to_owned())
            .collect(),
    }
}

/// A change set: removals, changes (any attribute) and insertions; the new catalog, the
/// changed ids and the rows (title order, each with its predecessor in the new catalog).
fn change_set(
    rng: &mut Rng,
    movies: &[Owned],
    next_id: &mut i64,
    size: usize,
) -> (Vec<Owned>, Vec<i64>, Vec<u8>) {
    let mut changed: Vec<i64> = Vec::new();
    let mut catalog: Vec<Owned> = movies.to_vec();
    for _ in 0..size {
        match rng.below(4) {
            0 if !catalog.is_empty() => {
                let gone = catalog.swap_remove(rng.below(catalog.len()));
                changed.push(gone.id);
            }
            1 | 2 if !catalog.is_empty() => {
                let i = rng.below(catalog.len());
                let fresh = random_movie(rng, catalog[i].id);
                let m = &mut catalog[i];
                match rng.below(6) {
                    0 => m.title = fresh.title,
                    1 => m.year = fresh.year,
                    2 => m.genres = fresh.genres,
                    3 => m.cast = fresh.cast,
                    4 => m.provider = fresh.provider,
                    _ => *m = fresh,
                }
                changed.push(m.id);
            }
            _ => {
                *next_id += 1 + rng.below(3) as i64;
                catalog.push(random_movie(rng, *next_id));
                changed.push(*next_id);
            }
        }
    }
    changed.push(-5); // an id the index never had
    sort_catalog(&mut catalog);
    let mut rows = Vec::new();
    let mut after = Vec::new();
    for (i, m) in catalog.iter().enumerate() {
        if changed.contains(&m.id) {
            rows.push(m.clone());
            after.push(i.checked_sub(1).map(|p| catalog[p].id));
        }
    }
    // The rows come in any order (PostgreSQL need not sort them): here, as often as not, shuffled.
    if rng.below(2) == 0 {
        for i in (1..rows.len()).rev() {
            let j = rng.below(i + 1);
            rows.swap(i, j);
            after.swap(i, j);
        }
    }
    (catalog, changed, copy_of(&rows, Some(&after)))
}

const NEEDLES: [&str; 15] =
    ["love", "lo", "e", "è", "ève", "night lo", "aba", "ab", "noël", "the love", "zz", " ", "l", "", "ë"];

fn check(index: &Index, movies: &[Owned], gone: &[Owned], rng: &mut Rng, step: usize) {
    assert_eq!(index.len(), movies.len(), "step {step}");
    let mut pool: Vec<Owned> = movies.to_vec();
    pool.extend(gone.iter().cloned());
    for _ in 0..400 {
        let q = random_query(rng, &pool, &NEEDLES);
        let q = Query { provider: q.provider.map(|_| rng.pick(&["acme", "zeta", "new", "none"])), ..q };
        assert_eq!(index.search(&q), expected(movies, &q), "step {step}: {q:?}");
    }
    for sort in SORTS {
        let needle = NEEDLES[rng.below(NEEDLES.len())];
        let q =
            Query { title: Some(needle).filter(|_| rng.below(2) == 0), sort, limit: 3, ..Query::default() };
        let all = model(movies, &Query { limit: usize::MAX, sort, title: q.title, ..Query::default() });
        let seen = walk(index, movies, q, all.total);
        assert_eq!(seen, all.ids, "step {step}: walking {sort:?}");
    }
    let ids: Vec<i64> = pool.iter().take(6).map(|m| m.id).chain([-5]).collect();
    for (id, got) in ids.iter().zip(index.attributes(&ids)) {
        let want = movies.iter().find(|m| m.id == *id).map(|m| {
            let names = |v: &[String]| {
                let mut v = v.to_vec();
                v.sort();
                v.dedup();
                v
            };
            Attributes {
                title: m.title.to_lowercase(),
                year: m.year,
                provider: m.provider.clone(),
                genres: names(&m.genres),
                cast: names(&m.cast),
            }
        });
        assert_eq!(got, want, "step {step}: attributes of {id}");
    }
}

/// A file of its own in the temporary directory (each use removes it: nothing is left behind).
fn temp_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("catalog-index-tests-{}-{name}", std::process::id()))
}

fn run(seed: u64, initial: usize, steps: usize) {
    let mut rng = Rng(seed);
    let mut movies = catalog(&mut rng, initial);
    let mut next_id = movies.iter().map(|m| m.id).max().unwrap_or(0);
    let mut index = built(&movies);
    let mut gone: Vec<Owned> = Vec::new();
    for step in 0..steps {
        let size = [1, 2, 5, 10, 40][rng.below(5)];
        let (catalog, changed, rows) = change_set(&mut rng, &movies, &mut next_id, size);
        let before = index.clone();
        index = index.apply(&changed, &rows).unwrap_or_else(|e| unreachable!("step {step}: {e}"));
        // The old index answers as before: nothing it holds was changed.
        assert_eq!(before.len(), movies.len());
        gone.extend(movies.iter().filter(|m| changed.contains(&m.id)).cloned());
        gone.truncate(50);
        movies = catalog;
        match rng.below(8) {
            0 => index = index.merged().unwrap_or_else(|e| unreachable!("{e}")),
            1 => {
                let path = temp_path(&format!("{seed}-{step}.idx"));
                let merged = index.merged().unwrap_or_else(|e| unreachable!("{e}"));
                merged.save(&path).unwrap_or_else(|e| unreachable!("{e}"));
                index = Index::read(&path).unwrap_or_else(|e| unreachable!("{e}"));
                let _ = std::fs::remove_file(&path);
            }
            2 => {
                let path = temp_path(&format!("{seed}-{step}-merged.idx"));
                index.merge_into(&path).unwrap_or_else(|e| unreachable!("{e}"));
                index = Index::read(&path).unwrap_or_else(|e| unreachable!("{e}"));
                let _ = std::fs::remove_file(&path);
                assert_eq!((index.delta_movies(), index.removed_movies()), (0, 0));
                // The base a merge writes is the one a build of the same catalog writes.
                assert!(index.base.bytes() == built(&movies).base.bytes(), "step {step}: merged bytes");
            }
            _ => {}
        }
        check(&index, &movies, &gone, &mut rng, step);
    }
}

#[test]
fn change_sets_merges_and_round_trips_answer_as_the_model() {
    for seed in 1..=4 {
        run(seed * 7919, 150, 40);
    }
}

#[test]
fn an_index_built_empty_takes_every_movie_as_changes() {
    run(17, 0, 60);
}

#[test]
fn many_rows_after_one_predecessor_renumber_their_group() {
    // Movies that all sort between the same two base movies, many change sets in a row, each
    // inserted right after the first one, before the one inserted last: the gap halves each
    // time until its group is renumbered.
    let base = vec![plain(1, "a"), plain(2, "c")];
    let mut index = built(&base);
    let mut movies = base.clone();
    for (i, length) in (1..=300).rev().enumerate() {
        let m = plain(100 + i as i64, &"b".repeat(length));
        // Each title a "b" shorter than the last: right after "a", before the previous.
        let rows = copy_of(std::slice::from_ref(&m), Some(&[Some(1)]));
        index = index.apply(&[m.id], &rows).unwrap_or_else(|e| unreachable!("{i}: {e}"));
        movies.push(m);
    }
    sort_catalog(&mut movies);
    let q = Query { limit: 1000, ..Query::default() };
    assert_eq!(index.search(&q), Some(model(&movies, &q)));
}

#[test]
fn inconsistent_change_sets_are_refused_naming_the_movies() {
    let mut rng = Rng(5);
    let movies = catalog(&mut rng, 20);
    let index = built(&movies);
    let new = |id: i64| plain(id, "zzz");
    let error = |changed: &[i64], rows: &[Owned], after: &[Option<i64>]| {
        index.apply(changed, &copy_of(rows, Some(after))).err().map(|e| e.to_string()).unwrap_or_default()
    };
    let last = movies[19].id;
    assert_eq!(
        error(&[1000], &[new(1000)], &[Some(4242)]),
        "movie 1000: its predecessor, movie 4242, is not live in the index"
    );
    assert_eq!(
        error(&[1000, last], &[new(1000)], &[Some(last)]),
        format!("movie 1000: its predecessor, movie {last}, is not live in the index")
    );
    assert_eq!(error(&[], &[new(1000)], &[None]), "movie 1000: a row whose id is not among the changed ids");
    assert_eq!(
        error(&[1000], &[new(1000), new(1000)], &[Some(last), Some(1000)]),
        "movie 1000: two rows in one change set"
    );
    assert_eq!(
        error(&[1000, 1001, 1002], &[new(1000), new(1001), new(1002)], &[Some(last), Some(1000), Some(1000)]),
        "movie 1000: the predecessor of two rows"
    );
    assert_eq!(
        error(&[1000, 1001], &[new(1000), new(1001)], &[Some(1001), Some(1000)]),
        "movie 1000: its predecessors go round in a circle"
    );
    let rows = copy_of(&[new(1000)], Some(&[None]));
    assert!(index
        .apply(&[1000], &rows[..rows.len() - 3])
        .is_err_and(|e| e.to_string().contains("before their trailer")));
    assert!(index
        .apply(&[1000], &copy_bytes(&[new(1000)]))
        .is_err_and(|e| e.to_string() == "change row 1: 7 columns, not the 8"));
    // Nothing was changed by the refusals; an empty change set changes nothing.
    let same = index.apply(&[], b"").unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!(same.len(), 20);
    let q = Query { limit: 100, ..Query::default() };
    assert_eq!(same.search(&q), index.search(&q));
}

#[test]
fn only_an_index_without_changes_is_saved() {
    let mut rng = Rng(6);
    let movies = catalog(&mut rng, 10);
    let index = built(&movies);
    let changed = index.apply(&[movies[0].id], b"").unwrap_or_else(|e| unreachable!("{e}"));
    assert_eq!((changed.len(), changed.removed_movies(), changed.delta_movies()), (9, 1, 0));
    let path = temp_path("unsaved.idx");
    assert!(changed.save(&path).is_err_and(|e| e.to_string().contains("holds changes")));
    assert!(!path.exists());
}
