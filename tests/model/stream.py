"""From the uploaded bytes to the characters the JSON parser may read, in stream order.

The pipeline the model assumes (docs/provider-format.md, "The first error in stream order wins"):
bytes -> gzip -> size limit -> UTF-8 decoder -> characters -> JSON parser. Every stage sees its
input in order, and time is measured in decompressed bytes read. The decoder hands a character to
the parser only once its last byte has been read; so a stage that fails while reading byte N stops
the stream before any character that ends at or after byte N reaches the parser.
"""

from __future__ import annotations

import bisect
import zlib
from dataclasses import dataclass, field

BOM = b"\xef\xbb\xbf"
GZIP_MAGIC = b"\x1f\x8b"


class FileError(Exception):
    """A whole-file error, raised from wherever it is detected."""

    def __init__(self, code: str, offset: int, message: str) -> None:
        super().__init__(f"{code} at byte {offset}: {message}")
        self.code = code
        self.offset = offset
        self.message = message


def gunzip(data: bytes) -> tuple[bytes, bool]:
    """Every byte a gzip decoder emits for `data`, and whether `data` was a well-formed gzip stream.

    One or more members, back to back, nothing after the last one (not even zero padding).
    Input is fed one byte at a time so that the bytes produced before a corruption is noticed
    are kept, as a streaming decoder would have handed them on.
    """
    out = bytearray()
    rest = data
    if not rest:
        return b"", False  # a gzip stream holds at least one member
    while rest:
        member = zlib.decompressobj(wbits=31)
        used = 0
        try:
            while used < len(rest) and not member.eof:
                out += member.decompress(rest[used : used + 1])
                used += 1
        except zlib.error:
            return bytes(out), False
        if not member.eof:
            return bytes(out), False  # truncated
        rest = member.unused_data + rest[used:]
    return bytes(out), True


@dataclass
class Text:
    """The decompressed bytes and the characters of it the parser gets to read."""

    data: bytes
    chars: str
    offsets: list[int]  # byte offset of each char, then one past the last usable char
    stop: FileError | None  # what ends the character stream early; None: the true end of file
    newlines: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.newlines = [i for i, b in enumerate(self.data) if b == 0x0A]

    def line_at(self, offset: int) -> int:
        """1-based line of the byte at `offset` (lines end in LF)."""
        return bisect.bisect_left(self.newlines, offset) + 1

    def end_of(self, index: int) -> int:
        """Byte offset just past char `index`."""
        return self.offsets[index + 1]


def utf8_error(data: bytes, start: int) -> tuple[int, int] | None:
    """(offset where the invalid sequence starts, offset of the byte that reveals it), or None.

    A byte that can never start a sequence reveals itself; an invalid continuation is revealed
    by that byte; a sequence cut off by the end of the data is revealed by the end of the data.
    """
    try:
        data[start:].decode("utf-8")
    except UnicodeDecodeError as e:
        bad = start + e.start
        if e.reason == "invalid start byte":
            return bad, bad
        if e.reason == "invalid continuation byte":
            return bad, start + e.end
        assert e.reason == "unexpected end of data", e.reason
        return bad, len(data)
    return None


def decode(data: bytes, *, gzip_failed: bool, max_bytes: int | None) -> Text:
    """Decode the decompressed stream, stopping at the first byte-level error in stream order."""
    start = len(BOM) if data.startswith(BOM) else 0
    # (time, tie order, error): the size check reads a byte before the decoder looks at it
    stops: list[tuple[int, int, FileError]] = []
    if max_bytes is not None and len(data) > max_bytes:
        msg = f"the decompressed file exceeds {max_bytes} bytes"
        stops.append((max_bytes, 0, FileError("too_large", max_bytes, msg)))
    if gzip_failed:
        stops.append((len(data), 1, FileError("encoding", len(data), "corrupt or truncated gzip")))
    decodable_end = len(data)
    bad = utf8_error(data, start)
    if bad is not None:
        decodable_end, revealed_at = bad
        stops.append((revealed_at, 1, FileError("encoding", decodable_end, "invalid UTF-8")))
    stop = min(stops, key=lambda s: (s[0], s[1]))[2] if stops else None
    stop_time = min(s[0] for s in stops) if stops else len(data)

    chars: list[str] = []
    offsets: list[int] = []
    offset = start
    for ch in data[start:decodable_end].decode("utf-8"):
        end = offset + len(ch.encode("utf-8"))
        if end > stop_time:  # its last byte comes at or after the stop
            break
        chars.append(ch)
        offsets.append(offset)
        offset = end
    offsets.append(offset)
    return Text(data=data, chars="".join(chars), offsets=offsets, stop=stop)
