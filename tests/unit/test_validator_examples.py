"""Hand-written adversarial examples for docs/provider-format.md.

Every expectation here is written by hand from the spec, never computed by the model; each test
runs twice, once against the reference model and once against the extension.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from typing import Any

import pytest

from moviestore._validator import CatalogFileError, Validator
from tests.model.harness import Outcome, error_tuples, run_extension, run_model

YEAR = 2026  # so the year range is 1888..2031


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)  # reproducible bytes, stable test ids


Run = Callable[..., Outcome]


@pytest.fixture(params=["model", "extension"])
def run(request: pytest.FixtureRequest) -> Run:
    def go(
        data: bytes | str,
        *,
        filename: str | None = "catalog.json",
        cuts: list[int] | None = None,
        **kw: Any,
    ) -> Outcome:
        raw = data.encode("utf-8") if isinstance(data, str) else data
        kw.setdefault("current_year", YEAR)
        if request.param == "model":
            return run_model(raw, filename=filename, **kw)
        return run_extension(raw, cuts, filename=filename, **kw)

    return go


def lines(*rows: str) -> str:
    return "\n".join(rows)


def counts(out: Outcome) -> tuple[int, int, int, int]:
    r = out.report
    total, valid = r["records_total"], r["records_valid"]
    return total, valid, r["records_invalid"], r["duplicates_collapsed"]


def expect(
    out: Outcome,
    errors: list[tuple[int, int, str, str]],
    *,
    total: int,
    valid: int,
    collapsed: int = 0,
) -> None:
    assert out.file_error is None, out.report["file_error"]
    assert error_tuples(out.report) == errors
    invalid = total - valid - collapsed
    assert counts(out) == (total, valid, invalid, collapsed)
    assert out.report["errors_total"] == len(errors)
    by_code: dict[str, int] = {}
    for _, _, _, code in errors:
        by_code[code] = by_code.get(code, 0) + 1
    assert out.report["error_counts"] == by_code


def one_movie(fields: str) -> str:
    """An array file with one record; its fields start on line 2, one field per line allowed."""
    return lines("[", "{" + fields + "}", "]")


OK = '"title": "x", "year": 2000'


def movie(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "title": "x",
        "year": 2000,
        "id": None,
        "href": None,
        "cast": [],
        "genres": [],
        "extract": None,
        "thumbnail": None,
        "thumbnail_width": None,
        "thumbnail_height": None,
        "record": 0,
        "line": 2,
    }
    return base | fields


def only_movie(out: Outcome) -> dict[str, Any]:
    assert out.report["errors"] == [], out.report["errors"]
    assert out.file_error is None, out.report["file_error"]
    assert len(out.movies) == 1
    return {k: v for k, v in out.movies[0].items() if k not in ("record_key", "content_hash")}


# --- type -------------------------------------------------------------------------------------


def test_records_that_are_not_objects(run: Run) -> None:
    out = run(lines("[5,", ' "x",', " null,", " [],", " true,", " 1.5]"))
    expected = [(i, i + 1, f"/{i}", "type") for i in range(6)]
    expect(out, expected, total=6, valid=0)


@pytest.mark.parametrize(
    ("field", "value", "pointer"),
    [
        ("title", "5", "/0/title"),
        ("title", '["x"]', "/0/title"),
        ("year", "2010.0", "/0/year"),
        ("year", '"2010"', "/0/year"),
        ("year", "2e3", "/0/year"),
        ("year", "2E3", "/0/year"),
        ("year", "2010e0", "/0/year"),
        ("year", "true", "/0/year"),
        ("year", "[2010]", "/0/year"),
        ("cast", '"Theda Bara"', "/0/cast"),
        ("cast", "{}", "/0/cast"),
        ("genres", "1", "/0/genres"),
        ("id", "1.5", "/0/id"),
        ("id", "1e2", "/0/id"),
        ("id", "true", "/0/id"),
        ("id", "[]", "/0/id"),
        ("href", "1", "/0/href"),
        ("extract", "[]", "/0/extract"),
        ("thumbnail", "false", "/0/thumbnail"),
        ("thumbnail_width", '"5"', "/0/thumbnail_width"),
        ("thumbnail_width", "1.0", "/0/thumbnail_width"),
        ("thumbnail_height", "1e2", "/0/thumbnail_height"),
    ],
)
def test_wrong_type(run: Run, field: str, value: str, pointer: str) -> None:
    fields = {"title": '"x"', "year": "2000", field: value}
    out = run(lines("[", "{", ",\n".join(f'"{k}": {v}' for k, v in fields.items()), "}]"))
    line = 3 + list(fields).index(field)
    expect(out, [(0, line, pointer, "type")], total=1, valid=0)


def test_wrong_item_types(run: Run) -> None:
    out = run(one_movie(OK + ', "cast": ["a", 1, null, {}, []], "genres": [true]'))
    expected = [(0, 2, f"/0/cast/{i}", "type") for i in (1, 2, 3, 4)]
    expect(out, [*expected, (0, 2, "/0/genres/0", "type")], total=1, valid=0)


# --- required ---------------------------------------------------------------------------------


def test_required(run: Run) -> None:
    out = run(
        lines(
            "[",
            '  {"year": 2000},',
            '  {"title": "x"},',
            '  {"title": null, "year": null},',
            "  {",
            '   "cast": []},',
            '  {"title": 5}',
            "]",
        )
    )
    expected = [
        (0, 2, "/0/title", "required"),
        (1, 3, "/1/year", "required"),
        (2, 4, "/2/title", "required"),
        (2, 4, "/2/year", "required"),
        (3, 5, "/3/title", "required"),  # the line of the record's first byte
        (3, 5, "/3/year", "required"),
        (4, 7, "/4/title", "type"),  # present with the wrong type: not missing
        (4, 7, "/4/year", "required"),
    ]
    expect(out, expected, total=5, valid=0)


# --- length -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", '""'),
        ("title", '"   "'),
        ("title", '"\\t\\n\\u3000\\u0085\\u00a0\\u2028\\u2029\\u202f\\u205f\\u1680\\u200a"'),
        ("title", json.dumps("a" * 501)),
        ("title", json.dumps("字" * 501, ensure_ascii=False)),
        ("title", json.dumps("😀" * 501, ensure_ascii=False)),  # astral: 501 code points
        ("title", json.dumps("😀" * 501)),  # the same, written as surrogate-pair escapes
        ("title", json.dumps("\x1c" + "a" * 500)),  # U+001C is not White_Space: not trimmed
        ("title", json.dumps("a" * 500 + "\u200b")),  # nor is U+200B
        ("id", '""'),
        ("id", '" \\u3000 "'),
        ("id", json.dumps("i" * 201)),
        ("id", "1" * 201),
        ("id", "9" * 300),
        ("id", "-" + "1" * 200),  # 201 characters with the sign
        ("href", json.dumps("h" * 1001)),
        ("extract", json.dumps("e" * 100_001)),
        ("thumbnail", json.dumps("http://" + "t" * 1994)),  # 2001: length before the URL rule
        ("thumbnail", json.dumps("ftp://" + "t" * 1995)),
    ],
)
def test_length(run: Run, field: str, value: str) -> None:
    base = {"title": '"x"', "year": "2000"}
    out = run(one_movie(", ".join(f'"{k}": {v}' for k, v in (base | {field: value}).items())))
    expect(out, [(0, 2, f"/0/{field}", "length")], total=1, valid=0)


def test_item_length(run: Run) -> None:
    cast = json.dumps(["", " ", "c" * 201, "c" * 200, "ok"])
    genres = json.dumps(["g" * 64, "g" * 65, "\u3000"], ensure_ascii=False)
    out = run(one_movie(f'{OK}, "cast": {cast}, "genres": {genres}'))
    expected = [
        (0, 2, "/0/cast/0", "length"),
        (0, 2, "/0/cast/1", "length"),
        (0, 2, "/0/cast/2", "length"),
        (0, 2, "/0/genres/1", "length"),
        (0, 2, "/0/genres/2", "length"),
    ]
    expect(out, expected, total=1, valid=0)


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("title", json.dumps("a" * 500), "a" * 500),
        ("title", json.dumps("😀" * 500, ensure_ascii=False), "😀" * 500),
        ("title", json.dumps("\u3000 " + "字" * 500 + "\u0085\u2029"), "字" * 500),
        ("title", json.dumps("\u200b"), "\u200b"),
        ("title", json.dumps("\x1c x \x1f"), "\x1c x \x1f"),
        ("title", '"\\ud83d\\ude00"', "😀"),
        ("title", '"tab\\there"', "tab\there"),
        ("title", '"caf\\u00e9 \\/ \\"q\\" \\\\"', 'café / "q" \\'),
        ("title", '"\u007f"', "\x7f"),
        ("href", json.dumps("h" * 1000), "h" * 1000),
        ("href", '""', ""),
        ("href", '"  "', ""),
        ("extract", json.dumps(" " + "e" * 100_000 + " "), "e" * 100_000),
        ("thumbnail", json.dumps("http://" + "t" * 1993), "http://" + "t" * 1993),
        ("id", json.dumps("i" * 200), "i" * 200),
        ("id", "1" * 200, "1" * 200),
        ("id", "-" + "1" * 199, "-" + "1" * 199),
        ("id", "12", "12"),
        ("id", "-0", "0"),
        ("id", "0", "0"),
        ("id", "-5", "-5"),
        ("id", '" 12 "', "12"),
    ],
)
def test_valid_values_are_normalised(run: Run, field: str, value: str, expected: object) -> None:
    fields = {"title": '"x"', "year": "2000", field: value}
    out = run(one_movie(", ".join(f'"{k}": {v}' for k, v in fields.items())))
    assert only_movie(out) == movie(**{field: expected})


# --- range ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("year", "1887"),
        ("year", "2032"),  # current year + 6
        ("year", "0"),
        ("year", "-0"),
        ("year", "-2000"),
        ("year", "9" * 300),
        ("year", "-" + "9" * 300),
        ("year", "4294969296"),  # 2000 + 2**32
        ("year", "18446744073709553616"),  # 2000 + 2**64
        ("thumbnail_width", "0"),
        ("thumbnail_width", "-0"),
        ("thumbnail_width", "100001"),
        ("thumbnail_width", "9" * 300),
        ("thumbnail_height", "-1"),
        ("thumbnail_height", "4294967297"),
    ],
)
def test_range(run: Run, field: str, value: str) -> None:
    fields = {"title": '"x"', "year": "2000", field: value}
    out = run(one_movie(", ".join(f'"{k}": {v}' for k, v in fields.items())))
    expect(out, [(0, 2, f"/0/{field}", "range")], total=1, valid=0)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ('"title": "x", "year": 1888', {"year": 1888}),
        ('"title": "x", "year": 2031', {"year": 2031}),
        ('"title": "x", "year": 2000, "thumbnail_width": 1', {"thumbnail_width": 1}),
        ('"title": "x", "year": 2000, "thumbnail_height": 100000', {"thumbnail_height": 100000}),
    ],
)
def test_range_bounds_are_inclusive(run: Run, fields: str, expected: dict[str, int]) -> None:
    assert only_movie(run(one_movie(fields))) == movie(**expected)


# --- format -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("title", '"a\\u0000b"'),
        ("title", '"\\u0000"'),
        ("title", '"\\ud800"'),
        ("title", '"x\\udc00"'),
        ("title", '"\\ud800\\u0041"'),
        ("title", '"\\ude00\\ud83d"'),  # low then high: both unpaired
        ("title", '"\\ud83d\\ud83d\\ude00"'),  # a lone high, then a pair
        ("title", '"\\ud800 "'),
        ("title", json.dumps("\x00" + "a" * 600)),  # format is checked before length
        ("id", '"\\u0000"'),
        ("href", '"\\udfff"'),
        ("extract", '"\\u0000"'),
        ("thumbnail", '"ftp://x"'),
        ("thumbnail", '"http:///x"'),
        ("thumbnail", '"http://?x"'),
        ("thumbnail", '"http://#x"'),
        ("thumbnail", '"http://"'),
        ("thumbnail", '"https:/x"'),
        ("thumbnail", '"//x"'),
        ("thumbnail", '""'),
        ("thumbnail", '"   "'),
        ("thumbnail", '"\\uff48ttp://x"'),  # fullwidth h: not ASCII case
        ("thumbnail", '"http\\u017f://x"'),  # long s folds to s in Unicode, not in ASCII
        ("thumbnail", '"mailto:http://x"'),
        ("thumbnail", '"http://x\\u0000"'),
    ],
)
def test_format(run: Run, field: str, value: str) -> None:
    fields = {"title": '"x"', "year": "2000", field: value}
    out = run(one_movie(", ".join(f'"{k}": {v}' for k, v in fields.items())))
    expect(out, [(0, 2, f"/0/{field}", "format")], total=1, valid=0)


def test_format_in_items(run: Run) -> None:
    out = run(one_movie(OK + ', "cast": ["\\u0000", "ok", "\\udbff"], "genres": ["\\udc00x"]'))
    expected = [
        (0, 2, "/0/cast/0", "format"),
        (0, 2, "/0/cast/2", "format"),
        (0, 2, "/0/genres/0", "format"),
    ]
    expect(out, expected, total=1, valid=0)


@pytest.mark.parametrize(
    "url",
    [
        "http://x",
        "https://x",
        "HTTPS://x",
        "hTtP://x",
        "  http://x\u3000",
        "http:// x",
        "http://x/",
    ],
)
def test_thumbnail_urls(run: Run, url: str) -> None:
    out = run(one_movie(f"{OK}, " + '"thumbnail": ' + json.dumps(url)))
    assert only_movie(out) == movie(thumbnail=url.strip(" \u3000"))


def test_lone_surrogates_and_nul_are_fine_in_ignored_fields(run: Run) -> None:
    out = run(one_movie(OK + ', "note": "\\ud800\\u0000", "\\udc00": ["\\u0000"]'))
    assert only_movie(out) == movie()


# --- too_many_items ---------------------------------------------------------------------------


def test_too_many_cast(run: Run) -> None:
    cast = ", ".join(['"a"'] * 1001 + ["5", '""'])  # items past the limit are not checked
    out = run(one_movie(f'{OK}, "cast": [{cast}]'))
    expect(out, [(0, 2, "/0/cast/1000", "too_many_items")], total=1, valid=0)


def test_too_many_genres_after_item_errors(run: Run) -> None:
    genres = ", ".join(['""'] + [f'"g{i}"' for i in range(1, 51)] + ["1"])
    out = run(one_movie(f'{OK}, "genres": [{genres}]'))
    expected = [(0, 2, "/0/genres/0", "length"), (0, 2, "/0/genres/50", "too_many_items")]
    expect(out, expected, total=1, valid=0)


def test_item_limits_are_inclusive(run: Run) -> None:
    cast = [f"c{i}" for i in range(1000)]
    genres = [f"g{i}" for i in range(50)]
    out = run(one_movie(f'{OK}, "cast": {json.dumps(cast)}, "genres": {json.dumps(genres)}'))
    assert only_movie(out) == movie(cast=cast, genres=genres)


def test_the_limit_counts_items_as_written(run: Run) -> None:
    # 51 items that collapse to one: the limit applies to the array as written
    out = run(one_movie(f'{OK}, "genres": {json.dumps(["Drama"] * 51)}'))
    expect(out, [(0, 2, "/0/genres/50", "too_many_items")], total=1, valid=0)


def test_repeats_collapsed_in_order(run: Run) -> None:
    cast = json.dumps([" b", "a", "b", "a ", "B", "\u3000b"], ensure_ascii=False)
    genres = '["Drama", "Drama", " Drama", "drama", "Dr\\u0061ma"]'
    out = run(one_movie(f'{OK}, "cast": {cast}, "genres": {genres}'))
    assert only_movie(out) == movie(cast=["b", "a", "B"], genres=["Drama", "drama"])


def test_null_is_missing(run: Run) -> None:
    fields = ", ".join(
        f'"{f}": null'
        for f in ("id", "href", "cast", "genres", "extract", "thumbnail", "thumbnail_width")
    )
    out = run(one_movie(f'{OK}, {fields}, "thumbnail_height": null'))
    assert only_movie(out) == movie()


def test_a_full_movie(run: Run) -> None:
    out = run(
        lines(
            "[",
            "  {",
            '    "title": " Carmen ",',
            '    "year": 1915,',
            '    "id": 4711,',
            '    "href": "Carmen_(1915_Cecil_B._DeMille_film)",',
            '    "cast": ["Geraldine Farrar", "Wallace Reid"],',
            '    "genres": ["Drama", "Silent"],',
            '    "extract": "Carmen is a 1915 silent film.",',
            '    "thumbnail": "https://upload.wikimedia.org/c.jpg",',
            '    "thumbnail_width": 320,',
            '    "thumbnail_height": 240,',
            '    "rating": {"imdb": 6.1, "votes": [1, 2, {"a": null}]}',
            "  }",
            "]",
        )
    )
    assert only_movie(out) == {
        "title": "Carmen",
        "year": 1915,
        "id": "4711",
        "href": "Carmen_(1915_Cecil_B._DeMille_film)",
        "cast": ["Geraldine Farrar", "Wallace Reid"],
        "genres": ["Drama", "Silent"],
        "extract": "Carmen is a 1915 silent film.",
        "thumbnail": "https://upload.wikimedia.org/c.jpg",
        "thumbnail_width": 320,
        "thumbnail_height": 240,
        "record": 0,
        "line": 2,
    }


# --- duplicate_field --------------------------------------------------------------------------


def test_duplicate_field_compares_unescaped_names(run: Run) -> None:
    out = run(lines("[", "{", '"title": "a",', '"year": 2000,', '"t\\u0069tle": "b"', "}]"))
    expect(out, [(0, 5, "/0/title", "duplicate_field")], total=1, valid=0)


def test_duplicate_field_value_is_not_checked(run: Run) -> None:
    out = run(lines("[", "{", '"title": 5,', '"year": 2000,', '"year": "bad",', '"title": "ok"}]'))
    expected = [
        (0, 3, "/0/title", "type"),
        (0, 5, "/0/year", "duplicate_field"),
        (0, 6, "/0/title", "duplicate_field"),
    ]
    expect(out, expected, total=1, valid=0)


def test_duplicate_field_after_null_is_still_missing(run: Run) -> None:
    out = run(lines("[", '{"title": null,', '"title": "x",', '"year": 2000}', "]"))
    expected = [(0, 3, "/0/title", "duplicate_field"), (0, 2, "/0/title", "required")]
    expect(out, expected, total=1, valid=0)


def test_duplicate_field_pointer_escaping(run: Run) -> None:
    out = run(
        one_movie(
            OK + ', "a/b": 1, "a\\/b": 2, "~": 1, "\\u007e": 2, "😀": 1, "\\ud83d\\ude00": 2,'
            ' "foo": 1, "foo": 1, "": 1, "": 2'
        )
    )
    expected = [
        (0, 2, "/0/a~1b", "duplicate_field"),
        (0, 2, "/0/~0", "duplicate_field"),
        (0, 2, "/0/😀", "duplicate_field"),
        (0, 2, "/0/foo", "duplicate_field"),
        (0, 2, "/0/", "duplicate_field"),
    ]
    expect(out, expected, total=1, valid=0)


def test_names_that_only_look_alike_are_different(run: Run) -> None:
    out = run(one_movie(OK + ', "Title": 1, "title ": 2, "titl\\u0065\\u0301": 3'))
    assert only_movie(out) == movie()


def test_duplicates_inside_ignored_values_are_ignored(run: Run) -> None:
    out = run(one_movie(OK + ', "x": {"a": 1, "a": 2, "b": {"c": [], "c": {}}}'))
    assert only_movie(out) == movie()


# --- keys, duplicate_key, collapsing ----------------------------------------------------------


def test_two_carmens_of_1915_with_different_href_are_both_valid(run: Run) -> None:
    out = run(
        lines(
            "[",
            '{"title": "Carmen", "year": 1915, "href": "Carmen_(1915_DeMille)"},',
            '{"title": "Carmen", "year": 1915, "href": "Carmen_(1915_Walsh)"},',
            '{"title": "Carmen", "year": 1915},',
            '{"title": "Carmen", "year": 1915, "href": ""}',
            "]",
        )
    )
    expect(out, [], total=4, valid=4)
    assert [m["href"] for m in out.movies] == [
        "Carmen_(1915_DeMille)",
        "Carmen_(1915_Walsh)",
        None,
        "",
    ]
    assert [m["line"] for m in out.movies] == [2, 3, 4, 5]


def test_identical_duplicates_are_collapsed(run: Run) -> None:
    out = run(
        lines(
            "[",
            '{"title": "Carmen", "year": 1915, "cast": ["a", "b"], "extract": null},',
            '{"year": 1915, "title": " Carmen\\u3000", "cast": ["a", "b", "a"], "x": 1},',
            '{"title": "Carmen", "year": 1915, "cast": [" a", "b "], "genres": null}',
            "]",
        )
    )
    expect(out, [], total=3, valid=1, collapsed=2)
    assert out.movies[0]["record"] == 0


def test_differing_duplicates_are_duplicate_key(run: Run) -> None:
    out = run(
        lines(
            "[",
            '{"title": "Carmen", "year": 1915, "cast": ["a", "b"]},',
            '{"title": "Carmen", "year": 1915, "cast": ["b", "a"]},',  # order counts
            '{"title": "Carmen", "year": 1915, "cast": ["b", "a"]},',  # compared with record 0
            '{"title": "Carmen", "year": 1915, "cast": ["a", "b"], "extract": ""},',
            '{"title": "Carmen", "year": 1915, "cast": ["a", "b"], "thumbnail_width": 5}',
            "]",
        )
    )
    expected = [(i, i + 2, f"/{i}", "duplicate_key") for i in (1, 2, 3, 4)]
    expect(out, expected, total=5, valid=1)


def test_integer_and_string_ids_are_one_key(run: Run) -> None:
    out = run(
        lines(
            "[",
            '{"id": 12, "title": "A", "year": 2000},',
            '{"id": " 12 ", "title": "A", "year": 2000},',
            '{"id": "12", "title": "A", "year": 2000, "href": null},',
            '{"id": 12, "title": "B", "year": 2000},',
            '{"id": "-0", "title": "A", "year": 2000},',
            '{"id": -0, "title": "B", "year": 2000},',
            '{"id": 0, "title": "C", "year": 2000}',
            "]",
        )
    )
    expected = [(3, 5, "/3", "duplicate_key"), (6, 8, "/6", "duplicate_key")]
    expect(out, expected, total=7, valid=3, collapsed=2)
    assert [m["id"] for m in out.movies] == ["12", "-0", "0"]


def test_the_id_is_the_key_when_present(run: Run) -> None:
    out = run(
        lines(
            "[",
            '{"id": 1, "title": "Carmen", "year": 1915},',
            '{"id": 2, "title": "Carmen", "year": 1915},',
            '{"title": "Carmen", "year": 1915}',
            "]",
        )
    )
    expect(out, [], total=3, valid=3)


def test_an_invalid_record_does_not_take_its_key(run: Run) -> None:
    out = run(
        lines(
            "[",
            '{"title": "Carmen", "year": 1915, "thumbnail": "ftp://x"},',
            '{"title": "Carmen", "year": 1915},',
            '{"title": "Carmen", "year": 1915, "extract": "other"}',
            "]",
        )
    )
    expected = [(0, 2, "/0/thumbnail", "format"), (2, 4, "/2", "duplicate_key")]
    expect(out, expected, total=3, valid=1)
    assert out.movies[0]["record"] == 1


def test_a_record_with_errors_gets_no_duplicate_key(run: Run) -> None:
    out = run(
        lines(
            "[",
            '{"title": "Carmen", "year": 1915},',
            '{"title": "Carmen", "year": 1915, "extract": 1}',
            "]",
        )
    )
    expect(out, [(1, 3, "/1/extract", "type")], total=2, valid=1)


# --- NDJSON -----------------------------------------------------------------------------------


def test_ndjson_blank_lines_and_bad_lines(run: Run) -> None:
    text = lines(
        '{"title": "a", "year": 2000}',
        "",
        "   \r",
        '{"title": "b", "year": 1}',
        "{bad",
        "[1]",
        '{"title": "c", "year": 2001}   \r',
        "\t",
        '{"title": "d", "year": 2002} {"title": "e", "year": 2003}',
        '"x"',
        '{"title": "f",',
        '"year": 2004}',
        '{"title": "g\x01", "year": 2005}',
        '{"title": "h", "year": 2006}',
    )
    out = run(text, filename="acme.jsonl")
    expected = [
        (1, 4, "/1/year", "range"),
        (2, 5, "/2", "parse"),
        (3, 6, "/3", "type"),
        (5, 9, "/5", "parse"),
        (6, 10, "/6", "type"),
        (7, 11, "/7", "parse"),
        (8, 12, "/8", "parse"),
        (9, 13, "/9", "parse"),
    ]
    expect(out, expected, total=11, valid=3)
    assert [(m["title"], m["record"], m["line"]) for m in out.movies] == [
        ("a", 0, 1),
        ("c", 4, 7),
        ("h", 10, 14),
    ]


def test_ndjson_last_line_truncated_is_a_record_error(run: Run) -> None:
    out = run('{"title": "a", "year": 2000}\n{"title": "b", "ye', filename="x.ndjson")
    expect(out, [(1, 2, "/1", "parse")], total=2, valid=1)


def test_ndjson_crlf_and_no_final_newline(run: Run) -> None:
    out = run(
        '{"title": "a", "year": 2000}\r\n\r\n{"title": "b", "year": 2001}', filename="x.jsonl"
    )
    expect(out, [], total=2, valid=2)
    assert [m["line"] for m in out.movies] == [1, 3]


def test_ndjson_strict_json_per_line(run: Run) -> None:
    text = lines(
        '{"title": "a", "year": 2000,}',
        '{"title": "a", "year": NaN}',
        "{'title': 'a'}",
        '{"title": "a", "year": 02000}',
        '// {"title": "a", "year": 2000}',
        '\x0c{"title": "a", "year": 2000}',  # form feed is not JSON whitespace
        '{"title": "a", "year": 2000}\u00a0',
    )
    out = run(text, filename="x.jsonl")
    expect(out, [(i, i + 1, f"/{i}", "parse") for i in range(7)], total=7, valid=0)


def test_format_forces_the_shape(run: Run) -> None:
    out = run('{"title": "a", "year": 2000}\n', filename="x.json", format="ndjson")
    expect(out, [], total=1, valid=1)
    out = run('[{"title": "a", "year": 2000}]', filename="x.jsonl", format="json")
    expect(out, [], total=1, valid=1)


# --- wrapper ----------------------------------------------------------------------------------


def test_wrapper_object(run: Run) -> None:
    text = lines(
        '{"source": "acme", "nested": [[{"movies": 1}]],',
        ' "m\\u006fvies": [',
        '  {"title": "a", "year": 2000},',
        '  {"title": "b", "year": 1}',
        " ],",
        ' "count": 2, "Movies": null}',
    )
    out = run(text)
    expect(out, [(1, 4, "/movies/1/year", "range")], total=2, valid=1)
    assert out.movies[0]["line"] == 3


def test_wrapper_with_empty_movies(run: Run) -> None:
    expect(run('{"movies": []}'), [], total=0, valid=0)


# --- encodings, BOM, gzip ---------------------------------------------------------------------


GOOD = b'[{"title": "a", "year": 2000},\n{"title": "b", "year": 2001}]'
GOOD_NDJSON = b'{"title": "a", "year": 2000}\n\n{"title": "b", "year": 2001}\n'


@pytest.mark.parametrize(
    ("data", "filename"),
    [
        (GOOD, "x.json"),
        (b"\xef\xbb\xbf" + GOOD, "x.json"),
        (gz(GOOD), "x.json.gz"),
        (gz(GOOD), "x.json"),  # recognised by its magic bytes
        (gz(GOOD), None),
        (gz(b"\xef\xbb\xbf" + GOOD), "x.json.gz"),
        (gz(GOOD[:10]) + gz(GOOD[10:20]) + gz(GOOD[20:]), None),
        (gz(b"") + gz(GOOD) + gz(b""), "x.json.gz"),
        (gz(GOOD_NDJSON), "x.ndjson.gz"),
        (gz(b"\xef\xbb\xbf" + GOOD_NDJSON), "x.ndjson.gz"),
        (b"\xef\xbb\xbf" + GOOD_NDJSON, "x.ndjson"),
        (GOOD_NDJSON, "dir.json/x.ndjson"),
    ],
)
def test_bom_and_gzip(run: Run, data: bytes, filename: str | None) -> None:
    out = run(data, filename=filename)
    expect(out, [], total=2, valid=2)
    assert [(m["title"], m["record"]) for m in out.movies] == [("a", 0), ("b", 1)]
    assert [m["line"] for m in out.movies] == ([1, 3] if ".nd" in f"{filename}" else [1, 2])
    plain = gzip.decompress(data) if data[:2] == b"\x1f\x8b" else data
    assert out.report["bytes_read"] == len(plain)


def test_lines_count_from_the_bom(run: Run) -> None:
    out = run(b'\xef\xbb\xbf\n[{"title": "a", "year": 1}]')
    expect(out, [(0, 2, "/0/year", "range")], total=1, valid=0)


# --- max_errors -------------------------------------------------------------------------------


@pytest.mark.parametrize("max_errors", [0, 1, 4, 6, 1000])
def test_max_errors_keeps_the_first_and_counts_all(run: Run, max_errors: int) -> None:
    out = run(lines("[{},", "{},", '{"title": 5, "year": 5}]'), max_errors=max_errors)
    every = [
        (0, 1, "/0/title", "required"),
        (0, 1, "/0/year", "required"),
        (1, 2, "/1/title", "required"),
        (1, 2, "/1/year", "required"),
        (2, 3, "/2/title", "type"),
        (2, 3, "/2/year", "range"),
    ]
    assert error_tuples(out.report) == every[:max_errors]
    assert out.report["errors_total"] == 6
    assert out.report["error_counts"] == {"required": 4, "type": 1, "range": 1}
    assert counts(out) == (3, 0, 3, 0)


# --- whole-file errors ------------------------------------------------------------------------


def deep(n: int) -> str:
    return "[" * n + "]" * n


def in_record(value: str) -> str:
    """A value at depth 3: in a field of a record (depth 2) of an array file (depth 1)."""
    return '[{"title": "a", "year": 2000, "x": ' + value + "}]"


GZ_GOOD = gz(GOOD)
GZ_BAD_CRC = GZ_GOOD[:-8] + bytes([GZ_GOOD[-8] ^ 1]) + GZ_GOOD[-7:]
GZ_BAD_SIZE = GZ_GOOD[:-4] + bytes([GZ_GOOD[-4] ^ 1]) + GZ_GOOD[-3:]

FILE_ERRORS: list[tuple[str, bytes | str, str | None, dict[str, Any]]] = [
    # empty
    ("empty", b"", "x.json", {}),
    ("empty", b" \n\t\r ", "x.json", {}),
    ("empty", b"\xef\xbb\xbf", "x.json", {}),
    ("empty", b"\xef\xbb\xbf\r\n", "x.json", {}),
    ("empty", b"", "x.jsonl", {}),
    ("empty", b"\n\n \r\n\t\n", "x.jsonl", {}),
    ("empty", gz(b""), "x.json.gz", {}),
    ("empty", gz(b"  \n"), "x.jsonl.gz", {}),
    # encoding
    ("encoding", b'[{"title": "\xff", "year": 2000}]', "x.json", {}),
    ("encoding", b'["\xc3"]', "x.json", {}),  # a sequence cut short
    ("encoding", b'["\xc3', "x.json", {}),  # ... by the end of the file
    ("encoding", b'["\xed\xa0\x80"]', "x.json", {}),  # a surrogate encoded in UTF-8
    ("encoding", b'["\xc0\xaf"]', "x.json", {}),  # overlong
    ("encoding", b'["\xf4\x90\x80\x80"]', "x.json", {}),  # above U+10FFFF
    ("encoding", b"[\xff]", "x.json", {}),
    ("encoding", b"[1]\n\xff", "x.json", {}),  # anywhere in the file
    ("encoding", b"\xef\xbb", "x.json", {}),  # half a BOM
    ("encoding", b'{"title": "a", "year": 2000}\n{"title": "\xff"}\n', "x.jsonl", {}),
    ("encoding", b"not json \xff\n", "x.jsonl", {}),  # invalid UTF-8 beats a parse error
    ("encoding", GZ_GOOD[:-1], "x.json.gz", {}),  # truncated trailer
    ("encoding", GZ_GOOD[: len(GZ_GOOD) // 2], "x.json.gz", {}),  # truncated deflate data
    ("encoding", GZ_BAD_CRC, "x.json.gz", {}),
    ("encoding", GZ_BAD_SIZE, "x.json.gz", {}),
    ("encoding", GZ_GOOD + b"garbage", "x.json.gz", {}),
    ("encoding", GZ_GOOD[:5], "x.json.gz", {}),  # inside the header
    ("encoding", GOOD, "x.json.gz", {}),  # a .gz name on data that is not gzip
    ("encoding", b"", "x.json.gz", {}),  # no gzip member at all
    ("encoding", b"\x1f\x8b", None, {}),  # gzip magic, then nothing
    # parse
    ("parse", '[{"title": "a", "year": 2000},]', "x.json", {}),
    ("parse", '[{"title": "a", "year": 2000,}]', "x.json", {}),
    ("parse", '[{"title": "a", "year": NaN}]', "x.json", {}),
    ("parse", '[{"title": "a", "year": Infinity}]', "x.json", {}),
    ("parse", '[{"title": "a", "year": -Infinity}]', "x.json", {}),
    ("parse", '[/* comment */ {"title": "a", "year": 2000}]', "x.json", {}),
    ("parse", "// comment\n[]", "x.json", {}),
    ("parse", '[{"title": "a", "year": 02000}]', "x.json", {}),
    ("parse", "[007]", "x.json", {}),
    ("parse", "[-01]", "x.json", {}),
    ("parse", "[+1]", "x.json", {}),
    ("parse", "[.5]", "x.json", {}),
    ("parse", "[1.]", "x.json", {}),
    ("parse", "[1.e5]", "x.json", {}),
    ("parse", "[1e]", "x.json", {}),
    ("parse", "[1e+]", "x.json", {}),
    ("parse", "[-]", "x.json", {}),
    ("parse", "[0x10]", "x.json", {}),
    ("parse", "['a']", "x.json", {}),
    ("parse", '[{"title": "a\tb", "year": 2000}]', "x.json", {}),  # raw tab in a string
    ("parse", '["a\nb"]', "x.json", {}),
    ("parse", '["\\x41"]', "x.json", {}),
    ("parse", '["\\u12"]', "x.json", {}),
    ("parse", '["\\U0041"]', "x.json", {}),
    ("parse", '["\\ug000"]', "x.json", {}),
    ("parse", "[tru]", "x.json", {}),
    ("parse", "[True]", "x.json", {}),
    ("parse", "[nul]", "x.json", {}),
    ("parse", "[1 2]", "x.json", {}),
    ("parse", "[] []", "x.json", {}),
    ("parse", "[]x", "x.json", {}),
    ("parse", "[]\x00", "x.json", {}),
    ("parse", "[\x0c]", "x.json", {}),  # form feed is not JSON whitespace
    ("parse", "[\u00a0]", "x.json", {}),  # nor is NBSP
    ("parse", "\ufeff\ufeff[]", "x.json", {}),  # a second BOM is a character, not whitespace
    ("parse", "[", "x.json", {}),
    ("parse", '[{"title": "a"', "x.json", {}),
    ("parse", '[{"title": "a", "year": 2000}', "x.json", {}),
    ("parse", '{"movies": [], }', "x.json", {}),
    ("parse", '{"movies" []}', "x.json", {}),
    ("parse", "{movies: []}", "x.json", {}),
    ("parse", '{"movies": []', "x.json", {}),
    ("parse", "x", "x.json", {}),
    ("parse", '[{"a" : 1 : 2}]', "x.json", {}),
    ("parse", '[{"title": "a", "year": 2000}}', "x.json", {}),
    # top_level
    ("top_level", "5", "x.json", {}),
    ("top_level", '"movies"', "x.json", {}),
    ("top_level", "null", "x.json", {}),
    ("top_level", " true ", "x.json", {}),
    ("top_level", "{}", "x.json", {}),
    ("top_level", '{"source": "acme"}', "x.json", {}),
    ("top_level", '{"Movies": []}', "x.json", {}),
    ("top_level", '{"movies": {}}', "x.json", {}),
    ("top_level", '{"movies": null}', "x.json", {}),
    ("top_level", '{"movies": "[]"}', "x.json", {}),
    ("top_level", '{"movies": [], "movies": []}', "x.json", {}),
    ("top_level", '{"a": 1, "a": 2, "movies": []}', "x.json", {}),
    ("top_level", '{"movies": [], "m\\u006fvies": []}', "x.json", {}),
    # depth
    ("depth", deep(65), "x.json", {}),
    ("depth", in_record(deep(63)), "x.json", {}),
    ("depth", '{"movies": [], "x": ' + deep(64) + "}", "x.json", {}),
    ("depth", deep(65) + "\n", "x.jsonl", {}),
    ("depth", '{"title": "a", "year": 2000, "x": ' + deep(64) + "}", "x.jsonl", {}),
    ("depth", "[{}]", "x.json", {"max_depth": 1}),
    ("depth", '{"movies": []}', "x.json", {"max_depth": 1}),
    ("depth", '{"title": "a", "year": 2000, "cast": []}', "x.jsonl", {"max_depth": 1}),
    ("depth", in_record(deep(1023)), "x.json", {"max_depth": 1024}),
    # too_large
    ("too_large", GOOD, "x.json", {"max_bytes": len(GOOD) - 1}),
    ("too_large", GOOD, "x.json", {"max_bytes": 0}),
    ("too_large", gz(b" " * 5000 + b"[]"), "x.json.gz", {"max_bytes": 1000}),
    ("too_large", b'[{"title": "a", "year": 2000}]', "x.json", {"max_record_bytes": 27}),
    ("too_large", b'{"title": "a", "year": 2000}\n', "x.jsonl", {"max_record_bytes": 27}),
    ("too_large", b'{"movies": [], "x": "0123456789"}', "x.json", {"max_record_bytes": 11}),
    ("too_large", b'[{"title": "' + b"a" * 200 + b'"}]', "x.json", {"max_record_bytes": 100}),
    # the first error in stream order wins
    ("parse", b"[1,]\xff", "x.json", {}),
    ("encoding", b"[\xff,]", "x.json", {}),
    ("depth", deep(66)[:66] + "x", "x.json", {}),
    ("parse", "[x" + deep(70), "x.json", {}),
    ("top_level", b'{"a": 1} \xff', "x.json", {}),
    ("parse", b"[1,]" + b" " * 100, "x.json", {"max_bytes": 50}),
    ("too_large", b"[1 " + b" " * 100 + b",]", "x.json", {"max_bytes": 50}),
]


@pytest.mark.parametrize(
    ("code", "data", "filename", "kw"),
    FILE_ERRORS,
    ids=[f"{i}-{code}" for i, (code, *_) in enumerate(FILE_ERRORS)],
)
def test_file_error(
    run: Run, code: str, data: bytes | str, filename: str | None, kw: dict[str, Any]
) -> None:
    out = run(data, filename=filename, **kw)
    assert out.file_error == code, out.report["file_error"]


@pytest.mark.parametrize(
    ("data", "filename", "kw"),
    [
        (deep(64), "x.json", {}),
        (in_record(deep(62)), "x.json", {}),
        (deep(64) + "\n" + deep(64), "x.jsonl", {}),
        ("[[1]]", "x.json", {"max_depth": 2}),
        ("[{}]", "x.json", {"max_depth": 2}),
        (in_record(deep(1022)), "x.json", {"max_depth": 1024}),
        (GOOD, "x.json", {"max_bytes": len(GOOD)}),
        (b'[{"title": "a", "year": 2000}]', "x.json", {"max_record_bytes": 28}),
        (b'{"title": "a", "year": 2000}\n', "x.jsonl", {"max_record_bytes": 28}),
        (b'{"movies": [], "x": "0123456789"}', "x.json", {"max_record_bytes": 12}),
        (b'{"movies": []}', "x.json", {"max_record_bytes": 8}),  # names are limited too
        (b"[123]", "x.json", {"max_record_bytes": 3}),  # the "]" ends the number, is not in it
        (b"     \n{}\n", "x.jsonl", {"max_record_bytes": 5}),
    ],
)
def test_limits_are_inclusive(run: Run, data: bytes | str, filename: str, kw: Any) -> None:
    out = run(data, filename=filename, **kw)
    assert out.file_error is None, out.report["file_error"]


@pytest.mark.parametrize(
    ("data", "filename", "kw"),
    [
        # Everything held whole in memory is limited: top-level names, and NDJSON lines even
        # when blank (a line is only known to be blank at its newline).
        (b'{"movies": []}', "x.json", {"max_record_bytes": 7}),
        (b'{"movies": [], "a_long_name": [1, 2]}', "x.json", {"max_record_bytes": 6}),
        (b"      \n{}\n", "x.jsonl", {"max_record_bytes": 5}),
    ],
)
def test_limits_cover_names_and_blank_lines(
    run: Run, data: bytes | str, filename: str, kw: Any
) -> None:
    assert run(data, filename=filename, **kw).file_error == "too_large"


def test_depth_64_and_65(run: Run) -> None:
    ok = run(deep(64))
    expect(ok, [(0, 1, "/0", "type")], total=1, valid=0)
    assert run(deep(65)).file_error == "depth"


# --- the exception ----------------------------------------------------------------------------


def test_catalog_file_error_is_raised_again_on_every_later_call() -> None:
    assert issubclass(CatalogFileError, ValueError)
    v = Validator(filename="x.json", current_year=YEAR)
    v.feed(b'[{"title": "a", "year": 2000}, ')
    with pytest.raises(CatalogFileError) as first:
        v.feed(b"]")  # detectable here, so raised here: the caller must not load more batches
        v.finish()
    assert first.value.code == "parse"
    for _ in range(2):
        with pytest.raises(CatalogFileError) as again:
            v.feed(b"[]")
        assert again.value.code == "parse"
        with pytest.raises(CatalogFileError) as again:
            v.finish()
        assert again.value.code == "parse"
    report = v.report
    assert report.file_error is not None
    assert report.file_error["code"] == "parse"
    assert report.to_dict()["file_error"] == report.file_error


@pytest.mark.parametrize("max_depth", [0, 1025])
def test_depth_limit_outside_the_documented_range_is_refused(max_depth: int) -> None:
    with pytest.raises(ValueError, match=r"."):
        Validator(max_depth=max_depth)


# --- stream order around gzip, size limits and escapes -----------------------------------------

GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"


def stored_block(payload: bytes, *, final: bool) -> bytes:
    """A deflate block that holds `payload` as is (RFC 1951, 3.2.4)."""
    size = len(payload).to_bytes(2, "little")
    return bytes([1 if final else 0]) + size + bytes(b ^ 0xFF for b in size) + payload


# a stored block holding `[1,]`, then a block of the reserved type 3: corrupt after 4 bytes
GZ_PARSE_THEN_CORRUPT = GZIP_HEADER + stored_block(b"[1,]", final=False) + b"\x07" + bytes(8)


STREAM_ORDER = {
    "gzip-parse-before-corrupt-block": ("parse", GZ_PARSE_THEN_CORRUPT, "x.json.gz", {}),
    "gzip-corrupt-block": ("encoding", GZ_PARSE_THEN_CORRUPT[:14], "x.json.gz", {}),
    "gzip-ndjson-depth-before-bad-crc": ("depth", gz(b"[" * 70)[:-8] + bytes(8), "x.jsonl.gz", {}),
    # the byte is not UTF-8 before it is not a hex digit or an escape letter
    "u-escape-then-bad-utf8": ("encoding", b'["\\u\xff"]', "x.json", {}),
    "u-escape-digits-then-bad-utf8": ("encoding", b'["\\u00\xff"]', "x.json", {}),
    "escape-then-bad-utf8": ("encoding", b'["\\\xff"]', "x.json", {}),
    # an NDJSON line is checked as it arrives, not once it is complete
    "ndjson-bad-utf8-before-max-bytes": (
        "encoding",
        b'["\xff"' + b" " * 40,
        "x.jsonl",
        {"max_bytes": 20},
    ),
    "ndjson-bad-start-byte-before-max-bytes": (
        "encoding",
        b"\xb2\xaf\x03",
        "x.jsonl",
        {"max_bytes": 2},
    ),
    "ndjson-depth-before-max-bytes": (
        "depth",
        b"[" * 70 + b" " * 100,
        "x.jsonl",
        {"max_bytes": 100},
    ),
    "ndjson-depth-before-record-limit": (
        "depth",
        b"[" * 70 + b" " * 100,
        "x.jsonl",
        {"max_record_bytes": 100},
    ),
    "ndjson-bad-utf8-before-record-limit": (
        "encoding",
        b"\xe6!" + b" " * 10,
        "x.jsonl",
        {"max_record_bytes": 2},
    ),
    # the name "movies" is limited like any top-level name, before its value is looked at
    "movies-name-is-limited": (
        "too_large",
        b'{"movies"\r\n:  null}',
        "x.json",
        {"max_record_bytes": 4},
    ),
}


@pytest.mark.parametrize(
    ("code", "data", "filename", "kw"), list(STREAM_ORDER.values()), ids=list(STREAM_ORDER)
)
def test_first_error_in_stream_order(
    run: Run, code: str, data: bytes, filename: str, kw: dict[str, Any]
) -> None:
    for cuts in ([], list(range(1, len(data)))):  # one chunk, one byte per chunk
        out = run(data, filename=filename, cuts=cuts, **kw)
        assert out.file_error == code, (cuts, out.report["file_error"])


def test_copy_false_batches_still_count() -> None:
    v = Validator(copy=False, current_year=YEAR)
    counted = v.feed(b'[{"title": "a", "year": 2000}, {"title": "b", "year": 2000}, ').count
    counted += v.feed(b'{"title": "c", "year": 2000}]').count
    last = v.finish()
    assert counted + last.count == 3
    assert last.copy_data == b""


@pytest.mark.parametrize(
    "data",
    [gz(b"[]")[:-1], b"\x1f\x8b\x08\x00garbage", b"\xff", b"[1,]", b"5", b"\n\n[1,]"],
)
def test_catalog_file_error_carries_the_report_position(data: bytes) -> None:
    v = Validator(current_year=YEAR)
    with pytest.raises(CatalogFileError) as raised:
        v.feed(data)
        v.finish()
    error = v.report.file_error
    assert error is not None
    assert (raised.value.code, raised.value.line, raised.value.offset) == (
        error["code"],
        error["line"],
        error["offset"],
    )
    assert raised.value.line >= 1


def test_lone_surrogate_field_names_in_pointers(run: Run) -> None:
    """No UTF-8 report can carry an unpaired surrogate: a pointer shows one U+FFFD for it."""
    out = run(one_movie(OK + ', "\\ud800": 1, "\\udbff": 1, "\\uD800": 2'))
    expect(out, [(0, 2, "/0/\ufffd", "duplicate_field")], total=1, valid=0)


def test_a_corrupt_gzip_block_gives_one_answer_whatever_the_chunks() -> None:
    answers = {
        str(run_extension(GZ_PARSE_THEN_CORRUPT, cuts, filename="x.json.gz").report["file_error"])
        for cuts in ([], [11], [16], [17], list(range(1, len(GZ_PARSE_THEN_CORRUPT))))
    }
    assert len(answers) == 1, answers


@pytest.mark.parametrize("name", ["X.JSONL.GZ", "x.NdJson.gz", "x.jsonl.GZ"])
def test_suffixes_ignore_ascii_case(run: Run, name: str) -> None:
    data = gzip.compress(b'{"title": "a", "year": 2000}\n{"title": "b", "year": 2001}\n')
    out = run(data, filename=name)
    assert out.file_error is None and out.report["records_valid"] == 2
