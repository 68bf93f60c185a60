"""Generate realistic movie catalogs for the validator benchmark and the bundled samples.

The records are shaped like the well-known Wikipedia-derived movies dataset (title, year, cast,
genres, href, extract, thumbnail with its size): real-looking names with some non-ASCII ones,
genres from that dataset's genre set, hrefs disambiguated the way Wikipedia does it, extracts of
300-2000 characters with paragraphs, quotes and dashes, and many older films without cast,
extract or thumbnail. A fixed seed gives the same bytes on every machine.

Files are written as they are generated, so a 1 GB catalog never sits in memory. The amount is
measured in record bytes, not file bytes, so a JSON array and an NDJSON file generated with the
same seed and size hold exactly the same records.

    python benchmarks/generate.py --size-mb 230 --format json -o benchmarks/data/catalog.json
    python benchmarks/generate.py --records 300 --format json -o samples/catalog.json
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import itertools
import json
import math
import random
import sys
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Format = Literal["json", "wrapper", "ndjson"]
FORMATS: tuple[Format, ...] = ("json", "wrapper", "ndjson")
Record = dict[str, object]

DEFAULT_SEED = 20240917
MB = 1_000_000
# The newest year a generated film gets: valid under the rule "year <= current year + 5" from
# 2020 on, so the committed samples stay valid for years.
NEWEST_YEAR = 2025

# --- vocabulary --------------------------------------------------------------------------------

GENRES = (
    "Action", "Adventure", "Animated", "Biography", "Comedy", "Crime", "Dance", "Disaster",
    "Documentary", "Drama", "Erotic", "Family", "Fantasy", "Found Footage", "Historical",
    "Horror", "Independent", "Legal", "Live Action", "Martial Arts", "Musical", "Mystery",
    "Noir", "Performance", "Political", "Romance", "Satire", "Science Fiction", "Short",
    "Silent", "Slasher", "Sports", "Spy", "Superhero", "Supernatural", "Suspense", "Teen",
    "Thriller", "War", "Western",
)  # fmt: skip
# How often each genre occurs, roughly as in the dataset (dramas and comedies dominate).
GENRE_WEIGHTS = (
    9, 5, 4, 3, 20, 6, 1, 1, 4, 26, 1, 3, 3, 1, 2, 7, 1, 1, 1, 1, 4, 4, 2, 1, 1, 5, 1, 4, 1, 3,
    1, 2, 2, 2, 2, 1, 2, 5, 4, 6,
)  # fmt: skip

# Not given to films made before 1960.
MODERN_GENRES = frozenset({"Found Footage", "Slasher", "Superhero", "Teen", "Martial Arts"})

FIRST_NAMES = (
    "James", "John", "Robert", "Michael", "William", "David", "Richard", "Joseph", "Thomas",
    "Charles", "Mary", "Patricia", "Jennifer", "Linda", "Elizabeth", "Barbara", "Susan",
    "Jessica", "Sarah", "Karen", "Henry", "Walter", "Harold", "Clara", "Gloria", "Lillian",
    "Douglas", "Buster", "Harry", "Fred", "Ginger", "Humphrey", "Lauren", "Katharine", "Spencer",
    "Cary", "Bette", "Joan", "Marlon", "Grace", "Audrey", "Gregory", "Natalie", "Dustin", "Meryl",
    "Denzel", "Julia", "Keanu", "Sandra", "Tom", "Nicole", "Scarlett", "Samuel", "Morgan",
    "Viola", "Octavia", "Ryan", "Emma", "Chris", "Margot", "Oscar", "Florence", "Jean-Pierre",
    "Anne", "Peter", "Paul", "George", "Ringo",
    "Eddie", "Will", "Kevin", "Steve", "Adam", "Ben", "Matt", "Jack", "Lucy", "Kate", "Anna",
    "Laura", "Helen", "Diane", "Sally", "Molly", "Billy", "Bobby", "Jimmy", "Frankie", "Dolores",
    "Mae", "Loretta", "Myrna", "Claudette", "Rosalind", "Vivien", "Olivia", "Ida", "Lana",
    "Rita", "Ava", "Kim", "Doris", "Shirley", "Debbie", "Sidney", "Rock", "Tony",
)  # fmt: skip
FIRST_NAMES_ACCENTED = (
    "Timothée", "Zoë", "Chloë", "Renée", "José", "Penélope", "Gérard", "Hélène", "François",
    "Björn", "Søren", "Jürgen", "Łukasz", "Małgorzata", "Iñigo", "Ömer", "Ágnes", "Dóra",
    "Mārtiņš", "Ngọc", "Kōji", "Shūji", "Rūta", "Zdeněk", "Ramón", "Inés", "Sofía", "Andrés",
    "Noémie", "Léa", "Maïwenn", "Marie-José",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Wilson",
    "Anderson", "Taylor", "Thomas", "Moore", "Jackson", "Martin", "Lee", "Thompson", "White",
    "Harris", "Clark", "Lewis", "Robinson", "Walker", "Young", "Allen", "King", "Wright",
    "Scott", "Hill", "Green", "Adams", "Baker", "Nelson", "Carter", "Mitchell", "Roberts",
    "Turner", "Phillips", "Campbell", "Parker", "Evans", "Edwards", "Collins", "Stewart",
    "Morris", "Rogers", "Reed", "Cook", "Morgan", "Bell", "Murphy", "Bailey", "Cooper",
    "Richardson", "Cox", "Howard", "Ward", "Peterson", "Gray", "Hughes", "Price", "Sanders",
    "Bennett", "Wood", "Barnes", "Ross", "Henderson", "Coleman", "Jenkins", "Perry", "Powell",
    "Long", "Patterson", "Flynn", "Gable", "Crawford", "Hepburn", "Bogart", "Grant", "Fairbanks",
    "Pickford", "Chaplin", "Keaton", "Lloyd", "Astaire", "Rogers", "Garland", "Stanwyck",
    "Kelly", "Wayne", "Stewart", "Fonda", "Newman", "Redford", "Streep", "Hanks", "Washington",
    "Roberts", "Bullock", "Kidman", "Johansson", "Freeman", "Davis", "Gosling", "Stone",
    "Hemsworth", "Robbie", "Isaac", "Pugh", "Chalamet", "Kravitz", "Moretz", "Zellweger",
    "Cruz", "Depardieu", "Kowalski", "Mifune", "Kurosawa", "Hasegawa", "Iglesias", "Dubois",
    "O'Brien", "O'Hara", "McAllister", "MacLeod", "Van Dyke", "De Niro", "DiCaprio", "Del Toro",
    "St. John",
)  # fmt: skip
LAST_NAMES_ACCENTED = (
    "Gómez", "Müller", "Schäfer", "Wiśniewska", "Núñez", "Peña", "Doğan", "Szabó", "Kovács",
    "Bergström", "Sørensen", "Ólafsson", "Nguyễn", "Žukauskas", "Dvořák", "Håkansson",
    "Fernández", "Rodríguez", "López", "Benoît", "Lefèvre",
)  # fmt: skip
# Names written in other scripts; a few per thousand cast members.
FOREIGN_FULL_NAMES = (
    "三船敏郎", "原節子", "張曼玉", "梁朝偉", "배두나", "송강호", "Тимур Бекмамбетов",
    "Ирина Алфёрова", "Μελίνα Μερκούρη", "محمد بكري", "עדי קיסר", "ปีเตอร์ ทองคำ",
)  # fmt: skip
SUFFIXES = ("Jr.", "Sr.", "III")

TITLE_NOUNS = (
    "Night", "River", "City", "Heart", "Shadow", "Road", "Island", "Garden", "Storm", "Mirror",
    "Kingdom", "Secret", "Promise", "Stranger", "Train", "Letter", "Window", "House", "Dream",
    "Fire", "Silence", "Game", "Hunter", "Ghost", "Bride", "Doctor", "Circus", "Harvest",
    "Frontier", "Valley", "Sky", "Sea", "Moon", "Sun", "Star", "Lady", "Man", "Woman", "Girl",
    "Boy", "Child", "Widow", "Sheriff", "Outlaw", "Spy", "Detective", "Soldier", "Pilot",
    "Dancer", "Singer", "Thief", "King", "Queen", "Prince", "Princess", "Castle", "Tower",
    "Bridge", "Mountain", "Desert", "Jungle", "Ocean", "Voyage", "Escape", "Return", "Revenge",
    "Legacy", "Affair", "Trial", "Verdict", "Witness", "Alibi", "Mission", "Code", "Machine",
    "Planet", "Invasion", "Empire", "Republic", "Revolution", "Rebellion", "Ballad", "Song",
    "Waltz", "Tango", "Symphony", "Holiday", "Summer", "Winter", "Autumn", "Spring", "Midnight",
    "Dawn", "Twilight", "Horizon", "Paradise", "Inferno", "Labyrinth", "Carnival", "Masquerade",
)  # fmt: skip
TITLE_ADJECTIVES = (
    "Last", "Lost", "Dark", "Silent", "Secret", "Broken", "Golden", "Hidden", "Wild", "Little",
    "Big", "Great", "Long", "Forgotten", "Crimson", "Blue", "Black", "White", "Red", "Green",
    "Burning", "Frozen", "Endless", "Eternal", "Dangerous", "Beautiful", "Sweet", "Bitter",
    "Lonely", "Perfect", "Final", "First", "Second", "Strange", "Magnificent", "Invisible",
    "Savage", "Gentle", "Naked", "Haunted", "Restless", "Reckless", "Brave", "Wicked", "Happy",
)  # fmt: skip
PLACES = (
    "Paris", "Rome", "Casablanca", "Chicago", "Texas", "Manhattan", "Brooklyn", "Alaska",
    "Tokyo", "Shanghai", "Berlin", "Vienna", "Havana", "Montana", "Arizona", "Bombay", "Cairo",
    "Istanbul", "Monte Carlo", "Hollywood", "Broadway", "Tombstone", "Dodge City", "Santa Fe",
    "New Orleans", "San Francisco", "Louisiana", "Kentucky", "Saigon", "Hong Kong", "Rio",
    "Acapulco", "Marrakesh", "Zürich", "Kraków", "São Paulo", "Málaga", "Reykjavík", "Montréal",
    "Bogotá", "Córdoba", "Düsseldorf", "Tromsø", "Curaçao", "Plzeň",
)  # fmt: skip
# Non-English titles as they appear in the lists (kept in their own spelling).
FOREIGN_TITLES = (
    "Amélie", "Les Misérables", "La Dolce Vita", "Das Boot", "El Mariachi", "Y tu mamá también",
    "Señorita", "Café Society", "Pokémon", "Déjà Vu", "Fräulein", "Mañana", "Noël", "Ça ira",
    "Crème brûlée", "Büyük Aşk", "Łódź", "Ōkami", "À bout de souffle", "Cidade de Deus",
    "Solo Sunny", "Ça commence aujourd'hui", "Tōkyō Monogatari", "Smultronstället", "Žena",
)  # fmt: skip
NATIONALITIES = (
    "American", "British", "French", "German", "Italian", "Canadian", "Australian", "Indian",
    "Mexican", "Japanese", "Spanish", "Swedish", "Irish", "Soviet", "Brazilian",
)  # fmt: skip
STUDIOS = (
    "Paramount Pictures", "Metro-Goldwyn-Mayer", "Warner Bros.", "Universal Pictures",
    "Columbia Pictures", "20th Century Fox", "RKO Radio Pictures", "United Artists",
    "Walt Disney Pictures", "Lionsgate", "Miramax", "New Line Cinema", "A24", "Focus Features",
    "Republic Pictures", "Monogram Pictures", "Mutual Film", "Essanay Studios", "Vitagraph",
)  # fmt: skip
OCCUPATIONS = (
    "lawyer", "detective", "schoolteacher", "rancher", "journalist", "nurse", "boxer", "pilot",
    "con artist", "bank clerk", "widow", "heiress", "drifter", "sheriff", "gangster", "dancer",
    "scientist", "soldier", "priest", "musician", "photographer", "waitress", "senator",
    "private investigator", "stuntman", "chess prodigy", "astronaut", "librarian", "chef",
)  # fmt: skip
VERBS = (
    "falls in love with", "is hired to find", "returns to", "must protect", "escapes from",
    "investigates", "inherits", "travels to", "plots revenge against", "befriends",
    "confronts", "is framed for the murder of", "tries to win back", "goes undercover in",
    "is haunted by", "sets out to rescue", "competes against", "blackmails", "marries",
    "is torn between", "uncovers a conspiracy involving", "joins", "deserts", "robs",
)  # fmt: skip
OBJECTS = (
    "a mysterious stranger", "a wealthy rancher", "the family farm", "a small town", "a circus",
    "an old flame", "a corrupt politician", "a gang of bank robbers", "a stolen diamond",
    "a runaway heiress", "a haunted mansion", "a rival newspaper", "a traveling show",
    "a prizefighter", "an ocean liner", "a secret society", "a missing child", "the mob",
    "a dying millionaire", "an alien spacecraft", "the resistance", "a con man",
    "a jazz band", "a forbidden love", "an island community", "a desperate fugitive",
)  # fmt: skip
CIRCUMSTANCES = (
    "after the death of a parent", "during the Great Depression", "in post-war Europe",
    "on the eve of the revolution", "before the railroad arrives", "during a blizzard",
    "in the last days of the war", "while hiding a secret of their own", "against all odds",
    "in 1920s Chicago", "on the frontier", "with the help of an unlikely ally",
    "despite the objections of the town", "while a storm approaches", "in a single night",
)  # fmt: skip
ASPECTS = (
    "the performances", "the cinematography", "the screenplay", "the score", "the direction",
    "the visual effects", "the pacing", "the ending", "the dialogue", "the production design",
)  # fmt: skip
MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip
AWARD_CATEGORIES = (
    "Best Actor", "Best Actress", "Best Supporting Actor", "Best Supporting Actress",
    "Best Picture", "Best Director", "Best Original Screenplay", "Best Cinematography",
)  # fmt: skip


# --- records -----------------------------------------------------------------------------------


class MovieFactory:
    """Draws realistic movie records from one seeded random stream."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self._random = rng.random
        # Keys already handed out; 8-byte digests keep this small for millions of records.
        self._keys: set[bytes] = set()
        self._years = list(range(1900, NEWEST_YEAR + 1))
        # More films per year in the studio era, as in the per-year Wikipedia lists.
        self._year_cum_weights = list(
            itertools.accumulate(
                1 if y < 1910 else 4 if y < 1920 else 5 if y < 1960 else 3 if y < 2000 else 4
                for y in self._years
            )
        )
        self._genre_cum_weights = list(itertools.accumulate(GENRE_WEIGHTS))

    def pick(self, options: Sequence[str]) -> str:
        # random.choice() costs twice as much, and generating 1 GB is bound by these picks.
        return options[int(self._random() * len(options))]

    def person(self) -> str:
        pick, r = self.pick, self._random()
        if r < 0.004:
            return pick(FOREIGN_FULL_NAMES)
        first = pick(FIRST_NAMES_ACCENTED) if self._random() < 0.015 else pick(FIRST_NAMES)
        last = pick(LAST_NAMES_ACCENTED) if self._random() < 0.015 else pick(LAST_NAMES)
        if r < 0.05:
            return f"{first} {pick('ABCDEFGHJKLMNPRSTW')}. {last}"
        if r < 0.065:
            return f"{first} {last} {pick(SUFFIXES)}"
        return f"{first} {last}"

    def title(self) -> str:
        pick = self.pick
        noun, noun2, adj = pick(TITLE_NOUNS), pick(TITLE_NOUNS), pick(TITLE_ADJECTIVES)
        pattern = int(self._random() * 40)
        if pattern < 6:
            return f"The {noun}"
        if pattern < 11:
            return f"The {adj} {noun}"
        if pattern < 15:
            return f"{noun} of the {noun2}"
        if pattern < 20:
            return f"{adj} {noun}"
        if pattern < 22:
            return f"{pick(FIRST_NAMES)}'s {noun}"
        if pattern < 25:
            return f"{noun} in {pick(PLACES)}"
        if pattern < 26:
            return f"Return of the {adj} {noun}"
        if pattern < 28:
            return f"The {noun} {pick(('II', '2', '3', 'Part II', 'Returns'))}"
        if pattern < 30:
            return f"{noun}: The {adj} {noun2}"
        if pattern < 31:
            return f"A {noun} for {pick(FIRST_NAMES)}"
        if pattern < 32:
            return pick(FOREIGN_TITLES) + pick(("", "", " 2", " 3"))
        if pattern < 34:
            return f"The {adj} {noun} of {pick(PLACES)}"
        if pattern < 36:
            return f"{noun} and {noun2}"
        if pattern < 38:
            return f"{pick(FIRST_NAMES)} {pick(LAST_NAMES)}"
        return f"{adj} {noun2}s"

    def genres(self, year: int) -> list[str]:
        r = self._random()
        count = 0 if r < 0.05 else 1 if r < 0.6 else 2 if r < 0.9 else 3 if r < 0.98 else 4
        picked = self.rng.choices(GENRES, cum_weights=self._genre_cum_weights, k=count)
        if year < 1960:
            picked = [g for g in picked if g not in MODERN_GENRES]
        if year < 1929 and self._random() < 0.5:
            picked.append("Silent")
        return list(dict.fromkeys(picked))

    def cast(self, year: int) -> list[str]:
        if self._random() < (0.2 if year < 1930 else 0.08):
            return []
        count = max(1, min(60, round(self.rng.lognormvariate(math.log(4.5), 0.6))))
        return list(dict.fromkeys(self.person() for _ in range(count)))

    def extract(self, title: str, year: int, genres: list[str], cast: list[str]) -> str:
        """A Wikipedia-style lead: one intro sentence, then plot and reception, 300-2000 chars."""
        target = min(2000, max(300, round(self.rng.lognormvariate(math.log(850), 0.45))))
        kind = " ".join(g.lower() for g in genres[:2]) or "feature"
        intro = f"{title} is a {year} {self.pick(NATIONALITIES)} {kind} film directed by "
        intro += self.person()
        if self._random() < 0.5:
            intro += f" and written by {self.person()}"
        intro += "."
        if cast:
            stars = cast[:3]
            named = stars[0] if len(stars) == 1 else ", ".join(stars[:-1]) + " and " + stars[-1]
            intro += f" It stars {named}."
        parts = [intro]
        length = len(intro)
        while length < target:
            sentence = self._sentence(year, cast)
            if length + 1 + len(sentence) > 2000:
                break
            # A new paragraph now and then, as in multi-paragraph leads.
            parts.append("\n" if self._random() < 0.12 else " ")
            parts.append(sentence)
            length += 1 + len(sentence)
        text = "".join(parts)
        while len(text) < 300:
            text += " " + self._sentence(year, cast)
        return text[:2000].rstrip()

    def _sentence(self, year: int, cast: list[str]) -> str:
        pick, r = self.pick, self._random()
        if cast and self._random() < 0.5:
            who = pick(cast)
        else:
            job = pick(OCCUPATIONS)
            who = f"an {job}" if job[0] in "aeiou" else f"a {job}"
        if r < 0.55:
            s = f"{who} {pick(VERBS)} {pick(OBJECTS)} {pick(CIRCUMSTANCES)}."
            return s[0].upper() + s[1:]
        if r < 0.68:
            day = 1 + int(self._random() * 28)
            return f"The film was released by {pick(STUDIOS)} on {pick(MONTHS)} {day}, {year}."
        if r < 0.8:
            return (
                f"It received {pick(('mixed', 'positive', 'negative', 'generally favorable'))}"
                f" reviews from critics, who praised {pick(ASPECTS)} but criticized "
                f"{pick(ASPECTS)}."
            )
        if r < 0.88:
            gross = 1 + int(self._random() * (900 if year >= 1980 else 40))
            budget = max(1, gross // (2 + int(self._random() * 4)))
            return (
                f"It grossed ${gross} million worldwide against a production budget of "
                f"${budget} million."
            )
        if r < 0.94:
            return (
                f'The tagline on the original poster read "{pick(TITLE_ADJECTIVES)} '
                f"{pick(TITLE_NOUNS).lower()}, {pick(TITLE_ADJECTIVES).lower()} "
                f'{pick(TITLE_NOUNS).lower()}!"'
            )
        dash = "\u2013" if self._random() < 0.25 else "-"
        return (
            f"{who[0].upper() + who[1:]} received a nomination for the Academy Award for "
            f"{pick(AWARD_CATEGORIES)} {dash} the film's only nomination."
        )

    def thumbnail(self, href: str) -> tuple[str, int, int]:
        digest = hashlib.md5(href.encode(), usedforsecurity=False).hexdigest()
        name = self.pick((f"{href}_poster.jpg", f"{href}_(film).jpg", f"{href}_film_poster.png"))
        width = 220 if self._random() < 0.9 else 150 + int(self._random() * 150)
        height = round(width * (1.25 + 0.35 * self._random()))
        url = f"https://upload.wikimedia.org/wikipedia/en/{digest[0]}/{digest[:2]}/{name}"
        return url, width, height

    def movie(self) -> Record:
        year = self.rng.choices(self._years, cum_weights=self._year_cum_weights)[0]
        title = self.title()
        genres = self.genres(year)
        cast = self.cast(year)
        href: str | None = title.replace(" ", "_")
        r = self._random()
        if r < 0.04 + (0.1 if year < 1930 else 0.0):
            href = None  # no article
        elif r < 0.3:
            href = f"{href}_(film)"
        elif r < 0.45:
            href = f"{href}_({year}_film)"
        href = self._unique_href(title, year, href)
        movie: Record = {"title": title, "year": year, "cast": cast, "genres": genres}
        if href is not None:
            movie["href"] = href
            if self._random() < (0.55 if year < 1930 else 0.9):
                movie["extract"] = self.extract(title, year, genres, cast)
                if self._random() < (0.3 if year < 1930 else 0.75):
                    url, width, height = self.thumbnail(href)
                    movie["thumbnail"] = url
                    movie["thumbnail_width"] = width
                    movie["thumbnail_height"] = height
        return movie

    def namesake(self, other: Record) -> Record:
        """A different film with the same title and year (two films called Carmen in 1915)."""
        movie = self.movie()
        title, year = other["title"], other["year"]
        assert isinstance(title, str) and isinstance(year, int)
        movie["title"], movie["year"] = title, year
        director = self.person().split(" ")[-1]
        href = self._unique_href(title, year, f"{title.replace(' ', '_')}_({year}_{director}_film)")
        movie["href"] = href
        return movie

    def _unique_href(self, title: str, year: int, href: str | None) -> str | None:
        """Disambiguate href like Wikipedia does until (title, year, href) is a new key."""
        base = title.replace(" ", "_")
        candidates: Iterator[str | None] = itertools.chain(
            (href,),
            (f"{base}_({year}_{n}_film)" for n in NATIONALITIES),
            (f"{base}_({year}_film_{i})" for i in itertools.count(2)),
        )
        for candidate in candidates:
            key = f"{title}\0{year}\0{candidate}".encode()
            digest = hashlib.blake2b(key, digest_size=8).digest()
            if digest not in self._keys:
                self._keys.add(digest)
                return candidate
        raise AssertionError("unreachable")


# --- invalid records ---------------------------------------------------------------------------

# Record error codes the generator can plant; `parse` only in NDJSON (elsewhere it is a file error).
ERROR_CODES = (
    "type", "required", "length", "range", "format", "too_many_items", "duplicate_field",
    "duplicate_key", "parse",
)  # fmt: skip


def dumps(record: object, *, ascii_only: bool = False) -> bytes:
    return json.dumps(record, ensure_ascii=ascii_only, separators=(",", ":")).encode()


def _items(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


class Corruptor:
    """Turns a valid record into one with exactly one error of a chosen code."""

    def __init__(self, rng: random.Random, codes: Sequence[str]) -> None:
        self.rng = rng
        self.codes = codes

    def corrupt(
        self, movie: Record, previous: Record | None, ascii_only: bool
    ) -> tuple[str, bytes]:
        rng = self.rng
        code = rng.choice(self.codes)
        if code == "duplicate_key" and previous is None:
            code = "range"
        m = dict(movie)
        if code == "type":
            choice = rng.randrange(4)
            if choice == 0:
                m["year"] = str(m["year"])
            elif choice == 1:
                m["cast"] = "; ".join(map(str, _items(m["cast"]))) or "Nobody"
            elif choice == 2:
                m["genres"] = [*_items(m["genres"]), 7]
            else:
                return code, dumps([m["title"], m["year"]], ascii_only=ascii_only)
        elif code == "required":
            del m[rng.choice(("title", "year"))]
        elif code == "length":
            choice = rng.randrange(3)
            if choice == 0:
                m["title"] = "   "
            elif choice == 1:
                m["title"] = "Epic " * 101
            else:
                m["genres"] = [*_items(m["genres"]), ""]
        elif code == "range":
            m["year"] = rng.choice((1500, 1887, 3000, 10**30, -1))
        elif code == "format":
            m["thumbnail"] = rng.choice(("ftp://example.org/p.jpg", "poster.jpg", "https:///x"))
            m["thumbnail_width"], m["thumbnail_height"] = 220, 320
        elif code == "too_many_items":
            m["genres"] = [f"Genre {i}" for i in range(51)]
        elif code == "duplicate_field":
            raw = dumps(m, ascii_only=ascii_only)
            return code, b'{"year":' + str(m["year"]).encode() + b"," + raw[1:]
        elif code == "duplicate_key":
            assert previous is not None
            m = dict(previous)
            m["genres"] = [*_items(previous["genres"]), "Remake"]
        elif code == "parse":
            raw = dumps(m, ascii_only=ascii_only)
            return code, raw[: max(1, len(raw) // 2)]
        return code, dumps(m, ascii_only=ascii_only)


# --- writing -----------------------------------------------------------------------------------


@dataclass
class Output:
    """One file being written; it stops taking records once it reaches its own target."""

    path: Path
    format: Format
    target_bytes: int | None = None
    target_records: int | None = None
    records: int = 0
    record_bytes: int = 0
    _file: io.BufferedWriter | None = field(default=None, repr=False)
    _raw: io.FileIO | None = field(default=None, repr=False)

    def wants_more(self) -> bool:
        if self.target_records is not None:
            return self.records < self.target_records
        assert self.target_bytes is not None
        return self.record_bytes < self.target_bytes

    def open(self, seed: int) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._raw = raw = io.FileIO(self.path, "wb")
        if self.path.suffix == ".gz":
            # mtime=0 keeps the output byte-identical between runs. The buffer in front spares
            # zlib a call per record; BufferedWriter works over any writable stream.
            gz = gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0)
            self._file = io.BufferedWriter(gz, buffer_size=1 << 20)
        else:
            self._file = io.BufferedWriter(raw, buffer_size=1 << 20)
        if self.format == "json":
            self._file.write(b"[")
        elif self.format == "wrapper":
            header = {"provider": "benchmark", "generator": "benchmarks/generate.py", "seed": seed}
            self._file.write(dumps(header)[:-1] + b',"movies":[')

    def write(self, raw: bytes) -> None:
        f = self._file
        assert f is not None
        if self.format == "ndjson":
            f.write(raw)
            f.write(b"\n")
        else:
            f.write(b",\n" if self.records else b"\n")
            f.write(raw)
        self.records += 1
        self.record_bytes += len(raw) + 1

    def close(self) -> None:
        f = self._file
        assert f is not None and self._raw is not None
        if self.format == "json":
            f.write(b"\n]\n")
        elif self.format == "wrapper":
            f.write(b'\n],"count":' + str(self.records).encode() + b"}\n")
        f.close()
        self._raw.close()


@dataclass
class Stats:
    records: int = 0
    invalid: Counter[str] = field(default_factory=Counter)
    with_extract: int = 0
    without_cast: int = 0
    non_ascii: int = 0

    def to_dict(self) -> dict[str, object]:
        return {
            "records": self.records,
            "invalid": dict(sorted(self.invalid.items())),
            "with_extract": self.with_extract,
            "without_cast": self.without_cast,
            "non_ascii": self.non_ascii,
        }


def generate(
    outputs: Sequence[Output],
    *,
    seed: int = DEFAULT_SEED,
    invalid_fraction: float = 0.0,
    namesake_fraction: float = 0.003,
    id_fraction: float = 0.0,
    ascii_only: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Stats:
    """Write one stream of records to every output until each has reached its target.

    Outputs with the same target get exactly the same records (the targets count record
    bytes, which do not depend on the format).
    """
    rng = random.Random(seed)
    # The corruptor has its own stream so that planting errors does not change the valid records.
    corruptor_rng = random.Random(seed + 1)
    has_json = any(o.format != "ndjson" for o in outputs)
    codes = [c for c in ERROR_CODES if not (c == "parse" and has_json)]
    corruptor = Corruptor(corruptor_rng, codes)
    factory = MovieFactory(rng)
    stats = Stats()
    previous: Record | None = None
    for out in outputs:
        out.open(seed)
    try:
        while True:
            active = [o for o in outputs if o.wants_more()]
            if not active:
                break
            if previous is not None and rng.random() < namesake_fraction:
                movie = factory.namesake(previous)
            else:
                movie = factory.movie()
            if id_fraction and rng.random() < id_fraction:
                movie = {"id": stats.records + 1, **movie}
            if invalid_fraction and corruptor_rng.random() < invalid_fraction:
                code, raw = corruptor.corrupt(movie, previous, ascii_only)
                stats.invalid[code] += 1
            else:
                raw = dumps(movie, ascii_only=ascii_only)
                previous = movie
            stats.records += 1
            stats.with_extract += "extract" in movie
            stats.without_cast += not movie["cast"]
            stats.non_ascii += not raw.isascii()
            for out in active:
                out.write(raw)
            if progress is not None and stats.records % 10_000 == 0:
                progress(max(o.record_bytes for o in outputs))
    finally:
        for out in outputs:
            out.close()
    return stats


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    amount = parser.add_mutually_exclusive_group(required=True)
    amount.add_argument("--size-mb", type=float, help="record bytes to write, in MB (10^6 bytes)")
    amount.add_argument("--records", type=int, help="number of records to write")
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default=None,
        help='json (array), wrapper ({"movies": [...]}) or ndjson; default from the file name',
    )
    parser.add_argument(
        "-o", "--output", type=Path, required=True, help="output file; a .gz suffix compresses it"
    )
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument(
        "--invalid-fraction",
        type=float,
        default=0.0,
        help="fraction of records given exactly one error",
    )
    parser.add_argument(
        "--id-fraction",
        type=float,
        default=0.0,
        help="fraction of records given an integer provider id",
    )
    parser.add_argument("--ascii", action="store_true", help="escape every non-ASCII character")
    args = parser.parse_args(argv)

    fmt: Format = args.format or format_from_name(args.output)
    target_bytes = None if args.size_mb is None else int(args.size_mb * MB)
    out = Output(args.output, fmt, target_bytes=target_bytes, target_records=args.records)

    def progress(done: int) -> None:
        if target_bytes:
            print(f"\r{done / MB:8.1f} / {target_bytes / MB:.1f} MB", end="", file=sys.stderr)

    stats = generate(
        [out],
        seed=args.seed,
        invalid_fraction=args.invalid_fraction,
        id_fraction=args.id_fraction,
        ascii_only=args.ascii,
        progress=progress if sys.stderr.isatty() else None,
    )
    if sys.stderr.isatty() and target_bytes:
        print(file=sys.stderr)
    summary = {"path": str(args.output), "format": fmt, "bytes": args.output.stat().st_size}
    print(json.dumps(summary | stats.to_dict()))
    return 0


def format_from_name(path: Path) -> Format:
    name = path.name.removesuffix(".gz")
    return "ndjson" if name.endswith((".ndjson", ".jsonl")) else "json"


if __name__ == "__main__":
    sys.exit(main())
