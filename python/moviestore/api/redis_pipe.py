"""A small Redis client for the API's answer cache: one connection per process, commands
pipelined, replies parsed by hiredis.

redis-py's asyncio client costs about 135 µs of the API's CPU per GET or SET here (a pooled
connection checked out and back, asyncio streams, a retry wrapper, a second timeout): measured,
its GET and SET were a third of the CPU of an answer computed from PostgreSQL. Redis answers the
commands of a connection in the order they came, so every request of a process can share one
connection: a call writes its command and waits for the next reply in line, and a caller that
went away (cancelled) leaves its reply to be read and dropped, keeping the order intact.

Every call is bounded by the client's timeout. A call that runs out of time drops the
connection it waited on (a reply that never came would hold up every later one); the callers
still waiting there fail at once, and the next call makes a new connection.

URLs mean what they mean to redis-py (its parser reads them): ``redis://``, ``rediss://``
(TLS, the server's certificate verified against the system's CAs or ``?ssl_ca_certs=FILE``),
``unix://``, a user and password, a database number. Options it cannot honour are refused when
the client is made, at start-up, not at the first request."""

from __future__ import annotations

import asyncio
import contextlib
import re
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
OPTION_NAME = re.compile(r"[a-z_]{1,40}")
# Past this many bytes written and not yet taken by the kernel, Redis is not keeping up: the
# call fails (the cache answers from PostgreSQL) instead of buffering without bound.
MAX_UNSENT_BYTES = 8 << 20
# Error replies of a node that cannot serve as the primary.
NOT_PRIMARY = ("READONLY", "MASTERDOWN")


def url_options(url: str) -> dict[str, Any]:
    """What the URL says, as redis-py reads it. The ValueError never quotes the URL: a password
    with an unencoded ``/``, ``?`` or ``#`` is cut into host, port or options."""
    try:
        options: dict[str, Any] = dict(parse_url(url))
    except ValueError:
        raise ValueError(
            "the Redis URL cannot be read (is a password character like / ? # @ not "
            "percent-encoded?)"
        ) from None
    unknown = set(options) - UNDERSTOOD
    if unknown:
        named = sorted(unknown) if all(OPTION_NAME.fullmatch(n) for n in unknown) else "some"
        raise ValueError(f"the Redis URL has options the API cannot honour: {named}")
    return options


def pack(*args: bytes | str | int) -> bytes:
    """A command in RESP, by hiredis (its stub types the tuple as one element long)."""
    packed: bytes = hiredis.pack_command(args)  # type: ignore[arg-type]
    return packed


def discard(reply: asyncio.Future[Any]) -> None:
    """A reply nobody will wait for: cancelled (read and dropped when it comes), or, if it
    came with an error, that error marked as seen (asyncio would log it as never retrieved)."""
    if not reply.cancel() and not reply.cancelled():
        reply.exception()


class ReplyError(Exception):
    """Redis answered a command with an error (the connection is fine)."""


class DroppedError(ConnectionError):
    """The connection was dropped by this client after a timeout: not worth a second try."""


class Connection(asyncio.Protocol):
    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.reader = hiredis.Reader()
        self.waiting: deque[asyncio.Future[Any]] = deque()
        self.transport: asyncio.Transport | None = None
        self.lost = self.dropped = False

    @property
    def open(self) -> bool:
        return not self.lost and self.transport is not None and not self.transport.is_closing()

    def send(self, command: bytes) -> asyncio.Future[Any]:
        if not self.open:  # writing to a closed transport would be lost (or raise, on uvloop)
            kind = DroppedError if self.dropped else ConnectionError
            raise kind("the Redis connection is closed")
        transport = cast(asyncio.Transport, self.transport)
        if transport.get_write_buffer_size() > MAX_UNSENT_BYTES:
            raise ConnectionError("Redis is not reading what is sent to it")
        future = self.loop.create_future()
        transport.write(command)
        self.waiting.append(future)
        return future

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        self.reader.feed(data)
        try:
            while (reply := self.reader.gets()) is not False:
                future = self.waiting.popleft()
                if future.done():  # its caller went away
                    continue
                if isinstance(reply, hiredis.ReplyError):
                    future.set_exception(ReplyError(str(reply)))
                else:
                    future.set_result(reply)
        except (hiredis.ProtocolError, IndexError):  # garbage, or a reply nobody asked for
            self.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        kind = DroppedError if self.dropped else ConnectionError
        error = kind(f"the connection to Redis was lost ({exc or 'closed'})")
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
    made again after it is lost or dropped. Made before the server processes fork; each
    connects on its own, after."""

    def __init__(self, url: str, timeout: float) -> None:
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
        self.timeout = timeout
        self.connection: Connection | None = None
        self.lock = asyncio.Lock()
        self.closed = False

    async def execute(self, *args: bytes | str | int, timeout: float | None = None) -> Any:
        """GET, SET and PING can be sent twice: a command lost with a connection made earlier
        (closed by the server when idle, or in a failover) goes once more on a new one."""
        command = pack(*args)
        seconds = timeout or self.timeout
        used: Connection | None = None
        reply: asyncio.Future[Any] | None = None
        try:
            async with asyncio.timeout(seconds) as scope:  # no task per call, unlike wait_for
                used = self.connection
                if used is not None and used.open:
                    try:
                        reply = used.send(command)
                        return await asyncio.shield(reply)  # kept if the timer fires late
                    except DroppedError:
                        raise
                    except ConnectionError:
                        pass  # made again below; a Redis that is gone refuses it there
                used = await self.connect()
                reply = used.send(command)
                return await asyncio.shield(reply)
        except TimeoutError:
            if reply is not None and self.busy_loop(scope, seconds):
                # The timer ran late: this process was too busy to read the reply, which may
                # be waiting in the socket. One more period, judged on a loop that caught up.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(seconds):
                        return await asyncio.shield(reply)
            if reply is not None:
                discard(reply)
            if used is not None:
                self.drop(used)
            raise
        except ReplyError as e:
            # A node that is no primary any more (a failover): the next connection resolves
            # the primary endpoint anew.
            if used is not None and str(e).startswith(NOT_PRIMARY):
                self.drop(used)
            raise
        except BaseException:  # cancelled from outside
            if reply is not None:
                discard(reply)
            raise

    @staticmethod
    def busy_loop(scope: asyncio.Timeout, seconds: float) -> bool:
        """Whether the timeout fired later than its own length after its deadline."""
        when = scope.when()
        return when is not None and asyncio.get_running_loop().time() - when > seconds

    async def get(self, key: str) -> bytes | None:
        found: bytes | None = await self.execute("GET", key)
        return found

    async def set(self, key: str, value: bytes, expire_seconds: int) -> None:
        await self.execute("SET", key, value, "EX", expire_seconds)

    async def ping(self, timeout: float) -> bool:
        return bool(await self.execute("PING", timeout=timeout) == b"PONG")

    async def connect(self) -> Connection:
        async with self.lock:  # one attempt at a time; the callers behind it share its result
            if self.closed:
                raise ConnectionError("the Redis client is closed")
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

    def drop(self, connection: Connection) -> None:
        """Abort a connection a call waited on in vain (only that one: a newer connection made
        meanwhile is left alone); its other callers fail at once, without a second try."""
        connection.dropped = True
        connection.abort()
        if self.connection is connection:
            self.connection = None

    def close(self) -> None:
        """For good: later calls fail (the process is shutting down)."""
        self.closed = True
        if self.connection is not None:
            self.connection.close()
            self.connection = None
