//! A generated catalog shaped like `benchmarks/bench_api.py`'s, kept compact (flat arrays) so
//! that its own memory stays small next to the index's.
#![allow(dead_code, clippy::many_single_char_names)]

use catalog_index::{After, Builder, Index, Movie, Query, Sort};

pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const NOUNS: &str = "Night River City Heart Shadow Road Island Garden Storm Mirror Kingdom Secret \
Promise Stranger Train Letter Window House Dream Fire Silence Game Hunter Ghost Bride Doctor Circus \
Harvest Frontier Valley Sky Sea Moon Sun Star Lady Man Woman Girl Boy Child Widow Sheriff Outlaw Spy \
Detective Soldier Pilot Dancer Singer Thief King Queen Prince Princess Castle Tower Bridge Mountain \
Desert Jungle Ocean Voyage Escape Return Revenge Legacy Affair Trial Verdict Witness Alibi Mission \
Code Machine Planet Invasion Empire Republic Revolution Rebellion Ballad Song Waltz Tango Symphony \
Holiday Summer Winter Autumn Spring Midnight Dawn Twilight Horizon Paradise Inferno Labyrinth \
Carnival Masquerade Paris Rome Casablanca Chicago Texas Manhattan Zürich Kraków Montréal Bogotá";
const ADJECTIVES: &str = "Last Lost Dark Silent Secret Broken Golden Hidden Wild Little Big Great \
Long Forgotten Crimson Blue Black White Red Green Burning Frozen Endless Eternal Dangerous Beautiful \
Sweet Bitter Lonely Perfect Final First Second Strange Magnificent Invisible Savage Gentle";
const SYLLABLES: [&str; 45] = [
    "ka", "ro", "mi", "len", "tor", "vas", "el", "an", "bri", "dor", "sa", "mon", "ther", "wyn", "ga", "li",
    "ver", "ston", "ash", "ford", "ham", "ley", "ric", "ta", "na", "bel", "cor", "dra", "fen", "gil", "har",
    "jor", "kel", "lor", "mar", "nor", "pel", "quin", "ras", "sel", "tam", "ul", "vor", "wen", "yar",
];
const GENRES: [&str; 20] = [
    "Drama",
    "Comedy",
    "Action",
    "Horror",
    "Crime",
    "Western",
    "Adventure",
    "Romance",
    "Thriller",
    "War",
    "Animated",
    "Documentary",
    "Musical",
    "Mystery",
    "Science Fiction",
    "Biography",
    "Family",
    "Fantasy",
    "Silent",
    "Sports",
];
const GENRE_WEIGHTS: [f64; 20] =
    [26., 20., 9., 7., 6., 6., 5., 5., 5., 4., 4., 4., 4., 4., 4., 3., 3., 3., 3., 2.];
const PROVIDERS: [&str; 3] = ["wikipedia", "acme", "globex"];

pub struct Catalog {
    pub words: Vec<String>,
    pub people: Vec<String>,
    /// Per movie, in title order: the original title, id, year, provider, genres, cast.
    titles: String,
    lowered: String,
    title_at: Vec<(u32, u32, u32, u32)>,
    pub ids: Vec<i64>,
    pub years: Vec<i32>,
    providers: Vec<u8>,
    genres: Vec<(u32, u8)>,
    genre_ids: Vec<u8>,
    cast: Vec<(u32, u8)>,
    cast_ids: Vec<u16>,
}

fn vocabulary(rng: &mut Rng) -> Vec<String> {
    let mut words: Vec<String> = NOUNS.split(' ').map(str::to_owned).collect();
    let mut invented = std::collections::BTreeSet::new();
    while invented.len() < 3000 {
        let n = 2 + rng.below(2);
        let w: String = (0..n).map(|_| SYLLABLES[rng.below(SYLLABLES.len())]).collect();
        let mut c = w.chars();
        let first = c.next().map(|f| f.to_uppercase().collect::<String>()).unwrap_or_default();
        invented.insert(first + c.as_str());
    }
    words.extend(invented);
    words
}

fn weighted(rng: &mut Rng, cumulative: &[f64]) -> usize {
    let x = rng.unit() * cumulative.last().copied().unwrap_or(1.0);
    cumulative.partition_point(|&c| c < x).min(cumulative.len() - 1)
}

impl Catalog {
    pub fn new(n: usize, seed: u64) -> Catalog {
        let mut rng = Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let words = vocabulary(&mut rng);
        let zipf: Vec<f64> = (0..words.len())
            .scan(0.0, |acc, r| {
                *acc += 1.0 / (r as f64 + 5.0);
                Some(*acc)
            })
            .collect();
        let genre_cum: Vec<f64> = GENRE_WEIGHTS
            .iter()
            .scan(0.0, |acc, w| {
                *acc += w;
                Some(*acc)
            })
            .collect();
        let adjectives: Vec<&str> = ADJECTIVES.split(' ').collect();
        let people: Vec<String> =
            (0..4000).map(|i| format!("{} {}", person_first(i), person_last(i))).collect();
        let mut rows: Vec<(String, i64)> = (0..n)
            .map(|i| {
                let noun = &words[weighted(&mut rng, &zipf)];
                let noun2 = &words[weighted(&mut rng, &zipf)];
                let adj = adjectives[rng.below(adjectives.len())];
                let r = rng.unit();
                let title = if r < 0.15 {
                    format!("The {noun}")
                } else if r < 0.30 {
                    format!("The {adj} {noun}")
                } else if r < 0.42 {
                    format!("{noun} of the {noun2}")
                } else if r < 0.55 {
                    format!("{adj} {noun}")
                } else if r < 0.70 {
                    format!("{noun} {}", ["II", "2", "3", "Returns"][rng.below(4)])
                } else if r < 0.80 {
                    format!("{noun}: The {adj} {noun2}")
                } else if r < 0.90 {
                    format!("{noun} and {noun2}")
                } else {
                    format!("{}'s {noun}", person_first(rng.below(4000)))
                };
                (title, i as i64 + 1)
            })
            .collect();
        rows.sort_unstable_by(|a, b| (a.0.as_bytes(), a.1).cmp(&(b.0.as_bytes(), b.1)));
        let mut c = Catalog {
            words,
            people,
            titles: String::new(),
            lowered: String::new(),
            title_at: Vec::with_capacity(n),
            ids: Vec::with_capacity(n),
            years: Vec::with_capacity(n),
            providers: Vec::with_capacity(n),
            genres: Vec::with_capacity(n),
            genre_ids: Vec::new(),
            cast: Vec::with_capacity(n),
            cast_ids: Vec::new(),
        };
        for (title, id) in rows {
            let lower = title.to_lowercase();
            c.title_at.push((
                c.titles.len() as u32,
                title.len() as u32,
                c.lowered.len() as u32,
                lower.len() as u32,
            ));
            c.titles.push_str(&title);
            c.lowered.push_str(&lower);
            c.ids.push(id);
            c.years.push(1900 + rng.below(126) as i32);
            c.providers.push(if rng.below(10) < 8 { 0 } else { 1 + rng.below(2) as u8 });
            let g = [0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 2, 3, 3, 3][rng.below(20)];
            let mut gs: Vec<u8> = (0..g).map(|_| weighted(&mut rng, &genre_cum) as u8).collect();
            gs.sort_unstable();
            gs.dedup();
            c.genres.push((c.genre_ids.len() as u32, gs.len() as u8));
            c.genre_ids.extend(gs);
            let k = rng.below(9);
            c.cast.push((c.cast_ids.len() as u32, k as u8));
            for _ in 0..k {
                c.cast_ids.push(rng.below(4000) as u16);
            }
        }
        c
    }

    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// The movie at this place of the title order.
    pub fn movie(&self, i: usize) -> Movie<'_> {
        let (t, tl, l, ll) = self.title_at[i];
        let (g, gl) = self.genres[i];
        let (k, kl) = self.cast[i];
        Movie {
            id: self.ids[i],
            title_search: &self.lowered[l as usize..(l + ll) as usize],
            title: &self.titles.as_bytes()[t as usize..(t + tl) as usize],
            year: self.years[i],
            provider: PROVIDERS[self.providers[i] as usize],
            genres: self.genre_ids[g as usize..g as usize + gl as usize]
                .iter()
                .map(|&g| GENRES[g as usize])
                .collect(),
            cast: self.cast_ids[k as usize..k as usize + kl as usize]
                .iter()
                .map(|&c| self.people[c as usize].as_str())
                .collect(),
        }
    }

    pub fn title(&self, i: usize) -> &str {
        let (t, tl, _, _) = self.title_at[i];
        &self.titles[t as usize..(t + tl) as usize]
    }

    pub fn build(&self) -> Index {
        match self.builder().finish() {
            Ok(index) => index,
            Err(e) => {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
    }

    /// The index written straight to a segment file, its columns gathered in files beside it
    /// (as the API builds it).
    pub fn build_into(&self, path: &std::path::Path) {
        let folder = path.parent().unwrap_or(std::path::Path::new("."));
        if let Err(e) = self.fed(Builder::spilling(folder)).finish_into(path) {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }

    fn builder(&self) -> Builder {
        self.fed(Builder::new())
    }

    fn fed(&self, mut b: Builder) -> Builder {
        for i in 0..self.len() {
            if let Err(e) = b.push(&self.movie(i)) {
                eprintln!("{e}");
                std::process::exit(1);
            }
        }
        b
    }

    /// A 4-8 byte part of a word of 4 letters or more of a random title, as `bench_api` draws them.
    pub fn title_needle(&self, rng: &mut Rng) -> Option<Query<'static>> {
        let title = self.title(rng.below(self.len())).to_lowercase();
        let words: Vec<&str> =
            title.split(|c: char| !c.is_alphabetic()).filter(|w| w.len() >= 4 && w.is_ascii()).collect();
        let word = words.get(rng.below(words.len().max(1)))?;
        let size = 4 + rng.below(word.len().min(8) - 3);
        let at = rng.below(word.len() - size + 1);
        let needle: &'static str = Box::leak(word[at..at + size].to_owned().into_boxed_str());
        Some(Query { title: Some(needle), limit: 20, ..Query::default() })
    }

    pub fn rare_needle(&self, rng: &mut Rng) -> Query<'static> {
        let word = &self.words[self.words.len() - 1 - rng.below(1000)];
        let needle: &'static str = Box::leak(word.to_lowercase().into_boxed_str());
        Query { title: Some(needle), limit: 20, ..Query::default() }
    }

    pub fn genre_year(&self, rng: &mut Rng) -> Query<'static> {
        let i = rng.below(self.len());
        let (g, gl) = self.genres[i];
        let genre = if gl == 0 {
            "Drama"
        } else {
            GENRES[self.genre_ids[g as usize + rng.below(gl as usize)] as usize]
        };
        let low = (self.years[i] - rng.below(3) as i32).max(1900);
        let high = low + rng.below(5) as i32;
        Query {
            genres: vec![genre],
            year_from: Some(low),
            year_to: Some(high),
            limit: 20,
            ..Query::default()
        }
    }

    pub fn cast(&self, rng: &mut Rng, i: usize) -> Query<'_> {
        let person = self.people[rng.below(self.people.len())].as_str();
        let sort = [Sort::Title, Sort::TitleDesc, Sort::Year, Sort::YearDesc][i % 4];
        Query { cast: vec![person], sort, limit: 20, ..Query::default() }
    }

    /// Second pages: a cursor on a movie whose title holds "night", by year.
    pub fn cursors(&self, rng: &mut Rng) -> Vec<Query<'static>> {
        (0..50)
            .filter_map(|_| {
                let i = rng.below(self.len());
                self.lowered_title(i).contains("night").then(|| Query {
                    title: Some("night"),
                    sort: Sort::Year,
                    after: Some(After::Year(self.years[i], self.ids[i])),
                    limit: 20,
                    ..Query::default()
                })
            })
            .collect()
    }

    pub fn lowered_title(&self, i: usize) -> &str {
        let (_, _, l, ll) = self.title_at[i];
        &self.lowered[l as usize..(l + ll) as usize]
    }
}

fn person_first(i: usize) -> &'static str {
    const FIRST: [&str; 24] = [
        "James", "Mary", "Robert", "Linda", "Ginger", "Cary", "Bette", "Joan", "Audrey", "Meryl", "Denzel",
        "Keanu", "Zoë", "José", "Björn", "Ömer", "Léa", "Kōji", "Tom", "Emma", "Oscar", "Anne", "Peter",
        "Rita",
    ];
    FIRST[i % FIRST.len()]
}

fn person_last(i: usize) -> String {
    const LAST: [&str; 20] = [
        "Smith", "Brown", "Garcia", "Lee", "Hepburn", "Bogart", "Keaton", "Müller", "Gómez", "Núñez",
        "Dvořák", "Kowalski", "Mifune", "O'Hara", "De Niro", "Stone", "Wayne", "Kelly", "Fonda", "Davis",
    ];
    format!(
        "{}{}",
        LAST[(i / 24) % LAST.len()],
        if i >= 480 { format!(" {}", i / 480) } else { String::new() }
    )
}

/// (current RSS, peak RSS) of this process, in bytes.
pub fn rss() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// Start measuring the peak RSS anew (Linux: `5` in `clear_refs` resets `VmHWM`).
pub fn reset_peak() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}
