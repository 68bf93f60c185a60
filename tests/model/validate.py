"""The whole-file rules: shapes (array, wrapper, NDJSON), record indexes, keys and the report."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from tests.model.jsonparse import NDJSON_WHITESPACE, VALUE_START, Node, NotJsonError, Parser
from tests.model.movie import RecordError, check_record, content, record_key
from tests.model.stream import GZIP_MAGIC, FileError, Text, decode, gunzip

DEFAULT_MAX_RECORD_BYTES = 16 * 1024 * 1024


@dataclass
class ModelResult:
    report: dict[str, object]  # the shape of Report.to_dict()
    movies: list[dict[str, object]]  # valid records, normalised: Batch.records() minus the hashes


class Collector:
    """Counts, kept errors and the key table of one file."""

    def __init__(self, text: Text, *, max_errors: int, current_year: int) -> None:
        self.text = text
        self.max_errors = max_errors
        self.current_year = current_year
        self.records_total = 0
        self.records_valid = 0
        self.deletions = 0
        self.records_invalid = 0
        self.duplicates_collapsed = 0
        self.error_counts: Counter[str] = Counter()
        self.errors: list[dict[str, object]] = []
        self.keys: dict[tuple[object, ...], tuple[object, ...]] = {}
        self.movies: list[dict[str, object]] = []

    def add_error(self, record: int, error: RecordError) -> None:
        self.error_counts[error.code] += 1
        if len(self.errors) < self.max_errors:
            self.errors.append(
                {
                    "record": record,
                    "line": self.text.line_at(error.line_offset),
                    "pointer": error.pointer,
                    "code": error.code,
                    "message": error.message,
                }
            )

    def invalid(self, record: int, errors: list[RecordError]) -> None:
        self.records_invalid += 1
        for error in errors:
            self.add_error(record, error)

    def record(self, node: Node, index: int, pointer: str) -> None:
        self.records_total += 1
        checked = check_record(node, pointer, current_year=self.current_year)
        if checked.movie is None:
            self.invalid(index, checked.errors)
            return
        movie = checked.movie
        key = record_key(movie)
        # Every deletion of a key is identical to every other, and differs from any movie.
        what = ("deleted",) if checked.deleted else content(movie)
        if key not in self.keys:
            self.keys[key] = what
            self.records_valid += 1
            if checked.deleted:
                self.deletions += 1
            else:
                line = self.text.line_at(node.offset)
                self.movies.append({**movie, "record": index, "line": line})
        elif self.keys[key] == what:
            self.duplicates_collapsed += 1
        else:
            msg = "another record has this key with different content"
            self.invalid(index, [RecordError(node.offset, pointer, "duplicate_key", msg)])

    def unparsable_line(self, index: int, offset: int, message: str) -> None:
        self.records_total += 1
        self.invalid(index, [RecordError(offset, f"/{index}", "parse", message)])


def records_array(
    p: Parser, out: Collector, *, prefix: str, depth: int, max_record_bytes: int
) -> None:
    """The array of movies: `[` at the cursor, at `depth`; each item is a record."""
    if depth > p.max_depth:
        raise FileError("depth", p.offset(), f"nesting deeper than {p.max_depth}")
    p.expect("[")
    p.skip_whitespace()
    if p.need() == "]":
        p.take()
        return
    index = 0
    while True:
        p.skip_whitespace()
        p.need()
        p.record_limit = p.offset() + max_record_bytes
        node = p.value(depth + 1)
        p.record_limit = None
        out.record(node, index, f"{prefix}/{index}")
        index += 1
        p.skip_whitespace()
        c = p.need()
        if c == ",":
            p.take()
        elif c == "]":
            p.take()
            return
        else:
            raise p.fail("expected ',' or ']'")


def wrapper_object(p: Parser, out: Collector, *, max_record_bytes: int) -> None:
    """`{"movies": [...], ...}` at depth 1; other fields are ignored values."""
    p.expect("{")
    p.skip_whitespace()
    if p.need() == "}":
        raise FileError("top_level", p.offset(), "the top-level object has no movies field")
    names: set[str] = set()
    while True:
        p.skip_whitespace()
        if p.need() != '"':
            raise p.fail("expected a field name")
        name_offset = p.offset()
        # A top-level name is held whole in memory, so it is bounded like a record.
        p.record_limit = name_offset + max_record_bytes
        name = p.string()
        p.record_limit = None
        if name in names:
            raise FileError("top_level", name_offset, f"top-level field {name!r} repeated")
        names.add(name)
        p.skip_whitespace()
        p.expect(":")
        p.skip_whitespace()
        c = p.need()
        if name == "movies":
            if c != "[":
                if c in VALUE_START:
                    raise FileError("top_level", p.offset(), "movies is not an array")
                raise p.fail("expected a JSON value")
            records_array(p, out, prefix="/movies", depth=2, max_record_bytes=max_record_bytes)
        else:
            p.record_limit = p.offset() + max_record_bytes
            p.value(2)
            p.record_limit = None
        p.skip_whitespace()
        c = p.need()
        if c == ",":
            p.take()
        elif c == "}":
            if "movies" not in names:
                raise FileError("top_level", p.offset(), "the top-level object has no movies field")
            p.take()
            return
        else:
            raise p.fail("expected ',' or '}'")


def json_file(p: Parser, out: Collector, *, max_record_bytes: int) -> None:
    """An array file or a wrapper file; any parse failure is a whole-file error."""
    try:
        p.skip_whitespace()
        c = p.peek()
        if c is None:
            if p.text.stop is not None:
                raise p.text.stop
            raise FileError("empty", p.offset(), "the file holds no JSON value")
        if c == "[":
            records_array(p, out, prefix="", depth=1, max_record_bytes=max_record_bytes)
        elif c == "{":
            wrapper_object(p, out, max_record_bytes=max_record_bytes)
        elif c in VALUE_START:
            raise FileError(
                "top_level", p.offset(), "the top-level value is not an array or object"
            )
        else:
            raise p.fail("expected a JSON value")
        p.skip_whitespace()
        if p.peek() is not None:
            raise p.fail("data after the top-level value")
        if p.text.stop is not None:
            raise p.text.stop
    except NotJsonError as e:
        raise FileError("parse", e.offset, e.message) from e


def ndjson_file(p: Parser, out: Collector, *, max_record_bytes: int) -> None:
    """One JSON value per non-blank line; a bad line is a record error."""
    index = 0
    while True:
        line_start = p.offset()
        # Every line is held whole until its newline, so blank lines count toward the limit too.
        p.record_limit = line_start + max_record_bytes
        # Leading whitespace: a line may still turn out blank, and a blank line is no record.
        while (c := p.peek()) is not None and c in NDJSON_WHITESPACE:
            p.take()
        c = p.peek()
        if c is None:
            if p.text.stop is not None:
                raise p.text.stop
            break
        if c == "\n":
            p.record_limit = None
            p.pos += 1
            continue
        record_offset = p.offset()
        try:
            node = p.value(1)
            p.skip_whitespace()
            if p.peek() not in (None, "\n"):
                raise p.fail("more than one JSON value on the line")
        except NotJsonError as e:
            while (c := p.peek()) is not None and c != "\n":
                p.take()  # the rest of the line still counts toward its size
            if c is None and p.text.stop is not None:
                raise p.text.stop from e
            out.unparsable_line(index, record_offset, e.message)
        else:
            if p.peek() is None and p.text.stop is not None:
                raise p.text.stop
            out.record(node, index, f"/{index}")
        p.record_limit = None
        index += 1
        if p.peek() == "\n":
            p.pos += 1
    if index == 0:
        raise FileError("empty", p.offset(), "the file holds only blank lines")


def is_ndjson_name(filename: str) -> bool:
    """Suffixes are compared ignoring ASCII case: `CATALOG.JSONL.GZ` is gzip NDJSON."""
    return filename.lower().removesuffix(".gz").endswith((".jsonl", ".ndjson"))


def validate(
    data: bytes,
    *,
    filename: str | None = None,
    format: str = "auto",
    max_errors: int = 1000,
    max_depth: int = 64,
    max_bytes: int | None = None,
    max_record_bytes: int = DEFAULT_MAX_RECORD_BYTES,
    current_year: int,
) -> ModelResult:
    """Validate a whole catalog file held in memory, the slow and obvious way."""
    name = filename or ""
    ndjson = format == "ndjson" or (format == "auto" and is_ndjson_name(name))
    if name.lower().endswith(".gz") or data.startswith(GZIP_MAGIC):
        decompressed, gzip_ok = gunzip(data)
    else:
        decompressed, gzip_ok = data, True
    text = decode(decompressed, gzip_failed=not gzip_ok, max_bytes=max_bytes)
    parser = Parser(text, max_depth=max_depth, ndjson=ndjson)
    out = Collector(text, max_errors=max_errors, current_year=current_year)
    file_error: FileError | None = None
    try:
        if ndjson:
            ndjson_file(parser, out, max_record_bytes=max_record_bytes)
        else:
            json_file(parser, out, max_record_bytes=max_record_bytes)
    except FileError as e:
        file_error = e
    report: dict[str, object] = {
        "records_total": out.records_total,
        "records_valid": out.records_valid,
        "deletions": out.deletions,
        "records_invalid": out.records_invalid,
        "duplicates_collapsed": out.duplicates_collapsed,
        "bytes_read": len(decompressed) if file_error is None else file_error.offset,
        "error_counts": dict(out.error_counts),
        "errors": out.errors,
        "errors_total": out.error_counts.total(),
        "file_error": None
        if file_error is None
        else {
            "code": file_error.code,
            "message": file_error.message,
            "line": text.line_at(file_error.offset),
            "offset": file_error.offset,
        },
    }
    return ModelResult(report=report, movies=out.movies)
