"""Structured JSON logs: one object per line, with the correlation id of the work in hand."""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import orjson

correlation: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "correlation", default=None
)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        doc: dict[str, Any] = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
            **(correlation.get() or {}),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            doc["exc"] = self.formatException(record.exc_info)
        suppressed = getattr(record, "suppressed_before", 0)
        if suppressed:
            doc["suppressed_before"] = suppressed  # the same line, not written since the last
        return orjson.dumps(doc, default=str).decode()


class RepeatLimit(logging.Filter):
    """At most one line a second of each warning or error (its logger and text before
    formatting): a flood of the same error (one per malformed request) costs neither the disk
    nor the process.
    The lines held back are counted (``suppressed``) and their number rides on the next line
    written."""

    def __init__(self, suppressed: Callable[[str], None] | None = None, per_seconds: float = 1.0):
        super().__init__()
        self.suppressed, self.per_seconds = suppressed, per_seconds
        self.last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:  # requests' access lines are each wanted
            return True
        key = (record.name, str(record.msg)[:200])
        now = time.monotonic()
        written, held = self.last.get(key, (-self.per_seconds, 0))
        if now - written < self.per_seconds:
            self.last[key] = (written, held + 1)
            if self.suppressed is not None:
                self.suppressed(record.name)
            return False
        if len(self.last) >= 10_000:
            self.last.clear()
        self.last[key] = (now, 0)
        record.suppressed_before = held
        return True


def configure(level: str = "INFO", suppressed: Callable[[str], None] | None = None) -> None:
    """``suppressed``: repeated warnings and errors are held back (``RepeatLimit``), and it is
    told the logger of each (a metric counts them); None: every line is written."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    if suppressed is not None:
        handler.addFilter(RepeatLimit(suppressed))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("botocore", "boto3", "s3transfer", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


@contextlib.contextmanager
def correlated(**ids: Any) -> Iterator[None]:
    """Every log line inside carries these ids (e.g. message id and object key)."""
    token = correlation.set({**(correlation.get() or {}), **ids})
    try:
        yield
    finally:
        correlation.reset(token)


def event(logger: logging.Logger, level: int, msg: str, **fields: Any) -> None:
    logger.log(level, msg, extra={"fields": fields})
