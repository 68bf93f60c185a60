"""The connections of a long-running process that is not the API (the worker): one pool, made
by the process's composition root and shared by its threads.

A file's load, its duties and the heartbeat each borrow a connection for as long as they need it
and give it back; a new connection per file cost the worker 3 PostgreSQL connections (a fork and
an authentication each, about 5 ms here and more over TLS to RDS) for every 10-movie file.
Connections are checked before they are lent (one broken while PostgreSQL restarted is replaced),
and go back in autocommit mode, whatever the borrower set. ``application_name`` names the process
in ``pg_stat_activity``.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg_pool import ConnectionPool

__all__ = ["ConnectionPool", "open_pool"]


def open_pool(url: str, size: int, application: str, *, connect_timeout: int = 5) -> ConnectionPool:
    """A pool of at most ``size`` connections, opened without waiting for PostgreSQL (a borrower
    waits, or gets the connection error)."""
    pool: ConnectionPool[Any] = ConnectionPool(
        url,
        min_size=1,
        max_size=size,
        kwargs={
            "autocommit": True,
            "application_name": application,
            "connect_timeout": connect_timeout,
        },
        check=ConnectionPool.check_connection,
        reset=autocommit,
        name=application,
        timeout=2 * connect_timeout,
        open=False,
    )
    pool.open(wait=False)
    return pool


def autocommit(conn: psycopg.Connection) -> None:
    """Back to the pool as it was lent: a load turns autocommit off for its transaction."""
    conn.autocommit = True
