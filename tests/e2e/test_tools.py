"""The programs the code runs are the ones ``scripts/lib.sh`` declares (and so installs), and
they are here: a missing one fails the suite instead of hiding behind a skip."""

from __future__ import annotations

import glob
import re
import shutil
from pathlib import Path

import pytest

from tests.cli import ROOT

LIB = ROOT / "scripts" / "lib.sh"
# How the code starts a program: an argv literal (its second word an option) handed to
# subprocess or the local stack's Server, or kept as `argv`/`command`; shutil.which; `command -v`.
RUNS = (
    re.compile(
        r"""(?:(?:run|Popen|Server|check_output)\(\s*(?:"[\w-]+",\s*)?|(?:argv|command)\s*=\s*)"""
        r"""\[\s*"([a-z][\w+.-]*)",\s*f?"-"""
    ),
    re.compile(r"""which\(\s*"([^"]+)"\s*\)"""),
    re.compile(r"""command -v ([\w+.-]+)"""),
)


def declared() -> dict[str, str]:
    """The TOOLS list of scripts/lib.sh: program → Debian packages ("" for optional ones)."""
    block = LIB.read_text().split("TOOLS=(", 1)[1].split("\n)", 1)[0]
    entries = re.findall(r'^\s*"([^":]+):([^"]*)"', block, re.M)
    assert entries, "no TOOLS list in scripts/lib.sh"
    return dict(entries)


def run_by_the_code() -> dict[str, set[str]]:
    """Every program the code names in a way that runs it, and where."""
    found: dict[str, set[str]] = {}
    sources = [*ROOT.glob("scripts/*.sh"), *ROOT.glob(".ci/*")]
    for folder in ("python", "tests", "benchmarks"):
        sources += (ROOT / folder).rglob("*.py")
    for path in sources:
        text = path.read_text(errors="replace")
        for pattern in RUNS:
            for name in pattern.findall(text):
                found.setdefault(Path(name).name, set()).add(str(path.relative_to(ROOT)))
    return found


def test_every_program_the_code_runs_is_declared() -> None:
    names = {Path(n).name for n in declared()}
    undeclared = {n: sorted(where) for n, where in run_by_the_code().items() if n not in names}
    assert not undeclared, f"declare these in TOOLS of scripts/lib.sh: {undeclared}"


def test_the_scan_finds_the_known_programs() -> None:
    assert {"wrk", "redis-server", "runuser", "useradd", "rustc", "kubectl"} <= set(
        run_by_the_code()
    )


@pytest.mark.parametrize(
    "program", [p for p, packages in declared().items() if packages], ids=lambda p: Path(p).name
)
def test_every_declared_program_is_installed(program: str) -> None:
    found = glob.glob(program) if program.startswith("/") else shutil.which(program)
    assert found, f"{program} is missing: ./scripts/test.sh installs it (scripts/lib.sh, TOOLS)"
