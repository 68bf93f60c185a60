"""The Python face of the search index (moviestore._validator.SearchIndex): what it answers
for a small catalog fed as binary COPY, and a clear error for every misuse. Its answers for
any query are checked against PostgreSQL in tests/integration/api/test_api_search_index.py."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from moviestore._validator import CHANGE_COLUMNS, INDEX_COLUMNS, IndexBuilder, SearchIndex

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


Movie = tuple[int, str, int, str, list[str], list[str]]


def tuple_data(movie: Movie) -> bytes:
    movie_id, title, year, provider, genres, cast = movie
    out = field(struct.pack(">q", movie_id)) + field(title.lower().encode())
    out += field(title.encode()) + field(struct.pack(">i", year)) + field(provider.encode())
    return out + text_array(genres) + text_array(cast)


def copy_data(movies: list[Movie]) -> bytes:
    out = SIGNATURE + struct.pack(">ii", 0, 0)
    for movie in movies:
        out += struct.pack(">h", len(INDEX_COLUMNS)) + tuple_data(movie)
    return out + struct.pack(">h", -1)


def change_rows(rows: list[tuple[Movie, int | None]]) -> bytes:
    """Binary COPY of CHANGE_COLUMNS: each movie with its predecessor's id (None: first)."""
    out = SIGNATURE + struct.pack(">ii", 0, 0)
    for movie, after in rows:
        out += struct.pack(">h", len(CHANGE_COLUMNS)) + tuple_data(movie)
        out += struct.pack(">i", -1) if after is None else field(struct.pack(">q", after))
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
    assert CHANGE_COLUMNS[:-1] == INDEX_COLUMNS
    assert CHANGE_COLUMNS[-1] == "after_id"


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


def test_a_change_set_makes_a_new_index_and_leaves_the_old_one_as_it_was() -> None:
    index = built(copy_data(MOVIES))
    amelie: Movie = (2, "Amélie", 2002, "globex", ["Comedy", "Romance"], ["Audrey Tautou"])
    new: Movie = (4, "Aardvark", 1990, "initech", ["Comedy"], [])
    # Alien (3) is removed, Amélie (2) changed, Aardvark (4) added first.
    changed = index.apply([3, 2, 4], change_rows([(new, None), (amelie, 1)]))
    assert (len(changed), changed.delta_movies, changed.removed_movies) == (3, 2, 2)
    assert search(changed) == (3, [4, 1, 2])
    assert search(changed, genres=["Comedy"], sort="-year") == (2, [2, 4])
    assert search(changed, provider="initech") == (1, [4])
    assert search(changed, title="a", sort="year", after=(1990, 4)) == (3, [2])
    assert search(changed, after=("Alien", 3)) is None  # gone
    assert search(index) == (3, [3, 1, 2])  # the old index is unchanged
    assert changed.attributes([2, 3, 1, 99]) == [
        ("amélie", 2002, "globex", ["Comedy", "Romance"], ["Audrey Tautou"]),
        None,
        ("aliens", 1986, "acme", ["Action", "Science Fiction"], ["Sigourney Weaver"]),
        None,
    ]
    merged = changed.merged()
    assert (merged.delta_movies, merged.removed_movies, len(merged)) == (0, 0, 3)
    assert search(merged, title="a") == search(changed, title="a") == (3, [4, 1, 2])


def test_a_saved_index_is_opened_mapped(tmp_path: Path) -> None:
    index = built(copy_data(MOVIES))
    path = tmp_path / "catalog.idx"
    index.save(str(path))
    opened = SearchIndex.open(str(path))
    assert opened.mapped_bytes == path.stat().st_size > 0
    assert index.mapped_bytes == 0 and opened.memory_bytes < index.memory_bytes
    assert search(opened, title="lien") == (2, [3, 1])
    changed = opened.apply([1], b"")
    assert search(changed, title="lien") == (1, [3])
    merged = changed.merged(tmp_path / "merged.idx")  # written there, and mapped
    assert merged.mapped_bytes > 0 and search(merged, title="lien") == (1, [3])
    builder = IndexBuilder(tmp_path)  # its columns gathered in files there meanwhile
    builder.feed(copy_data(MOVIES))
    assert any(p.name.startswith(".spill-") for p in tmp_path.iterdir())
    fresh = builder.finish(tmp_path / "fresh.idx")  # likewise
    assert fresh.mapped_bytes > 0 and search(fresh, title="lien") == (2, [3, 1])
    names = ["catalog.idx", "fresh.idx", "merged.idx"]  # the gathered columns gone
    assert [p.name for p in sorted(tmp_path.iterdir())] == names


def test_changes_that_do_not_fit_are_a_clear_value_error(tmp_path: Path) -> None:
    index = built(copy_data(MOVIES))
    new: Movie = (4, "Zorro", 1990, "acme", [], [])
    with pytest.raises(ValueError, match="movie 4: its predecessor, movie 9, is not live"):
        index.apply([4], change_rows([(new, 9)]))
    with pytest.raises(ValueError, match="movie 4: its predecessor, movie 2, is not live"):
        index.apply([4, 2], change_rows([(new, 2)]))
    with pytest.raises(ValueError, match="movie 4: a row whose id is not among the changed ids"):
        index.apply([], change_rows([(new, 2)]))
    with pytest.raises(ValueError, match="change row 1: 7 columns, not the 8"):
        index.apply([4], copy_data([new]))
    with pytest.raises(ValueError, match="holds changes"):
        index.apply([1], b"").save(str(tmp_path / "x.idx"))
    with pytest.raises(TypeError):
        index.apply("1", b"")  # type: ignore[arg-type]


def test_a_file_that_is_not_a_segment_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "catalog.idx"
    built(copy_data(MOVIES)).save(path)
    data = path.read_bytes()
    for damaged in (data[:-1], data[:100], b"", data[:-8] + bytes(8)):
        path.write_bytes(damaged)  # a new file each time (the contract: never rewrite in place)
        with pytest.raises(ValueError, match="not a valid search index segment"):
            SearchIndex.open(path)
    with pytest.raises(FileNotFoundError):
        SearchIndex.open(tmp_path / "missing.idx")
