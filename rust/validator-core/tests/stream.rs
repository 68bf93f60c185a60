//! The validator end to end at the Rust level: framing, limits, gzip, and chunking invariance.

use std::io::Write;

use flate2::write::GzEncoder;
use flate2::Compression;
use validator_core::copy::decode;
use validator_core::{Config, FileErrorCode, Report, Validator};

fn validate_in(input: &[u8], cfg: &Config, gzip: bool, chunk: usize) -> (Report, Vec<u8>) {
    let mut v = Validator::new(cfg.clone(), gzip);
    let mut out = Vec::new();
    let mut ok = true;
    for piece in input.chunks(chunk.max(1)) {
        ok = v.feed(piece).is_ok();
        v.drain_output(|data, _| out.extend_from_slice(data));
        if !ok {
            break;
        }
    }
    if ok {
        let _ = v.finish();
        v.drain_output(|data, _| out.extend_from_slice(data));
    }
    (v.report(), out)
}

/// Validate whole and in several chunkings; all must agree. Returns the whole-input result.
fn validate(input: &[u8], cfg: &Config) -> (Report, Vec<u8>) {
    let whole = validate_in(input, cfg, false, input.len());
    for chunk in [1, 2, 3, 7, 64, 4096] {
        let cut = validate_in(input, cfg, false, chunk);
        // After a whole-file error, how much was read depends on where the chunks ended.
        let comparable = |r: &Report| Report { bytes_read: 0, ..r.clone() };
        assert_eq!(
            format!("{:?}", comparable(&whole.0)),
            format!("{:?}", comparable(&cut.0)),
            "report differs at chunk {chunk}"
        );
        assert_eq!(whole.1, cut.1, "COPY differs at chunk {chunk}");
    }
    whole
}

fn cfg() -> Config {
    Config { current_year: 2026, ..Config::default() }
}

fn file_error(report: &Report) -> Option<(FileErrorCode, u64, u64)> {
    report.file_error.as_ref().map(|e| (e.code, e.line, e.offset))
}

#[test]
fn array_wrapper_and_ndjson_give_the_same_records() {
    let movies = [r#"{"title":"A","year":2000}"#, r#"{"title":"B","year":2001,"cast":["x","x"]}"#];
    let array = format!("\u{feff}[{}]", movies.join(",\n"));
    let wrapper = format!(r#"{{"provider":"acme","movies":[{}],"extra":{{"n":[1,2]}}}}"#, movies.join(","));
    let ndjson = format!("{}\n\n  \r\n{}\n", movies[0], movies[1]);
    let (a, a_out) = validate(array.as_bytes(), &cfg());
    let (w, w_out) = validate(wrapper.as_bytes(), &cfg());
    let (n, n_out) = validate(ndjson.as_bytes(), &Config { ndjson: true, ..cfg() });
    for r in [&a, &w, &n] {
        assert_eq!((r.records_total, r.records_valid, r.file_error.clone()), (2, 2, None));
    }
    let titles =
        |out: &[u8]| decode(out).unwrap().into_iter().map(|r| (r.title, r.cast, r.line)).collect::<Vec<_>>();
    assert_eq!(titles(&a_out), vec![("A".into(), vec![], 1), ("B".into(), vec!["x".into()], 2)]);
    assert_eq!(titles(&w_out).len(), 2);
    assert_eq!(titles(&n_out), vec![("A".into(), vec![], 1), ("B".into(), vec!["x".into()], 4)]);
}

#[test]
fn whole_file_errors() {
    let cases: [(&str, FileErrorCode); 12] = [
        ("", FileErrorCode::Empty),
        (" \n\t ", FileErrorCode::Empty),
        ("\u{feff}", FileErrorCode::Empty),
        ("\"movies\"", FileErrorCode::TopLevel),
        (r#"{"movies":{}}"#, FileErrorCode::TopLevel),
        (r#"{"other":[]}"#, FileErrorCode::TopLevel),
        (r#"{"movies":[],"movies":[]}"#, FileErrorCode::TopLevel),
        ("[1,]", FileErrorCode::Parse),
        ("[] []", FileErrorCode::Parse),
        ("[NaN]", FileErrorCode::Parse),
        ("[{\"title\":\"\u{e9}\"", FileErrorCode::Parse),
        ("[[[[]]]]", FileErrorCode::Depth),
    ];
    for (input, code) in cases {
        let (r, out) = validate(input.as_bytes(), &Config { max_depth: 3, ..cfg() });
        assert_eq!(r.file_error.map(|e| e.code), Some(code), "{input:?}");
        assert!(out.is_empty() || code == FileErrorCode::Parse, "{input:?}");
    }
    let (r, _) = validate(b"[{\"title\":\"a\xffb\",\"year\":1,]", &cfg());
    assert_eq!(file_error(&r), Some((FileErrorCode::Encoding, 1, 12)));
}

#[test]
fn a_bad_ndjson_line_is_a_record_error_but_bad_utf8_is_the_files() {
    let cfg = Config { ndjson: true, ..cfg() };
    let (r, _) = validate(b"{\"title\":\"A\",\"year\":2000}\n{oops\n[1]\n", &cfg);
    assert_eq!((r.records_total, r.records_valid, r.records_invalid), (3, 1, 2));
    assert_eq!(
        r.errors.iter().map(|e| (e.line, e.pointer.as_str())).collect::<Vec<_>>(),
        vec![(2, "/1"), (3, "/2")]
    );
    let (r, _) = validate(b"{\"title\":\"A\",\"year\":2000}\n{oops \xff}\n", &cfg);
    assert_eq!(file_error(&r), Some((FileErrorCode::Encoding, 2, 32)));
}

#[test]
fn too_large_does_not_depend_on_chunking() {
    let cfg = Config { max_record_bytes: 40, ..cfg() };
    let small = r#"{"title":"A","year":2000}"#;
    let big = r#"{"title":"A long title, far too long","year":2000}"#;
    let (r, _) = validate(format!("[{small},\n{big}]").as_bytes(), &cfg);
    assert_eq!(file_error(&r), Some((FileErrorCode::TooLarge, 2, 28)));
    let (r, _) = validate(format!("[{small}]").as_bytes(), &cfg);
    assert_eq!(r.file_error, None);
    let (r, _) = validate(format!("{small}\n{big}\n").as_bytes(), &Config { ndjson: true, ..cfg });
    assert_eq!(file_error(&r), Some((FileErrorCode::TooLarge, 2, 26)));
    let (r, _) = validate(format!("[{small}]").as_bytes(), &Config { max_bytes: Some(10), ..cfg });
    assert_eq!(r.file_error.map(|e| e.code), Some(FileErrorCode::TooLarge));
}

#[test]
fn duplicates_collapse_or_conflict() {
    let input = r#"[{"title":"Carmen","year":1915,"href":"a"},{"title":" Carmen","year":1915,"href":"a "},
        {"title":"Carmen","year":1915,"href":"b"},{"title":"Carmen","year":1915,"href":"a","cast":["x"]},
        {"id":12,"title":"X","year":2000},{"id":" 12 ","title":"X","year":2000,"genres":null}]"#;
    let (r, out) = validate(input.as_bytes(), &cfg());
    assert_eq!((r.records_valid, r.records_invalid, r.duplicates_collapsed), (3, 1, 2));
    assert_eq!(r.errors[0].pointer, "/3");
    let rows = decode(&out).unwrap();
    assert_ne!(rows[0].record_key, rows[1].record_key);
    assert_eq!(rows[2].id.as_deref(), Some("12"));
}

#[test]
fn gzip_single_multi_member_corrupt_and_truncated() {
    let gz = |data: &[u8]| {
        let mut e = GzEncoder::new(Vec::new(), Compression::fast());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    };
    let mut two = gz(b"[{\"title\":\"A\",\"year\":2000},");
    two.extend(gz(b"{\"title\":\"B\",\"year\":2000}]"));
    for gzip_by_name in [true, false] {
        for chunk in [1, 5, 1 << 20] {
            let (r, _) = validate_in(&two, &cfg(), gzip_by_name, chunk);
            assert_eq!((r.records_valid, r.file_error.clone()), (2, None), "chunk {chunk}");
        }
    }
    let truncated = &two[..two.len() - 5];
    let (r, _) = validate_in(truncated, &cfg(), true, 1 << 20);
    assert_eq!(r.file_error.map(|e| e.code), Some(FileErrorCode::Encoding));
    let (r, _) = validate_in(b"[1,2]", &cfg(), true, 1 << 20);
    assert_eq!(r.file_error.map(|e| e.code), Some(FileErrorCode::Encoding));
    // The second member's magic bytes: found when the first member ends.
    let second = gz(b"[{\"title\":\"A\",\"year\":2000},").len();
    let mut corrupt = two.clone();
    corrupt[second] ^= 0xff;
    let (r, _) = validate_in(&corrupt, &cfg(), false, 7);
    assert_eq!(r.file_error.map(|e| e.code), Some(FileErrorCode::Encoding));
}

#[test]
fn line_numbers_point_at_the_value() {
    let input = "[\n {\n  \"title\": \"ok\",\n  \"year\":\n   1700\n }\n]";
    let (r, _) = validate(input.as_bytes(), &cfg());
    assert_eq!((r.errors[0].line, r.errors[0].pointer.as_str()), (5, "/0/year"));
}

#[test]
fn deletion_records_are_keys_not_tuples_and_take_part_in_key_checks() {
    let input = concat!(
        r#"{"title":"A","year":2000,"id":"a"}"#,
        "\n",
        r#"{"id":"gone","deleted":true}"#,
        "\n",
        r#"{"id":"gone","deleted":true,"title":"ignored but checked","year":1999}"#,
        "\n",
        r#"{"title":"B","year":2001,"deleted":true}"#,
        "\n",
        r#"{"id":"a","deleted":true}"#,
        "\n",
    );
    let cfg = Config { ndjson: true, ..cfg() };
    let (report, out) = validate(input.as_bytes(), &cfg);
    // a, the deletion of "gone", the deletion of (B, 2001); the repeated deletion collapses; a
    // deletion of a key a movie record holds is a different record with the same key.
    assert_eq!((report.records_valid, report.deletions), (3, 2));
    assert_eq!((report.duplicates_collapsed, report.records_invalid), (1, 1));
    assert_eq!(report.errors[0].code.as_str(), "duplicate_key");
    assert_eq!(decode(&out).map(|rows| rows.len()).unwrap_or_default(), 1);

    let mut v = Validator::new(cfg, false);
    v.feed(input.as_bytes()).expect("valid");
    v.finish().expect("valid");
    assert_eq!(v.take_deleted_keys().len(), 2 * 16);
    assert!(v.take_deleted_keys().is_empty());
}
