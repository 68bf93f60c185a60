"""``moviestore validate FILE...``: check catalog files exactly as the ingestion worker does.

Exit status: 0 every record of every file is valid, 1 some records are invalid, 2 a file is
unusable (a whole-file error) or cannot be read.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from moviestore.commands.progress import ProgressBar
from moviestore.validation import DEFAULT_MAX_BYTES, Limits, Report, validate_path

EXIT_VALID, EXIT_INVALID_RECORDS, EXIT_UNUSABLE = 0, 1, 2
# Files smaller than this validate faster than a progress bar could be read.
PROGRESS_MIN_BYTES = 32 << 20


def configure(p: argparse.ArgumentParser) -> None:
    p.description = __doc__
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("files", nargs="+", type=Path, metavar="FILE")
    p.add_argument("--format", choices=["text", "json"], default="text", help="output format")
    p.add_argument("--max-errors", type=non_negative, default=1000, help="errors to list per file")
    p.add_argument(
        "--input-format",
        choices=["auto", "json", "ndjson"],
        default="auto",
        help="file framing (default: by name; .jsonl/.ndjson mean NDJSON)",
    )
    p.add_argument("--max-depth", type=positive, default=64, help="deepest nesting allowed")
    p.add_argument(
        "--max-bytes",
        type=positive,
        default=DEFAULT_MAX_BYTES,
        help=f"largest decompressed file (default {DEFAULT_MAX_BYTES:,}: 1.5 GiB)",
    )
    p.add_argument("--current-year", type=positive, default=None, help="for the year upper bound")
    p.add_argument(
        "--threads",
        type=int,
        choices=[1, 2],
        default=min(2, len(os.sched_getaffinity(0))),
        help="threads judging the lines of an NDJSON file (default: 2 where the process may use 2 "
        "cores; the result is the same)",
    )
    p.add_argument("--no-progress", action="store_true", help="never draw a progress bar")
    p.set_defaults(run=run)


def non_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be 1 or more")
    return value


def run(args: argparse.Namespace) -> int:
    limits = Limits(
        max_errors=args.max_errors,
        max_depth=args.max_depth,
        max_bytes=args.max_bytes,
        current_year=args.current_year,
        format=args.input_format,
        threads=args.threads,
    )
    worst = EXIT_VALID
    for path in args.files:
        worst = max(worst, check_one(path, limits, args, sys.stdout))
    return worst


def check_one(path: Path, limits: Limits, args: argparse.Namespace, out: TextIO) -> int:
    started = time.monotonic()
    try:
        size = path.stat().st_size
        bar = None
        if not args.no_progress and sys.stderr.isatty() and size >= PROGRESS_MIN_BYTES:
            bar = ProgressBar(path.name, size)
        try:
            report = validate_path(path, limits, bar.advance if bar else None)
        finally:
            if bar:
                bar.close()
    except OSError as e:
        message = f"cannot read the file: {e.strerror or e}"
        if args.format == "json":
            out.write(
                dumps({"file": str(path), "file_error": {"code": "unreadable", "message": message}})
            )
        else:
            out.write(f"{path}: {message}\n")
        return EXIT_UNUSABLE
    elapsed = time.monotonic() - started
    if args.format == "json":
        out.write(dumps({"file": str(path), **report.to_dict()}))
    else:
        out.write(summary(path, report, size, elapsed))
    return exit_code(report)


def exit_code(report: Report) -> int:
    if report.file_error is not None:
        return EXIT_UNUSABLE
    return EXIT_INVALID_RECORDS if report.records_invalid else EXIT_VALID


def dumps(document: dict[str, Any]) -> str:
    # The standard library's json: a report is small, and importing orjson costs 10 ms of start-up.
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")) + "\n"


def summary(path: Path, report: Report, size: int, elapsed: float) -> str:
    lines = [
        f"{path}: {report.records_total:,} records: {report.records_valid:,} valid, "
        f"{report.records_invalid:,} invalid, {report.duplicates_collapsed:,} duplicates collapsed "
        f"({size / 1e6:,.1f} MB in {elapsed:.2f} s)"
    ]
    if report.file_error is not None:
        e = report.file_error
        lines.append(
            f"  UNUSABLE: {e['code']} at line {e['line']}, byte {e['offset']}: {e['message']}"
        )
        lines.append("  no record of this file can be loaded")
    if report.error_counts:
        counts = ", ".join(f"{code} {n:,}" for code, n in sorted(report.error_counts.items()))
        lines.append(f"  errors by code: {counts}")
    lines.extend(
        f"  record {e['record']} (line {e['line']}) {e['pointer']}: {e['code']}: {e['message']}"
        for e in report.errors
    )
    hidden = report.errors_total - len(report.errors)
    if hidden:
        lines.append(f"  ... and {hidden:,} more errors (raise --max-errors to list them)")
    return "\n".join(lines) + "\n"
