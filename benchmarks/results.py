"""benchmarks/RESULTS.md: one section per benchmark, each replaced by its own next run."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

INTRO = "# Benchmark results\n\nEach section is written by its benchmark in `benchmarks/`.\n"


def write_section(path: Path, heading: str, section: str) -> None:
    """Replace the section that starts with ``heading`` (or append it), leaving others alone."""
    text = path.read_text() if path.exists() else INTRO
    pattern = re.compile(rf"^{re.escape(heading)}\n.*?(?=^## |\Z)", re.M | re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: section.rstrip("\n") + "\n\n", text, count=1)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text.rstrip("\n") + "\n")


def heading(section: str, command: str) -> list[str]:
    """A section's first lines: its heading, when, and the exact command that measured it."""
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    return [section, "", f"Measured {when} with:", "", "```sh", command, "```", ""]
