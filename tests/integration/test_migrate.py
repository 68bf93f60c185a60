"""Migrations against a real PostgreSQL: applied once, in order, never edited after the fact."""

from __future__ import annotations

import dataclasses
import os
import threading

import psycopg
import pytest

from moviestore.localstack.stack import Endpoints
from moviestore.store import migrate as migrations
from tests.cli import moviestore


def test_migrate_applies_everything_once_and_is_idempotent(endpoints: Endpoints) -> None:
    migrations.migrate(endpoints.database_url)
    assert migrations.migrate(endpoints.database_url) == []
    with psycopg.connect(endpoints.database_url) as conn:
        versions = [r[0] for r in conn.execute("SELECT version FROM schema_migrations ORDER BY 1")]
        indexes = {
            r[0]
            for r in conn.execute("SELECT indexname FROM pg_indexes WHERE tablename = 'movies'")
        }
    assert versions == [m.version for m in migrations.available()]
    # the indexes the API's queries need (docs/api.md)
    assert {
        "movies_year_id_genres_title",
        "movies_title_id",
        "movies_title_search_trgm",
        "movies_genres",
        "movies_cast",
    } <= indexes


def test_concurrent_runs_wait_for_each_other(endpoints: Endpoints) -> None:
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrations.migrate(endpoints.database_url)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_an_edited_migration_is_refused(
    endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    migrations.migrate(endpoints.database_url)
    first, *rest = migrations.available()
    edited = dataclasses.replace(first, sql=first.sql + "\n-- edited")
    monkeypatch.setattr(migrations, "available", lambda: [edited, *rest])
    with pytest.raises(RuntimeError, match="changed after it was applied"):
        migrations.migrate(endpoints.database_url)


def test_the_migrate_command_uses_the_settings(endpoints: Endpoints) -> None:
    done = moviestore("migrate")  # the stack's MOVIESTORE_* settings
    assert done.returncode == 0, done.stderr
    assert "schema at version" in done.stdout


def test_missing_settings_stop_start_up_with_a_clear_error(endpoints: Endpoints) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MOVIESTORE_")}
    done = moviestore("migrate", env=env)
    assert done.returncode == 2
    assert "invalid settings" in done.stderr and "database_url" in done.stderr
    assert "Traceback" not in done.stderr
