"""Every statement on API keys: made, listed and revoked by ``moviestore keys``; read whole by
each API process when ``api_keys_state.revision`` moves (``api/keys.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import sql


@dataclass(frozen=True)
class StoredKey:
    key_id: str
    name: str
    provider: str | None
    rate: int
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True)
class LiveKey:
    """What a process needs to check a key: its secret's digest and what it may do."""

    key_id: str
    secret_sha256: bytes
    provider: str | None
    rate: int


BUMP = sql.SQL("UPDATE api_keys_state SET revision = revision + 1")
REVISION = sql.SQL("SELECT revision FROM api_keys_state")
LIVE = sql.SQL(
    "SELECT key_id, secret_sha256, provider, rate FROM api_keys WHERE revoked_at IS NULL"
)
LISTED = sql.SQL(
    "SELECT key_id, name, provider, rate, created_at, revoked_at FROM api_keys"
    " ORDER BY created_at, key_id"
)


def create(
    conn: psycopg.Connection, *, key_id: str, secret_sha256: bytes, name: str,
    provider: str | None, rate: int,
) -> None:  # fmt: skip
    with conn.transaction():
        conn.execute(
            "INSERT INTO api_keys (key_id, name, provider, secret_sha256, rate)"
            " VALUES (%s, %s, %s, %s, %s)",
            (key_id, name, provider, secret_sha256, rate),
        )
        conn.execute(BUMP)


def revoke(conn: psycopg.Connection, key_id: str) -> bool:
    """Whether a live key had that id (revoking twice changes nothing)."""
    with conn.transaction():
        done = conn.execute(
            "UPDATE api_keys SET revoked_at = now() WHERE key_id = %s AND revoked_at IS NULL",
            (key_id,),
        ).rowcount
        if done:
            conn.execute(BUMP)
    return bool(done)


def listed(conn: psycopg.Connection) -> list[StoredKey]:
    return [StoredKey(*row) for row in conn.execute(LISTED).fetchall()]
