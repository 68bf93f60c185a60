"""Type stubs for the Rust extension (rust/validator). Checked by mypy.stubtest."""

from typing import Final, Literal, final

from moviestore.validation_types import FileErrorCode, FileErrorDict, MovieDict, RecordErrorDict

__all__ = [
    "COPY_COLUMNS",
    "COPY_HEADER",
    "COPY_TRAILER",
    "Batch",
    "CatalogFileError",
    "Report",
    "Validator",
    "decode_copy",
]

COPY_COLUMNS: Final[tuple[str, ...]]
COPY_HEADER: Final[bytes]
COPY_TRAILER: Final[bytes]

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
    ) -> Validator: ...
    def feed(self, chunk: bytes) -> Batch: ...
    def finish(self) -> Batch: ...
    def take_errors(self) -> list[RecordErrorDict]: ...
    @property
    def report(self) -> Report: ...
    @property
    def bytes_fed(self) -> int: ...

def decode_copy(data: bytes) -> list[MovieDict]: ...
