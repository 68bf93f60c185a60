"""The answer cache without a server: bounds, and which cached answers a change leaves good.

The property that matters: whenever a cached answer is kept across changes (``usable``), it is
the answer the new catalog gives (checked against a model catalog whose answers are computed
from scratch, by a filter written here independently of ``catalog.query.matches``)."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given
from hypothesis import strategies as st

from moviestore.api.answer_cache import Answer, LocalAnswers, usable
from moviestore.api.changes import GENRES, MAX_STEPS, ChangeLog, OfList, OfMovie, Step
from moviestore.api.version import View
from moviestore.catalog.query import Indexed, MovieQuery

MOVIE = OfMovie(1)


def test_expired_answers_are_not_served() -> None:
    cache = LocalAnswers(max_entries=10, max_bytes=1000, ttl_seconds=-1)
    cache.put("k", Answer.of(b"x"), 1, MOVIE)
    assert cache.get("k") is None


@given(
    st.lists(st.tuples(st.integers(0, 20), st.binary(max_size=300)), max_size=200),
    st.integers(1, 8),
    st.integers(1, 1000),
)
def test_bounds_hold_and_the_newest_answer_is_kept(
    puts: list[tuple[int, bytes]], max_entries: int, max_bytes: int
) -> None:
    cache = LocalAnswers(max_entries=max_entries, max_bytes=max_bytes, ttl_seconds=60)
    for key, body in puts:
        cache.put(key, Answer.of(body), 1, MOVIE)
        assert len(cache.entries) <= max_entries
        assert cache.bytes == sum(len(e.answer.body) for e in cache.entries.values()) <= max_bytes
        if len(body) <= max_bytes:
            found = cache.get(key)
            assert found is not None and found.answer == Answer.of(body)


def test_etags_tell_bodies_apart() -> None:
    assert Answer.of(b"a").etag != Answer.of(b"b").etag
    assert Answer.of(b"a").etag == Answer.of(b"a").etag
    assert Answer.of(b"a").etag.startswith('"') and Answer.of(b"a").etag.endswith('"')


def step(
    since: int, ids: set[int], movies: list[tuple[Indexed | None, Indexed | None]] | None
) -> Step:
    return Step(since, since + 1, frozenset(ids), None if movies is None else tuple(movies))


ALIEN = Indexed("alien", 1979, "acme", ("Horror",), ("Sigourney Weaver",))
AMELIE = Indexed("amélie", 2001, "globex", ("Comedy",), ())


def test_the_log_tells_the_steps_after_a_version_and_forgets_old_ones() -> None:
    log = ChangeLog(10)
    for v in range(10, 15):
        log = log.then(step(v, {v}, []))
    assert [s.version for s in log.after(12) or []] == [13, 14, 15]
    assert log.after(15) == ()
    assert log.after(9) is None  # before the horizon: unknown
    for v in range(15, 15 + MAX_STEPS):
        log = log.then(step(v, {v}, []))
    assert len(log.steps) == MAX_STEPS and log.horizon == log.steps[0].since
    assert log.after(log.horizon - 1) is None


def test_what_each_kind_of_answer_depends_on() -> None:
    horror = OfList(MovieQuery(genres=("Horror",)), None)
    titled = OfList(MovieQuery(title="ali"), "ali")
    comedy_change = step(1, {2}, [(AMELIE, replace(AMELIE, year=2002))])
    assert not horror.touched_by(comedy_change) and not titled.touched_by(comedy_change)
    assert not OfMovie(1).touched_by(comedy_change) and OfMovie(2).touched_by(comedy_change)
    assert not GENRES.touched_by(comedy_change)  # its genres did not change
    # Before or after: a movie leaving the filters touches the answer as much as one entering.
    leaves = step(1, {1}, [(ALIEN, replace(ALIEN, genres=("Drama",)))])
    assert horror.touched_by(leaves) and GENRES.touched_by(leaves)
    assert titled.touched_by(step(1, {3}, [(None, replace(AMELIE, title_search="alice"))]))
    assert GENRES.touched_by(step(1, {3}, [(None, AMELIE)]))  # a movie came
    unknown = step(1, {1}, None)  # too many to tell one by one
    assert horror.touched_by(unknown) and GENRES.touched_by(unknown)
    assert not OfMovie(2).touched_by(unknown)
    # A title the process cannot lower-case as PostgreSQL does: only the other filters decide.
    assert OfList(MovieQuery(title="AMÉ"), None).touched_by(comedy_change)
    assert not OfList(MovieQuery(title="AMÉ", provider="acme"), None).touched_by(comedy_change)


def test_an_answer_is_usable_at_its_version_and_at_later_ones_no_change_touched() -> None:
    log = ChangeLog(5).then(step(5, {2}, [(AMELIE, None)])).then(step(6, {1}, [(ALIEN, None)]))
    view = View(7, None, log)
    assert usable(7, MOVIE, view)
    assert not usable(8, MOVIE, view)  # from a process ahead of this one
    assert usable(6, OfMovie(3), view) and not usable(6, OfMovie(1), view)
    assert usable(5, OfMovie(3), view) and not usable(5, OfMovie(2), view)
    assert not usable(4, OfMovie(3), view)  # older than the log reaches
    assert not usable(7, MOVIE, View(None, None, ChangeLog(0)))


# --- the property ------------------------------------------------------------------------

WORDS = ["alien", "love", "night", "ève", "a"]
movies = st.builds(
    Indexed,
    title_search=st.lists(st.sampled_from(WORDS), min_size=1, max_size=3).map(" ".join),
    year=st.integers(1990, 1994),
    provider=st.sampled_from(["acme", "globex"]),
    genres=st.lists(st.sampled_from(["Drama", "Horror"]), max_size=2).map(tuple),
    cast=st.lists(st.sampled_from(["Ann", "Bo"]), max_size=2).map(tuple),
)
query = st.builds(
    MovieQuery,
    title=st.none() | st.sampled_from(["al", "ove", "e", "èv", "night a"]),
    year_from=st.none() | st.integers(1990, 1994),
    year_to=st.none() | st.integers(1990, 1994),
    genres=st.lists(st.sampled_from(["Drama", "Horror"]), max_size=1).map(tuple),
    any_genres=st.lists(st.sampled_from(["Drama", "Horror", "Noir"]), max_size=2).map(tuple),
    exclude_genres=st.lists(st.sampled_from(["Drama", "Horror"]), max_size=1).map(tuple),
    cast=st.lists(st.sampled_from(["Ann", "Bo"]), max_size=1).map(tuple),
    provider=st.none() | st.sampled_from(["acme", "globex"]),
    fields=st.sampled_from([(), ("id",), ("title", "year")]),
)
catalogs = st.dictionaries(st.integers(1, 8), movies, max_size=8)


def answer(catalog: dict[int, Indexed], q: MovieQuery) -> list[tuple[int, Indexed]]:
    """The model's list answer: every match, in id order, written out plainly."""
    return [
        (movie_id, m)
        for movie_id, m in sorted(catalog.items())
        if (q.title is None or q.title in m.title_search)
        and (q.year_from is None or m.year >= q.year_from)
        and (q.year_to is None or m.year <= q.year_to)
        and set(q.genres) <= set(m.genres)
        and (not q.any_genres or bool(set(q.any_genres) & set(m.genres)))
        and not set(q.exclude_genres) & set(m.genres)
        and set(q.cast) <= set(m.cast)
        and (q.provider is None or m.provider == q.provider)
    ]


@given(start=catalogs, later=st.lists(catalogs, min_size=1, max_size=4), q=query)
def test_an_answer_kept_across_changes_is_the_answer_after_them(
    start: dict[int, Indexed], later: list[dict[int, Indexed]], q: MovieQuery
) -> None:
    log, catalog = ChangeLog(0), start
    for version, changed in enumerate(later):
        after = {**catalog, **changed}
        for gone in [i for i in changed if i % 3 == 0]:  # some changes take movies away
            after.pop(gone)
        ids = set(changed)
        log = log.then(step(version, ids, [(catalog.get(i), after.get(i)) for i in sorted(ids)]))
        catalog = after
    view = View(len(later), None, log)
    title = None if q.title is None or not q.title.isascii() else q.title
    if usable(0, OfList(q, title), view):
        assert answer(catalog, q) == answer(start, q)
    for movie_id in range(1, 9):
        if usable(0, OfMovie(movie_id), view):
            assert catalog.get(movie_id) == start.get(movie_id)
