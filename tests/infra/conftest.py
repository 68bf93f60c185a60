"""Fixtures of the infrastructure tests: the rendered kustomize targets.

These tests need the tools of requirements/infra.lock (python-hcl2, kubernetes-validate),
which scripts/infra-check.sh installs into .venv-infra. The project's pytest run in .venv does
not have them, so it does not collect this directory; scripts/infra-check.sh runs it instead.
"""

from __future__ import annotations

import importlib.util

import pytest

INFRA_TOOLS = ("hcl2", "kubernetes_validate", "yaml", "jsonschema")

if not all(importlib.util.find_spec(name) for name in INFRA_TOOLS):
    collect_ignore_glob = ["test_*.py"]


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, object]]]:
    """Every kustomize target (base and overlays), rendered."""
    # Imported here: the project's own pytest run loads this file without the infra tools.
    from tests.infra import render  # noqa: PLC0415

    return {name: render.render(path) for name, path in render.targets().items()}
