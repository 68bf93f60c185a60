"""The Python face of the search index (moviestore._validator.SearchIndex): what it answers
for a small catalog fed as binary COPY, and a clear error for every misuse. Its answers for
any query are checked against PostgreSQL in tests/integration/api/test_api_search_index.py."""

from __future__ import annotations

import struct

import pytest

from moviestore._validator import INDEX_COLUMNS, IndexBuilder, SearchIndex

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
MOVIES = [  # (id, title, year, provider, genres, cast), in title order
    (3, "Alien", 1979, "acme", ["Horror", "Science Fiction"], ["Sigourney Weaver"]),
    (1, "Aliens", 1986, "acme", ["Action", "Science Fiction"], ["Sigourney Weaver"]),
    (2, "Amélie", 2001, "globex", ["Comedy"], []),
]


def field(value: bytes) -> bytes:
    return struct.pack(">i", len(value)) + value


def text_array(items: list[str]) -> bytes:
    if not items:
        return field(struct.pack(">iii", 0, 0, 25))
    body = struct.pack(">iiiii", 1, 0, 25, len(items), 1)
    return field(body + b"".join(field(item.encode()) for item in items))


def copy_data(movies: list[tuple[int, str, int, str, list[str], list[str]]]) -> bytes:
    out = SIGNATURE + struct.pack(">ii", 0, 0)
    for movie_id, title, year, provider, genres, cast in movies:
        out += struct.pack(">h", len(INDEX_COLUMNS))
        out += field(struct.pack(">q", movie_id)) + field(title.lower().encode())
        out += field(title.encode()) + field(struct.pack(">i", year)) + field(provider.encode())
        out += text_array(genres) + text_array(cast)
    return out + struct.pack(">h", -1)


def built(data: bytes) -> SearchIndex:
    builder = IndexBuilder()
    builder.feed(data)
    return builder.finish()


def search(index: SearchIndex, **given: object) -> tuple[int, list[int]] | None:
    query: dict[str, object] = {
        "title": None, "year_from": None, "year_to": None, "genres": [], "cast": [],
        "provider": None, "sort": "title", "after": None, "limit": 10,
    }  # fmt: skip
    query.update(given)
    return index.search(**query)  # type: ignore[arg-type]


def test_the_columns_are_those_the_copy_statement_selects() -> None:
    assert INDEX_COLUMNS == ("id", "title_search", "title", "year", "provider", "genres", "cast")


def test_a_small_catalog_is_searched() -> None:
    index = built(copy_data(MOVIES))
    assert len(index) == 3
    assert index.memory_bytes > 0
    assert search(index, title="lien") == (2, [3, 1])
    assert search(index, title="lien", sort="-year") == (2, [1, 3])
    assert search(index, title="amélie") == (1, [2])
    assert search(index, genres=["Science Fiction"], cast=["Sigourney Weaver"], limit=1) == (
        2,
        [3],
    )
    assert search(index, year_from=1980, year_to=2001) == (2, [1, 2])
    assert search(index, provider="globex") == (1, [2])
    assert search(index, after=("Alien", 3)) == (3, [1, 2])
    assert search(index, sort="year", after=(1979, 3)) == (3, [1, 2])
    assert search(index, genres=["Western"]) == (0, [])
    assert search(index, after=("Alien (renamed)", 3)) is None  # only PostgreSQL can place it


def test_copy_data_cut_anywhere_builds_the_same_index() -> None:
    data = copy_data(MOVIES)
    for size in (1, 5, 17, 100):
        builder = IndexBuilder()
        for at in range(0, len(data), size):
            builder.feed(data[at : at + size])
        index = builder.finish()
        assert search(index, title="a") == (3, [3, 1, 2])


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"not binary COPY data", "bad signature"),
        (copy_data(MOVIES)[:-2], "ended before its trailer"),
        (copy_data(MOVIES) + b"\x00", "after the trailer"),
        (copy_data([(1, "A", 2000, "p", [], [])]).replace(b"\x00\x07", b"\x00\x05", 1),
         "movie 1: 5 columns, not the 7"),
        (copy_data([(1, "A", 2000, "p", [], []), (1, "B", 2000, "p", [], [])]),
         "an id appears twice"),
    ],
)  # fmt: skip
def test_malformed_copy_data_is_a_clear_value_error(data: bytes, message: str) -> None:
    builder = IndexBuilder()
    with pytest.raises(ValueError, match=message):
        builder.feed(data)
        builder.finish()


def test_misuse_is_a_clear_error() -> None:
    builder = IndexBuilder()
    builder.feed(copy_data(MOVIES))
    index = builder.finish()
    with pytest.raises(RuntimeError, match="already built"):
        builder.finish()
    with pytest.raises(RuntimeError, match="already built"):
        builder.feed(b"")
    with pytest.raises(ValueError, match="unknown sort"):
        search(index, sort="rating")
    with pytest.raises(TypeError):
        search(index, sort="year", after=("1979", 3))  # a year cursor holds a year
