//! Figures of the index for N generated movies shaped like `benchmarks/bench_api.py`'s catalog
//! (titles of about 15 characters from a Zipf-like vocabulary, 0-3 genres of 20, 0-8 cast
//! members of a pool of 4,000 people):
//!
//! ```sh
//! cargo run --release -p moviestore-catalog-index --example bench -- 300000
//! ```
#![allow(clippy::cast_precision_loss, clippy::cast_possible_wrap, clippy::cast_sign_loss)]

#[path = "common/catalog.rs"]
mod catalog;

use catalog::{reset_peak, rss, Catalog};
use catalog_index::{After, Index, Query, Sort};
use std::time::Instant;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(300_000);
    let catalog = Catalog::new(n, 7);
    let before = rss();
    reset_peak();
    let started = Instant::now();
    let index = catalog.build();
    let seconds = started.elapsed().as_secs_f64();
    let after = rss();
    println!("movies {n}: build {seconds:.2} s, peak RSS growth {:.0} MB", (after.1 - before.0) as f64 / 1e6);
    println!(
        "index {} bytes = {:.1} bytes/movie; RSS growth kept {:.0} MB",
        index.heap_bytes(),
        index.heap_bytes() as f64 / n as f64,
        (after.0 - before.0) as f64 / 1e6
    );
    let text: usize = (0..n).map(|i| catalog.lowered_title(i).len()).sum();
    println!("titles: {:.1} bytes/movie lower-cased", text as f64 / n as f64);
    searches(&catalog, &index);
}

/// Mean and worst time of each query shape, in microseconds.
fn searches(catalog: &Catalog, index: &Index) {
    let mut rng = catalog::Rng(99);
    let mut shapes: Vec<(&str, Vec<Query<'_>>)> = Vec::new();
    let page = |q: Query<'static>| q;
    let common: Vec<Query<'_>> = ["night", "the ", "king", "love"]
        .iter()
        .map(|t| page(Query { title: Some(t), limit: 20, ..Query::default() }))
        .collect();
    shapes.push(("title, common words", common));
    let sampled: Vec<Query<'_>> = (0..300).filter_map(|_| catalog.title_needle(&mut rng)).collect();
    shapes.push(("title, sampled 4-8 byte parts (bench_api)", sampled));
    let rare: Vec<Query<'_>> = (0..100).map(|_| catalog.rare_needle(&mut rng)).collect();
    shapes.push(("title, rare invented words", rare));
    let short: Vec<Query<'_>> = ["e", "a", "zq", "ka", "é"]
        .iter()
        .map(|t| Query { title: Some(t), limit: 20, ..Query::default() })
        .collect();
    shapes.push(("title, 1-2 byte needles", short));
    shapes.push(("genre + year (bench_api)", (0..300).map(|_| catalog.genre_year(&mut rng)).collect()));
    let cast: Vec<Query<'_>> = (0..300).map(|i| catalog.cast(&mut rng, i)).collect();
    shapes.push(("cast, each sort (bench_api)", cast));
    let all: Vec<Query<'_>> = [Sort::Title, Sort::Year, Sort::YearDesc]
        .into_iter()
        .map(|sort| Query { sort, limit: 20, ..Query::default() })
        .collect();
    shapes.push(("no filter", all));
    let mut cursor = Vec::new();
    for q in catalog.cursors(&mut rng) {
        cursor.push(q);
    }
    shapes.push(("title 'night', year-sorted page after a cursor", cursor));
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
    let _ = After::Year(0, 0);
}
