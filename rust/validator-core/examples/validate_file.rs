//! Validate a file from Rust alone, for profiling without Python in the picture:
//! `cargo run --release --example validate_file -- FILE [REPEATS] [THREADS] [CHUNK_MIB] [COPY]`.

// The name is lower-cased before its suffix is compared.
#![allow(clippy::case_sensitive_file_extension_comparisons, clippy::cast_precision_loss)]

use std::time::Instant;

use validator_core::{Config, Validator};

fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = args.next().unwrap_or_default();
    let repeats: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(1);
    let threads: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(1);
    let chunk: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(1) << 20;
    let copy = args.next().is_none_or(|c| c != "0");
    let data = std::fs::read(&path)?;
    let lower = path.to_ascii_lowercase();
    let gzip = lower.ends_with(".gz");
    let stem = lower.trim_end_matches(".gz");
    let ndjson = stem.ends_with(".ndjson") || stem.ends_with(".jsonl");
    let started = Instant::now();
    let mut valid = 0;
    for _ in 0..repeats {
        let mut v = Validator::new(Config { ndjson, threads, copy, ..Config::default() }, gzip);
        for chunk in data.chunks(chunk) {
            if v.feed(chunk).is_err() {
                break;
            }
            v.drain_output(|_, _| ());
        }
        let _ = v.finish();
        valid = v.report().records_valid;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("{valid} valid records; {:.0} MB/s", (data.len() * repeats) as f64 / seconds / 1e6);
    Ok(())
}
