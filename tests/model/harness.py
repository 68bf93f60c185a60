"""Run the extension and the model the same way, and reduce their answers to comparable data."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from tests.model import validate
from tests.model.generate import split


def extension() -> ModuleType:
    """The extension; failing to import it fails the test (it is never a reason to skip)."""
    return importlib.import_module("moviestore._validator")


@dataclass
class Outcome:
    report: dict[str, Any]  # Report.to_dict()
    movies: list[dict[str, Any]]  # valid records, as Batch.records() gives them
    copy_data: bytes = b""
    batch_count: int = 0  # sum of Batch.count
    deleted_keys: bytes = b""  # every Batch.deleted_keys
    bytes_fed: int = 0
    # CatalogFileError's (code, line, offset, report.to_dict()), if one was raised
    raised: tuple[str, int, int, dict[str, Any]] | None = None

    @property
    def file_error(self) -> str | None:
        error = self.report["file_error"]
        return None if error is None else str(error["code"])


def run_extension(
    data: bytes, cuts: list[int] | None = None, *, filename: str | None = None, **settings: Any
) -> Outcome:
    """Feed `data` cut at `cuts`, collecting every batch; a whole-file error ends the run."""
    ext = extension()
    validator = ext.Validator(filename=filename, **settings)
    movies: list[dict[str, Any]] = []
    copy_data = bytearray()
    deleted = bytearray()
    count = 0
    error = None
    try:
        for chunk in [*split(data, cuts or []), None]:
            batch = validator.finish() if chunk is None else validator.feed(chunk)
            movies += batch.records() if settings.get("copy", True) else []
            copy_data += batch.copy_data
            deleted += batch.deleted_keys
            count += batch.count
            assert len(batch) == batch.count
    except ext.CatalogFileError as e:
        error = e
    report = validator.report.to_dict()
    raised = None
    if error is not None:
        raised = (error.code, error.line, error.offset, error.report.to_dict())
    fed = validator.bytes_fed
    return Outcome(report, movies, bytes(copy_data), count, bytes(deleted), fed, raised)


def run_model(data: bytes, *, filename: str | None = None, **settings: Any) -> Outcome:
    settings = {k: v for k, v in settings.items() if k != "copy"}
    result = validate(data, filename=filename, **settings)
    return Outcome(result.report, result.movies)


def without_messages(report: dict[str, Any]) -> dict[str, Any]:
    """The report minus human text, which the model does not try to reproduce."""
    out = dict(report)
    out["errors"] = [{k: v for k, v in e.items() if k != "message"} for e in report["errors"]]
    if report["file_error"] is not None:
        out["file_error"] = {k: v for k, v in report["file_error"].items() if k != "message"}
    return out


HASHES = ("record_key", "content_hash")


def without_hashes(movies: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k not in HASHES} for m in movies]


def error_tuples(report: dict[str, Any]) -> list[tuple[int, int, str, str]]:
    return [(e["record"], e["line"], e["pointer"], e["code"]) for e in report["errors"]]
