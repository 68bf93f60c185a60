"""Shapes of what the validator reports (shared by the extension's stub and its callers)."""

from __future__ import annotations

from typing import Literal, TypedDict

ErrorCode = Literal[
    "type",
    "required",
    "length",
    "range",
    "format",
    "too_many_items",
    "duplicate_field",
    "duplicate_key",
    "parse",
]
FileErrorCode = Literal["empty", "encoding", "parse", "top_level", "depth", "too_large"]


class RecordErrorDict(TypedDict):
    record: int
    line: int
    pointer: str
    code: ErrorCode
    message: str


class FileErrorDict(TypedDict):
    code: FileErrorCode
    message: str
    line: int
    offset: int


class MovieDict(TypedDict):
    title: str
    year: int
    id: str | None
    href: str | None
    cast: list[str]
    genres: list[str]
    extract: str | None
    thumbnail: str | None
    thumbnail_width: int | None
    thumbnail_height: int | None
    record_key: str
    content_hash: int
    record: int
    line: int
