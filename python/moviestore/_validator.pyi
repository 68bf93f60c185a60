"""Type stubs for the Rust extension (rust/validator). Checked by mypy.stubtest."""

import os
from collections.abc import Sequence
from typing import Final, Literal, final

from moviestore.validation_types import FileErrorCode, FileErrorDict, MovieDict, RecordErrorDict

__all__ = [
    "CHANGE_COLUMNS",
    "COPY_COLUMNS",
    "COPY_HEADER",
    "COPY_TRAILER",
    "INDEX_COLUMNS",
    "Batch",
    "CatalogFileError",
    "IndexBuilder",
    "Report",
    "SearchIndex",
    "Validator",
    "decode_copy",
]

COPY_COLUMNS: Final[tuple[str, ...]]
COPY_HEADER: Final[bytes]
COPY_TRAILER: Final[bytes]
INDEX_COLUMNS: Final[tuple[str, ...]]
CHANGE_COLUMNS: Final[tuple[str, ...]]

class CatalogFileError(ValueError):
    """A whole-file error: no record of the file is usable."""

    code: FileErrorCode
    line: int
    offset: int
    report: Report

@final
class Report:
    records_total: int
    records_valid: int
    deletions: int
    records_invalid: int
    duplicates_collapsed: int
    bytes_read: int
    error_counts: dict[str, int]
    errors: list[RecordErrorDict]
    errors_total: int
    file_error: FileErrorDict | None
    def to_dict(self) -> dict[str, object]: ...

@final
class Batch:
    copy_data: bytes
    count: int
    deleted_keys: bytes
    def records(self) -> list[MovieDict]: ...
    def __len__(self) -> int: ...

@final
class Validator:
    def __new__(
        cls,
        *,
        filename: str | None = None,
        format: Literal["auto", "json", "ndjson"] = "auto",
        max_errors: int = 1000,
        max_depth: int = 64,
        max_bytes: int | None = None,
        max_record_bytes: int = 16777216,
        current_year: int | None = None,
        copy: bool = True,
        stream_errors: bool = False,
        threads: int = 1,
    ) -> Validator: ...
    def feed(self, chunk: bytes) -> Batch: ...
    def finish(self) -> Batch: ...
    def take_errors(self) -> list[RecordErrorDict]: ...
    @property
    def report(self) -> Report: ...
    @property
    def bytes_fed(self) -> int: ...

def decode_copy(data: bytes) -> list[MovieDict]: ...

@final
class IndexBuilder:
    """Reads ``COPY (SELECT <INDEX_COLUMNS> ... ORDER BY title, id) TO STDOUT (FORMAT binary)``."""

    def __new__(cls, folder: str | os.PathLike[str] | None = None) -> IndexBuilder:
        """With a folder (the segments' tmpfs), the movies' columns are gathered in files
        there until ``finish(path)`` moves them into the segment."""
    def feed(self, chunk: bytes) -> None: ...
    def finish(self, path: str | os.PathLike[str] | None = None) -> SearchIndex:
        """The index; with a path, it is written there (as ``save`` does) and mapped."""

@final
class SearchIndex:
    def search(
        self,
        *,
        title: str | None,
        year_from: int | None,
        year_to: int | None,
        genres: Sequence[str],
        cast: Sequence[str],
        provider: str | None,
        sort: str,
        after: tuple[str | int, int] | None,
        limit: int,
        any_genres: Sequence[str] = ...,
        exclude_genres: Sequence[str] = ...,
    ) -> tuple[int, list[int]] | None: ...
    def apply(self, changed_ids: Sequence[int], rows: bytes) -> SearchIndex:
        """A new index with a change set applied: every id of ``changed_ids`` in the index is
        removed, then each row of ``rows`` (binary COPY of ``CHANGE_COLUMNS``, any order)
        is inserted right after its ``after_id``. ``ValueError`` if they do not fit."""

    def merged(self, path: str | os.PathLike[str] | None = None) -> SearchIndex:
        """The same movies, all in the base; with a path, the base is written there and mapped."""

    def attributes(
        self, ids: Sequence[int]
    ) -> list[tuple[str, int, str, list[str], list[str]] | None]: ...
    def save(self, path: str | os.PathLike[str]) -> None: ...
    @staticmethod
    def open(path: str | os.PathLike[str]) -> SearchIndex: ...
    def __len__(self) -> int: ...
    @property
    def delta_movies(self) -> int: ...
    @property
    def removed_movies(self) -> int: ...
    @property
    def memory_bytes(self) -> int: ...
    @property
    def mapped_bytes(self) -> int: ...
