"""Properties of the extension on its own: chunking, copy=False, max_errors, COPY data, hashes."""

from __future__ import annotations

import json
import random
import re
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from tests.model import pgcopy
from tests.model.generate import (
    Arr,
    CatalogFile,
    JValue,
    Obj,
    Raw,
    Str,
    Style,
    catalog_files,
    chunkings,
    styles,
    valid_catalog_files,
)
from tests.model.harness import Outcome, extension, run_extension


def run(file: CatalogFile, cuts: list[int] | None = None, **override: Any) -> Outcome:
    return run_extension(file.data, cuts, filename=file.filename, **(file.settings | override))


@given(file=catalog_files(), data=st.data())
def test_any_chunking_gives_the_same_result(file: CatalogFile, data: st.DataObject) -> None:
    note(file.describe())
    first = run(file, data.draw(chunkings(len(file.data)), label="first cuts"))
    second = run(file, data.draw(chunkings(len(file.data)), label="second cuts"))
    if first.file_error is None:
        assert first.report == second.report
        assert first.copy_data == second.copy_data
        assert first.movies == second.movies
    else:
        # How far the validator read into the stream before giving up depends on the chunks;
        # everything else, the error's position included, must not.
        assert {**first.report, "bytes_read": 0} == {**second.report, "bytes_read": 0}
        assert first.raised is not None
        assert second.raised is not None
        assert first.raised[:3] == second.raised[:3]


@given(file=catalog_files())
def test_file_errors_are_raised_as_reported(file: CatalogFile) -> None:
    note(file.describe())
    out = run(file)
    error = out.report["file_error"]
    if error is None:
        assert out.raised is None
        return
    assert out.raised == (error["code"], error["line"], error["offset"], out.report)
    assert error["line"] >= 1
    assert 0 <= error["offset"] <= out.report["bytes_read"] or error["code"] == "too_large"


@given(file=catalog_files())
def test_copy_false_gives_the_same_report(file: CatalogFile) -> None:
    note(file.describe())
    with_copy = run(file)
    without = run(file, copy=False)
    assert without.report == with_copy.report
    assert without.copy_data == b""
    assert without.deleted_keys == b""
    if with_copy.file_error is None:
        movies = with_copy.report["records_valid"] - with_copy.report["deletions"]
        assert without.batch_count == with_copy.batch_count == movies
        assert len(with_copy.deleted_keys) == 16 * with_copy.report["deletions"]


@given(file=catalog_files(), keep=st.integers(0, 6))
def test_max_errors_only_truncates_the_list(file: CatalogFile, keep: int) -> None:
    note(file.describe())
    everything = run(file, max_errors=1_000_000)
    truncated = run(file, max_errors=keep)
    assert truncated.report["errors"] == everything.report["errors"][:keep]
    assert {**truncated.report, "errors": None} == {**everything.report, "errors": None}
    total = everything.report["errors_total"]
    assert total == sum(everything.report["error_counts"].values())
    assert len(everything.report["errors"]) == total


def as_movie(row: dict[str, object]) -> dict[str, object]:
    movie = {("id" if k == "provider_id" else k): v for k, v in row.items()}
    movie["record_key"] = str(movie["record_key"]).replace("-", "")
    return movie


def canonical_key(movie: dict[str, Any]) -> dict[str, Any]:
    return movie | {"record_key": movie["record_key"].replace("-", "").lower()}


@given(file=catalog_files(), data=st.data())
def test_copy_data_is_well_formed_and_decodes_to_the_records(
    file: CatalogFile, data: st.DataObject
) -> None:
    note(file.describe())
    ext = extension()
    out = run(file, data.draw(chunkings(len(file.data))))
    assert ext.COPY_HEADER == pgcopy.HEADER
    assert ext.COPY_TRAILER == pgcopy.TRAILER
    assert tuple(ext.COPY_COLUMNS) == tuple(name for name, _ in pgcopy.COLUMNS)
    rows = pgcopy.read_stream(ext.COPY_HEADER + out.copy_data + ext.COPY_TRAILER)
    assert len(rows) == out.batch_count == len(out.movies)
    movies = [canonical_key(m) for m in out.movies]
    assert [as_movie(r) for r in rows] == movies
    assert [canonical_key(m) for m in ext.decode_copy(out.copy_data)] == movies
    if out.file_error is None:
        assert len(rows) == out.report["records_valid"] - out.report["deletions"]


# --- record_key and content_hash --------------------------------------------------------------

CANONICAL_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
PADDING = ["", " ", "\u3000", "\t", "\u2029 "]


@st.composite
def rewritten(draw: st.DrawFn, movie: dict[str, Any]) -> Obj:
    """The same normalised movie written another way: padding, repeats, nulls, int ids."""
    members: list[tuple[str, JValue]] = []
    pad = draw(st.sampled_from(PADDING))
    for name in ("title", "year", "id", "href", "extract", "thumbnail"):
        value = movie[name]
        if name == "year":
            members.append((name, Raw(str(value))))
        elif value is None:
            if draw(st.booleans()):
                members.append((name, Raw("null")))
        elif (
            name == "id"
            and CANONICAL_INTEGER.fullmatch(value)
            and value != "-0"
            and draw(st.booleans())
        ):
            members.append((name, Raw(value)))
        else:
            members.append((name, Str(pad + value + pad)))
    for name in ("cast", "genres"):
        items: list[JValue] = [Str(x) for x in movie[name]]
        repeat, empty_array = draw(st.booleans()), draw(st.booleans())
        if items and repeat:
            items.append(Str(pad + movie[name][0]))  # a repeat, collapsed
        if items or empty_array:
            members.append((name, Arr(tuple(items))))
    for name in ("thumbnail_width", "thumbnail_height"):
        if movie[name] is not None:
            members.append((name, Raw(str(movie[name]))))
    if draw(st.booleans()):
        members.append(("ignored", Str("anything")))
    return Obj(tuple(draw(st.permutations(members))))


@given(file=valid_catalog_files(), style=styles(newlines=False), data=st.data())
def test_hashes_depend_only_on_the_normalised_record(
    file: CatalogFile, style: Style, data: st.DataObject
) -> None:
    note(file.describe())
    first = run(file)
    assert first.file_error is None
    assert first.movies, "the first record of a valid file always loads"
    keys = [m["record_key"] for m in first.movies]
    hashes = [m["content_hash"] for m in first.movies]
    assert len(set(keys)) == len(keys), "different keys must give different record_keys"
    assert len(set(hashes)) == len(hashes), "different content must give different hashes"

    order = data.draw(st.permutations(range(len(first.movies))), label="order")
    text = "\n".join(style.value(data.draw(rewritten(first.movies[i]))) for i in order)
    note(text)
    again = run_extension(text.encode(), filename="again.ndjson", current_year=2026)
    assert again.report["records_valid"] == len(order), again.report
    for i, movie in zip(order, again.movies, strict=True):
        assert movie["record_key"] == keys[i]
        assert movie["content_hash"] == hashes[i]


def large_ndjson(lines: int, seed: int) -> bytes:
    """Several MB of NDJSON with every kind of line: valid, invalid, blank, not JSON, repeats of
    earlier records (identical, and with other content)."""
    rng = random.Random(seed)
    out = []
    for i in range(lines):
        kind = rng.random()
        movie: dict[str, Any] = {"title": f"Film {i}", "year": 1900 + i % 120, "id": f"m-{i}"}
        movie["extract"] = "words " * rng.randrange(0, 300)
        if kind < 0.05:
            movie["year"] = "soon"  # invalid
        elif kind < 0.08:
            j = rng.randrange(0, i + 1)  # the same key as an earlier record
            movie = {"title": f"Film {j}", "year": 1900 + j % 120, "id": f"m-{j}"}
        elif kind < 0.1:
            out.append(b"  \t")
            continue
        elif kind < 0.12:
            out.append(b'{"title": "broken", ')
            continue
        out.append(json.dumps(movie).encode())
    return b"\n".join(out) + b"\n"


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("chunk", [1 << 20, 100_000, 0])
@pytest.mark.parametrize(
    "tail", [b"", b'{"title": "\xff"}\n', b'{"title": "' + b"x" * 5000 + b'"}\n']
)
def test_two_threads_on_large_ndjson_give_the_same_result(
    seed: int, chunk: int, tail: bytes
) -> None:
    """Large enough that both halves of each chunk are examined at once; a whole-file error
    (invalid UTF-8, a line over the size limit) at the end stops both the same way."""
    data = large_ndjson(6_000, seed)
    data = data[: len(data) // 2] + tail + data[len(data) // 2 :]
    cuts = list(range(chunk, len(data), chunk)) if chunk else []
    settings: dict[str, Any] = {"filename": "big.ndjson", "max_record_bytes": 4096}
    settings |= {"max_errors": 50, "current_year": 2026}
    one = run_extension(data, cuts, **settings)
    two = run_extension(data, cuts, **settings, threads=2)
    assert one.report["records_total"] > 1000 or one.file_error is not None
    assert two == one
    streamed = run_extension(data, cuts, **settings, threads=2, stream_errors=True)
    assert streamed.report == one.report
