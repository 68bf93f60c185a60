"""Query parameters: decoded (Robyn hands them over still percent-encoded), checked, and turned
into a ``MovieQuery``; anything wrong is a 400 naming the parameter."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote_plus

from moviestore.api import cursor
from moviestore.api.problems import Problem, invalid
from moviestore.catalog.documents import COLUMNS as MOVIE_FIELDS
from moviestore.catalog.query import LIMIT_DEFAULT, SORTS, MovieQuery

LIMIT_MAX = 100
MAX_PARAMETERS = 32
MAX_VALUE_CHARS = 200
MAX_REPEATS = 10
# Years a filter may name: a superset of what the validator accepts (1888 .. now + 5).
YEAR_MIN, YEAR_MAX = 1800, 2200
# An id is a PostgreSQL bigint; anything longer than its 19 digits cannot exist.
ID_PATTERN = re.compile(r"[1-9][0-9]{0,18}")
PROVIDER_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")

MOVIE_PARAMETERS = frozenset(
    {"title", "year", "year_from", "year_to", "genre", "any_genre", "exclude_genre", "cast",
     "provider", "sort", "limit", "cursor", "fields"}
)  # fmt: skip
REPEATABLE = frozenset({"genre", "any_genre", "exclude_genre", "cast"})


def decode(raw: Iterable[tuple[str, str]], allowed: frozenset[str]) -> dict[str, list[str]]:
    """Percent-decode (``+`` is a space), refuse unknown and repeated parameters."""
    params: dict[str, list[str]] = {}
    for count, (raw_key, raw_value) in enumerate(raw, start=1):
        if count > MAX_PARAMETERS:
            raise Problem(400, "too-many-parameters", f"at most {MAX_PARAMETERS} query parameters")
        key = unquote(raw_key, "query parameter name")
        if key not in allowed:
            known = ", ".join(sorted(allowed)) or "none"
            raise Problem(400, "unknown-parameter", f"unknown parameter (known: {known})", key)
        value = unquote(raw_value, key)
        longest = MAX_VALUE_CHARS if key != "cursor" else cursor.MAX_LENGTH
        if len(value) > longest:
            raise invalid(key, f"longer than {longest} characters")
        values = params.setdefault(key, [])
        values.append(value)
        if len(values) > 1 and key not in REPEATABLE:
            raise invalid(key, "given more than once")
        if len(values) > MAX_REPEATS:
            raise invalid(key, f"given more than {MAX_REPEATS} times")
    return params


# A "%" not followed by two hex digits: a broken escape, not a literal (RFC 3986 2.1).
BAD_ESCAPE = re.compile(r"%(?![0-9A-Fa-f]{2})")


def unquote(text: str, parameter: str) -> str:
    if "%" in text and BAD_ESCAPE.search(text):
        raise invalid(parameter, "has a % that does not begin a percent escape (%XX)")
    try:
        value = unquote_plus(text, errors="strict")
    except UnicodeDecodeError:
        raise invalid(parameter, "not valid UTF-8 once percent-decoded") from None
    if "\x00" in value:
        raise invalid(parameter, "contains a NUL character")
    return value


def movie_query(raw: Iterable[tuple[str, str]]) -> MovieQuery:
    return query_of(decode(raw, MOVIE_PARAMETERS))


def query_of(p: dict[str, list[str]]) -> MovieQuery:
    """The query of parameters ``decode`` gave."""
    one = {k: v[0] for k, v in p.items() if k not in REPEATABLE}
    query = MovieQuery(
        title=text(one, "title"),
        year=year(one, "year"),
        year_from=year(one, "year_from"),
        year_to=year(one, "year_to"),
        genres=words(p, "genre"),
        any_genres=words(p, "any_genre"),
        exclude_genres=words(p, "exclude_genre"),
        cast=words(p, "cast"),
        provider=provider(one.get("provider")),
        sort=sort(one.get("sort")),
        limit=limit(one.get("limit"), LIMIT_DEFAULT),
        cursor=one.get("cursor") or None,
        fields=fields(one.get("fields")),
    )
    if query.year_from and query.year_to and query.year_from > query.year_to:
        raise invalid("year_from", "year_from is after year_to")
    return query


def fields(value: str | None) -> tuple[str, ...]:
    """``fields=id,title``: the movie fields a page's items carry, in the document's order;
    () for all of them."""
    if value is None:
        return ()
    names = value.split(",")
    unknown = sorted(set(names) - set(MOVIE_FIELDS))
    if unknown:
        raise invalid("fields", f"unknown field {unknown[0]!r} (known: {', '.join(MOVIE_FIELDS)})")
    return tuple(name for name in MOVIE_FIELDS if name in names)


def text(params: dict[str, str], name: str) -> str | None:
    value = params.get(name)
    if value is None:
        return None
    if not value.strip():
        raise invalid(name, "must not be empty")
    return value


def integer(value: str, name: str, low: int, high: int) -> int:
    # int() would take "+5", " 5" and "5_000"; a client sending those has a bug worth seeing.
    if not value.isascii() or not value.isdigit() or len(value) > 10:
        raise invalid(name, f"must be an integer from {low} to {high}")
    number = int(value)
    if not low <= number <= high:
        raise invalid(name, f"must be an integer from {low} to {high}")
    return number


def year(params: dict[str, str], name: str) -> int | None:
    value = params.get(name)
    return None if value is None else integer(value, name, YEAR_MIN, YEAR_MAX)


def limit(value: str | None, default: int) -> int:
    return default if value is None else integer(value, "limit", 1, LIMIT_MAX)


def words(params: dict[str, list[str]], name: str) -> tuple[str, ...]:
    values = params.get(name, [])
    if any(not v.strip() for v in values):
        raise invalid(name, "must not be empty")
    return tuple(sorted(set(values)))


def provider(value: str | None) -> str | None:
    if value is None:
        return None
    return provider_name(value, "provider")


def provider_name(value: str, parameter: str) -> str:
    if len(value) > 63 or not PROVIDER_PATTERN.fullmatch(value):
        raise invalid(parameter, "a provider is lower-case letters, digits and single dashes")
    return value


def sort(value: str | None) -> str:
    if value is None:
        return "title"
    if value not in SORTS:
        raise invalid("sort", f"must be one of {', '.join(SORTS)}")
    return value


def movie_id(value: str) -> int:
    decoded = unquote(value, "id")
    if not ID_PATTERN.fullmatch(decoded) or int(decoded) > 2**63 - 1:
        raise invalid("id", "a movie id is a positive integer")
    return int(decoded)
