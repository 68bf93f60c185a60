"""Opaque, signed pagination cursors.

A cursor holds the keyset position of the last item of a page (its sort value and id) and a
digest of the filters it was made for. It is signed (HMAC-SHA256, truncated) so that a forged
or edited cursor, or one reused with other filters, is a 400 rather than a surprising page.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac

import orjson

from moviestore.api.problems import Problem, invalid

SIGNATURE_BYTES = 16
# A cursor carries the last title of its page: up to 500 characters (the validator's limit),
# 4 bytes each in UTF-8, base64-encoded, plus the rest.
MAX_LENGTH = 4096


class Cursors:
    def __init__(self, secret: bytes):
        self.secret = secret

    def sign(self, payload: bytes) -> bytes:
        return hmac.new(self.secret, payload, hashlib.sha256).digest()[:SIGNATURE_BYTES]

    def encode(self, sort: str, filters: str, value: str | int, last_id: int) -> str:
        payload = orjson.dumps([sort, filters, value, last_id])
        return b64(payload) + "." + b64(self.sign(payload))

    def decode(self, cursor: str, sort: str, filters: str) -> tuple[str | int, int]:
        """The (sort value, id) the next page starts after; a Problem when it is not ours."""
        bad = invalid("cursor", "the cursor is malformed, forged, or from another query")
        if len(cursor) > MAX_LENGTH or cursor.count(".") != 1:
            raise bad
        payload_text, signature_text = cursor.split(".")
        try:
            payload, signature = unb64(payload_text), unb64(signature_text)
        except (binascii.Error, ValueError):
            raise bad from None
        if not hmac.compare_digest(signature, self.sign(payload)):
            raise bad
        try:
            made_for_sort, made_for, value, last_id = orjson.loads(payload)
        except (orjson.JSONDecodeError, ValueError, TypeError):
            raise bad from None
        if made_for_sort != sort or made_for != filters:
            raise Problem(
                400,
                "invalid-parameter",
                "the cursor was made for other filters or another sort order",
                "cursor",
            )
        if not isinstance(last_id, int) or not isinstance(value, str | int):
            raise bad
        return value, last_id


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    """Strict: base64 decoding forgives padding, stray characters and the spare bits of the
    last character; a cursor has exactly one spelling (else each would be its own cache key)."""
    data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    if b64(data) != text:
        raise ValueError("not the canonical spelling")
    return data
