"""msgspec: typed Structs with Meta constraints, and the rules msgspec cannot say in Python.

Also a script (`python -m peers.msgspec_structs FILE` from benchmarks/): the peer of
`moviestore validate` timed as a whole process."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Annotated

import msgspec
from msgspec import Meta

from peers import CHUNK, MAX_YEAR, URL_PATTERN, Counts, Runner

Name = Annotated[str, Meta(min_length=1, max_length=200)]
Genre = Annotated[str, Meta(min_length=1, max_length=64)]
Size = Annotated[int, Meta(ge=1, le=100_000)]


class Movie(msgspec.Struct):
    title: Annotated[str, Meta(min_length=1, max_length=500)]
    year: Annotated[int, Meta(ge=1888, le=MAX_YEAR)]
    cast: Annotated[list[Name], Meta(max_length=1000)] | None = None
    genres: Annotated[list[Genre], Meta(max_length=50)] | None = None
    id: Annotated[str, Meta(min_length=1, max_length=200)] | int | None = None
    href: Annotated[str, Meta(max_length=1000)] | None = None
    extract: Annotated[str, Meta(max_length=100_000)] | None = None
    thumbnail: Annotated[str, Meta(max_length=2000, pattern=URL_PATTERN)] | None = None
    thumbnail_width: Size | None = None
    thumbnail_height: Size | None = None


DECODE_ERRORS = (msgspec.ValidationError, msgspec.DecodeError)


def prepare_array() -> Runner:
    decoder = msgspec.json.Decoder(list[Movie])

    def run(path: Path) -> Counts:
        with open(path, "rb") as f:
            movies = decoder.decode(f.read())
        return Counts(len(movies), len(movies))

    return run


def prepare_ndjson() -> Runner:
    decode = msgspec.json.Decoder(Movie).decode

    def run(path: Path) -> Counts:
        total = valid = 0
        with open(path, "rb", buffering=CHUNK) as f:
            for line in f:
                total += 1
                try:
                    decode(line)
                    valid += 1
                except DECODE_ERRORS:
                    pass
        return Counts(total, valid)

    return run


Content = tuple[object, ...]


class Rules:
    """Trimming, repeats collapsed and record keys, in plain Python, after msgspec."""

    def __init__(self) -> None:
        self.seen: dict[Content, Content] = {}
        self.valid = 0

    def check(self, m: Movie) -> None:
        title = m.title.strip()
        cast = list(dict.fromkeys(c.strip() for c in m.cast or ()))
        genres = list(dict.fromkeys(g.strip() for g in m.genres or ()))
        if not title or "" in cast or "" in genres:
            return
        id_ = None if m.id is None else str(m.id).strip()
        href = None if m.href is None else m.href.strip()
        extract = None if m.extract is None else m.extract.strip()
        thumbnail = None if m.thumbnail is None else m.thumbnail.strip()
        content: Content = (title, m.year, id_, href, cast, genres, extract, thumbnail)
        content += (m.thumbnail_width, m.thumbnail_height)
        key = (id_,) if id_ is not None else (None, title, m.year, href)
        # The first record with a key is valid; an identical one is collapsed, another invalid.
        if self.seen.setdefault(key, content) is content:
            self.valid += 1


def prepare_rules_array() -> Runner:
    decoder = msgspec.json.Decoder(list[Movie])

    def run(path: Path) -> Counts:
        with open(path, "rb") as f:
            movies: Iterable[Movie] = decoder.decode(f.read())
        rules, total = Rules(), 0
        for movie in movies:
            total += 1
            rules.check(movie)
        return Counts(total, rules.valid)

    return run


def prepare_rules_ndjson() -> Runner:
    decode = msgspec.json.Decoder(Movie).decode

    def run(path: Path) -> Counts:
        rules, total = Rules(), 0
        with open(path, "rb", buffering=CHUNK) as f:
            for line in f:
                total += 1
                with contextlib.suppress(*DECODE_ERRORS):
                    rules.check(decode(line))
        return Counts(total, rules.valid)

    return run


def main(argv: list[str]) -> int:
    """A plain msgspec script, for the whole-process comparison: validate one file (NDJSON by
    its name, else an array) and print the counts."""
    path = Path(argv[0])
    run = prepare_ndjson() if path.suffix in {".ndjson", ".jsonl"} else prepare_array()
    counts = run(path)
    print(f'{{"records": {counts.total}, "valid": {counts.valid}}}')
    return 0 if counts.valid == counts.total else 1


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
