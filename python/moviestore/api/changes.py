"""The changes this process has applied, and which cached answers they touch.

Each time the process moves to a newer catalog version it appends a ``Step``: the movies that
changed, each as the search index held it before and after. A cached answer is kept across a
step that touches nothing it depends on (``Dependency``), so providers uploading all day do not
empty the caches: a movie's detail goes stale only when that movie changed, a list answer only
when a changed movie matches its filters before or after the change, the genres only when a
movie's genres changed or a movie came or went.
"""

from __future__ import annotations

import bisect
from collections.abc import Sequence
from dataclasses import dataclass

from moviestore.catalog.query import Indexed, MovieQuery, matches

# Steps kept: enough for answers cached up to the cache TTL ago at one version every second.
MAX_STEPS = 512


@dataclass(frozen=True, slots=True)
class Step:
    """From catalog version ``since`` to ``version``."""

    since: int
    version: int
    ids: frozenset[int]
    # (before, after) of each changed movie, None when absent; None: not known (too many to
    # check one by one, or no index to tell the before), so every list answer is touched.
    movies: tuple[tuple[Indexed | None, Indexed | None], ...] | None

    @property
    def genres_changed(self) -> bool:
        if self.movies is None:
            return True
        return any(
            before is None or after is None or before.genres != after.genres
            for before, after in self.movies
        )


@dataclass(frozen=True)
class ChangeLog:
    """Steps from ``horizon`` on, oldest first, contiguous; immutable (each step makes a new
    log, swapped in whole by the version's owner)."""

    horizon: int
    steps: tuple[Step, ...] = ()

    def after(self, version: int) -> Sequence[Step] | None:
        """The steps after ``version``; None if they are not known (before the horizon)."""
        if version < self.horizon:
            return None
        ends = [s.version for s in self.steps]
        return self.steps[bisect.bisect_right(ends, version) :]

    def then(self, step: Step) -> ChangeLog:
        steps = (*self.steps, step)
        if len(steps) <= MAX_STEPS:
            return ChangeLog(self.horizon, steps)
        return ChangeLog(steps[-MAX_STEPS].since, steps[-MAX_STEPS:])


class Dependency:
    """What a cached answer was computed from."""

    __slots__ = ()

    def touched_by(self, step: Step) -> bool:
        raise NotImplementedError


class OfMovie(Dependency):
    __slots__ = ("movie_id",)

    def __init__(self, movie_id: int):
        self.movie_id = movie_id

    def touched_by(self, step: Step) -> bool:
        return self.movie_id in step.ids


class OfList(Dependency):
    """``title`` is the query's title lower-cased as PostgreSQL does it, None if unknown."""

    __slots__ = ("query", "title")

    def __init__(self, query: MovieQuery, title: str | None):
        self.query, self.title = query, title

    def touched_by(self, step: Step) -> bool:
        if step.movies is None:
            return True
        q, title = self.query, self.title
        return any(
            movie is not None and matches(q, movie, title) for pair in step.movies for movie in pair
        )


class OfGenres(Dependency):
    __slots__ = ()

    def touched_by(self, step: Step) -> bool:
        return step.genres_changed


GENRES = OfGenres()


def untouched(dependency: Dependency, steps: Sequence[Step]) -> bool:
    return not any(dependency.touched_by(step) for step in steps)
