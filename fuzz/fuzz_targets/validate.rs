//! Any bytes, any options, any chunking: no panic, no hang, and the answer does not depend on
//! how the input was cut into chunks, nor on the number of threads.
#![no_main]

use libfuzzer_sys::fuzz_target;
use validator_core::copy::decode;
use validator_core::{Config, Report, Validator};

struct Outcome {
    report: Report,
    copy: Vec<u8>,
    streamed: usize,
}

fn run(options: u8, body: &[u8], chunk: usize, threads: usize) -> Outcome {
    let cfg = Config {
        ndjson: options & 1 != 0,
        max_errors: 8,
        max_depth: 1 + usize::from(options >> 5) * 3,
        max_bytes: if options & 2 != 0 { Some(512) } else { None },
        max_record_bytes: if options & 4 != 0 { 96 } else { 1 << 20 },
        current_year: 2026,
        copy: true,
        stream_errors: options & 16 != 0,
        threads,
    };
    let mut v = Validator::new(cfg, options & 8 != 0);
    let mut copy = Vec::new();
    let mut streamed = 0;
    let mut ok = true;
    for piece in body.chunks(chunk.max(1)) {
        ok = v.feed(piece).is_ok();
        v.drain_output(|data, _| copy.extend_from_slice(data));
        streamed += v.take_errors().len();
        if !ok {
            break;
        }
    }
    if ok {
        let _ = v.finish();
        v.drain_output(|data, _| copy.extend_from_slice(data));
        streamed += v.take_errors().len();
    }
    Outcome { report: v.report(), copy, streamed }
}

fuzz_target!(|data: &[u8]| {
    let Some((&options, rest)) = data.split_first() else { return };
    let Some((&cut, body)) = rest.split_first() else { return };
    let whole = run(options, body, body.len(), 1);
    let chunked = run(options, body, usize::from(cut % 17) + 1, 1);
    let two = run(options, body, usize::from(cut % 17) + 1, 2);
    assert_eq!(format!("{:?}", two.report), format!("{:?}", chunked.report), "threads change the report");
    assert_eq!(two.copy, chunked.copy, "threads change the COPY output");
    assert_eq!(two.streamed, chunked.streamed, "threads change the streamed errors");

    let r = &whole.report;
    if r.file_error.is_none() {
        assert_eq!(r.records_total, r.records_valid + r.records_invalid + r.duplicates_collapsed);
        assert_eq!(r.errors_total, r.error_counts.iter().sum::<u64>());
        let rows = decode(&whole.copy).expect("our own COPY data decodes");
        assert_eq!(rows.len() as u64, r.records_valid);
        assert_eq!(whole.copy, chunked.copy, "COPY output depends on chunking");
        if options & 16 != 0 {
            assert_eq!(whole.streamed as u64, r.errors_total, "every error is streamed");
        }
    }
    assert_eq!(
        format!("{:?}", whole.report.file_error.as_ref().map(|e| (e.code, e.offset, e.line))),
        format!("{:?}", chunked.report.file_error.as_ref().map(|e| (e.code, e.offset, e.line))),
        "file error depends on chunking"
    );
    if r.file_error.is_none() {
        assert_eq!(format!("{:?}", whole.report.errors), format!("{:?}", chunked.report.errors));
    }
});
