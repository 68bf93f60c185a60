"""A small Redis client for the API's answer cache: one connection per process, commands
pipelined, replies parsed by hiredis.

redis-py's asyncio client costs about 135 µs of the API's CPU per GET or SET here (a pooled
connection checked out and back, asyncio streams, a retry wrapper, a second timeout): measured,
its GET and SET were a third of the CPU of an answer computed from PostgreSQL. Redis answers the
commands of a connection in the order they came, so every request of a process can share one
connection: a call writes its command and waits for the next reply in line, and a caller that
gave up (a timeout) leaves its reply to be read and dropped, keeping the order intact.

URLs mean what they mean to redis-py (its parser reads them): ``redis://``, ``rediss://``
(TLS, the server's certificate verified against the system's CAs or ``?ssl_ca_certs=FILE``),
``unix://``, a user and password, a database number.
Options it cannot honour fail at start-up, not at the first request."""

from __future__ import annotations

import asyncio
import ssl
from collections import deque
from typing import Any, cast

import hiredis
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection, parse_url

# What a URL may say (redis-py's parser adds connection_class); ssl_ca_certs names the CA
# bundle that signs the server's certificate when the system's does not.
UNDERSTOOD = frozenset(
    {"host", "port", "path", "db", "username", "password", "connection_class", "ssl_ca_certs"}
)


def url_options(url: str) -> dict[str, Any]:
    """What the URL says, as redis-py reads it; a ValueError names any option this client
    would ignore (checked with the settings, so a wrong URL stops start-up)."""
    options: dict[str, Any] = dict(parse_url(url))
    unknown = set(options) - UNDERSTOOD
    if unknown:
        raise ValueError(f"the Redis URL has options the API cannot honour: {sorted(unknown)}")
    return options


def pack(*args: bytes | str | int) -> bytes:
    """A command in RESP, by hiredis (its stub types the tuple as one element long)."""
    packed: bytes = hiredis.pack_command(args)  # type: ignore[arg-type]
    return packed


class ReplyError(Exception):
    """Redis answered a command with an error (the connection is fine)."""


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = False

    @property
    def open(self) -> bool:
        return not self.lost and self.transport is not None and not self.transport.is_closing()

    def send(self, command: bytes) -> asyncio.Future[Any]:
        assert self.transport is not None
        future = self.loop.create_future()
        self.transport.write(command)
        self.waiting.append(future)
        return future

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                future = self.waiting.popleft()
                if future.done():  # its caller gave up waiting
                    continue
                if isinstance(reply, hiredis.ReplyError):
                    future.set_exception(ReplyError(str(reply)))
                else:
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError):  # garbage, or a reply nobody asked for
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        error = ConnectionError(f"the connection to Redis was lost ({exc or 'closed'})")
        while self.waiting:
            future = self.waiting.popleft()
            if not future.done():
                future.set_exception(error)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class PipelinedRedis:
    """The commands the answer cache needs, on one shared connection made on first use and
    made again after it is lost or reset. Callers bound each call with their own timeout."""

    def __init__(self, url: str) -> None:
        options = url_options(url)
        kind = options.get("connection_class")
        self.path: str | None = options.get("path") if kind is UnixDomainSocketConnection else None
        self.host: str = options.get("host", "localhost")
        self.port: int = int(options.get("port", 6379))
        self.tls = None
        if kind is SSLConnection:
            self.tls = ssl.create_default_context(cafile=options.get("ssl_ca_certs"))
        self.handshake: list[bytes] = []
        if options.get("password") is not None:
            credentials = [options.get("username"), options["password"]]
            self.handshake.append(pack("AUTH", *[c for c in credentials if c]))
        if int(options.get("db") or 0):
            self.handshake.append(pack("SELECT", int(options["db"])))
        self.connection: Connection | None = None
        self.lock = asyncio.Lock()

    async def execute(self, *args: bytes | str | int) -> Any:
        """GET, SET and PING can be sent twice: a command lost with a connection made earlier
        (closed by the server when idle, or in a failover) goes once more on a new one."""
        command = pack(*args)
        connection = self.connection
        if connection is not None and connection.open:
            try:
                return await connection.send(command)
            except ConnectionError:
                pass  # made again below; a Redis that is gone refuses it there
        connection = await self.connect()
        return await connection.send(command)

    async def get(self, key: str) -> bytes | None:
        found: bytes | None = await self.execute("GET", key)
        return found

    async def set(self, key: str, value: bytes, expire_seconds: int) -> None:
        await self.execute("SET", key, value, "EX", expire_seconds)

    async def ping(self) -> bool:
        return bool(await self.execute("PING") == b"PONG")

    async def connect(self) -> Connection:
        async with self.lock:  # one attempt at a time; the callers behind it share its result
            if self.connection is not None and self.connection.open:
                return self.connection
            loop = asyncio.get_running_loop()
            if self.path is not None:
                _, connection = await loop.create_unix_connection(Connection, self.path)
            else:
                _, connection = await loop.create_connection(
                    Connection, self.host, self.port, ssl=self.tls
                )
            try:
                for command in self.handshake:
                    await connection.send(command)
            except BaseException:
                connection.abort()
                raise
            self.connection = connection
            return connection

    def reset(self) -> None:
        """Drop the connection (its waiting callers fail at once); the next call makes a new
        one. After a timeout: a reply that never came would hold up every later one."""
        if self.connection is not None:
            self.connection.abort()
            self.connection = None

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None
