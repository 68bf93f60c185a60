"""The one owner of the catalog version this process answers for.

A ``View`` is everything that must agree on it: the version, the search index at exactly that
version (or none: PostgreSQL answers), and the log of the changes that led to it (which cached
answers are still good). Only the follower (``api/follower.py``) moves it forward, by swapping
in a whole new view; a request reads ``CatalogVersion.view`` once and answers from that one
view, so a page, its total and its cursor never mix versions.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass

from moviestore.api.changes import ChangeLog
from moviestore.api.search_index import Built


@dataclass(frozen=True)
class View:
    version: int | None  # None until the version is first read
    index: Built | None
    log: ChangeLog


class CatalogVersion:
    def __init__(self) -> None:
        self.view = View(None, None, ChangeLog(0))
        self.loop: asyncio.AbstractEventLoop | None = None
        self.waiters: list[tuple[int, asyncio.Future[None]]] = []
        # Set by a request that saw a newer version in PostgreSQL: the follower looks now.
        self.wanted = threading.Event()

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """The event loop whose requests may wait for a version (``reach``)."""
        self.loop = loop

    def advance(self, view: View) -> None:
        """The follower's: swap in a newer view (or the same version with another index)."""
        self.view = view
        if self.loop is not None and self.waiters:
            self.loop.call_soon_threadsafe(self.release)

    def release(self) -> None:
        version = self.view.version
        waiting = []
        for target, future in self.waiters:
            if future.done():  # timed out
                continue
            if version is not None and version >= target:
                future.set_result(None)
            else:
                waiting.append((target, future))
        self.waiters = waiting

    async def reach(self, version: int, timeout: float) -> View | None:
        """The view once it is at ``version`` or newer; None if that takes over ``timeout``."""
        current = self.view
        if current.version is not None and current.version >= version:
            return current
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append((version, future))
        self.wanted.set()
        # The follower swaps the view, then looks for waiters: one that came in between
        # finds the view already there.
        self.release()
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        return self.view
