"""API keys as each server process checks them: from a dict in its memory, never with a
database or Redis round trip per request.

A key is ``ms_<key_id>_<secret>``: ``key_id`` names it (``moviestore keys list|revoke``), the
secret is 32 random bytes. PostgreSQL stores the SHA-256 of the whole key (``store/keys.py``);
a process holds every live key's digest and looks a presented key up by its digest. Each
process asks PostgreSQL for ``api_keys_state.revision`` every ``api_key_poll_seconds`` and reads
the keys again only when it moved, so a key made or revoked takes effect everywhere within
that time (plus one read). PostgreSQL down, the keys last read stay in force.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import secrets
from dataclasses import dataclass

from moviestore.api.database import Database, Unavailable
from moviestore.logs import event
from moviestore.store import keys as stored

log = logging.getLogger("moviestore.api.keys")

PREFIX = "ms_"


@dataclass(frozen=True, slots=True)
class Client:
    """Who a request comes from: a key, or nobody (anonymous reads, when allowed)."""

    key_id: str | None
    provider: str | None
    rate: int  # requests a second, and the burst; 0: not limited (anonymous, when so set)


def new_key() -> tuple[str, str]:
    """``(key_id, key)``: the key is shown once and never stored."""
    key_id = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(12))
    return key_id, f"{PREFIX}{key_id}_{secrets.token_urlsafe(32)}"


def digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class KeyRegistry:
    def __init__(self, database: Database, poll_seconds: float):
        self.database, self.poll_seconds = database, poll_seconds
        self.by_digest: dict[bytes, Client] = {}
        self.revision: int | None = None  # None until the keys were first read
        self.task: asyncio.Task[None] | None = None

    @property
    def loaded(self) -> bool:
        return self.revision is not None

    def find(self, key: str) -> Client | None:
        if not key.startswith(PREFIX):
            return None
        return self.by_digest.get(digest(key))

    async def refresh(self) -> None:
        """Reads the keys again if their revision moved. Raises ``Unavailable``."""
        revision = (await self.database.fetch(stored.REVISION, {}))[0]["revision"]
        if revision == self.revision:
            return
        rows = await self.database.fetch(stored.LIVE, {})
        self.by_digest = {
            bytes(row["secret_sha256"]): Client(row["key_id"], row["provider"], row["rate"])
            for row in rows
        }
        self.revision = revision

    def start(self) -> None:
        self.task = asyncio.get_running_loop().create_task(self.follow())

    async def follow(self) -> None:
        failing = False
        while True:
            try:
                await self.refresh()
                failing = False
            except Unavailable as e:
                if not failing:
                    event(log, logging.WARNING, "cannot read the API keys; the last read stay",
                          error=str(e))  # fmt: skip
                failing = True
            except Exception:
                log.exception("reading the API keys failed")
            await asyncio.sleep(self.poll_seconds)

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
