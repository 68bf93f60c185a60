"""Content codings: gzip and br, chosen by ``Accept-Encoding`` (RFC 9110 §12.5.3), each made
once per cached answer and kept on it beside the plain bytes (``Answer.encoded``), so a hit
costs a dict lookup, not a compression.

Bodies under ``MIN_BYTES`` are sent as they are (a coding would save little and cost a
round of the client's CPU), and so is any body a coding would not make smaller.
"""

from __future__ import annotations

import zlib
from typing import Protocol

import brotli

from moviestore.api import metrics

MIN_BYTES = 1024
# Levels for bytes made once and sent many times, still well under a millisecond for a
# 14 KB list answer (measured in tests/unit/test_api_encoding.py's neighbourhood: br 5 makes
# 10-15% smaller bodies than gzip 6 at a similar cost).
GZIP_LEVEL = 6
BR_QUALITY = 5
CODINGS = ("br", "gzip")  # preferred first at equal weight
# Distinct Accept-Encoding values remembered (clients send a handful).
MAX_REMEMBERED = 256


class Encodable(Protocol):
    body: bytes
    encoded: dict[str, bytes]


def gzip(body: bytes) -> bytes:
    # wbits 31: a gzip member (header and CRC), as clients expect of "gzip"
    compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)
    return compressor.compress(body) + compressor.flush()


def br(body: bytes) -> bytes:
    return bytes(brotli.compress(body, quality=BR_QUALITY))


COMPRESS = {"gzip": gzip, "br": br}


def parse(accept_encoding: str) -> str | None:
    """The coding to send: the acceptable one with the highest weight, br before gzip on a tie;
    None for the plain bytes (``identity``)."""
    weights: dict[str, float] = {}
    for part in accept_encoding.split(","):
        name, _, parameters = part.partition(";")
        name = name.strip().lower()
        weight = 1.0
        for parameter in parameters.split(";"):
            key, _, value = parameter.partition("=")
            if key.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        if name == "x-gzip":
            name = "gzip"
        weights[name] = weight
    star = weights.get("*", 0.0)
    best, best_weight = None, 0.0
    for coding in CODINGS:
        weight = weights.get(coding, star)
        if weight > best_weight:
            best, best_weight = coding, weight
    return best


class Negotiator:
    def __init__(self) -> None:
        self.remembered: dict[str, str | None] = {}

    def coding(self, accept_encoding: str | None) -> str | None:
        if not accept_encoding:
            return None
        found = self.remembered.get(accept_encoding, "")
        if found == "":
            found = parse(accept_encoding)
            if len(self.remembered) >= MAX_REMEMBERED:
                self.remembered.clear()
            self.remembered[accept_encoding] = found
        return found


def encoded(answer: Encodable, coding: str) -> bytes | None:
    """The answer's bytes in ``coding`` (made now if this is the first time), or None when
    the plain bytes are to be sent."""
    found = answer.encoded.get(coding)
    if found is None:
        body = answer.body
        made = b""
        if len(body) >= MIN_BYTES:
            made = COMPRESS[coding](body)
            metrics.COMPRESSIONS.labels(coding).inc()
        found = answer.encoded[coding] = made if 0 < len(made) < len(body) else b""
    return found or None
