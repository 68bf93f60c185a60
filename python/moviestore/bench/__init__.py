"""Release gates: the gates file, the verdict from locust's statistics, the local platform."""

from __future__ import annotations

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parents[3]


def repo_path(relative: str, checkout: Path = CHECKOUT) -> Path:
    """A repository file such as ``benchmarks/gates.toml``: beside the package in a checkout;
    under the current directory when the package runs from an installed wheel (the release job
    runs the installed command inside its checkout)."""
    beside = checkout / relative
    return beside if beside.exists() else Path(relative)
