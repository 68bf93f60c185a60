"""An independent reader of PostgreSQL binary COPY data, to check the extension's framing.

Format: https://www.postgresql.org/docs/current/sql-copy.html ("Binary Format") and the array
wire format of array_send (src/backend/utils/adt/arrayfuncs.c).
"""

from __future__ import annotations

import struct
import uuid

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + struct.pack(">ii", 0, 0)  # no flags, no header extension
TRAILER = struct.pack(">h", -1)
TEXT_OID = 25

# (column, wire type) in COPY_COLUMNS order (docs/validator-api.md)
COLUMNS = (
    ("title", "text"),
    ("year", "int4"),
    ("provider_id", "text"),
    ("href", "text"),
    ("cast", "text[]"),
    ("genres", "text[]"),
    ("extract", "text"),
    ("thumbnail", "text"),
    ("thumbnail_width", "int4"),
    ("thumbnail_height", "int4"),
    ("record_key", "uuid"),
    ("content_hash", "int8"),
    ("record", "int8"),
    ("line", "int8"),
)
NOT_NULL = {"title", "year", "cast", "genres", "record_key", "content_hash", "record", "line"}


class CopyFormatError(AssertionError):
    pass


class Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise CopyFormatError(f"need {n} bytes at {self.pos}, have {len(self.data) - self.pos}")
        chunk = self.data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def int16(self) -> int:
        return int(struct.unpack(">h", self.take(2))[0])

    def int32(self) -> int:
        return int(struct.unpack(">i", self.take(4))[0])

    def done(self) -> bool:
        return self.pos == len(self.data)


def utf8_text(raw: bytes) -> str:
    text = raw.decode("utf-8")  # strict: PostgreSQL rejects invalid UTF-8 in text
    if "\x00" in text:
        raise CopyFormatError("text holds U+0000, which PostgreSQL cannot store")
    return text


def text_array(raw: bytes) -> list[str]:
    r = Reader(raw)
    ndim, has_nulls, oid = r.int32(), r.int32(), r.int32()
    if oid != TEXT_OID or has_nulls != 0 or ndim not in (0, 1):
        raise CopyFormatError(f"bad text[] header ndim={ndim} nulls={has_nulls} oid={oid}")
    items: list[str] = []
    if ndim == 1:
        size, lower_bound = r.int32(), r.int32()
        if size < 0 or lower_bound != 1:
            raise CopyFormatError(f"bad text[] dimension size={size} lbound={lower_bound}")
        for _ in range(size):
            items.append(utf8_text(r.take(r.int32())))
    if not r.done():
        raise CopyFormatError("bytes after the text[] elements")
    return items


def field_value(kind: str, raw: bytes) -> object:
    if kind == "text":
        return utf8_text(raw)
    if kind == "text[]":
        return text_array(raw)
    if kind == "uuid":
        if len(raw) != 16:
            raise CopyFormatError("uuid must be 16 bytes")
        return str(uuid.UUID(bytes=raw))
    size = {"int4": 4, "int8": 8}[kind]
    if len(raw) != size:
        raise CopyFormatError(f"{kind} must be {size} bytes, got {len(raw)}")
    return int.from_bytes(raw, "big", signed=True)


def read_tuples(data: bytes) -> list[dict[str, object]]:
    """Tuples with no header or trailer (one batch's `copy_data`), as {column: value}."""
    r = Reader(data)
    rows: list[dict[str, object]] = []
    while not r.done():
        count = r.int16()
        if count != len(COLUMNS):
            raise CopyFormatError(f"tuple {len(rows)} has {count} fields, not {len(COLUMNS)}")
        row: dict[str, object] = {}
        for name, kind in COLUMNS:
            length = r.int32()
            if length == -1:
                if name in NOT_NULL:
                    raise CopyFormatError(f"{name} is NULL in tuple {len(rows)}")
                row[name] = None
            else:
                row[name] = field_value(kind, r.take(length))
        rows.append(row)
    return rows


def read_stream(stream: bytes) -> list[dict[str, object]]:
    """A complete COPY ... FROM STDIN (FORMAT binary) stream: header, tuples, trailer."""
    if not stream.startswith(HEADER):
        raise CopyFormatError("missing or wrong header")
    if not stream.endswith(TRAILER):
        raise CopyFormatError("missing trailer")
    return read_tuples(stream[len(HEADER) : -len(TRAILER)])
