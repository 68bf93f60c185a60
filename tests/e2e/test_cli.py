"""``moviestore validate`` as providers run it: a real process, real files, real exit codes."""

from __future__ import annotations

import gzip
import os
import pty
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.cli import moviestore

MOVIE = {
    "title": "Carmen",
    "year": 1915,
    "href": "Carmen_(1915_film)",
    "cast": ["Geraldine Farrar"],
}


def write_json(path: Path, document: Any) -> Path:
    path.write_bytes(orjson.dumps(document))
    return path


def json_lines(stdout: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in stdout.splitlines()]


def test_valid_file_exits_0_with_a_summary(tmp_path: Path) -> None:
    f = write_json(tmp_path / "ok.json", [MOVIE, {**MOVIE, "href": "Carmen_(DeMille)"}])
    result = moviestore("validate", f)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 records: 2 valid, 0 invalid" in result.stdout


def test_invalid_records_exit_1_and_are_reported_exactly(tmp_path: Path) -> None:
    f = write_json(tmp_path / "some-bad.json", [MOVIE, {"title": "X", "year": 2010.0}])
    result = moviestore("validate", "--format", "json", f)
    assert result.returncode == 1
    [report] = json_lines(result.stdout)
    assert report["file"] == str(f)
    assert (report["records_valid"], report["records_invalid"]) == (1, 1)
    assert report["error_counts"] == {"type": 1}
    [error] = report["errors"]
    assert (error["record"], error["pointer"], error["code"]) == (1, "/1/year", "type")
    assert "integer" in error["message"]


def test_unusable_file_exits_2_with_the_file_error(tmp_path: Path) -> None:
    f = tmp_path / "broken.json"
    f.write_bytes(b'[{"title": "A", "year": 2000},\n  {"title": "B", "year": 2001},]')
    result = moviestore("validate", "--format", "json", f)
    assert result.returncode == 2
    [report] = json_lines(result.stdout)
    assert report["file_error"]["code"] == "parse"
    assert report["file_error"]["line"] == 2
    text = moviestore("validate", f)
    assert text.returncode == 2
    assert "UNUSABLE: parse at line 2" in text.stdout


def test_unreadable_file_exits_2(tmp_path: Path) -> None:
    result = moviestore("validate", "--format", "json", tmp_path / "missing.json")
    assert result.returncode == 2
    [report] = json_lines(result.stdout)
    assert report["file_error"]["code"] == "unreadable"


def test_several_files_one_line_each_and_the_worst_exit_code(tmp_path: Path) -> None:
    good = write_json(tmp_path / "good.json", [MOVIE])
    bad = write_json(tmp_path / "bad.json", [{"year": 1999}])
    result = moviestore("validate", "--format", "json", good, bad)
    assert result.returncode == 1
    reports = json_lines(result.stdout)
    assert [r["file"] for r in reports] == [str(good), str(bad)]
    assert reports[1]["errors"][0]["code"] == "required"


def test_gzip_ndjson_by_name(tmp_path: Path) -> None:
    f = tmp_path / "catalog.ndjson.gz"
    lines = [orjson.dumps({**MOVIE, "id": i}) for i in range(100)] + [b"", b"{not json"]
    f.write_bytes(gzip.compress(b"\n".join(lines)))
    result = moviestore("validate", "--format", "json", f)
    assert result.returncode == 1
    [report] = json_lines(result.stdout)
    assert (report["records_valid"], report["records_invalid"]) == (100, 1)
    assert report["errors"][0] == {
        **report["errors"][0],
        "code": "parse",
        "line": 102,
        "record": 100,
    }


def test_max_errors_keeps_the_first_and_counts_all(tmp_path: Path) -> None:
    f = write_json(
        tmp_path / "many.json", [{"title": "", "year": 2000, "id": i} for i in range(50)]
    )
    result = moviestore("validate", "--format", "json", "--max-errors", "3", f)
    [report] = json_lines(result.stdout)
    assert len(report["errors"]) == 3
    assert report["errors_total"] == 50
    assert report["error_counts"] == {"length": 50}
    text = moviestore("validate", "--max-errors", "3", f)
    assert "and 47 more errors" in text.stdout


@pytest.mark.parametrize("bad", [["--max-errors", "-1"], ["--max-depth", "0"], ["--format", "xml"]])
def test_bad_options_are_usage_errors(tmp_path: Path, bad: list[str]) -> None:
    f = write_json(tmp_path / "ok.json", [MOVIE])
    result = moviestore("validate", *bad, f)
    assert result.returncode == 2
    assert "usage:" in result.stderr


def test_progress_bar_on_a_terminal_for_large_files(tmp_path: Path) -> None:
    f = tmp_path / "large.ndjson"
    extract = "word " * 400
    with f.open("wb") as out:
        for i in range(16_000):  # ~33 MB: above the progress bar's threshold
            out.write(orjson.dumps({**MOVIE, "id": i, "extract": extract}) + b"\n")
    main, secondary = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moviestore.cli", "validate", str(f)],
        stdout=subprocess.PIPE,
        stderr=secondary,
        text=True,
    )
    os.close(secondary)
    drawn = b""
    while True:
        try:
            piece = os.read(main, 4096)
        except OSError:  # the terminal closed: the process is done
            break
        if not piece:
            break
        drawn += piece
    stdout, _ = proc.communicate(timeout=120)
    os.close(main)
    assert proc.returncode == 0
    assert b"large.ndjson [" in drawn and b"MB/s" in drawn
    assert "16,000 records: 16,000 valid" in stdout
