"""The movie-object rules of docs/provider-format.md, applied to one parsed record."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from tests.model.jsonparse import Node

# The Unicode White_Space property, exactly as listed in the spec (not Python's str.isspace,
# which also strips U+001C..U+001F).
WHITE_SPACE = frozenset(
    chr(cp)
    for cp in [
        *range(0x09, 0x0E),
        0x20,
        0x85,
        0xA0,
        0x1680,
        *range(0x2000, 0x200B),
        0x2028,
        0x2029,
        0x202F,
        0x205F,
        0x3000,
    ]
)

TITLE_MAX = 500
CAST_ITEM_MAX = 200
CAST_ITEMS_MAX = 1000
GENRE_MAX = 64
GENRES_MAX = 50
ID_MAX = 200
HREF_MAX = 1000
EXTRACT_MAX = 100_000
THUMBNAIL_MAX = 2000
DIMENSION_MIN, DIMENSION_MAX = 1, 100_000
YEAR_MIN = 1888
FIELDS = (
    "title",
    "year",
    "id",
    "href",
    "cast",
    "genres",
    "extract",
    "thumbnail",
    "thumbnail_width",
    "thumbnail_height",
)


@dataclass(frozen=True)
class RecordError:
    line_offset: int  # byte offset whose line the error reports
    pointer: str
    code: str
    message: str


class InvalidValueError(Exception):
    """One value's error (the first failing check)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def trim(s: str) -> str:
    start, end = 0, len(s)
    while start < end and s[start] in WHITE_SPACE:
        start += 1
    while end > start and s[end - 1] in WHITE_SPACE:
        end -= 1
    return s[start:end]


def escape_pointer_token(name: str) -> str:
    """RFC 6901: '~' becomes '~0', '/' becomes '~1'; an unpaired surrogate (which no UTF-8
    report can carry) becomes one U+FFFD."""
    name = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in name)
    return name.replace("~", "~0").replace("/", "~1")


def is_integer(node: Node) -> bool:
    """A number token with no fraction and no exponent."""
    return node.kind == "number" and not any(c in node.text for c in ".eE")


def integer_decimal(node: Node) -> str:
    """The decimal string of a JSON integer's value: JSON forbids '+' and leading zeros, so the
    token is already canonical except for '-0'."""
    return "0" if node.text == "-0" else node.text


def integer_in(node: Node, low: int, high: int) -> bool:
    digits = node.text.lstrip("-")
    if len(digits) > 18:  # far outside every range in the spec, whatever the sign
        return False
    return low <= int(node.text) <= high


def is_http_url(s: str) -> bool:
    for scheme in ("http://", "https://"):
        head = s[: len(scheme)]
        if len(head) == len(scheme) and all(
            a == b or ("A" <= a <= "Z" and chr(ord(a) + 32) == b)
            for a, b in zip(head, scheme, strict=True)
        ):
            rest = s[len(scheme) :]
            return len(rest) >= 1 and rest[0] not in "/?#"
    return False


def stored_string(node: Node, low: int, high: int, *, url: bool = False) -> str:
    """type -> format (U+0000, lone surrogates) -> length -> URL; the trimmed value."""
    if node.kind != "string":
        raise InvalidValueError("type", f"expected a string, found {node.kind}")
    if "\x00" in node.text:
        raise InvalidValueError("format", "U+0000 cannot be stored")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in node.text):
        raise InvalidValueError("format", "unpaired surrogate escape")
    value = trim(node.text)
    if not low <= len(value) <= high:
        raise InvalidValueError("length", f"length {len(value)} is outside {low}..{high}")
    if url and not is_http_url(value):
        raise InvalidValueError("format", "not an http(s) URL")
    return value


def optional_text(high: int, *, url: bool = False) -> Callable[[Node], str]:
    return lambda node: stored_string(node, 0, high, url=url)


def title(node: Node) -> str:
    return stored_string(node, 1, TITLE_MAX)


def provider_id(node: Node) -> str:
    if node.kind == "number":
        if not is_integer(node):
            raise InvalidValueError("type", "an integer id cannot have a fraction or exponent")
        value = integer_decimal(node)
        if not 1 <= len(value) <= ID_MAX:
            raise InvalidValueError("length", f"id has {len(value)} digits")
        return value
    return stored_string(node, 1, ID_MAX)


def dimension(node: Node) -> int:
    if not is_integer(node):
        raise InvalidValueError("type", f"expected an integer, found {node.kind} {node.text}")
    if not integer_in(node, DIMENSION_MIN, DIMENSION_MAX):
        raise InvalidValueError("range", f"{node.text} is outside {DIMENSION_MIN}..{DIMENSION_MAX}")
    return int(node.text)


@dataclass
class Checked:
    errors: list[RecordError]
    movie: dict[str, object] | None  # the normalised fields when the record has no error
    deleted: bool = False  # a deletion record ("deleted": true)


def check_record(node: Node, pointer: str, *, current_year: int) -> Checked:
    """Every error of one record, in the spec's order, and its normalised fields if none."""
    errors: list[RecordError] = []
    if node.kind != "object":
        errors.append(RecordError(node.offset, pointer, "type", "a record must be an object"))
        return Checked(errors, None)

    def year(value: Node) -> int:
        if not is_integer(value):
            raise InvalidValueError("type", f"expected an integer, found {value.kind} {value.text}")
        high = current_year + 5
        if not integer_in(value, YEAR_MIN, high):
            raise InvalidValueError("range", f"{value.text} is outside {YEAR_MIN}..{high}")
        return int(value.text)

    scalar_rules: dict[str, Callable[[Node], object]] = {
        "title": title,
        "year": year,
        "id": provider_id,
        "href": optional_text(HREF_MAX),
        "extract": optional_text(EXTRACT_MAX),
        "thumbnail": optional_text(THUMBNAIL_MAX, url=True),
        "thumbnail_width": dimension,
        "thumbnail_height": dimension,
    }
    list_rules = {"cast": (CAST_ITEM_MAX, CAST_ITEMS_MAX), "genres": (GENRE_MAX, GENRES_MAX)}

    movie: dict[str, object] = {name: None for name in FIELDS}
    movie["cast"] = []
    movie["genres"] = []
    seen: set[str] = set()
    present: set[str] = set()  # first occurrence not null, valid or not
    deleted = False
    for member in node.members:
        here = f"{pointer}/{escape_pointer_token(member.name)}"
        value = member.value
        if member.name in seen:
            errors.append(
                RecordError(member.name_offset, here, "duplicate_field", "field repeated")
            )
            continue
        seen.add(member.name)
        if value.kind == "null":
            continue  # null and missing alike
        present.add(member.name)
        if member.name == "deleted":
            if value.kind in ("true", "false"):
                deleted = value.kind == "true"
            else:
                errors.append(RecordError(value.offset, here, "type", "expected a boolean"))
        elif member.name in scalar_rules:
            try:
                movie[member.name] = scalar_rules[member.name](value)
            except InvalidValueError as e:
                errors.append(RecordError(value.offset, here, e.code, e.message))
        elif member.name in list_rules:
            item_max, items_max = list_rules[member.name]
            if value.kind != "array":
                msg = f"expected an array, found {value.kind}"
                errors.append(RecordError(value.offset, here, "type", msg))
                continue
            kept: list[str] = []
            for index, item in enumerate(value.items):
                if index == items_max:
                    msg = f"more than {items_max} items"
                    errors.append(
                        RecordError(item.offset, f"{here}/{index}", "too_many_items", msg)
                    )
                    break
                try:
                    text = stored_string(item, 1, item_max)
                except InvalidValueError as e:
                    errors.append(RecordError(item.offset, f"{here}/{index}", e.code, e.message))
                    continue
                if text not in kept:
                    kept.append(text)
            movie[member.name] = kept
    # A deletion record with an id names its movie by the id alone.
    named_by_id = deleted and "id" in present
    for required in ("title", "year"):
        if required not in present and not named_by_id:
            errors.append(
                RecordError(
                    node.offset, f"{pointer}/{required}", "required", f"{required} is missing"
                )
            )
    return Checked(errors, None if errors else movie, deleted)


def record_key(movie: dict[str, object]) -> tuple[object, ...]:
    """(provider, id) or (provider, title, year, href); the provider is the same for the file."""
    if movie["id"] is not None:
        return ("id", movie["id"])
    return ("title-year-href", movie["title"], movie["year"], movie["href"])


def content(movie: dict[str, object]) -> tuple[object, ...]:
    """Everything that decides whether two records with one key are identical."""
    return tuple(
        tuple(value) if isinstance(value, list) else value
        for value in (movie[name] for name in FIELDS)
    )
