"""The API's pipelined Redis client against real Redis servers of the tests' own, on uvloop as
in the API: replies reach the right callers under concurrency, one caller's error or departure
is nobody else's, and a frozen, killed or restarted Redis is survived with a new connection."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import os
import signal
import ssl
import time
from collections.abc import AsyncIterator, Coroutine, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import redis
import uvloop
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from moviestore.api.redis_pipe import DroppedError, PipelinedRedis, ReplyError, url_options
from moviestore.localstack.processes import Server, free_port, port_open, wait_until
from moviestore.localstack.redis import Redis
from moviestore.localstack.stack import Endpoints
from tests.cli import moviestore


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Redis, Server]]:
    own = Redis(tmp_path, free_port())
    started = own.start()
    try:
        yield own, started
    finally:
        started.stop()


T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return uvloop.run(coroutine)


@contextlib.asynccontextmanager
async def pipe(url: str, timeout: float = 5.0) -> AsyncIterator[PipelinedRedis]:
    client = PipelinedRedis(url, timeout)
    try:
        yield client
    finally:
        client.close()


def test_concurrent_callers_each_get_their_own_reply(server: tuple[Redis, Server]) -> None:
    url = server[0].url()
    values = {f"key-{i}": f"value-{i}".encode() * (1 + i % 300) for i in range(500)}

    async def scenario() -> list[bytes | None]:
        async with pipe(url) as client:
            await asyncio.gather(*(client.set(k, v, 60) for k, v in values.items()))
            keys = [*values, "absent"]
            # Interleaved: a reply handed to the wrong caller would show as a wrong value.
            return list(await asyncio.gather(*(client.get(k) for k in keys)))

    got = run(scenario())
    assert got == [*values.values(), None]
    assert redis.Redis.from_url(url).get("key-7") == values["key-7"]  # really stored, with TTL
    assert 0 < redis.Redis.from_url(url).ttl("key-7") <= 60


def test_an_error_reply_fails_its_caller_only(server: tuple[Redis, Server]) -> None:
    url = server[0].url()
    redis.Redis.from_url(url).rpush("a-list", "x")

    async def scenario() -> tuple[BaseException | bytes | None, ...]:
        async with pipe(url) as client:
            return tuple(
                await asyncio.gather(
                    client.set("before", b"1", 60),
                    client.get("a-list"),  # WRONGTYPE
                    client.get("before"),
                    return_exceptions=True,
                )
            )

    first, wrong, after = run(scenario())
    assert first is None and after == b"1"
    assert isinstance(wrong, ReplyError) and "WRONGTYPE" in str(wrong)


def test_a_caller_that_goes_away_leaves_the_order_intact(server: tuple[Redis, Server]) -> None:
    """Its reply still comes, is read and dropped; the next caller gets its own."""
    own, process = server
    assert process.proc is not None
    redis.Redis.from_url(own.url()).mset({"a": b"for a", "b": b"for b"})

    async def scenario() -> bytes | None:
        async with pipe(own.url()) as client:
            await client.ping(5)  # connected
            process.proc.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
            try:
                first = asyncio.ensure_future(client.get("a"))
                await asyncio.sleep(0.05)  # sent, and waiting for its reply
                first.cancel()
                second = asyncio.ensure_future(client.get("b"))
                await asyncio.sleep(0.05)
            finally:
                process.proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
            assert first.cancelled()
            return await second

    assert run(scenario()) == b"for b"


def test_a_timeout_drops_the_connection_and_the_next_call_makes_one(
    server: tuple[Redis, Server],
) -> None:
    own, process = server
    assert process.proc is not None

    async def scenario() -> None:
        async with pipe(own.url(), timeout=0.5) as client:
            await client.set("k", b"v", 60)
            frozen = client.connection
            process.proc.send_signal(signal.SIGSTOP)  # type: ignore[union-attr]
            try:
                first = asyncio.ensure_future(client.get("k"))
                await asyncio.sleep(0.25)
                started = time.monotonic()
                # The first call's timeout drops the connection under the second: it fails
                # then, before its own timeout, and is not sent again.
                with pytest.raises(DroppedError):
                    await client.get("k")
                assert time.monotonic() - started < 0.45
                with pytest.raises(TimeoutError):
                    await first
            finally:
                process.proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
            assert client.connection is None and frozen is not None and frozen.lost
            assert await client.get("k") == b"v"
            assert client.connection is not frozen

    run(scenario())


def test_a_busy_process_is_not_taken_for_a_slow_redis(server: tuple[Redis, Server]) -> None:
    """Redis answers at once, but this process's loop is blocked past the timeout (a burst of
    work): the timer fires late, and the reply waiting in the socket is still taken."""
    own = server[0]

    async def scenario() -> tuple[bytes | None, bool]:
        async with pipe(own.url(), timeout=0.05) as client:
            await client.set("k", b"v", 60)
            before = client.connection
            get = asyncio.ensure_future(client.get("k"))
            await asyncio.sleep(0)  # the GET is sent
            time.sleep(0.3)  # the loop blocked: no timer, no reading, for 6 timeouts
            got = await get
            return got, client.connection is before

    assert run(scenario()) == (b"v", True)


def test_a_connection_closed_by_the_server_costs_no_error(server: tuple[Redis, Server]) -> None:
    own = server[0]
    admin = redis.Redis.from_url(own.url())

    async def scenario() -> list[bytes | None]:
        async with pipe(own.url()) as client:
            await client.set("k", b"v", 60)
            got = []
            for _ in range(3):
                # As an idle timeout or a failover would: the server drops the connection.
                assert admin.client_kill_filter(_type="normal", skipme=True) >= 1
                got.append(await client.get("k"))
            return got

    assert run(scenario()) == [b"v", b"v", b"v"]


def test_a_node_that_is_no_primary_any_more_is_left(server: tuple[Redis, Server]) -> None:
    """After a failover, the old primary answers READONLY: the connection is dropped so that
    the next one reaches (resolves) the primary endpoint again."""
    own = server[0]
    admin = redis.Redis.from_url(own.url())

    async def scenario() -> bytes | None:
        async with pipe(own.url()) as client:
            await client.set("k", b"before", 60)
            admin.replicaof("127.0.0.1", free_port())  # a replica now: writes refused
            try:
                with pytest.raises(ReplyError, match="READONLY"):
                    await client.set("k", b"during", 60)
                assert client.connection is None
            finally:
                admin.replicaof("NO", "ONE")
            await client.set("k", b"after", 60)
            return await client.get("k")

    assert run(scenario()) == b"after"


def test_a_restarted_redis_is_reached_again(server: tuple[Redis, Server]) -> None:
    own, process = server

    async def scenario() -> None:
        async with pipe(own.url()) as client:
            assert await client.ping(5)
            process.stop()
            with pytest.raises(ConnectionError):  # the connection lost, then refused
                await client.get("k")
            with pytest.raises(ConnectionRefusedError):
                await client.get("k")
            restarted = own.start()
            try:
                await client.set("k", b"again", 60)
                assert await client.get("k") == b"again"
            finally:
                restarted.stop()

    run(scenario())


def test_password_and_database_come_from_the_url(server: tuple[Redis, Server]) -> None:
    own = server[0]
    admin = redis.Redis.from_url(own.url())
    admin.config_set("requirepass", "s3cret")
    base = f"redis://127.0.0.1:{own.port}"
    with_password = base.replace("redis://", "redis://:s3cret@")

    async def scenario(url: str) -> None:
        async with pipe(url) as client:
            await client.set("k", b"in db 5", 60)

    run(scenario(with_password + "/5"))
    stored = redis.Redis.from_url(with_password + "/5")
    assert stored.get("k") == b"in db 5"
    assert redis.Redis.from_url(with_password + "/0").get("k") is None
    with pytest.raises(ReplyError, match="NOAUTH"):
        run(scenario(base + "/5"))
    with pytest.raises(ReplyError, match="WRONGPASS"):
        run(scenario(base.replace("redis://", "redis://:wrong@") + "/5"))


@pytest.mark.parametrize(
    "url",
    ["redis://127.0.0.1:6379/0?socket_timeout=1", "rediss://h:6380/0?ssl_cert_reqs=none"],
)
def test_url_options_it_cannot_honour_fail_at_start_up(url: str) -> None:
    with pytest.raises(ValueError, match="options the API cannot honour"):
        PipelinedRedis(url, 1.0)


@pytest.mark.parametrize(
    "url",
    [
        "redis://:hunter2@h:6379/0?socket_timeout=1",
        "redis://:hun/ter2@h:6379/0",  # "/" not percent-encoded: the port reads "hun"
        "redis://:hun?ter2=x@h:6379/0",  # "?": the rest reads as an option
        "redis://:hunter2#@h:6379/0",
        "http://:hunter2@h:6379/0",
    ],
)
def test_a_url_refused_is_never_quoted(url: str) -> None:
    with pytest.raises(ValueError) as raised:
        url_options(url)
    assert "hun" not in str(raised.value) and "ter2" not in str(raised.value)


# --- TLS, as ElastiCache with transit encryption (rediss:// in production) ---------------------


def write_tls_files(folder: Path) -> tuple[Path, Path, Path]:
    """A CA of the test's own and a certificate it signs for localhost."""
    now = datetime.datetime.now(datetime.UTC)

    def certificate(
        subject: str, key: ec.EllipticCurvePrivateKey, issuer: x509.Name | None,
        signer: ec.EllipticCurvePrivateKey, ca: bool,
    ) -> x509.Certificate:  # fmt: skip
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
        builder = (
            x509.CertificateBuilder()
            .subject_name(name)
            .issuer_name(issuer or name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(hours=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    server_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("moviestore test CA", ca_key, None, ca_key, True)
    server = certificate("localhost", server_key, ca.subject, ca_key, False)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


def test_rediss_verifies_the_server_certificate(tmp_path: Path) -> None:
    ca, cert, key = write_tls_files(tmp_path)
    port = free_port()
    process = Server(
        "redis-tls",
        ["redis-server", "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
         "--tls-cert-file", str(cert), "--tls-key-file", str(key), "--tls-ca-cert-file", str(ca),
         "--tls-auth-clients", "no", "--save", "", "--dir", str(tmp_path)],
        tmp_path / "redis-tls.log",
    )  # fmt: skip
    process.start()
    try:
        wait_until(lambda: port_open(port), 30, "Redis with TLS", process)

        async def scenario(url: str) -> bytes | None:
            async with pipe(url) as client:
                await client.set("k", b"over TLS", 60)
                return await client.get("k")

        url = f"rediss://localhost:{port}/0"
        assert run(scenario(f"{url}?ssl_ca_certs={ca}")) == b"over TLS"
        # The system's CAs do not know this one: the certificate is checked, not just accepted.
        with pytest.raises(ssl.SSLCertVerificationError):
            run(scenario(url))
        with pytest.raises(ConnectionError):  # TLS expected, plain text spoken
            run(scenario(f"redis://localhost:{port}/0"))
    finally:
        process.stop()


def test_the_api_refuses_such_a_url_at_start_up(endpoints: Endpoints) -> None:
    env = {**os.environ, "MOVIESTORE_REDIS_URL": "redis://:hun/ter2@h:6379/0",
           "MOVIESTORE_API_PORT": str(free_port())}  # fmt: skip
    done = moviestore("api", env=env)
    output = done.stdout + done.stderr
    assert done.returncode == 2, output
    assert "invalid settings for the API" in output and "cannot be read" in output
    assert "ter2" not in output and "Traceback" not in output
