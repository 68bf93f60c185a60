//! Segment files: the same answers after a round trip; a damaged, truncated or foreign file is
//! refused with an error, and no change to the bytes makes opening or searching panic.

use super::*;
use crate::format::BODY_START;
use xxhash_rust::xxh3::xxh3_64;

fn saved(movies: &[Owned]) -> Vec<u8> {
    built(movies).base.bytes().to_vec()
}

fn open(bytes: &[u8]) -> Result<Index, Error> {
    let mut aligned = Aligned::default();
    crate::format::Sink::put(&mut aligned, bytes)?;
    Index::open(Box::new(aligned), false)
}

/// The checksums made right again, so that only the deeper checks can refuse the bytes.
fn reseal(bytes: &mut [u8]) {
    let body = xxh3_64(&bytes[BODY_START..]);
    bytes[64..72].copy_from_slice(&body.to_ne_bytes());
    let mut head = bytes[..72].to_vec();
    head.extend(&bytes[80..BODY_START]);
    let head = xxh3_64(&head);
    bytes[72..80].copy_from_slice(&head.to_ne_bytes());
}

fn error(bytes: &[u8]) -> String {
    open(bytes).err().map(|e| e.to_string()).unwrap_or_default()
}

#[test]
fn a_segment_reopened_answers_the_same() {
    let mut rng = Rng(21);
    let movies = catalog(&mut rng, 200);
    let index = open(&saved(&movies)).unwrap_or_else(|e| unreachable!("{e}"));
    for _ in 0..2000 {
        let q = random_query(&mut rng, &movies, &["love", "e", "ab", "noël", "zz"]);
        assert_eq!(index.search(&q), Some(model(&movies, &q)), "{q:?}");
    }
    assert!(open(&saved(&[])).is_ok_and(|i| i.is_empty()));
}

#[test]
fn damaged_truncated_and_foreign_files_are_refused() {
    let mut rng = Rng(22);
    let bytes = saved(&catalog(&mut rng, 100));
    assert!(error(&[]).contains("shorter than a header"));
    let foreign = [b"PGCOPY\n\xff\r\n\0".as_slice(), &[b'.'; 1000]].concat();
    assert!(error(&foreign).contains("magic"));
    assert!(error(&bytes[..bytes.len() - 1]).contains("truncated"));
    let mut longer = bytes.clone();
    longer.extend([0; 8]);
    assert!(error(&longer).contains("truncated"));
    for at in [9, 20, 100, 300, BODY_START + 5, bytes.len() - 1] {
        let mut damaged = bytes.clone();
        damaged[at] ^= 0x40;
        assert!(error(&damaged).starts_with("not a valid search index segment"), "byte {at}");
    }
    let mut other_order = bytes.clone();
    other_order[12..16].reverse();
    assert!(error(&other_order).contains("byte order"));
}

#[test]
fn no_change_to_the_bytes_makes_opening_or_searching_panic() {
    let mut rng = Rng(23);
    let movies = catalog(&mut rng, 60);
    let bytes = saved(&movies);
    let mut refused = 0;
    for i in 0..3000 {
        let mut damaged = bytes.clone();
        for _ in 0..=rng.below(3) {
            let at = BODY_START + rng.below(bytes.len() - BODY_START);
            damaged[at] = if i % 2 == 0 { rng.next() as u8 } else { damaged[at] ^ (1 << rng.below(8)) };
        }
        if i % 3 == 0 {
            let at = 80 + rng.below(BODY_START - 80); // the section table
            damaged[at] = rng.next() as u8;
        }
        reseal(&mut damaged);
        match open(&damaged) {
            Err(_) => refused += 1,
            Ok(index) => {
                for _ in 0..20 {
                    let _ = index.search(&random_query(&mut rng, &movies, &["love", "e", "ab"]));
                }
                let _ = index.attributes(&[movies[0].id, movies[1].id]);
                let _ = index.merged();
            }
        }
    }
    assert!(refused > 2000, "most damage is seen: {refused}");
}

#[test]
fn a_build_written_straight_to_a_file_reads_back_the_same() {
    let mut rng = Rng(24);
    let movies = catalog(&mut rng, 80);
    let mut b = Builder::new();
    b.feed(&copy_bytes(&movies)).unwrap_or_else(|e| unreachable!("{e}"));
    let path = std::env::temp_dir().join(format!("catalog-index-built-{}.idx", std::process::id()));
    b.finish_into(&path).unwrap_or_else(|e| unreachable!("{e}"));
    let index = Index::read(&path).unwrap_or_else(|e| unreachable!("{e}"));
    let _ = std::fs::remove_file(&path);
    assert_eq!(index.base.bytes(), built(&movies).base.bytes());
}

#[test]
fn a_build_gathered_in_files_writes_the_same_and_leaves_none() {
    let mut rng = Rng(25);
    let movies = catalog(&mut rng, 300);
    let folder = std::env::temp_dir().join(format!("catalog-index-spill-{}", std::process::id()));
    std::fs::create_dir_all(&folder).unwrap_or_else(|e| unreachable!("{e}"));
    let path = folder.join("built.idx");
    let want = built(&movies);
    for into_file in [true, false] {
        let mut b = Builder::spilling(&folder);
        b.feed(&copy_bytes(&movies)).unwrap_or_else(|e| unreachable!("{e}"));
        let index = if into_file {
            b.finish_into(&path).unwrap_or_else(|e| unreachable!("{e}"));
            let index = Index::read(&path).unwrap_or_else(|e| unreachable!("{e}"));
            let _ = std::fs::remove_file(&path);
            index
        } else {
            b.finish().unwrap_or_else(|e| unreachable!("{e}"))
        };
        assert!(index.base.bytes() == want.base.bytes(), "into a file: {into_file}");
        let left: Vec<_> =
            std::fs::read_dir(&folder).into_iter().flatten().flatten().map(|e| e.file_name()).collect();
        assert!(left.is_empty(), "{left:?}");
    }
    // A builder dropped before it finishes leaves no file either.
    let mut b = Builder::spilling(&folder);
    b.feed(&copy_bytes(&movies)[..5000]).unwrap_or_else(|e| unreachable!("{e}"));
    drop(b);
    assert!(std::fs::read_dir(&folder).into_iter().flatten().next().is_none());
    let _ = std::fs::remove_dir(&folder);
}

#[test]
fn a_movies_values_are_found_through_skips_and_damaged_skips_are_refused() {
    let mut rng = Rng(26);
    let names =
        |prefix: &str, n: usize| -> Vec<String> { (0..n).map(|i| format!("{prefix} {i:02}")).collect() };
    let (people, genres) = (names("person", 60), names("genre", 40));
    let mut movies = catalog(&mut rng, 400);
    for m in &mut movies {
        m.cast = (0..rng.below(6)).map(|_| people[rng.below(people.len())].clone()).collect();
        m.genres = (0..rng.below(3)).map(|_| genres[rng.below(genres.len())].clone()).collect();
    }
    let index = built(&movies);
    let ids: Vec<i64> = movies.iter().map(|m| m.id).collect();
    for (m, got) in movies.iter().zip(index.attributes(&ids)) {
        let sorted = |v: &[String]| {
            let mut v = v.to_vec();
            v.sort();
            v.dedup();
            v
        };
        let got = got.unwrap_or_else(|| unreachable!("{} is live", m.id));
        assert_eq!((got.genres, got.cast), (sorted(&m.genres), sorted(&m.cast)), "movie {}", m.id);
    }
    // A merge writes the skips a build of the same catalog writes.
    let mut changed = movies.clone();
    let picked: Vec<usize> = (0..movies.len()).filter(|_| rng.below(10) == 0).collect();
    for &i in &picked {
        changed[i].cast = (0..rng.below(6)).map(|_| people[rng.below(people.len())].clone()).collect();
    }
    let rows: Vec<Owned> = picked.iter().map(|&i| changed[i].clone()).collect();
    let after: Vec<Option<i64>> = picked.iter().map(|&i| i.checked_sub(1).map(|p| movies[p].id)).collect();
    let ids: Vec<i64> = rows.iter().map(|m| m.id).collect();
    let applied = index.apply(&ids, &copy_of(&rows, Some(&after))).unwrap_or_else(|e| unreachable!("{e}"));
    let merged = applied.merged().unwrap_or_else(|e| unreachable!("{e}"));
    assert!(merged.base.bytes() == built(&changed).base.bytes());
    let bytes = saved(&movies);
    let (_, ranges) = crate::format::parse(&bytes).unwrap_or_else(|e| unreachable!("{e}"));
    for section in [6, 7, 8, 15, 16, 17] {
        // The skip offsets, skips and blooms of genres and cast.
        assert!(!ranges[section].is_empty(), "section {section}");
        for at in ranges[section].clone().step_by(3) {
            let mut damaged = bytes.clone();
            damaged[at] ^= 1 << rng.below(8);
            reseal(&mut damaged);
            assert!(open(&damaged).is_err(), "section {section}, byte {at}");
        }
    }
}
