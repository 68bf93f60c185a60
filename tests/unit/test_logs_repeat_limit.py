"""Repeated warnings and errors of the API: one line a second per message, the rest counted."""

from __future__ import annotations

import logging
from collections import Counter

import pytest

from moviestore import logs
from moviestore.logs import RepeatLimit


def record(msg: str, level: int = logging.ERROR, name: str = "actix_http.h1") -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, None, None)


def test_a_flood_of_one_error_writes_one_line_a_second_and_counts_the_rest(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr("moviestore.logs.time.monotonic", lambda: now[0])
    held: Counter[str] = Counter()
    limit = RepeatLimit(lambda logger: held.update([logger]))
    written = [
        r for r in (record("malformed request line") for _ in range(3000)) if limit.filter(r)
    ]
    assert len(written) == 1 and held == {"actix_http.h1": 2999}
    assert limit.filter(record("another error"))  # another message is its own
    assert limit.filter(record("malformed request line", logging.INFO))  # info: every line
    now[0] += 0.99
    assert not limit.filter(record("malformed request line"))
    now[0] += 0.02
    again = record("malformed request line")
    assert limit.filter(again)
    assert again.suppressed_before == 3000  # type: ignore[attr-defined]
    assert '"suppressed_before":3000' in logs.JsonFormatter().format(again)
