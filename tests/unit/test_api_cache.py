"""The in-process answer cache: bounded by entries and bytes, valid for one catalog version."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from moviestore.api.cache import Answer, LocalCache


def test_answers_belong_to_one_catalog_version() -> None:
    cache = LocalCache(max_entries=10, max_bytes=1000, ttl_seconds=60)
    cache.put("k", Answer.of(b"old"), version=None)  # version unknown: not kept
    assert cache.get("k") is None
    assert cache.switch(1)
    cache.put("k", Answer.of(b"v1"), version=1)
    cache.put("late", Answer.of(b"v0"), version=0)  # computed before the switch: not kept
    assert cache.get("k") == Answer.of(b"v1") and cache.get("late") is None
    assert not cache.switch(1) and not cache.switch(0)  # never back to an older version
    assert cache.switch(2)
    assert cache.get("k") is None


def test_expired_answers_are_not_served() -> None:
    cache = LocalCache(max_entries=10, max_bytes=1000, ttl_seconds=-1)
    cache.switch(1)
    cache.put("k", Answer.of(b"x"), version=1)
    assert cache.get("k") is None


@given(
    st.lists(st.tuples(st.integers(0, 20), st.binary(max_size=300)), max_size=200),
    st.integers(1, 8),
    st.integers(1, 1000),
)
def test_bounds_hold_and_the_newest_answer_is_kept(
    puts: list[tuple[int, bytes]], max_entries: int, max_bytes: int
) -> None:
    cache = LocalCache(max_entries=max_entries, max_bytes=max_bytes, ttl_seconds=60)
    cache.switch(1)
    for key, body in puts:
        cache.put(key, Answer.of(body), version=1)
        assert len(cache.entries) <= max_entries
        assert cache.bytes == sum(len(a.body) for _, a in cache.entries.values()) <= max_bytes
        if len(body) <= max_bytes:
            assert cache.get(key) == Answer.of(body)


def test_etags_tell_bodies_apart() -> None:
    assert Answer.of(b"a").etag != Answer.of(b"b").etag
    assert Answer.of(b"a").etag == Answer.of(b"a").etag
    assert Answer.of(b"a").etag.startswith('"') and Answer.of(b"a").etag.endswith('"')
