"""What the benchmark measures, one module per tool, each importing only its own tool so that
a benchmark child process loads nothing else and its peak RSS is that tool's own.

Every module has `prepare_array()` and `prepare_ndjson()`: they build the schema or model (not
timed) and return a runner that takes a path and returns Counts (timed).

The peers check the rules of docs/provider-format.md as far as each tool can say them. None of
them trims strings before counting characters (pydantic's `strip_whitespace` aside), collapses
repeated names, notices a repeated field name (their parsers keep the last value) or checks
record keys; the extension does all of that. `msgspec_structs.prepare_rules_*` add those rules
in plain Python after msgspec, to show what a complete Python implementation costs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import NamedTuple

MAX_YEAR = datetime.now(UTC).year + 5
# http(s), at least one character after //, and that character is not /, ? or #.
URL_PATTERN = r"^[hH][tT][tT][pP][sS]?://[^/?#]"
# The extension is fed 1 MiB chunks; line-by-line peers read through a buffer of the same size
# (with the default 4-8 KiB buffer, `for line in file` costs them up to a third more).
CHUNK = 1 << 20


class Counts(NamedTuple):
    total: int
    valid: int
    out_bytes: int = 0


Runner = Callable[[Path], Counts]
