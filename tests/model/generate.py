"""Hypothesis strategies for catalog files: valid, near-valid, broken, compressed, chunked.

Values are built as small trees (`Raw`, `Str`, `Arr`, `Obj`) and then written out with a random
presentation (escapes, whitespace), so that the same movie can be written many different ways.
"""

from __future__ import annotations

import gzip
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from hypothesis import strategies as st

CURRENT_YEAR = 2026


@dataclass(frozen=True)
class Raw:
    """A number or literal written exactly as given (possibly not JSON at all, on purpose)."""

    text: str


@dataclass(frozen=True)
class Str:
    value: str  # may hold lone surrogates: they are always written as escapes


@dataclass(frozen=True)
class Arr:
    items: tuple[JValue, ...]


@dataclass(frozen=True)
class Obj:
    members: tuple[tuple[str, JValue], ...]


JValue = Raw | Str | Arr | Obj
NULL = Raw("null")


def pick(*values: JValue) -> st.SearchStrategy[JValue]:
    return st.sampled_from(values)


def either(*strategies: st.SearchStrategy[JValue]) -> st.SearchStrategy[JValue]:
    return st.one_of(*strategies)


# --- writing JSON text ------------------------------------------------------------------------

SHORT_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r"}
SHORT_ESCAPES["\t"] = "\\t"


@dataclass
class Style:
    """How to write JSON text: per-character random choices from one seeded generator."""

    rnd: random.Random
    escape_rate: float = 0.0
    spacing: float = 0.0
    newlines: bool = True  # False inside an NDJSON line

    def ws(self) -> str:
        if self.rnd.random() >= self.spacing:
            return ""
        choices = [" ", "  ", "\t", "\r"] + (["\n", "\r\n", "\n  "] if self.newlines else [])
        return self.rnd.choice(choices)

    def u_escape(self, cp: int) -> str:
        digits = f"{cp:04x}"
        return "\\u" + (digits.upper() if self.rnd.random() < 0.5 else digits)

    def string(self, s: str) -> str:
        out = ['"']
        for ch in s:
            cp = ord(ch)
            escape = self.rnd.random() < self.escape_rate
            if 0xD800 <= cp <= 0xDFFF:
                out.append(self.u_escape(cp))  # cannot be written raw in UTF-8
            elif ch in SHORT_ESCAPES and not (escape and self.rnd.random() < 0.5):
                out.append(SHORT_ESCAPES[ch])
            elif cp < 0x20 or ch in '"\\':
                out.append(self.u_escape(cp))
            elif ch == "/" and escape:
                out.append("\\/")
            elif escape and cp > 0xFFFF:
                high, low = 0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF)
                out.append(self.u_escape(high) + self.u_escape(low))
            elif escape:
                out.append(self.u_escape(cp))
            else:
                out.append(ch)
        out.append('"')
        return "".join(out)

    def value(self, v: JValue) -> str:
        if isinstance(v, Raw):
            return v.text
        if isinstance(v, Str):
            return self.string(v.value)
        if isinstance(v, Arr):
            if not v.items:
                return "[" + self.ws() + "]"
            inner = ",".join(self.ws() + self.value(item) + self.ws() for item in v.items)
            return "[" + inner + "]"
        if not v.members:
            return "{" + self.ws() + "}"
        inner = ",".join(
            self.ws()
            + self.string(name)
            + self.ws()
            + ":"
            + self.ws()
            + self.value(value)
            + self.ws()
            for name, value in v.members
        )
        return "{" + inner + "}"


@st.composite
def styles(draw: st.DrawFn, *, newlines: bool = True) -> Style:
    return Style(
        rnd=draw(st.randoms(use_true_random=False)),
        escape_rate=draw(st.sampled_from([0.0, 0.0, 0.05, 0.5, 1.0])),
        spacing=draw(st.sampled_from([0.0, 0.0, 0.2, 1.0])),
        newlines=newlines,
    )


# --- field values -----------------------------------------------------------------------------

PLAIN = "abcXYZ019 -.'éß字😀𝄞"
WHITE_SPACE = [
    "\t", "\n", "\x0b", "\x0c", "\r", " ", "\x85", "\xa0", "\u1680", "\u2000", "\u2005",
    "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000",
]  # fmt: skip
NOT_WHITE_SPACE = ["\x1c", "\x1f", "\u200b", "\ufeff", "\u180e", "\x00", "\x01", "\x7f"]
SURROGATES = ["\ud800", "\udbff", "\udc00", "\udfff", "\ud83d", "\ude00"]
SPECIAL = [*WHITE_SPACE, *NOT_WHITE_SPACE, *SURROGATES, '"', "\\", "/", "~", "\u0301", "\U0010ffff"]
WIDE = ["a", "é", "字", "😀"]  # 1, 2, 3 and 4 UTF-8 bytes; 1 code point each

plain_text = st.text(alphabet=st.sampled_from(PLAIN), min_size=1, max_size=10)
any_text = st.text(alphabet=st.sampled_from(list(PLAIN) + SPECIAL), max_size=8)
padding = st.text(alphabet=st.sampled_from(WHITE_SPACE + NOT_WHITE_SPACE[:4]), max_size=3)


@st.composite
def texts(draw: st.DrawFn, limit: int, *, boundary: bool = True) -> str:
    """Strings for a field of at most `limit` code points: mostly fine, often not."""
    kind = draw(st.sampled_from(["plain", "plain", "padded", "any", "blank", "boundary"]))
    if kind == "plain":
        return draw(plain_text)
    if kind == "padded":
        return draw(padding) + draw(plain_text) + draw(padding)
    if kind == "any":
        return draw(any_text)
    if kind == "blank":
        return draw(st.text(alphabet=st.sampled_from(WHITE_SPACE), max_size=3))
    if not boundary:
        return draw(plain_text)
    n = draw(st.sampled_from([limit - 1, limit, limit + 1]))
    return draw(padding) + draw(st.sampled_from(WIDE)) * n + draw(padding)


def one_in(n: int) -> st.SearchStrategy[bool]:
    """True with probability 1/n. The simplest draw (zero) is False, so that the examples
    hypothesis starts from and shrinks towards are the ordinary case, not the rare one."""
    return st.integers(0, n - 1).map(lambda k: k == n - 1)


def raw_int(n: int) -> Raw:
    return Raw(str(n))


HUGE = ["9" * 300, "-" + "9" * 300, "1" + "0" * 19, "18446744073709551617", "-9223372036854775809"]
NOT_INTEGERS = ["2010.0", "2e3", "2E3", "2.01e3", "1e0", "1.0", "-0.0", "0e0", "1E+2", "1e-2"]
WRONG_TYPES: list[JValue] = [Raw("true"), Raw("false"), Arr(()), Obj(()), Str("2010"), Str("")]

years = either(
    st.integers(1995, 2026).map(raw_int),
    st.sampled_from(["1888", "1887", "2031", "2032", "1915", "-0", "0", "-1", *HUGE]).map(Raw),
    st.sampled_from(NOT_INTEGERS).map(Raw),
    pick(*WRONG_TYPES, NULL),
)
dimensions = either(
    st.integers(1, 2000).map(raw_int),
    st.sampled_from(["0", "1", "100000", "100001", "-1", "-0", *HUGE, *NOT_INTEGERS]).map(Raw),
    pick(*WRONG_TYPES, NULL),
)
ids = either(
    st.sampled_from([12, 7, 0, -5]).map(raw_int),
    st.sampled_from(["12", " 12 ", "12\u3000", "7", "x", "-0", "0"]).map(Str),
    st.sampled_from(
        ["-0", "1" * 200, "1" * 201, "-" + "1" * 199, "-" + "1" * 200, *HUGE, *NOT_INTEGERS]
    ).map(Raw),
    texts(200).map(Str),
    pick(*WRONG_TYPES[:4], NULL),
)
URLS = [
    "http://x", "https://example.com/a.jpg", "HTTPS://x", "hTtP://x", " http://x ", "http:// x",
    "http:///x", "http://?q", "http://#f", "http://", "https:/x", "ftp://x", "//x", "x",
    "\uff48ttp://x", "http\x00://x", "", "  ", "http://\x00", "https://\ud800",
]  # fmt: skip
thumbnails = either(
    st.sampled_from(URLS).map(Str),
    st.sampled_from([1999, 2000, 2001]).map(lambda n: Str("http://" + "a" * (n - 7))),
    texts(2000, boundary=False).map(Str),
    pick(Raw("1"), Arr(()), NULL),
)
hrefs = either(
    st.sampled_from(["", " ", "a", "b", "https://en.wikipedia.org/wiki/Carmen"]).map(Str),
    texts(1000).map(Str),
    pick(Raw("1"), Raw("true"), Obj(()), NULL),
)
extracts = either(texts(100_000, boundary=False).map(Str), pick(Raw("1.5"), Arr(()), NULL))
titles = either(
    st.sampled_from(["Carmen", " Carmen", "Carmen\u3000", "Les Misérables", "😀"]).map(Str),
    texts(500).map(Str),
    pick(Raw("1"), Raw("false"), Arr((Str("x"),)), NULL),
)
NAMES = ["Geraldine Farrar", "Theda Bara", " Theda Bara", "Theda Bara ", "x"]


def string_items(limit: int) -> st.SearchStrategy[JValue]:
    return either(
        st.sampled_from(NAMES).map(Str),
        texts(limit).map(Str),
        pick(Raw("1"), NULL, Arr(()), Obj(())),
    )


@st.composite
def string_lists(draw: st.DrawFn, item_limit: int, count_limit: int) -> JValue:
    kind = draw(st.sampled_from(["short", "short", "long", "wrong"]))
    if kind == "short":
        return Arr(tuple(draw(st.lists(string_items(item_limit), max_size=6))))
    if kind == "wrong":
        return draw(pick(NULL, Str("Drama"), Raw("3"), Obj(())))
    n = draw(st.sampled_from([count_limit - 1, count_limit, count_limit + 1, count_limit + 2]))
    distinct = draw(st.booleans())
    items: list[JValue] = [Str(f"n{i}" if distinct else "same") for i in range(n)]
    if draw(st.booleans()):
        items.append(Raw("1"))  # past the limit: never checked
    return Arr(tuple(items))


FIELD_VALUES: dict[str, st.SearchStrategy[JValue]] = {
    "id": ids,
    "href": hrefs,
    "cast": string_lists(200, 1000),
    "genres": string_lists(64, 50),
    "extract": extracts,
    "thumbnail": thumbnails,
    "thumbnail_width": dimensions,
    "thumbnail_height": dimensions,
    "deleted": pick(Raw("true"), Raw("false"), Raw("true"), Str("true"), Raw("1"), Arr(())),
}
IGNORED_NAMES = ["foo", "Title", "YEAR", "", "a/b", "~0", "movies", "\ud800", "😀", "ti\x00tle"]


@st.composite
def nested(draw: st.DrawFn, depth: int) -> JValue:
    """`depth` containers nested inside each other."""
    value: JValue = draw(pick(Raw("1"), Str("x"), NULL))
    for _ in range(depth):
        value = Arr((value,)) if draw(st.booleans()) else Obj((("k", value),))
    return value


def ignored_values(max_depth: int) -> st.SearchStrategy[JValue]:
    scalars = st.one_of(
        st.sampled_from(
            ["0", "-1.5e-3", "1E400", "-0", "true", "null", "123456789012345678901234567890"]
        ).map(Raw),
        any_text.map(Str),
    )
    trees = st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=3).map(lambda xs: Arr(tuple(xs))),
            st.lists(st.tuples(st.sampled_from(["a", "b", "a"]), inner), max_size=3).map(
                lambda ms: Obj(tuple(ms))
            ),
        ),
        max_leaves=6,
    )
    deep = st.integers(max(0, max_depth - 3), max_depth + 1).flatmap(nested)
    return st.one_of(trees, trees, trees, deep)


clean_text = st.text(alphabet=st.sampled_from(PLAIN.replace(" ", "")), min_size=1, max_size=12)
CLEAN_VALUES: dict[str, st.SearchStrategy[JValue]] = {
    "title": either(pick(Str("Carmen"), Str("Carmen ")), clean_text.map(Str)),
    "year": st.one_of(st.sampled_from([1915, 1888, 2031]), st.integers(1888, 2031)).map(raw_int),
    "id": either(st.integers(-(10**30), 10**30).map(raw_int), clean_text.map(Str)),
    "href": either(pick(Str("")), clean_text.map(Str)),
    "cast": st.lists(clean_text.map(Str), max_size=4).map(lambda xs: Arr(tuple(xs))),
    "genres": st.lists(clean_text.map(Str), max_size=3).map(lambda xs: Arr(tuple(xs))),
    "extract": clean_text.map(Str),
    "thumbnail": clean_text.map(lambda s: Str("https://" + s)),
    "thumbnail_width": st.integers(1, 100_000).map(raw_int),
    "thumbnail_height": st.integers(1, 100_000).map(raw_int),
    "deleted": pick(Raw("true"), Raw("false")),
}


@st.composite
def clean_movies(draw: st.DrawFn) -> Obj:
    """A movie with no error (keys may still collide with other movies)."""
    members = [(name, draw(CLEAN_VALUES[name])) for name in ("title", "year")]
    for name, values in CLEAN_VALUES.items():
        if name not in ("title", "year", "deleted") and draw(st.booleans()):
            members.append((name, draw(values)))
    return Obj(tuple(draw(st.permutations(members))))


@st.composite
def movies(draw: st.DrawFn, max_depth: int) -> Obj:
    """A movie object; each field is as often written well as anyhow."""
    any_values = {"title": titles, "year": years, **FIELD_VALUES}

    def value(name: str) -> JValue:
        return draw(any_values[name] if draw(one_in(2)) else CLEAN_VALUES[name])

    members: list[tuple[str, JValue]] = []
    for name in ("title", "year"):
        if not draw(one_in(10)):
            members.append((name, value(name)))
    for name in FIELD_VALUES:
        if draw(one_in(4)):
            members.append((name, value(name)))
    for _ in range(draw(st.integers(0, 2))):
        members.append((draw(st.sampled_from(IGNORED_NAMES)), draw(ignored_values(max_depth))))
    members = list(draw(st.permutations(members)))
    repeat = draw(one_in(10))
    if members and repeat:
        name, _ = draw(st.sampled_from(members))
        again = draw(either(pick(NULL), titles, years))
        members.insert(draw(st.integers(0, len(members))), (name, again))
    return Obj(tuple(members))


def same_content(members: tuple[tuple[str, JValue], ...]) -> st.SearchStrategy[Obj]:
    """The same movie written differently: order, padding, null fields, int ids as strings."""

    def rewrite(name: str, value: JValue, pad: str) -> JValue:
        if isinstance(value, Str) and name in ("title", "href", "id") and value.value.strip():
            return Str(pad + value.value + pad)
        if name == "id" and isinstance(value, Raw) and value.text.lstrip("-").isdigit():
            return Str("0" if value.text == "-0" else value.text)
        return value

    @st.composite
    def build(draw: st.DrawFn) -> Obj:
        pad = draw(st.sampled_from(["", " ", "\u3000", "\t\n"]))
        out = [(name, rewrite(name, value, pad)) for name, value in members]
        if draw(st.booleans()):
            out.append((draw(st.sampled_from(["extract", "thumbnail", "junk"])), NULL))
        return Obj(tuple(draw(st.permutations(out))))

    return build()


def deletions(earlier: list[Obj]) -> st.SearchStrategy[Obj]:
    """A deletion record: of an earlier record's key (by id, or title, year and href), or of
    another key."""

    @st.composite
    def build(draw: st.DrawFn) -> Obj:
        members: list[tuple[str, JValue]]
        of_earlier: bool = draw(st.booleans())
        if earlier and of_earlier:
            base = dict(draw(st.sampled_from(earlier)).members)
            names = ["id"] if "id" in base else ["title", "year", "href"]
            members = [(n, base[n]) for n in names if n in base]
        else:
            members = [("id", draw(CLEAN_VALUES["id"]))]
        members.append(("deleted", Raw("true")))
        return Obj(tuple(draw(st.permutations(members))))

    return build()


@st.composite
def record_lists(draw: st.DrawFn, max_depth: int, max_size: int = 6) -> list[JValue]:
    """Records, some of them sharing keys with earlier ones (identical or not)."""
    records: list[JValue] = []
    for _ in range(draw(st.integers(0, max_size))):
        earlier = [r for r in records if isinstance(r, Obj)]
        kind = draw(
            st.sampled_from(["new", "new", "same", "same", "changed", "not_object", "deletion"])
        )
        if kind == "deletion":
            records.append(draw(deletions(earlier)))
        elif kind == "same" and earlier:
            records.append(draw(same_content(draw(st.sampled_from(earlier)).members)))
        elif kind == "changed" and earlier:
            base = list(draw(st.sampled_from(earlier)).members)
            name = draw(st.sampled_from(["extract", "href", "cast", "id", "thumbnail_width"]))
            base = [(n, v) for n, v in base if n != name] + [(name, draw(FIELD_VALUES[name]))]
            records.append(Obj(tuple(base)))
        elif kind == "not_object":
            records.append(draw(pick(Raw("5"), Str("movie"), Arr(()), NULL)))
        else:
            records.append(draw(movies(max_depth)))
    return records


# --- files ------------------------------------------------------------------------------------


@dataclass
class CatalogFile:
    data: bytes
    filename: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)  # Validator keyword arguments

    def describe(self) -> str:
        return f"CatalogFile(data={self.data!r}, filename={self.filename!r}, **{self.settings!r})"


@st.composite
def array_text(draw: st.DrawFn, max_depth: int) -> str:
    style = draw(styles())
    records = draw(record_lists(max_depth))
    return style.ws() + style.value(Arr(tuple(records))) + style.ws()


@st.composite
def wrapper_text(draw: st.DrawFn, max_depth: int) -> str:
    style = draw(styles())
    movies_value: JValue = Arr(tuple(draw(record_lists(max_depth))))
    fields: list[tuple[str, JValue]] = [
        (draw(st.sampled_from(["source", "version", "meta"])), draw(ignored_values(max_depth)))
        for _ in range(draw(st.integers(0, 2)))
    ]
    kind = draw(st.sampled_from(["ok", "ok", "ok", "no_movies", "not_array", "repeated"]))
    if kind == "not_array":
        movies_value = draw(pick(Obj(()), NULL, Str("[]"), Raw("1")))
    if kind != "no_movies":
        fields.insert(draw(st.integers(0, len(fields))), ("movies", movies_value))
    if kind == "repeated" and fields:
        fields.append(draw(st.sampled_from(fields)))
    return style.ws() + style.value(Obj(tuple(fields))) + style.ws()


BAD_LINES = ["{", "}", "[1,]", "nul", "{'a': 1}", "{} {}", "1 2", "NaN", "/* */ {}", '"\\x"', "+1"]


@st.composite
def ndjson_text(draw: st.DrawFn, max_depth: int) -> str:
    style = draw(styles(newlines=False))
    lines = [style.ws() + style.value(r) + style.ws() for r in draw(record_lists(max_depth))]
    for _ in range(draw(st.integers(0, 3))):
        extra = draw(
            st.one_of(
                st.sampled_from(["", " ", "\t", "\r", " \r"]),  # blank
                st.sampled_from(BAD_LINES),
                st.text(alphabet=st.sampled_from('{}[]":,01 ax\\'), max_size=8),
            )
        )
        lines.insert(draw(st.integers(0, len(lines))), extra)
    end = draw(st.sampled_from(["\n", "\r\n"]))
    return end.join(lines) + draw(st.sampled_from(["", end]))


@st.composite
def deep_text(draw: st.DrawFn, max_depth: int) -> str:
    """Containers nested right around the depth limit, at the top or inside a record."""
    n = draw(st.integers(max(1, max_depth - 2), max_depth + 2))
    where = draw(st.sampled_from(["top", "record", "field"]))
    if where == "top":
        return Style(random.Random(0)).value(draw(nested(n)))
    if where == "record":  # the array is at depth 1, the record at 2
        return Style(random.Random(0)).value(Arr((draw(nested(n - 1)),)))
    inner = draw(nested(n - 2))  # the record object is at depth 2, its field values at 3
    record = Obj((("title", Str("x")), ("year", raw_int(2000)), ("x", inner)))
    return Style(random.Random(0)).value(Arr((record,)))


TEXT_MUTATION_BYTES = [
    b",", b"]", b"}", b"[", b"{", b'"', b"\\", b":", b"\x00", b" ", b"\n", b"0", b"-", b".",
    b"e", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xe2\x82", b"\xf4\x90\x80\x80", b"\xc0\xaf",
    b"\xef\xbb\xbf", b"NaN", b"//", b"\\u", b"\\ud800",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, data: bytes) -> bytes:
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace", "truncate", "repeat"]))
        if kind == "insert":
            data = data[:at] + draw(st.sampled_from(TEXT_MUTATION_BYTES)) + data[at:]
        elif kind == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 4)) :]
        elif kind == "replace":
            data = data[:at] + draw(st.sampled_from(TEXT_MUTATION_BYTES)) + data[at + 1 :]
        elif kind == "truncate":
            data = data[:at]
        else:
            end = draw(st.integers(at, min(len(data), at + 16)))
            data = data[:end] + data[at:end] + data[end:]
    return data


@st.composite
def gzipped(draw: st.DrawFn, data: bytes) -> bytes:
    """One or more gzip members, sometimes corrupted afterwards."""
    cuts = sorted(draw(st.lists(st.integers(0, len(data)), max_size=2)))
    bounds = [0, *cuts, len(data)]
    level = draw(st.sampled_from([0, 1, 9]))
    out = b"".join(
        gzip.compress(data[a:b], compresslevel=level, mtime=0)
        for a, b in itertools.pairwise(bounds)
    )
    damage = draw(st.sampled_from(["none", "none", "none", "truncate", "flip", "append", "zeros"]))
    if damage == "truncate":
        out = out[: draw(st.integers(0, len(out) - 1))]
    elif damage == "flip":
        at = draw(st.integers(0, len(out) - 1))
        out = out[:at] + bytes([out[at] ^ draw(st.integers(1, 255))]) + out[at + 1 :]
    elif damage == "append":
        out += draw(st.sampled_from([b"x", b"\x1f", b"\x1f\x8b", b"[1]"]))
    elif damage == "zeros":
        out += b"\x00" * draw(st.integers(1, 8))
    return out


@st.composite
def settings(draw: st.DrawFn) -> dict[str, Any]:
    return {
        "max_errors": draw(st.sampled_from([0, 1, 2, 5])) if draw(one_in(4)) else 1000,
        "max_depth": draw(st.sampled_from([1, 2, 3, 4, 6])) if draw(one_in(4)) else 64,
        "current_year": CURRENT_YEAR,
    }


@st.composite
def catalog_files(draw: st.DrawFn) -> CatalogFile:
    """Any file a provider could upload, from valid to garbage."""
    config = draw(settings())
    max_depth = config["max_depth"]
    shape = draw(
        st.sampled_from(
            [
                "array",
                "array",
                "array",
                "wrapper",
                "wrapper",
                "ndjson",
                "ndjson",
                "ndjson",
                "deep",
                "garbage",
                "blank",
            ]
        )
    )
    if shape == "garbage":
        data = draw(st.binary(max_size=48))
    elif shape == "blank":
        data = draw(st.sampled_from([b"", b" ", b"\n", b"\r\n\t ", b"\n\n"]))
    else:
        builder = {
            "array": array_text,
            "wrapper": wrapper_text,
            "ndjson": ndjson_text,
            "deep": deep_text,
        }[shape]
        data = draw(builder(max_depth)).encode("utf-8")
    if draw(one_in(7)):
        data = b"\xef\xbb\xbf" + data
    if draw(one_in(4)):
        data = draw(mutated(data))
    ndjson = shape == "ndjson" or (shape in ("garbage", "blank") and draw(st.booleans()))
    stem = draw(st.sampled_from(["movies", "acme.v2", "dir/x"]))
    suffix = draw(st.sampled_from([".jsonl", ".ndjson"])) if ndjson else ".json"
    filename: str | None = stem + suffix
    if draw(one_in(5)):
        data = draw(gzipped(data))
        filename = draw(st.sampled_from([f"{filename}.gz", f"{filename}.gz", filename]))
    elif draw(one_in(31)):
        filename = f"{filename}.gz"  # a .gz name on data that is not gzip
    if shape in ("array", "wrapper", "deep") and draw(one_in(31)):
        filename = None
    if draw(one_in(16)):
        config["format"] = "json" if ndjson else "ndjson"  # forced, against the name
    if draw(one_in(11)):
        config["max_bytes"] = draw(st.integers(0, len(data) + 4))
    if draw(one_in(11)):
        config["max_record_bytes"] = draw(st.integers(1, 200))
    return CatalogFile(data=data, filename=filename, settings=config)


@st.composite
def chunkings(draw: st.DrawFn, size: int) -> list[int]:
    """Cut points for feeding `size` bytes: one chunk, one byte each, or random splits."""
    kind = draw(st.sampled_from(["whole", "bytes", "random", "random"]))
    if kind == "whole" or size == 0:
        return []
    if kind == "bytes":
        return list(range(1, size))
    return sorted(draw(st.lists(st.integers(0, size), max_size=8)))


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds)]


# --- valid files ------------------------------------------------------------------------------


@st.composite
def valid_catalog_files(draw: st.DrawFn) -> CatalogFile:
    style = draw(styles())
    text = style.value(Arr(tuple(draw(st.lists(clean_movies(), min_size=1, max_size=8)))))
    return CatalogFile(text.encode("utf-8"), "valid.json", {"current_year": CURRENT_YEAR})
