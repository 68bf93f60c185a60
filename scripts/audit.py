"""Audit the pinned Python dependencies (requirements/*.lock) for known vulnerabilities, with
nothing but PyPI: its JSON API carries each release's vulnerabilities (from the OSV database).

    python scripts/audit.py                  # every lock file; exit 1 on a known vulnerability
    python scripts/audit.py requirements/runtime.lock

A pin is audited from its release's own record (``/pypi/NAME/VERSION/json``). Where the registry
serves only the project's record (``/pypi/NAME/json``, as the mirror this project's machines
reach does), that record's vulnerabilities are those of the latest release: they audit a pin of
the latest release exactly, and a pin behind it is listed as *not audited* (never passed
silently). Vulnerabilities reviewed and accepted are in ``requirements/audit-ignore.txt``, one ID
a line with the reason. Exit status: 0 no unreviewed vulnerability, 1 some, 2 PyPI did not answer.
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INDEX = "https://pypi.org/pypi"
IGNORE = ROOT / "requirements" / "audit-ignore.txt"
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


@dataclass
class Verdict:
    name: str
    version: str
    audited: bool = False
    latest: str = ""
    vulnerabilities: list[dict[str, object]] = field(default_factory=list)


def pins(lock: Path) -> set[tuple[str, str]]:
    found = set()
    for line in lock.read_text(encoding="utf-8").splitlines():
        if match := PIN.match(line):
            found.add((re.sub(r"[-_.]+", "-", match[1].lower()), match[2]))
    return found


def fetch(url: str) -> dict[str, object] | None:
    """The JSON document at ``url``; None when PyPI has no such record (404).

    A failure that may pass (a name lookup, a refused or reset connection, a 5xx answer) is
    retried with backoff, about a minute in all, before the audit gives up."""
    for wait in RETRY_WAITS:
        try:
            with urllib.request.urlopen(url, timeout=60) as response:
                document: dict[str, object] = json.load(response)
                return document
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return None
            if e.code < 500 or wait is None:
                raise
        except OSError:
            if wait is None:
                raise
        time.sleep(wait)
    raise AssertionError("unreachable")


RETRY_WAITS = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0, None)


def audit(pin: tuple[str, str]) -> Verdict:
    name, version = pin
    verdict = Verdict(name, version)
    release = fetch(f"{INDEX}/{name}/{version}/json")
    if release is None:
        project = fetch(f"{INDEX}/{name}/json")
        if project is None:
            raise LookupError(f"{name} is not on PyPI")
        info = project["info"]
        assert isinstance(info, dict)
        verdict.latest = str(info["version"])
        if verdict.latest != version:
            return verdict
        release = project
    vulnerabilities = release.get("vulnerabilities") or []
    assert isinstance(vulnerabilities, list)
    seen: set[str] = set()
    for v in vulnerabilities:
        # One vulnerability may come as several records (PYSEC, GHSA) naming each other.
        if not v.get("withdrawn") and not ids(v) & seen:
            verdict.vulnerabilities.append(v)
            seen |= ids(v)
    verdict.audited = True
    return verdict


def reviewed() -> dict[str, str]:
    """Accepted vulnerability IDs and why, from the ignore file."""
    accepted = {}
    for line in IGNORE.read_text(encoding="utf-8").splitlines():
        entry, _, reason = line.partition("#")
        if entry.strip():
            if not reason.strip():
                raise SystemExit(f"{IGNORE.name}: {entry.strip()} has no reason")
            accepted[entry.strip()] = reason.strip()
    return accepted


def ids(vulnerability: dict[str, object]) -> set[str]:
    aliases = vulnerability.get("aliases") or []
    assert isinstance(aliases, list)
    return {str(vulnerability.get("id")), *map(str, aliases)}


def main(argv: list[str]) -> int:
    locks = [Path(a) for a in argv] or sorted((ROOT / "requirements").glob("*.lock"))
    by_lock = {lock: pins(lock) for lock in locks}
    every = sorted(set().union(*by_lock.values()))
    try:
        with ThreadPoolExecutor(4) as pool:
            verdicts = dict(zip(every, pool.map(audit, every), strict=True))
    except (OSError, LookupError) as e:
        print(f"audit: PyPI did not answer: {e}", file=sys.stderr)
        return 2
    accepted = reviewed()
    unreviewed = 0
    for lock, locked in by_lock.items():
        mine = [verdicts[p] for p in sorted(locked)]
        behind = [v for v in mine if not v.audited]
        found = [(v, x) for v in mine for x in v.vulnerabilities]
        print(
            f"{lock.relative_to(ROOT) if lock.is_absolute() else lock}: {len(mine)} pins, "
            f"{len(mine) - len(behind)} audited, {len(found)} known vulnerabilities"
        )
        for v, x in found:
            why = next((accepted[i] for i in sorted(ids(x)) if i in accepted), None)
            unreviewed += why is None
            fixed = ", ".join(map(str, x.get("fixed_in") or [])) or "no fix yet"
            status = f"accepted: {why}" if why else "NOT REVIEWED"
            print(f"  {v.name} {v.version}: {x.get('id')} (fixed in {fixed}): {status}")
        if behind:
            listed = ", ".join(f"{v.name} {v.version} (latest {v.latest})" for v in behind)
            print(f"  not audited (behind the latest release, no record of theirs): {listed}")
    if unreviewed:
        print(f"audit: {unreviewed} known vulnerabilities not reviewed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
