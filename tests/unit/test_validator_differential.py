"""The extension and the reference model must agree on every generated file.

Whole-file errors: the same code (where a stream breaks is an implementation detail, so line
and offset are left to the examples). Otherwise: the same report (all but message text) and the
same valid records, whatever chunks the file arrives in.
"""

from __future__ import annotations

from typing import Any

from hypothesis import example, given, note
from hypothesis import strategies as st

from tests.model.generate import CURRENT_YEAR, CatalogFile, catalog_files, chunkings
from tests.model.harness import (
    Outcome,
    run_extension,
    run_model,
    without_hashes,
    without_messages,
)


def assert_agree(ext: Outcome, model: Outcome) -> None:
    if ext.file_error is not None or model.file_error is not None:
        assert ext.file_error == model.file_error, (
            f"extension: {ext.report['file_error']}\nmodel: {model.report['file_error']}"
        )
        return
    e, m = without_messages(ext.report), without_messages(model.report)
    assert e["errors"] == m["errors"]
    assert e == m
    assert without_hashes(ext.movies) == model.movies


def compare(file: CatalogFile, cuts: list[int]) -> None:
    note(file.describe())
    note(f"cuts={cuts}")
    model = run_model(file.data, filename=file.filename, **file.settings)
    ext = run_extension(file.data, cuts, filename=file.filename, **file.settings)
    note(f"model: {model.report}")
    note(f"extension: {ext.report}")
    assert_agree(ext, model)
    # Lines examined on two threads (split in two halves, whatever the size) commit the same.
    two = run_extension(file.data, cuts, filename=file.filename, **file.settings, threads=2)
    assert two == ext


def example_file(data: bytes, filename: str | None = "x.json", **settings: Any) -> CatalogFile:
    return CatalogFile(data, filename, {"current_year": CURRENT_YEAR, **settings})


@given(file=catalog_files(), data=st.data())
@example(file=example_file(b'[{"title": "a", "year": 2000}]'), data=None)
def test_extension_agrees_with_model(file: CatalogFile, data: st.DataObject | None) -> None:
    cuts = [] if data is None else data.draw(chunkings(len(file.data)), label="cuts")
    compare(file, cuts)


@given(raw=st.binary(max_size=64), name=st.sampled_from(["x.json", "x.jsonl", "x.json.gz"]))
def test_garbage_bytes(raw: bytes, name: str) -> None:
    compare(example_file(raw, name), list(range(1, len(raw))))


PIECES = ['{"title": "a", "year": 2000}', "[", "]", "{", "}", ",", ":", '"', "\\", "\n", " "]
PIECES += ['"movies"', '"title"', '"year"', "1", "-0", "2e3", "null", "\\ud800", "\u3000", "😀"]


@given(
    parts=st.lists(st.sampled_from(PIECES), max_size=24),
    name=st.sampled_from(["x.json", "x.jsonl"]),
    max_depth=st.sampled_from([1, 2, 3, 64]),
)
def test_json_token_soup(parts: list[str], name: str, max_depth: int) -> None:
    data = "".join(parts).encode("utf-8")
    compare(example_file(data, name, max_depth=max_depth), [])
