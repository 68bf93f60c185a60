"""A strict RFC 8259 recursive-descent parser over the decoded characters of a catalog file.

Slow on purpose: one character at a time, every rule spelled out. It knows nothing about movies;
it builds a small tree per value (with byte offsets) and enforces the stream-level limits that
the spec attaches to JSON text: nesting depth and the size of one record.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field

from tests.model.stream import FileError, Text

JSON_WHITESPACE = " \t\n\r"
NDJSON_WHITESPACE = " \t\r"  # in NDJSON, LF ends the line
DIGITS = "0123456789"
HEX_DIGITS = "0123456789abcdefABCDEF"
VALUE_START = '{["-tfn' + DIGITS
SHORT_ESCAPES = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}


class NotJsonError(Exception):
    """The text is not JSON; `offset` is the first byte that cannot continue it."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"{message} at byte {offset}")
        self.offset = offset
        self.message = message


@dataclass
class Member:
    name: str  # unescaped; may hold lone surrogates written as escapes
    name_offset: int
    value: Node


@dataclass
class Node:
    kind: str  # "object", "array", "string", "number", "true", "false" or "null"
    offset: int  # of the first byte
    text: str = ""  # string: the unescaped value; number: the token as written
    items: list[Node] = field(default_factory=list)
    members: list[Member] = field(default_factory=list)


def is_surrogate(cp: int) -> bool:
    return 0xD800 <= cp <= 0xDFFF


def join_code_points(cps: list[int]) -> str:
    """Pair each high-surrogate escape with a low-surrogate escape right after it.

    Raw surrogates cannot appear in valid UTF-8, so every surrogate here came from an escape.
    Unpaired ones stay in the result as lone surrogates.
    """
    out: list[str] = []
    i = 0
    while i < len(cps):
        cp = cps[i]
        if 0xD800 <= cp <= 0xDBFF and i + 1 < len(cps) and 0xDC00 <= cps[i + 1] <= 0xDFFF:
            out.append(chr(0x10000 + ((cp - 0xD800) << 10) + (cps[i + 1] - 0xDC00)))
            i += 2
        else:
            out.append(chr(cp))
            i += 1
    return "".join(out)


class Parser:
    """A cursor over `text.chars`.

    `record_limit`: while a record is open, the byte offset its text must not reach; every
    character the parser takes (or fails on) inside the record is checked against it first.
    """

    def __init__(self, text: Text, *, max_depth: int, ndjson: bool) -> None:
        self.text = text
        self.chars = text.chars
        self.pos = 0
        self.max_depth = max_depth
        self.whitespace = NDJSON_WHITESPACE if ndjson else JSON_WHITESPACE
        self.ndjson = ndjson
        self.record_limit: int | None = None
        # Two Python frames per nesting level (value -> array/object), and the depth limit
        # stops the recursion before it goes deeper than max_depth + 1 levels.
        sys.setrecursionlimit(max(sys.getrecursionlimit(), 2 * max_depth + 1000))

    # --- the cursor ---------------------------------------------------------------------------

    def offset(self) -> int:
        return self.text.offsets[self.pos]

    def peek(self) -> str | None:
        """The next character without taking it, or None at the end of the usable text."""
        return self.chars[self.pos] if self.pos < len(self.chars) else None

    def need(self) -> str:
        """The next character; running out of text is the stream's stop error or truncation."""
        c = self.peek()
        if c is None:
            if self.text.stop is not None:
                raise self.text.stop
            raise NotJsonError(self.offset(), "unexpected end of file")
        return c

    def count(self) -> None:
        """The next character belongs to the open record: check the record size first."""
        if self.record_limit is None or self.pos >= len(self.chars):
            return
        if self.ndjson and self.chars[self.pos] == "\n":
            return  # the line terminator is not part of the line
        if self.text.end_of(self.pos) > self.record_limit:
            raise FileError("too_large", self.offset(), "a record exceeds the record size limit")

    def take(self) -> str:
        c = self.need()
        self.count()
        self.pos += 1
        return c

    def fail(self, message: str) -> NotJsonError:
        """A parse failure at the next character (or at the end of the text)."""
        self.need()
        self.count()
        return NotJsonError(self.offset(), message)

    def skip_whitespace(self) -> None:
        while (c := self.peek()) is not None and c in self.whitespace:
            self.take()

    def expect(self, c: str) -> None:
        if self.need() != c:
            raise self.fail(f"expected {c!r}")
        self.take()

    # --- values -------------------------------------------------------------------------------

    def value(self, depth: int) -> Node:
        c = self.need()
        if c in "[{":
            self.count()
            if depth > self.max_depth:
                raise FileError("depth", self.offset(), f"nesting deeper than {self.max_depth}")
            return self.array(depth) if c == "[" else self.object(depth)
        if c == '"':
            offset = self.offset()
            return Node("string", offset, text=self.string())
        if c == "-" or c in DIGITS:
            offset = self.offset()
            return Node("number", offset, text=self.number())
        for word in ("true", "false", "null"):
            if c == word[0]:
                offset = self.offset()
                for expected in word:
                    if self.need() != expected:
                        raise self.fail(f"invalid literal, expected {word!r}")
                    self.take()
                return Node(word, offset)
        raise self.fail("expected a JSON value")

    def array(self, depth: int) -> Node:
        node = Node("array", self.offset())
        self.expect("[")
        self.skip_whitespace()
        if self.need() == "]":
            self.take()
            return node
        while True:
            self.skip_whitespace()
            node.items.append(self.value(depth + 1))
            self.skip_whitespace()
            c = self.need()
            if c == ",":
                self.take()
            elif c == "]":
                self.take()
                return node
            else:
                raise self.fail("expected ',' or ']'")

    def object(self, depth: int) -> Node:
        node = Node("object", self.offset())
        self.expect("{")
        self.skip_whitespace()
        if self.need() == "}":
            self.take()
            return node
        while True:
            self.skip_whitespace()
            if self.need() != '"':
                raise self.fail("expected a field name")
            name_offset = self.offset()
            name = self.string()
            self.skip_whitespace()
            self.expect(":")
            self.skip_whitespace()
            node.members.append(Member(name, name_offset, self.value(depth + 1)))
            self.skip_whitespace()
            c = self.need()
            if c == ",":
                self.take()
            elif c == "}":
                self.take()
                return node
            else:
                raise self.fail("expected ',' or '}'")

    def string(self) -> str:
        self.expect('"')
        cps: list[int] = []
        while True:
            c = self.need()
            if c == '"':
                self.take()
                return join_code_points(cps)
            if c == "\\":
                self.take()
                e = self.need()
                if e in SHORT_ESCAPES:
                    self.take()
                    cps.append(ord(SHORT_ESCAPES[e]))
                elif e == "u":
                    self.take()
                    digits = ""
                    for _ in range(4):
                        if self.need() not in HEX_DIGITS:
                            raise self.fail("expected a hex digit")
                        digits += self.take()
                    cps.append(int(digits, 16))
                else:
                    raise self.fail("invalid escape")
            elif ord(c) < 0x20:
                raise self.fail("unescaped control character in a string")
            else:
                self.take()
                cps.append(ord(c))

    def number(self) -> str:
        """-?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?

        The character that ends a number is only looked at, not taken: it is not part of it.
        """
        start = self.pos
        if self.need() == "-":
            self.take()
        c = self.need()
        if c == "0":
            self.take()
        elif c in "123456789":
            self.take()
            self.digits()
        else:
            raise self.fail("expected a digit")
        if self.peek() == ".":
            self.take()
            if self.need() not in DIGITS:
                raise self.fail("expected a digit after '.'")
            self.digits()
        if self.peek() in ("e", "E"):
            self.take()
            if self.need() in "+-":
                self.take()
            if self.need() not in DIGITS:
                raise self.fail("expected a digit in the exponent")
            self.digits()
        return self.chars[start : self.pos]

    def digits(self) -> None:
        while (c := self.peek()) is not None and c in DIGITS:
            self.take()
