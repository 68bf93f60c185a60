//! Figures of the index for N generated movies shaped like `benchmarks/bench_api.py`'s catalog
//! (titles of about 15 characters from a Zipf-like vocabulary, 0-3 genres of 20, 0-8 cast
//! members of a pool of 4,000 people): build, bytes per movie, save and open, change sets,
//! merges, and the time of each query shape, with and without a delta.
//!
//! ```sh
//! cargo run --release -p moviestore-catalog-index --example bench -- 300000 /dev/shm
//! ```
//!
//! With a third argument `into`, only the build straight into a file is measured (its columns
//! gathered in files of the folder, as the API does); with
//! `merge [CHANGED]`, only a change set of CHANGED movies (110,000 unless given) applied to the
//! base and the merge of that delta straight into a file, each one's peak RSS growth its own.
//! With `KEEP=1` the segment files written in that folder stay (`bench-N.idx`, the base;
//! `bench-N-merged.idx`, after the change sets), to be opened from Python.
#![allow(clippy::cast_precision_loss, clippy::cast_possible_wrap, clippy::cast_sign_loss)]

#[path = "common/catalog.rs"]
mod catalog;
#[path = "common/changes.rs"]
mod changes;
#[path = "common/copy.rs"]
mod copy;
#[path = "common/heap.rs"]
mod heap;

#[global_allocator]
static HEAP: heap::Counting = heap::Counting;

use catalog::{reset_peak, rss, Catalog};
use catalog_index::{Index, Query, Sort};
use changes::Changes;
use std::path::PathBuf;
use std::time::Instant;

fn mb(bytes: u64) -> f64 {
    bytes as f64 / 1e6
}

/// CPU time this thread has run, in ms (what other processes on the machine take from it
/// is not counted: a steadier figure than the elapsed time on a loaded machine).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    stat.split(' ').next().and_then(|ns| ns.parse::<f64>().ok()).unwrap_or(0.0) / 1e6
}

/// Run `f`, printing its time and how far the heap (counted) and RSS grew above where they
/// started at their peak (RSS can grow less than the heap when the allocator reuses memory
/// freed before).
fn measured<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let before = rss().0;
    let heap_before = heap::now();
    reset_peak();
    heap::reset_peak();
    let (started, cpu) = (Instant::now(), cpu_ms());
    let out = f();
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_ms() - cpu;
    let after = rss();
    println!(
        "{what}: {:.1} ms (CPU {cpu:.0} ms), peak heap +{:.1} MB (held after: +{:.1} MB), peak RSS +{:.0} MB",
        seconds * 1e3,
        mb(heap::peak().saturating_sub(heap_before) as u64),
        mb(heap::now().saturating_sub(heap_before) as u64),
        mb(after.1.saturating_sub(before))
    );
    out
}

fn or_exit<T>(r: Result<T, catalog_index::Error>) -> T {
    r.unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(300_000);
    let dir = PathBuf::from(args.next().unwrap_or_else(|| "/dev/shm".into()));
    let catalog = Catalog::new(n, 7);
    let mode = args.next();
    if mode.as_deref() == Some("into") {
        // Alone in a fresh process, so that the peak is the build's own.
        let path = dir.join(format!("bench-{n}-built.idx"));
        measured("build into a file", || catalog.build_into(&path));
        let _ = std::fs::remove_file(&path);
        return;
    }
    if mode.as_deref() == Some("attributes") {
        attributes(&catalog, &catalog.build(), 200);
        return;
    }
    if mode.as_deref() == Some("merge") {
        let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(110_000);
        merge_alone(&catalog, &dir, size.min(n / 2));
        return;
    }
    let index = measured(&format!("build of {n} movies"), || catalog.build());
    let bytes = index.heap_bytes();
    println!("index {bytes} bytes = {:.1} bytes/movie", bytes as f64 / n as f64);
    for (part, size) in index.breakdown() {
        println!("  {part:<24} {:>6.1} bytes/movie", size as f64 / n as f64);
    }
    let text: usize = (0..n).map(|i| catalog.lowered_title(i).len()).sum();
    println!("titles: {:.1} bytes/movie lower-cased", text as f64 / n as f64);
    searches("searches, no delta", &catalog, &index);

    let path = dir.join(format!("bench-{n}.idx"));
    measured("save", || or_exit(index.save(&path)));
    attributes(&catalog, &index, 21);

    measured("read + check (no mapping)", || drop(or_exit(Index::read(&path))));

    let mut changes = Changes::new(&catalog, 11);
    let small: Vec<_> = (0..30).map(|_| changes.next(10)).collect();
    let current = applied("apply 10 movies x30, on the base (delta growing to 300)", index.clone(), &small);
    let (ids, rows) = changes.next(10_000);
    let with_10k = measured("apply 10,000 movies", || or_exit(current.apply(&ids, &rows)));
    let small: Vec<_> = (0..10).map(|_| changes.next(10)).collect();
    let with_10k = applied("apply 10 movies x10, on a delta of 10,300", with_10k, &small);
    searches("searches, delta of 10,400", &catalog, &with_10k);
    let (ids, rows) = changes.next(200_000.min(n / 2));
    let big = measured("apply 200,000 movies (n/2 at most)", || or_exit(with_10k.apply(&ids, &rows)));
    println!(
        "  delta {} movies, {} base movies removed, heap {:.0} MB",
        big.delta_movies(),
        big.removed_movies(),
        mb(big.heap_bytes() as u64)
    );
    let small: Vec<_> = (0..10).map(|_| changes.next(10)).collect();
    let after_big = applied("apply 10 movies x10, on that delta", big, &small);
    searches("searches, delta of 210,000", &catalog, &after_big);
    drop((with_10k, current, index));
    let merged = measured("merge (in memory)", || or_exit(after_big.merged()));
    println!(
        "  merged: {} movies, {:.1} bytes/movie",
        merged.len(),
        merged.heap_bytes() as f64 / merged.len() as f64
    );
    drop(merged);
    let merged_path = dir.join(format!("bench-{n}-merged.idx"));
    measured("merge into a file", || or_exit(after_big.merge_into(&merged_path)));
    if std::env::var_os("KEEP").is_none() {
        let _ = std::fs::remove_file(&path);
        let _ = std::fs::remove_file(&merged_path);
    }
}

/// The time of `index.attributes` for `sets` sets of ten movies spread over the title order.
fn attributes(catalog: &Catalog, index: &Index, sets: usize) {
    let n = catalog.len();
    let mut times = Vec::new();
    for k in 0..sets {
        let ids: Vec<i64> = catalog.ids.iter().skip(k * 7919).step_by(n / 10).take(10).copied().collect();
        let started = Instant::now();
        let found = index.attributes(&ids);
        times.push(started.elapsed().as_secs_f64() * 1e3);
        assert!(found.iter().all(Option::is_some));
    }
    report(&format!("attributes of 10 movies ({sets} sets)"), &mut times);
}

/// A change set applied to the base, and the merge of that delta into a file: the peak RSS
/// growth of each is its own (the base and the delta are held before it starts).
fn merge_alone(catalog: &Catalog, dir: &std::path::Path, size: usize) {
    let n = catalog.len();
    let index = catalog.build();
    let mut changes = Changes::new(catalog, 11);
    let (ids, rows) = changes.next(size);
    let applied = measured(&format!("apply {size} movies"), || or_exit(index.apply(&ids, &rows)));
    let delta = applied.heap_bytes() - index.heap_bytes();
    drop((ids, rows, index));
    println!(
        "  delta {} movies, {} base movies removed, delta heap {:.1} MB ({:.0} bytes a delta movie)",
        applied.delta_movies(),
        applied.removed_movies(),
        mb(delta as u64),
        delta as f64 / applied.delta_movies().max(1) as f64
    );
    let path = dir.join(format!("bench-{n}-merged.idx"));
    measured("merge into a file", || or_exit(applied.merge_into(&path)));
    let _ = std::fs::remove_file(&path);
}

/// Apply each change set in turn, reporting the times.
fn applied(what: &str, mut index: Index, sets: &[(Vec<i64>, Vec<u8>)]) -> Index {
    let mut times = Vec::new();
    for (ids, rows) in sets {
        let started = Instant::now();
        index = or_exit(index.apply(ids, rows));
        times.push(started.elapsed().as_secs_f64() * 1e3);
    }
    report(what, &mut times);
    index
}

fn report(what: &str, times: &mut [f64]) {
    times.sort_by(f64::total_cmp);
    let median = times.get(times.len() / 2).copied().unwrap_or(0.0);
    let max = times.last().copied().unwrap_or(0.0);
    println!("{what}: median {median:.2} ms, max {max:.2} ms");
}

/// Mean and worst time of each query shape, in microseconds.
fn searches(what: &str, catalog: &Catalog, index: &Index) {
    println!("{what}:");
    let mut rng = catalog::Rng(99);
    let mut shapes: Vec<(&str, Vec<Query<'_>>)> = Vec::new();
    let titles = |needles: &[&'static str]| -> Vec<Query<'static>> {
        needles.iter().map(|t| Query { title: Some(t), limit: 20, ..Query::default() }).collect()
    };
    shapes.push(("title, common words", titles(&["night", "the ", "king", "love"])));
    let sampled: Vec<Query<'_>> = (0..300).filter_map(|_| catalog.title_needle(&mut rng)).collect();
    shapes.push(("title, sampled 4-8 byte parts (bench_api)", sampled));
    shapes.push(("title, rare invented words", (0..100).map(|_| catalog.rare_needle(&mut rng)).collect()));
    shapes.push(("title, 1-2 byte needles", titles(&["e", "a", "zq", "ka", "é"])));
    shapes.push(("genre + year (bench_api)", (0..300).map(|_| catalog.genre_year(&mut rng)).collect()));
    shapes.push(("cast, each sort (bench_api)", (0..300).map(|i| catalog.cast(&mut rng, i)).collect()));
    let all =
        [Sort::Title, Sort::Year, Sort::YearDesc].map(|sort| Query { sort, limit: 20, ..Query::default() });
    shapes.push(("no filter", all.into()));
    shapes.push(("title 'night', year-sorted page after a cursor", catalog.cursors(&mut rng)));
    for (name, queries) in &shapes {
        let mut times = Vec::new();
        let mut totals = 0;
        for q in queries {
            let started = Instant::now();
            let page = index.search(q);
            times.push(started.elapsed().as_secs_f64() * 1e6);
            totals += page.map_or(0, |p| p.total);
        }
        times.sort_by(f64::total_cmp);
        let mean = times.iter().sum::<f64>() / times.len().max(1) as f64;
        let p50 = times.get(times.len() / 2).copied().unwrap_or(0.0);
        let max = times.last().copied().unwrap_or(0.0);
        println!(
            "  {name:<48} {:>4} queries: mean {mean:>9.1} us, median {p50:>9.1} us, max {max:>9.1} us, mean total {}",
            queries.len(),
            totals / queries.len().max(1)
        );
    }
}
