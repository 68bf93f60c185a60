"""The API's input handling without a server: query decoding and limits, integers, cursors,
problem documents, LIKE escaping, If-None-Match and the route of a path."""

from __future__ import annotations

import re
from urllib.parse import quote, quote_plus

import orjson
import pytest
from hypothesis import assume, example, given
from hypothesis import strategies as st

from moviestore.api import cursor, params
from moviestore.api.app import matches, route_of
from moviestore.api.cursor import Cursors, b64, unb64
from moviestore.api.params import (
    LIMIT_MAX,
    MAX_PARAMETERS,
    MAX_REPEATS,
    MAX_VALUE_CHARS,
    MOVIE_PARAMETERS,
    REPEATABLE,
    YEAR_MAX,
    YEAR_MIN,
    movie_query,
)
from moviestore.api.problems import CONTENT_TYPE, TITLES, TYPE_BASE, Problem, invalid
from moviestore.catalog.query import LIMIT_DEFAULT, SORTS, MovieQuery
from moviestore.store.reads import like_pattern

SECRET = b"unit-test-secret"
CURSORS = Cursors(SECRET)


def problem_of(call: object, *args: object) -> Problem:
    assert callable(call)
    with pytest.raises(Problem) as caught:
        call(*args)
    return caught.value


def query_problem(query: list[tuple[str, str]]) -> Problem:
    return problem_of(movie_query, query)


# --- decoding --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "decoded"),
    [
        ("Science%20Fiction", "Science Fiction"),
        ("Science+Fiction", "Science Fiction"),
        ("Am%C3%A9lie", "Amélie"),
        ("100%25", "100%"),
        ("a%2Bb", "a+b"),
        ("%F0%9F%8E%AC", "🎬"),
        ("%25zz", "%zz"),
    ],
)
def test_values_are_percent_decoded_with_plus_as_space(raw: str, decoded: str) -> None:
    assert movie_query([("genre", raw)]).genres == (decoded,)


@pytest.mark.parametrize("raw", ["%", "%zz", "love%", "%4", "a%4g", "%%41", "%G1"])
def test_a_percent_that_begins_no_escape_is_refused(raw: str) -> None:
    problem = query_problem([("title", raw)])
    assert (problem.status, problem.kind, problem.parameter) == (400, "invalid-parameter", "title")
    assert "percent escape" in problem.detail


@pytest.mark.parametrize("raw", ["%FF", "%C3", "%C3%28", "%ED%A0%80", "ok%80"])
def test_invalid_utf8_once_decoded_is_refused_naming_the_parameter(raw: str) -> None:
    problem = query_problem([("title", raw)])
    assert (problem.status, problem.kind, problem.parameter) == (400, "invalid-parameter", "title")
    assert "UTF-8" in problem.detail


@pytest.mark.parametrize("raw", ["%00", "a%00b", "%00%00"])
def test_nul_is_refused(raw: str) -> None:
    problem = query_problem([("cast", raw)])
    assert (problem.status, problem.parameter) == (400, "cast")
    assert "NUL" in problem.detail


def test_an_undecodable_parameter_name_is_refused() -> None:
    problem = query_problem([("%FF", "1")])
    assert problem.status == 400
    assert problem.parameter == "query parameter name"


@pytest.mark.parametrize("name", ["titel", "Title", "genres", "page", "", "limit ", "%74itle!"])
def test_unknown_parameters_are_named(name: str) -> None:
    problem = query_problem([(name, "1")])
    assert (problem.status, problem.kind) == (400, "unknown-parameter")
    assert problem.parameter == params.unquote(name, "x")
    for known in MOVIE_PARAMETERS:
        assert known in problem.detail


def test_a_percent_encoded_name_is_the_name() -> None:
    assert movie_query([("%74itle", "Love")]).title == "Love"


@pytest.mark.parametrize(
    "name", sorted(MOVIE_PARAMETERS - REPEATABLE - {"year_from", "year_to", "fields"})
)
def test_single_parameters_given_twice_are_refused(name: str) -> None:
    value = {"title": "a", "year": "2000", "provider": "acme", "sort": "year", "limit": "5",
             "cursor": "x.y"}[name]  # fmt: skip
    problem = query_problem([(name, value), (name, value)])
    assert (problem.status, problem.parameter) == (400, name)
    assert "more than once" in problem.detail


@pytest.mark.parametrize("name", ["genre", "cast"])
def test_repeatable_parameters_have_a_bound(name: str) -> None:
    values = [(name, f"v{i}") for i in range(MAX_REPEATS)]
    assert len(getattr(movie_query(values), "genres" if name == "genre" else "cast")) == 10
    problem = query_problem([*values, (name, "one-more")])
    assert (problem.status, problem.parameter) == (400, name)


def test_repeated_values_collapse_and_order_does_not_matter() -> None:
    a = movie_query([("genre", "Noir"), ("genre", "Drama"), ("genre", "Noir")])
    b = movie_query([("genre", "Drama"), ("genre", "Noir")])
    assert a.genres == b.genres == ("Drama", "Noir")
    assert a.filters == b.filters and a.digest == b.digest


def test_fields_select_known_fields_in_the_documents_order() -> None:
    assert movie_query([("fields", "year,id")]).fields == ("id", "year")
    assert movie_query([("fields", "title,title")]).fields == ("title",)
    for bad in ["", "id,", "ID", "id,rating", "id title"]:
        problem = query_problem([("fields", bad)])
        assert (problem.status, problem.parameter) == (400, "fields"), bad
    plain, some = movie_query([]), movie_query([("fields", "id")])
    assert plain.filters == some.filters and plain.digest != some.digest


def test_too_many_parameters() -> None:
    names = [f"p{i}" for i in range(MAX_PARAMETERS + 1)]
    allowed = frozenset(names)
    assert len(params.decode([(n, "1") for n in names[:-1]], allowed)) == MAX_PARAMETERS
    problem = problem_of(params.decode, [(n, "1") for n in names], allowed)
    assert (problem.status, problem.kind, problem.parameter) == (400, "too-many-parameters", None)


def test_a_hundred_parameters_are_refused() -> None:
    problem = query_problem([(f"p{i}", "v") for i in range(100)])
    assert problem.status == 400


@pytest.mark.parametrize(
    ("name", "bound"),
    [("title", MAX_VALUE_CHARS), ("genre", MAX_VALUE_CHARS), ("cast", MAX_VALUE_CHARS),
     ("cursor", cursor.MAX_LENGTH)],
)  # fmt: skip
def test_values_longer_than_the_bound_are_refused(name: str, bound: int) -> None:
    problem = query_problem([(name, "a" * (bound + 1))])
    assert (problem.status, problem.parameter) == (400, name)
    # The bound is on decoded characters, not on the encoded text.
    assert movie_query([("title", quote("é" * MAX_VALUE_CHARS))]).title == "é" * MAX_VALUE_CHARS


@pytest.mark.parametrize("name", ["title", "genre", "cast"])
@pytest.mark.parametrize("value", ["", "+", "%20%20", "%09"])
def test_blank_text_is_refused(name: str, value: str) -> None:
    assert query_problem([(name, value)]).parameter == name


@given(
    st.dictionaries(
        st.sampled_from(["title", "provider", "sort"]),
        st.text(st.characters(blacklist_characters="\x00", codec="utf-8"), min_size=1, max_size=50),
    )
)
def test_decode_inverts_form_encoding(given_params: dict[str, str]) -> None:
    raw = [(quote_plus(k), quote_plus(v)) for k, v in given_params.items()]
    assert params.decode(raw, MOVIE_PARAMETERS) == {k: [v] for k, v in given_params.items()}


# --- integers and the other values -----------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["+5", " 5", "5 ", "5_000", "1e3", "0x10", "-1", "5.0", "", "\u0665", "\uff15", "\u00b2",
     "99999999999999999999", "1" * MAX_VALUE_CHARS, "0", str(LIMIT_MAX + 1)],
)  # fmt: skip
def test_limit_must_be_a_plain_integer_in_range(value: str) -> None:
    problem = query_problem([("limit", quote(value))])
    assert (problem.status, problem.kind, problem.parameter) == (400, "invalid-parameter", "limit")
    assert f"1 to {LIMIT_MAX}" in problem.detail


@pytest.mark.parametrize("name", ["year", "year_from", "year_to"])
@pytest.mark.parametrize("value", [str(YEAR_MIN - 1), str(YEAR_MAX + 1), "abc", "2000.0", "+2000"])
def test_years_must_be_plain_integers_in_range(name: str, value: str) -> None:
    assert query_problem([(name, quote(value))]).parameter == name


@given(st.text(max_size=12))
def test_an_accepted_integer_is_exactly_its_ascii_digits(value: str) -> None:
    try:
        number = params.integer(value, "n", 0, 10**12)
    except Problem as p:
        assert (p.status, p.parameter) == (400, "n")
    else:
        assert value.isascii() and value.isdigit() and int(value) == number


def test_limits_and_years_at_their_bounds() -> None:
    q = movie_query([("limit", "1"), ("year_from", str(YEAR_MIN)), ("year_to", str(YEAR_MAX))])
    assert (q.limit, q.year_from, q.year_to) == (1, YEAR_MIN, YEAR_MAX)
    assert movie_query([("limit", str(LIMIT_MAX))]).limit == LIMIT_MAX
    assert movie_query([]).limit == LIMIT_DEFAULT


def test_year_from_after_year_to_is_refused() -> None:
    problem = query_problem([("year_from", "2001"), ("year_to", "2000")])
    assert (problem.status, problem.parameter) == (400, "year_from")
    assert movie_query([("year_from", "2000"), ("year_to", "2000")]).year_from == 2000


@pytest.mark.parametrize("value", ["bogus", "", "TITLE", "-Title", "+year", "title,year", "id"])
def test_sort_is_from_the_allow_list(value: str) -> None:
    problem = query_problem([("sort", value)])
    assert problem.parameter == "sort"
    assert all(s in problem.detail for s in SORTS)


@pytest.mark.parametrize("value", ["ACME", "a--b", "-a", "a-", "a_b", "a b", "é", "a" * 64])
def test_provider_is_a_slug(value: str) -> None:
    assert query_problem([("provider", quote(value))]).parameter == "provider"
    assert movie_query([("provider", "a" * 63)]).provider == "a" * 63


@pytest.mark.parametrize(
    "value", ["abc", "0", "-1", "1.5", "+1", " 1", "01", "1e3", "9" * 20, str(2**63), "%2F", "%FF",
              "%00", "", "\u0661"],
)  # fmt: skip
def test_bad_movie_ids(value: str) -> None:
    problem = problem_of(params.movie_id, value)
    assert (problem.status, problem.parameter) == (400, "id")


def test_good_movie_ids() -> None:
    assert params.movie_id("1") == 1
    assert params.movie_id("%31") == 1
    assert params.movie_id(str(2**63 - 1)) == 2**63 - 1


# --- cursors ---------------------------------------------------------------------------------

filters_digests = st.text("0123456789abcdef", min_size=24, max_size=24)
sort_values = st.one_of(st.text(max_size=MAX_VALUE_CHARS), st.integers(-(2**63), 2**63 - 1))
ids = st.integers(1, 2**63 - 1)


@given(st.sampled_from(list(SORTS)), filters_digests, sort_values, ids)
def test_a_cursor_decodes_to_what_it_encodes(
    sort: str, filters: str, value: str | int, last_id: int
) -> None:
    cursor = CURSORS.encode(sort, filters, value, last_id)
    assert len(cursor) <= 512 or isinstance(value, str)
    assert CURSORS.decode(cursor, sort, filters) == (value, last_id)


def cursor_problem(cursor: str, sort: str = "title", filters: str = "f" * 24) -> Problem:
    problem = problem_of(CURSORS.decode, cursor, sort, filters)
    assert (problem.status, problem.kind, problem.parameter) == (
        400,
        "invalid-parameter",
        "cursor",
    )
    return problem


def test_a_cursor_for_other_filters_or_another_sort_is_refused() -> None:
    cursor = CURSORS.encode("title", "f" * 24, "Love", 7)
    assert "other filters" in cursor_problem(cursor, filters="e" * 24).detail
    assert "another sort" in cursor_problem(cursor, sort="-title").detail
    # Through the query: the digest binds every filter.
    q = movie_query([("title", "Love")])
    real = CURSORS.encode(q.sort, q.filters, "Love", 7)
    other = movie_query([("title", "love")])
    cursor_problem(real, q.sort, other.filters)


def test_a_cursor_signed_with_another_secret_is_refused() -> None:
    cursor = Cursors(b"another secret").encode("title", "f" * 24, "Love", 7)
    cursor_problem(cursor)


@pytest.mark.parametrize(
    "cursor",
    ["", ".", "..", "abc", "a.b.c", "not base64!.x", "é.é", "\x00.\x00", "a" * 513,
     "a" * 300 + "." + "a" * 300],
)  # fmt: skip
def test_garbage_cursors_are_refused(cursor: str) -> None:
    cursor_problem(cursor)


@pytest.mark.parametrize(
    "payload",
    [b"[]", b'{"a":1}', b"5", b"not json", b'["title","' + b"f" * 24 + b'","x"]',
     b'["title","' + b"f" * 24 + b'","x","7"]', b'["title","' + b"f" * 24 + b'",[1],7]',
     b'["title","' + b"f" * 24 + b'",null,7]'],
)  # fmt: skip
def test_signed_payloads_of_the_wrong_shape_are_refused(payload: bytes) -> None:
    """Even with our signature (a leaked secret, an old format), the shape is checked."""
    cursor_problem(b64(payload) + "." + b64(CURSORS.sign(payload)))


@given(st.data(), st.sampled_from(list(SORTS)), sort_values, ids)
def test_a_cursor_with_any_byte_flipped_is_refused(
    data: st.DataObject, sort: str, value: str | int, last_id: int
) -> None:
    filters = "f" * 24
    cursor = CURSORS.encode(sort, filters, value, last_id)
    payload_text, signature_text = cursor.split(".")
    part = data.draw(st.sampled_from(["payload", "signature"]))
    raw = bytearray(unb64(payload_text if part == "payload" else signature_text))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    if part == "payload":
        tampered = b64(bytes(raw)) + "." + signature_text
    else:
        tampered = payload_text + "." + b64(bytes(raw))
    cursor_problem(tampered, sort, filters)


@given(st.data())
def test_a_cursor_with_any_character_changed_is_refused(data: st.DataObject) -> None:
    """The cursor text itself is what clients hold: every other text is not our cursor, so
    equivalent spellings (padding, slack bits of the last base64 character, stray characters
    that a lenient decoder drops) must not be accepted either; otherwise one page has many
    cursors, each its own cache entry."""
    cursor = CURSORS.encode("year", "f" * 24, 1999, 42)
    index = data.draw(st.integers(0, len(cursor) - 1))
    replacement = data.draw(
        st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_=+/ \n!")
    )
    tampered = cursor[:index] + replacement + cursor[index + 1 :]
    assume(tampered != cursor)
    cursor_problem(tampered, "year", "f" * 24)


@pytest.mark.parametrize("suffix", ["=", "==", " ", "\n"])
def test_a_cursor_with_padding_or_whitespace_added_is_refused(suffix: str) -> None:
    cursor = CURSORS.encode("year", "f" * 24, 1999, 42)
    cursor_problem(cursor + suffix, "year", "f" * 24)


# The longest title the validator accepts (rust/validator-core/src/record.rs, TITLE_MAX).
TITLE_MAX = 500


@given(st.text(min_size=1, max_size=TITLE_MAX), ids, st.sampled_from(["title", "-title"]))
@example(
    "A Title of Eighty Characters, Which Is Not Long for a Film Title at All, Is It", 1, "title"
)
@example("映画" * 40, 2**63 - 1, "-title")
@example("\U0001f3ac" * TITLE_MAX, 7, "title")
def test_every_cursor_the_api_makes_is_accepted_back(title: str, last_id: int, sort: str) -> None:
    """A page ending on a long title (or a short one in a non-Latin script) still has a next
    page: the cursor made for it must pass the parameter checks it comes back through."""
    q = movie_query([("sort", sort)])
    cursor = CURSORS.encode(q.sort, q.filters, title, last_id)
    back = movie_query([("sort", sort), ("cursor", quote(cursor))])
    assert back.cursor == cursor
    assert CURSORS.decode(back.cursor, back.sort, back.filters) == (title, last_id)


def test_an_empty_cursor_means_the_first_page() -> None:
    assert movie_query([("cursor", "")]).cursor is None


# --- problems --------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", sorted(TITLES))
def test_problem_documents(kind: str) -> None:
    doc = orjson.loads(Problem(418, kind, "a detail", "limit").body("/v1/movies", "rid-1"))
    assert doc == {
        "type": TYPE_BASE + kind,
        "title": TITLES[kind],
        "status": 418,
        "detail": "a detail",
        "instance": "/v1/movies",
        "request_id": "rid-1",
        "parameter": "limit",
    }


def test_a_problem_without_a_parameter_has_no_parameter_member() -> None:
    doc = Problem(404, "not-found", "gone").document("/x", "r")
    assert "parameter" not in doc
    assert CONTENT_TYPE == "application/problem+json"
    assert invalid("year", "bad").document("/", "r")["parameter"] == "year"


# --- LIKE patterns ---------------------------------------------------------------------------


def like_regex(pattern: str) -> re.Pattern[str]:
    """PostgreSQL's LIKE with the default escape character, as a regular expression."""
    out, chars = [], iter(pattern)
    for c in chars:
        if c == "\\":
            out.append(re.escape(next(chars)))
        elif c == "%":
            out.append(".*")
        elif c == "_":
            out.append(".")
        else:
            out.append(re.escape(c))
    return re.compile("".join(out), re.DOTALL)


@pytest.mark.parametrize(
    ("text", "pattern"),
    [("100%", "%100\\%%"), ("a_b", "%a\\_b%"), ("back\\slash", "%back\\\\slash%"), ("", "%%")],
)
def test_like_pattern_examples(text: str, pattern: str) -> None:
    assert like_pattern(text) == pattern


@given(st.text(alphabet="ab%_\\", max_size=6), st.text(alphabet="ab%_\\x", max_size=10))
def test_like_pattern_matches_exactly_the_substring(needle: str, haystack: str) -> None:
    assert bool(like_regex(like_pattern(needle)).fullmatch(haystack)) == (needle in haystack)


# --- If-None-Match and routes ----------------------------------------------------------------

ETAG = '"0123456789abcdef0123"'


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, False),
        ("", False),
        (ETAG, True),
        ("W/" + ETAG, True),
        (f' "x" , {ETAG} ', True),
        (f'"x",W/{ETAG}', True),
        ("*", True),
        (" * ", True),
        ('"x"', False),
        (ETAG.strip('"'), False),
        ('"' + ETAG, False),
        ('"x", "y"', False),
        ("w/" + ETAG, False),  # the weak prefix is case-sensitive (RFC 9110 8.8.3)
    ],
)
def test_if_none_match_uses_weak_comparison(header: str | None, expected: bool) -> None:
    assert matches(header, ETAG) is expected


etags = st.text("0123456789abcdef", min_size=4, max_size=20).map(lambda s: f'"{s}"')


@given(st.lists(etags, max_size=5), st.booleans(), st.booleans(), st.integers(0, 5))
def test_if_none_match_lists(others: list[str], weak: bool, present: bool, at: int) -> None:
    tags = [t for t in others if t != ETAG]
    if present:
        tags.insert(min(at, len(tags)), ("W/" if weak else "") + ETAG)
    assert matches(", ".join(tags), ETAG) is present


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/v1/movies", "movies"),
        ("/v1/movies/1", "movie"),
        ("/v1/movies/abc", "movie"),  # the handler refuses the id: a 400, not a 404
        ("/v1/genres", "genres"),
        ("/v1/providers/acme/ingestions", "ingestions"),
        ("/healthz", "healthz"),
        ("/readyz", "readyz"),
        ("/metrics", "metrics"),
        ("/openapi.json", "openapi"),
        ("/docs", "docs"),
        ("/", None),
        ("", None),
        ("/v1", None),
        ("/v1/", None),
        ("/v1/movie", None),
        ("/v1/movies/1/cast", None),
        ("/v1/genres/drama", None),
        ("/v1/providers/acme", None),
        ("/v1/providers/acme/files", None),
        ("/v2/movies", None),
        ("/V1/movies", None),
        ("/metrics/x", None),
        ("/docs.html", None),
        ("//v1/movies", None),
    ],
)
def test_route_of(path: str, route: str | None) -> None:
    assert route_of(path) == route


def test_every_route_is_in_the_query_model() -> None:
    # MovieQuery's fields are what the parameters fill in: a new parameter needs both.
    plural = {"genres": "genre", "any_genres": "any_genre", "exclude_genres": "exclude_genre"}
    fields = {plural.get(f, f) for f in MovieQuery.__dataclass_fields__}
    assert fields == MOVIE_PARAMETERS
