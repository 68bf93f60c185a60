"""A list query of the catalog, as the API's parameters give it (``api/params.py`` parses them),
and what it takes for a movie to match it: the rules every answering path shares (the SQL in
``store/reads.py``, the in-memory search index, and the answer cache deciding which cached
answers a change touches)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

LIMIT_DEFAULT = 20

# sort → (column, descending)
SORTS = {"title": ("title", False), "-title": ("title", True), "year": ("year", False),
         "-year": ("year", True)}  # fmt: skip


@dataclass(frozen=True)
class MovieQuery:
    title: str | None = None
    year: int | None = None
    year_from: int | None = None
    year_to: int | None = None
    genres: tuple[str, ...] = ()  # every one of them
    any_genres: tuple[str, ...] = ()  # at least one of them
    exclude_genres: tuple[str, ...] = ()  # none of them
    cast: tuple[str, ...] = ()
    provider: str | None = None
    sort: str = "title"
    limit: int = LIMIT_DEFAULT
    cursor: str | None = None
    fields: tuple[str, ...] = ()  # the items' fields (all when empty): the bytes, not the matches

    @cached_property  # read several times per answer (cache keys, cursors, totals)
    def filters(self) -> str:
        """A digest of what selects the movies (not the order or the page): binds cursors and
        keys the cached ``total``."""
        text = repr((self.title, self.year, self.year_from, self.year_to, self.genres,
                     self.any_genres, self.exclude_genres, self.cast, self.provider))  # fmt: skip
        return hashlib.blake2b(text.encode(), digest_size=12).hexdigest()

    @cached_property
    def digest(self) -> str:
        text = repr((self.filters, self.sort, self.limit, self.cursor, self.fields))
        return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()

    @cached_property
    def years(self) -> tuple[int | None, int | None]:
        """``year``, ``year_from`` and ``year_to`` as one inclusive range."""
        lows = [y for y in (self.year, self.year_from) if y is not None]
        highs = [y for y in (self.year, self.year_to) if y is not None]
        return (max(lows) if lows else None, min(highs) if highs else None)


@dataclass(frozen=True, slots=True)
class Indexed:
    """What a list query can select a movie by: the search index's columns."""

    title_search: str  # lower(title), as PostgreSQL lower-cases it
    year: int
    provider: str
    genres: tuple[str, ...]
    cast: tuple[str, ...]


def matches(q: MovieQuery, movie: Indexed, title: str | None) -> bool:
    """Whether ``movie`` may be selected by ``q``'s filters, ``title`` being ``q.title``
    lower-cased as PostgreSQL does it; ``None`` when the caller cannot tell how, and then only
    the other filters decide (the answer errs towards "it may match")."""
    if q.title is not None and title is not None and title not in movie.title_search:
        return False
    low, high = q.years
    return (
        (low is None or movie.year >= low)
        and (high is None or movie.year <= high)
        and (q.provider is None or movie.provider == q.provider)
        and all(g in movie.genres for g in q.genres)
        and (not q.any_genres or any(g in movie.genres for g in q.any_genres))
        and not any(g in movie.genres for g in q.exclude_genres)
        and all(c in movie.cast for c in q.cast)
    )
