"""The API under failure: Redis killed and brought back while clients keep asking, and SIGTERM
with a request in flight (Kubernetes sends one on every rollout)."""

from __future__ import annotations

import contextlib
import itertools
import signal
import socket
import threading
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import requests

from moviestore.localstack.processes import free_port
from moviestore.localstack.redis import Redis
from moviestore.localstack.stack import Endpoints, LocalStack
from tests.integration.api.catalog import Movie, select
from tests.integration.api.conftest import Api, await_search_indexes, metric
from tests.integration.api.extra import Extra, extra_api, spare_redis_db

EXIT_BOUND_SECONDS = 15  # the extra APIs' grace period is 10 s
IDLE_EXIT_BOUND_SECONDS = 5  # nothing in flight: no reason to use the grace period


# --- answers checked against the model -------------------------------------------------------


def list_queries(round_: int) -> list[dict[str, Any]]:
    """A few queries; ``round_`` makes them new (uncached) through the limit they ask for."""
    limit = 1 + round_ % 100
    return [
        {"genre": ["Drama"], "sort": "-year", "limit": limit},
        {"title": "love", "year_from": 1995, "limit": limit},
        {"cast": ["Eve Li"], "provider": "acme", "sort": "year", "limit": limit},
    ]


def check_list(api: Extra, params: dict[str, Any]) -> None:
    response = api.get("/v1/movies", params=params)
    assert response.status_code == 200, (params, response.status_code, response.text)
    page = response.json()
    expected = select(api.movies, params)
    assert [m["id"] for m in page["items"]] == [m.id for m in expected[: params["limit"]]], params
    assert page["total"] == len(expected), params


def check_movie(api: Extra, movie: Movie) -> None:
    response = api.get(f"/v1/movies/{movie.id}")
    assert response.status_code == 200, (movie.id, response.status_code, response.text)
    got = response.json()
    assert (got["id"], got["title"], got["year"], got["provider"]) == (
        movie.id,
        movie.title,
        movie.year,
        movie.provider,
    )
    assert (got["genres"], got["cast"]) == (movie.genres, movie.cast)


def ask_everything(api: Extra, round_: int) -> None:
    """Cached answers (the same queries every round) and uncached ones (new each round)."""
    for params in list_queries(0) + list_queries(round_):
        check_list(api, params)
    check_movie(api, api.movies[0])  # cached after the first round
    check_movie(api, api.movies[1 + round_ % (len(api.movies) - 1)])  # new each round
    genres = api.get("/v1/genres")
    assert genres.status_code == 200, genres.text


def wait_for_readiness(api: Extra, status: str, redis: str, bound: float) -> dict[str, Any]:
    deadline = time.monotonic() + bound
    last: tuple[int, dict[str, Any]] | None = None
    while time.monotonic() < deadline:
        last = api.readiness()
        if last[0] == 200 and last[1]["status"] == status and last[1]["redis"] == redis:
            return last[1]
        time.sleep(0.1)
    raise AssertionError(f"/readyz did not say {status} (redis {redis}) within {bound} s: {last}")


# --- Redis killed mid-test -------------------------------------------------------------------


def ask_while_redis_fails(api: Extra, first_round: int) -> int:
    """Correct answers for 2.5 s (from memory or PostgreSQL), then readiness says degraded.
    Returns the next round."""
    rounds, deadline = first_round, time.monotonic() + 2.5
    while time.monotonic() < deadline:
        ask_everything(api, rounds)
        rounds += 1
    assert rounds > first_round + 1, "too few requests while Redis failed to show anything"
    assert wait_for_readiness(api, "degraded", "down", 5)["postgres"] == "up"
    return rounds


def redis_lookups(api: Extra) -> float:
    """Redis GETs answered (hit or miss) by the API so far."""
    counts = api.cache_counts()
    return counts.get(("redis", "hit"), 0.0) + counts.get(("redis", "miss"), 0.0)


def ask_once_redis_is_back(api: Extra, first_round: int) -> None:
    """Ready again; Redis used again (once its pause is over); answers still correct; the
    failure was logged as a warning, no error."""
    wait_for_readiness(api, "ready", "up", 10)
    rounds = itertools.count(first_round)
    before, deadline = redis_lookups(api), time.monotonic() + 10
    while redis_lookups(api) == before:
        assert time.monotonic() < deadline, "the API did not go back to Redis within 10 s"
        ask_everything(api, next(rounds))
    for _ in range(3):
        ask_everything(api, next(rounds))
    log = api.log_lines()
    assert any(line.get("msg", "").startswith("Redis unavailable") for line in log), (
        api.server.tail()
    )
    assert not [line for line in log if line.get("level") == "error"], api.server.tail(50)


def test_redis_killed_and_restarted_while_clients_keep_asking(
    local_stack: tuple[LocalStack, Endpoints],
    api_database: tuple[str, list[Movie]],
    tmp_path: Path,
) -> None:
    stack, endpoints = local_stack
    redis = Redis(tmp_path, free_port())
    redis_server = redis.start()
    api = extra_api(stack, endpoints, api_database, redis.url())
    try:
        assert wait_for_readiness(api, "ready", "up", 5)["postgres"] == "up"
        for round_ in range(1, 4):
            ask_everything(api, round_)

        redis_server.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        redis_server.proc.wait(5)  # type: ignore[union-attr]

        # Every answer correct while Redis is gone: from memory, or from PostgreSQL.
        rounds = ask_while_redis_fails(api, 4)
        redis_server = redis.start()  # the same port, as a restarted pod's Service would be
        ask_once_redis_is_back(api, rounds)
    finally:
        api.server.stop()
        redis_server.stop()


def test_redis_frozen_then_thawed_while_clients_keep_asking(
    local_stack: tuple[LocalStack, Endpoints],
    api_database: tuple[str, list[Movie]],
    tmp_path: Path,
) -> None:
    """Slow, not gone: the connection stays open and nothing answers (SIGSTOP). Each request
    waits at most the short Redis timeout, once per pause, and answers from PostgreSQL."""
    stack, endpoints = local_stack
    redis = Redis(tmp_path, free_port())
    redis_server = redis.start()
    assert redis_server.proc is not None
    api = extra_api(stack, endpoints, api_database, redis.url())
    try:
        assert wait_for_readiness(api, "ready", "up", 5)["postgres"] == "up"
        ask_everything(api, 1)

        redis_server.proc.send_signal(signal.SIGSTOP)
        try:
            rounds = ask_while_redis_fails(api, 2)
        finally:
            redis_server.proc.send_signal(signal.SIGCONT)
        ask_once_redis_is_back(api, rounds)
    finally:
        api.server.stop()
        redis_server.stop()


# --- SIGTERM ---------------------------------------------------------------------------------


def api_is_waiting_on_the_lock(database_url: str) -> bool:
    with psycopg.connect(database_url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
            # the API's statements alias the table (the search index's COPY does not)
            " AND wait_event_type = 'Lock' AND query ILIKE '%%movies m%%'"
        ).fetchone()
    return row is not None and row[0] > 0


def connection_refused(url: str) -> bool:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return False
    except ConnectionRefusedError:
        return True


def drained_lines(api: Extra) -> list[dict[str, Any]]:
    return [line for line in api.log_lines() if line.get("msg") == "server process drained"]


def test_sigterm_drains_the_request_in_flight_then_exits_0(
    local_stack: tuple[LocalStack, Endpoints], api_database: tuple[str, list[Movie]]
) -> None:
    stack, endpoints = local_stack
    database_url = api_database[0]
    api = extra_api(stack, endpoints, api_database, spare_redis_db(endpoints, 3))
    proc = api.server.proc
    assert proc is not None
    # Both processes started (their pools open, their indexes built) before the table is
    # locked: else one still starting waits on the lock too, is taken for the request, and
    # SIGTERM comes before the request was even read (it is refused then, rightly).
    await_search_indexes(api.url, 2, api.server)
    # Filters no one asked before: the answer must come from PostgreSQL.
    params = {"title": "a", "year_from": 1990 + uuid.uuid4().int % 10, "limit": 17}
    expected = select(api.movies, params)
    result: dict[str, Any] = {}

    def ask() -> None:
        try:
            result["response"] = api.get("/v1/movies", params=params)
        except requests.RequestException as e:
            result["error"] = e

    client = threading.Thread(target=ask)
    try:
        with psycopg.connect(database_url) as lock:
            lock.execute("LOCK TABLE movies IN ACCESS EXCLUSIVE MODE")
            client.start()
            deadline = time.monotonic() + 10
            while not api_is_waiting_on_the_lock(database_url):
                assert time.monotonic() < deadline, "the request never reached PostgreSQL"
                assert client.is_alive(), result
                time.sleep(0.05)
            proc.send_signal(signal.SIGTERM)  # the supervisor only, as Kubernetes does
            time.sleep(1)
            assert proc.poll() is None, "exited with a request in flight"
            lock.rollback()  # releases the lock
        client.join(EXIT_BOUND_SECONDS)
        assert not client.is_alive(), "the request in flight never finished"
        assert "error" not in result, (result, proc.poll(), api.log_lines()[-30:])
        response = result["response"]
        assert response.status_code == 200, response.text
        page = response.json()
        assert [m["id"] for m in page["items"]] == [m.id for m in expected[:17]]
        assert page["total"] == len(expected)

        try:
            code = proc.wait(EXIT_BOUND_SECONDS)
        except Exception:
            pytest.fail(f"no exit {EXIT_BOUND_SECONDS} s after SIGTERM:\n{api.server.tail(40)}")
        assert code == 0, api.server.tail(40)
        assert connection_refused(api.url)
        drained = drained_lines(api)
        assert len(drained) == 2, api.server.tail(40)  # one per server process
        assert all(line.get("unfinished_requests") == 0 for line in drained), drained
    finally:
        api.server.stop(signal.SIGKILL)


def test_sigterm_with_nothing_in_flight_exits_0_promptly(
    local_stack: tuple[LocalStack, Endpoints], api_database: tuple[str, list[Movie]]
) -> None:
    stack, endpoints = local_stack
    api = extra_api(stack, endpoints, api_database, spare_redis_db(endpoints, 4))
    proc = api.server.proc
    assert proc is not None
    try:
        assert api.get("/v1/genres").status_code == 200
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(IDLE_EXIT_BOUND_SECONDS)
        except Exception:
            pytest.fail(
                f"no exit {IDLE_EXIT_BOUND_SECONDS} s after SIGTERM with nothing in flight:\n"
                + api.server.tail(40)
            )
        assert code == 0, api.server.tail(40)
        assert connection_refused(api.url)
        drained = drained_lines(api)
        assert len(drained) == 2, api.server.tail(40)
        assert all(line.get("unfinished_requests") == 0 for line in drained), drained
        stopped = [line for line in api.log_lines() if line.get("msg") == "api stopped"]
        assert stopped and stopped[-1].get("clean") is True, api.server.tail(40)
    finally:
        api.server.stop(signal.SIGKILL)


# --- PostgreSQL out of reach -----------------------------------------------------------------


class Partition:
    """A TCP proxy in front of PostgreSQL that can be cut like a network: ``cut`` closes the
    connections through it and holds every new one without an answer (connecting hangs, as
    across a partition), ``mend`` lets them through again."""

    def __init__(self, upstream: tuple[str, int]):
        self.upstream = upstream
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.is_cut = threading.Event()
        self.open: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self.lock:
                self.open.append(client)
            if self.is_cut.is_set():
                continue  # held: never answered
            server = socket.create_connection(self.upstream)
            with self.lock:
                self.open.append(server)
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self.pump, args=(a, b), daemon=True).start()

    @staticmethod
    def pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close_all(self) -> None:
        with self.lock:
            for s in self.open:
                with contextlib.suppress(OSError):
                    s.close()
            self.open.clear()

    def cut(self) -> None:
        self.is_cut.set()
        self.close_all()

    def mend(self) -> None:
        self.is_cut.clear()
        self.close_all()  # the held ones: their clients connect again

    def stop(self) -> None:
        self.listener.close()
        self.close_all()


def test_postgresql_cut_off_uncached_requests_fail_at_once_and_recover(
    local_stack: tuple[LocalStack, Endpoints], api_database: tuple[str, list[Movie]]
) -> None:
    """Known unreachable, PostgreSQL is not waited for by every request: they get their 503
    (with Retry-After) at once, one a second probes, and answers come back once it is reachable."""
    stack, endpoints = local_stack
    url, movies = api_database
    parts = urlsplit(url)
    partition = Partition((parts.hostname or "127.0.0.1", parts.port or 5432))
    through = url.replace(f":{parts.port}/", f":{partition.port}/")
    api = extra_api(stack, endpoints, (through, movies), spare_redis_db(endpoints, 11))
    try:
        assert api.get("/v1/movies", params={"title": "love"}).status_code == 200
        partition.cut()

        def fast() -> float:
            return metric(api.url, "moviestore_api_database_fast_failures_total")

        before, answers = fast(), []
        for round_ in range(12):  # never asked before: not in any cache
            answers.append(api.get("/v1/movies", params={"title": f"cut {round_}"}))
        assert {a.status_code for a in answers} == {503}
        assert all(a.headers["retry-after"] == "1" for a in answers)
        assert {a.json()["type"].rsplit("/", 1)[1] for a in answers} == {"unavailable"}
        assert fast() > before  # some at once, not each after the pool's wait
        cached = api.get("/v1/movies", params={"title": "love"})
        assert cached.status_code == 200  # what is cached is still answered
        status, report = api.readiness()
        assert (status, report["postgres"]) == (503, "down")

        partition.mend()
        deadline = time.monotonic() + 20
        while api.get("/v1/movies", params={"title": "mended"}).status_code != 200:
            assert time.monotonic() < deadline, "no answer came back within 20 s of mending"
            time.sleep(0.2)
        log = api.log_lines()
        assert not [line for line in log if line.get("level") == "error"], api.server.tail(50)
    finally:
        api.server.stop()
        partition.stop()


def socket_inodes(pid: int) -> set[int]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = fd.readlink().name
            if target.startswith("socket:["):
                inodes.add(int(target[8:-1]))
    return inodes


def established_inodes(port: int) -> set[int]:
    """The inodes of the established TCP connections whose local port is ``port``."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                inodes.add(int(fields[9]))
    return inodes


def test_connections_are_spread_over_the_server_processes(api: Api) -> None:
    """Clients that connect at once while the API is idle (a load balancer's pool, wrk's
    connections) reach every server process: each listens on a socket of its own on the port
    and the kernel spreads connections by a hash of their addresses."""
    assert api.server.proc is not None
    children = Path(f"/proc/{api.server.proc.pid}/task/{api.server.proc.pid}/children")
    pids = [int(p) for p in children.read_text().split()]
    assert len(pids) == api.processes == 2
    port = urlsplit(api.url).port
    assert port is not None
    clients = []
    try:
        for _ in range(32):  # at once, as a pool opens; all on one process: 2 in 2^32
            clients.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        for client in clients:
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: t\r\n\r\n")
        for client in clients:
            assert client.recv(4096).startswith(b"HTTP/1.1 200")  # served: accepted
        connections = established_inodes(port)
        held = [len(socket_inodes(pid) & connections) for pid in pids]
    finally:
        for client in clients:
            client.close()
    assert sum(held) == 32
    assert min(held) > 0, held
