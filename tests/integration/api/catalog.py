"""A known catalog for the API tests, and the slow, obvious model of every query on it.

The model filters and sorts plain Python lists; the API must agree with it exactly (the test
database uses the C.UTF-8 collation, i.e. code point order, like Python's string sort).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass, field
from typing import Any

import psycopg
from psycopg import sql

from moviestore.store.feed import commit_version
from moviestore.store.migrate import migrate

GENRES = ["Drama", "Comedy", "Science Fiction", "Crime", "Horror", "Action", "Musical", "Noir"]
CAST = [f"{first} {last}" for first in ("Ann", "Bob", "Chloé", "Dev", "Eve", "Fu")
        for last in ("Li", "O'Hara", "Smith", "Ødegaard", "Park")]  # fmt: skip
WORDS = ["Love", "love", "Night", "Star", "100%", "Under_Score", "Back\\slash", "Amélie", "Ω",
         "Dawn", "Lucy", "City", "Return", "Code", "The", "of", "a", "🎬"]  # fmt: skip
PROVIDERS = ["acme", "globex", "initech"]


@dataclass
class Movie:
    id: int
    provider: str
    title: str
    year: int
    genres: list[str]
    cast: list[str]
    extra: dict[str, Any] = field(default_factory=dict)


def generate(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        rows.append({
            "provider": rng.choice(PROVIDERS),
            "title": " ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 4))),
            # few distinct years: many ties, so the id tie-break matters
            "year": rng.randint(1990, 2005),
            "genres": rng.sample(GENRES, rng.randint(0, 3)),
            "cast": rng.sample(CAST, rng.randint(0, 4)),
        })  # fmt: skip
    return rows


def create_database(admin_url: str, name: str, icu_locale: str | None = None) -> str:
    """A migrated database; its titles sort by ``icu_locale``'s rules if given (else by code
    point: the stack's cluster is C.UTF-8)."""
    collation = f" TEMPLATE template0 LOCALE_PROVIDER icu ICU_LOCALE '{icu_locale}'"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"' + (collation if icu_locale else ""))
    url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    migrate(url)
    return url


def new_ingestion(conn: psycopg.Connection) -> int:
    row = conn.execute(
        "INSERT INTO ingestions (bucket, key, version, provider, status)"
        " VALUES ('b', 'k', %s, 'acme', 'loaded') RETURNING id",
        (uuid.uuid4().hex,),
    ).fetchone()
    assert row is not None
    return int(row[0])


def commit(
    conn: psycopg.Connection, ingestion: int, changed: dict[int, str], walk: bool | None = None
) -> int:
    """What an ingestion's transaction ends with (``store.loader`` logs the changes as it
    writes movies): the changed movies in the change feed, and a new catalog version with its
    change rows; ``walk``: how the commit finds the predecessors (a walk of the catalog or a
    probe each; else as the catalog's size says)."""
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO catalog_changes (ingestion_id, movie_id, change) VALUES (%s, %s, %s)",
            [(ingestion, movie_id, change) for movie_id, change in changed.items()],
        )
    catalog = None if walk is None else (2 * len(changed) if walk else 10**9)
    return commit_version(conn, ingestion, len(changed), catalog_movies=catalog)


def load(url: str, rows: list[dict[str, Any]]) -> list[Movie]:
    """Insert the rows as movies, in one commit as an ingestion makes it."""
    movies = []
    with psycopg.connect(url) as conn:
        ingestion = new_ingestion(conn)
        for r in rows:
            got = conn.execute(
                """INSERT INTO movies (provider, record_key, title, year, genres, "cast",
                       content_hash, ingestion_id, source_key)
                   VALUES (%s, %s, %s, %s, %s, %s, 0, %s, 'k') RETURNING id""",
                (r["provider"], uuid.uuid4(), r["title"], r["year"], r["genres"], r["cast"],
                 ingestion),
            ).fetchone()  # fmt: skip
            assert got is not None
            movies.append(Movie(got[0], r["provider"], r["title"], r["year"], r["genres"],
                                r["cast"]))  # fmt: skip
        commit(conn, ingestion, {m.id: "inserted" for m in movies})
    return movies


def movie_ids(conn: psycopg.Connection, withdrawn: bool) -> list[int]:
    """The ids of the live movies, or of the withdrawn ones, in order."""
    state = "NOT NULL" if withdrawn else "NULL"
    query = f"SELECT id FROM movies WHERE withdrawn_at IS {state} ORDER BY id"
    return [r[0] for r in conn.execute(query)]


def select(movies: list[Movie], params: dict[str, Any]) -> list[Movie]:
    """The model: which movies a query selects, in the order the API must return them."""
    found = [m for m in movies if matches(m, params)]
    sort = params.get("sort", "title")
    column = sort.lstrip("-")
    found.sort(key=lambda m: (getattr(m, column), m.id), reverse=sort.startswith("-"))
    return found


def matches(m: Movie, p: dict[str, Any]) -> bool:
    return (
        ("title" not in p or p["title"].lower() in m.title.lower())
        and ("year" not in p or m.year == p["year"])
        and ("year_from" not in p or m.year >= p["year_from"])
        and ("year_to" not in p or m.year <= p["year_to"])
        and set(p.get("genre", [])) <= set(m.genres)
        and ("any_genre" not in p or bool(set(p["any_genre"]) & set(m.genres)))
        and not set(p.get("exclude_genre", [])) & set(m.genres)
        and set(p.get("cast", [])) <= set(m.cast)
        and ("provider" not in p or m.provider == p["provider"])
    )


@dataclass
class Commits:
    """Change sets committed to a test database as ingestions commit them (the rows, the change
    feed and the version in one transaction): movies added, changed, withdrawn (the loader's
    soft delete) and brought back."""

    url: str
    rng: random.Random

    def movie(self) -> dict[str, Any]:
        return generate(1, seed=self.rng.randrange(10**9))[0]

    def change(
        self,
        inserts: int,
        updates: int,
        removals: int,
        seed: int | None = None,
        *,
        comebacks: int = 0,
        walk: bool | None = None,
    ) -> int:
        """One commit: new movies, changed ones (any indexed column), withdrawn ones, and
        withdrawn ones brought back (some changed on the way); ``seed`` picks which and how
        (else the next of ``rng``); ``walk``: how the commit finds the predecessors (a walk
        of the catalog or a probe each; else as the catalog's size says)."""
        if seed is not None:
            self.rng = random.Random(seed)
        changed: dict[int, str] = {}
        with psycopg.connect(self.url) as conn:
            ingestion = new_ingestion(conn)
            ids, gone = movie_ids(conn, withdrawn=False), movie_ids(conn, withdrawn=True)
            for movie_id in self.rng.sample(gone, min(len(gone), comebacks)):
                title = self.movie()["title"] if self.rng.random() < 0.5 else None
                conn.execute(
                    "UPDATE movies SET withdrawn_at = NULL, title = coalesce(%s, title),"
                    " ingestion_id = %s WHERE id = %s",
                    (title, ingestion, movie_id),
                )
                changed[movie_id] = "updated"
            picked = self.rng.sample(ids, min(len(ids), updates + removals))
            for movie_id in picked[:updates]:
                m = self.movie()
                column = self.rng.choice(["title", "year", "genres", "cast", "provider", "all"])
                values = m if column == "all" else {column: m[column]}
                conn.execute(
                    "UPDATE movies SET title = coalesce(%(title)s, title),"
                    " year = coalesce(%(year)s, year), genres = coalesce(%(genres)s, genres),"
                    ' "cast" = coalesce(%(cast)s, "cast"),'
                    " provider = coalesce(%(provider)s, provider), ingestion_id = %(i)s"
                    " WHERE id = %(id)s",
                    {"title": None, "year": None, "genres": None, "cast": None,
                     "provider": None, **values, "i": ingestion, "id": movie_id},
                )  # fmt: skip
                changed[movie_id] = "updated"
            for movie_id in picked[updates:]:
                conn.execute(
                    "UPDATE movies SET withdrawn_at = now(), ingestion_id = %s WHERE id = %s",
                    (ingestion, movie_id),
                )
                changed[movie_id] = "withdrawn"
            for _ in range(inserts):
                m = self.movie()
                row = conn.execute(
                    """INSERT INTO movies (provider, record_key, title, year, genres, "cast",
                           content_hash, ingestion_id, source_key)
                       VALUES (%s, %s, %s, %s, %s, %s, 0, %s, 'k') RETURNING id""",
                    (m["provider"], uuid.uuid4(), m["title"], m["year"], m["genres"],
                     m["cast"], ingestion),
                ).fetchone()  # fmt: skip
                assert row is not None
                changed[row[0]] = "inserted"
            return commit(conn, ingestion, changed, walk)

    def update(self, movie_id: int, values: dict[str, Any]) -> int:
        """One commit changing one movie's columns (``title``, ``year``, ``genres``, ...)."""
        with psycopg.connect(self.url) as conn:
            ingestion = new_ingestion(conn)
            assignments = sql.SQL(", ").join(
                sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in values
            )
            conn.execute(
                sql.SQL("UPDATE movies SET {}, ingestion_id = %(i)s WHERE id = %(id)s").format(
                    assignments
                ),
                {**values, "i": ingestion, "id": movie_id},
            )
            return commit(conn, ingestion, {movie_id: "updated"})
