"""The API as a product: keys (401, 403, revocation in every process), per-key rate limits
across processes through Redis and without it, compressed answers, CORS and the Link header.

The APIs here need keys (anonymous reads off), as in production."""

from __future__ import annotations

import gzip
import http.client
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import brotli
import pytest
import requests

from moviestore.localstack.processes import free_port
from moviestore.localstack.redis import Redis
from moviestore.localstack.stack import Endpoints, LocalStack
from tests.integration.api.catalog import Movie
from tests.integration.api.conftest import keyed_env, make_key, metric
from tests.integration.api.extra import Extra, extra_api, spare_redis_db

REVOCATION_BOUND_SECONDS = 5
PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
def keyed(
    local_stack: tuple[LocalStack, Endpoints], api_database: tuple[str, list[Movie]]
) -> Iterator[Extra]:
    """Two server processes that need keys; CORS for one origin."""
    stack, endpoints = local_stack
    env = keyed_env({"MOVIESTORE_API_CORS_ORIGINS": '["https://app.example"]'})
    api = extra_api(stack, endpoints, api_database, spare_redis_db(endpoints, 11), env)
    try:
        yield api
    finally:
        api.server.stop()


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def keys_command(endpoints: Endpoints, database_url: str, *args: str) -> str:
    env = {**os.environ, **endpoints.settings_env(), "MOVIESTORE_DATABASE_URL": database_url}
    run = subprocess.run(
        [sys.executable, "-m", "moviestore.cli", "keys", *args],
        env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    return run.stdout.strip()


def until(condition: Any, bound: float) -> bool:
    deadline = time.monotonic() + bound
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def known_everywhere(api: Extra, key: str, in_a_row: int = 20) -> None:
    """Until ``in_a_row`` requests in a row, each on a new connection (either server process
    takes it), are answered: every process has read the new key."""

    def answered() -> bool:
        return all(
            requests.get(api.url + "/v1/genres", headers=bearer(key), timeout=5).ok
            for _ in range(in_a_row)
        )

    assert until(answered, 5)


# --- keys ----------------------------------------------------------------------------------


def test_no_key_or_a_bad_one_is_a_401_problem_even_for_a_cached_answer(keyed: Extra) -> None:
    key = make_key(keyed.database, "reader")
    known_everywhere(keyed, key)
    for _ in range(3):  # now cached in memory: the key is still checked before it is served
        assert keyed.get("/v1/genres", headers={"X-API-Key": key}).status_code == 200
    refused = [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": f"Basic {key}"},
        {"Authorization": f"Bearer {key}x"},
        {"X-API-Key": key[:-1]},
        {"X-API-Key": "ms_" + "a" * 60},
        {"X-API-Key": ""},
    ]
    for headers in refused:
        response = keyed.get("/v1/genres", headers=headers)
        assert response.status_code == 401, headers
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"].endswith("/unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
    # The operations and the docs need no key.
    for path in ["/healthz", "/readyz", "/openapi.json", "/docs"]:
        assert keyed.get(path).status_code == 200, path


def test_a_revoked_key_stops_working_in_every_process_within_5_s(
    keyed: Extra, local_stack: tuple[LocalStack, Endpoints]
) -> None:
    database = keyed.database
    made = json.loads(
        keys_command(local_stack[1], database, "create", "--name", "to revoke", "--rate", "1000/s")
    )
    key = made["key"]
    known_everywhere(keyed, key)
    listed = keys_command(local_stack[1], database, "list")
    assert made["key_id"] in listed and key not in listed

    keys_command(local_stack[1], database, "revoke", made["key_id"])
    revoked_at = time.monotonic()
    # Every later request, on new connections spread over both processes, is refused once the
    # bound has passed: ask until 60 in a row are 401, and see when that run began.
    run_began, run = None, 0
    while run < 60:
        status = requests.get(keyed.url + "/v1/genres", headers=bearer(key), timeout=5).status_code
        if status == 401:
            run_began, run = run_began or time.monotonic(), run + 1
        else:
            assert status == 200
            run_began, run = None, 0
            assert time.monotonic() - revoked_at < REVOCATION_BOUND_SECONDS + 5
    assert run_began is not None
    assert run_began - revoked_at <= REVOCATION_BOUND_SECONDS


def test_a_provider_key_reads_its_own_ingestions_and_no_one_elses(keyed: Extra) -> None:
    database = keyed.database
    acme = make_key(database, "acme's uploader", provider="acme")
    reader = make_key(database, "a reader")
    known_everywhere(keyed, reader)
    own = keyed.get("/v1/providers/acme/ingestions", headers=bearer(acme))
    assert own.status_code == 200, own.text
    assert keyed.get("/v1/providers/%61cme/ingestions", headers=bearer(acme)).status_code == 200
    for path, key in [
        ("/v1/providers/zeta/ingestions", acme),
        ("/v1/providers/acme-2/ingestions", acme),
        ("/v1/providers/acme/ingestions", reader),
    ]:
        response = keyed.get(path, headers=bearer(key))
        assert response.status_code == 403, path
        assert response.json()["type"].endswith("/forbidden")
    assert keyed.get("/v1/providers/acme/ingestions").status_code == 401
    for raw in ["/v1/providers/%zz/ingestions", "/v1/providers/ac%6/ingestions"]:
        assert raw_status(keyed, raw, bearer(acme)) == 400, raw
    # A provider's key reads the catalog like any other.
    assert keyed.get("/v1/movies?limit=1", headers=bearer(acme)).status_code == 200


def raw_status(api: Extra, target: str, headers: dict[str, str]) -> int:
    """The status of a request sent exactly as given (requests would quote a bad escape)."""
    connection = http.client.HTTPConnection(api.url.removeprefix("http://"), timeout=5)
    try:
        connection.request("GET", target, headers=headers)
        return connection.getresponse().status
    finally:
        connection.close()


def test_a_bad_percent_escape_is_a_400(keyed: Extra) -> None:
    key = make_key(keyed.database, "escapes")
    known_everywhere(keyed, key)
    for target in ["/v1/movies?title=%zz", "/v1/movies?title=love%", "/v1/movies?title=%4",
                   "/v1/movies?genre=%G1", "/v1/movies/1%z", "/v1/genres?%zz=1"]:  # fmt: skip
        assert raw_status(keyed, target, bearer(key)) == 400, target
    assert raw_status(keyed, "/v1/movies?title=%25zz", bearer(key)) == 200


# --- rate limits ---------------------------------------------------------------------------

RATE = 20
SHARE_OF = 2  # api_rate_limit_processes: each of the two APIs below is one process
HAMMER_SECONDS = 3.0


def hammer(apis: list[Extra], key: str, seconds: float) -> tuple[dict[str, Counter[int]], float]:
    """Two clients per API asking as fast as they can; the statuses each API answered."""
    statuses: dict[str, Counter[int]] = {api.url: Counter() for api in apis}
    seen: list[requests.Response] = []
    lock = threading.Lock()
    began = time.monotonic()

    def client(api: Extra) -> None:
        with requests.Session() as session:
            while time.monotonic() - began < seconds:
                response = session.get(api.url + "/v1/genres", headers=bearer(key), timeout=5)
                with lock:
                    statuses[api.url][response.status_code] += 1
                    if response.status_code == 429 and len(seen) < 5:
                        seen.append(response)

    threads = [threading.Thread(target=client, args=(api,)) for api in apis for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - began
    for response in seen:
        assert response.headers["content-type"] == PROBLEM
        assert response.json()["type"].endswith("/rate-limited")
        assert int(response.headers["retry-after"]) >= 1
        assert response.headers["ratelimit-policy"] == f'"key";q={RATE};w=1'
        assert response.headers["ratelimit"].startswith('"key";r=0;t=')
    return statuses, elapsed


def two_apis(
    stack: LocalStack, endpoints: Endpoints, database: tuple[str, list[Movie]], redis_url: str
) -> list[Extra]:
    env = keyed_env({"MOVIESTORE_API_PROCESSES": "1",
                     "MOVIESTORE_API_RATE_LIMIT_PROCESSES": str(SHARE_OF)})  # fmt: skip
    apis = [extra_api(stack, endpoints, database, redis_url, env)]
    try:
        apis.append(extra_api(stack, endpoints, database, redis_url, env))
    except BaseException:
        apis[0].server.stop()
        raise
    return apis


def test_a_key_over_its_limit_gets_429_from_two_processes_sharing_redis(
    local_stack: tuple[LocalStack, Endpoints], api_database: tuple[str, list[Movie]]
) -> None:
    stack, endpoints = local_stack
    apis = two_apis(stack, endpoints, api_database, spare_redis_db(endpoints, 12))
    try:
        key = make_key(api_database[0], "scraper", rate=RATE)
        for api in apis:
            known_everywhere(api, key, in_a_row=1)
        time.sleep(1.5)  # the probes' tokens back, both processes known to Redis for the key
        statuses, elapsed = hammer(apis, key, HAMMER_SECONDS)
    finally:
        for api in apis:
            api.server.stop()
    admitted = sum(s[200] for s in statuses.values())
    assert all(s[429] > 0 for s in statuses.values()), statuses
    assert set().union(*statuses.values()) <= {200, 429}, statuses
    # docs/api.md: a full bucket (RATE) and RATE a second, plus at most one more burst.
    bound = RATE + RATE * elapsed + RATE
    assert admitted <= bound, (statuses, elapsed)
    # ... and the two processes together do not limit it to one process's share either.
    assert admitted >= RATE * elapsed * 0.6, (statuses, elapsed)


def test_with_redis_stopped_each_process_limits_on_its_share(
    local_stack: tuple[LocalStack, Endpoints],
    api_database: tuple[str, list[Movie]],
    tmp_path: Path,
) -> None:
    stack, endpoints = local_stack
    redis = Redis(tmp_path, free_port())
    redis_server = redis.start()
    apis = two_apis(stack, endpoints, api_database, redis.url())
    try:
        key = make_key(api_database[0], "scraper without redis", rate=RATE)
        for api in apis:
            known_everywhere(api, key, in_a_row=1)
        redis_server.proc.send_signal(signal.SIGKILL)  # type: ignore[union-attr]
        redis_server.proc.wait(5)  # type: ignore[union-attr]
        time.sleep(1.5)  # a sync has failed in each process; the share refilled
        statuses, elapsed = hammer(apis, key, HAMMER_SECONDS)
    finally:
        for api in apis:
            api.server.stop()
        redis_server.stop()
    share = RATE / SHARE_OF
    for url, counted in statuses.items():
        assert counted[429] > 0, (url, statuses)
        assert set(counted) <= {200, 429}, statuses
        # Its share's bucket full, and its share a second.
        assert counted[200] <= share + share * elapsed, (url, statuses, elapsed)


# --- compression, CORS, Link -------------------------------------------------------------


def test_compressed_and_plain_answers_decode_to_the_same_json_with_the_same_etags(
    keyed: Extra,
) -> None:
    key = make_key(keyed.database, "compression")
    known_everywhere(keyed, key)
    path = "/v1/movies?limit=50&sort=-year"

    def ask(encoding: str, **headers: str) -> requests.Response:
        raw = requests.get(
            keyed.url + path, timeout=5, stream=True,
            headers={**bearer(key), "Accept-Encoding": encoding, **headers},
        )  # fmt: skip
        raw.raw.decode_content = False
        raw._content = raw.raw.read()  # the bytes as sent, not decoded by requests
        return raw

    plain = ask("identity")
    assert "content-encoding" not in plain.headers
    assert "Accept-Encoding" in plain.headers["vary"]
    document = json.loads(plain.content)
    tag = plain.headers["etag"]
    before = metric(keyed.url, "moviestore_api_compressions_total")
    for encoding, coding, decode in [
        ("gzip", "gzip", gzip.decompress),
        ("br", "br", brotli.decompress),
        ("gzip, br", "br", brotli.decompress),
        ("br;q=0.5, gzip", "gzip", gzip.decompress),
        ("*", "br", brotli.decompress),
    ]:
        for _ in range(10):
            got = ask(encoding)
            assert got.status_code == 200
            assert got.headers["content-encoding"] == coding, encoding
            assert json.loads(decode(got.content)) == document
            assert got.headers["etag"] == tag[:-1] + f'-{coding}"'
            assert len(got.content) < len(plain.content) / 2
    # Each coding made once per process, however many asked (two processes: at most 2 each).
    assert metric(keyed.url, "moviestore_api_compressions_total") - before <= 4
    for refused in ["gzip;q=0", "identity", "deflate", "br;q=0, gzip;q=0"]:
        assert "content-encoding" not in ask(refused).headers, refused
    # 304 for the tag of any coding, whichever coding is asked for now.
    for given in [tag, tag[:-1] + '-gzip"', f'W/{tag[:-1]}-br"']:
        for encoding in ["gzip", "identity"]:
            assert ask(encoding, **{"If-None-Match": given}).status_code == 304
    assert ask("gzip", **{"If-None-Match": tag[:-1] + 'x"'}).status_code == 200
    # A small answer goes as it is.
    movie = keyed.movies[0].id
    small = ask_path(keyed, f"/v1/movies/{movie}?", key)
    assert "content-encoding" not in small.headers


def ask_path(api: Extra, path: str, key: str) -> requests.Response:
    return api.get(path.rstrip("?"), headers={**bearer(key), "Accept-Encoding": "gzip"})


def test_cors_for_the_configured_origins_only(keyed: Extra) -> None:
    key = make_key(keyed.database, "browser app")
    known_everywhere(keyed, key)
    preflight = requests.options(
        keyed.url + "/v1/movies", timeout=5,
        headers={"Origin": "https://app.example", "Access-Control-Request-Method": "GET",
                 "Access-Control-Request-Headers": "authorization"},
    )  # fmt: skip
    assert preflight.status_code == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert "Authorization" in preflight.headers["access-control-allow-headers"]
    allowed = keyed.get("/v1/genres", headers={**bearer(key), "Origin": "https://app.example"})
    assert allowed.headers["access-control-allow-origin"] == "https://app.example"
    assert "Origin" in allowed.headers["vary"]
    assert "ETag" in allowed.headers["access-control-expose-headers"]
    refused = keyed.get("/v1/genres", headers={**bearer(key), "Origin": "https://evil.example"})
    assert refused.status_code == 200
    assert "access-control-allow-origin" not in refused.headers
    other = requests.options(keyed.url + "/v1/genres", timeout=5,
                             headers={"Origin": "https://evil.example"})  # fmt: skip
    assert "access-control-allow-origin" not in other.headers


def test_the_link_header_leads_to_the_next_page(keyed: Extra) -> None:
    key = make_key(keyed.database, "pager")
    known_everywhere(keyed, key)
    path = "/v1/movies?limit=7&sort=year&exclude_genre=Drama&fields=id,year"
    seen: list[int] = []
    total = None
    for _ in range(200):
        page = keyed.get(path, headers=bearer(key))
        assert page.status_code == 200, page.text
        body = page.json()
        total = body["total"]
        seen += [item["id"] for item in body["items"]]
        assert all(set(item) == {"id", "year"} for item in body["items"])
        if body["next_cursor"] is None:
            assert "link" not in page.headers
            break
        link = page.headers["link"]
        assert link.endswith('>; rel="next"') and link.startswith("</v1/movies?")
        assert body["next_cursor"] in unquote(link)
        path = link[1 : link.index(">")]
    assert total is not None and len(seen) == total == len(set(seen))
