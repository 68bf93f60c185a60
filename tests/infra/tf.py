# mypy: disable-error-code="import-untyped,import-not-found"
# (PyYAML, python-hcl2 and kubernetes-validate come from requirements/infra.lock, without stubs.)
"""Read infra/terraform with python-hcl2 into plain Python values.

Strings come back without their quotes; expressions come back as Terraform source wrapped in
``${...}``, which the tests compare as text. Blocks become lists of dicts.

    python tests/infra/tf.py eks-versions   # Kubernetes versions of the environments
"""

from __future__ import annotations

import sys
from functools import cache
from pathlib import Path
from typing import Any

import hcl2

ROOT = Path(__file__).resolve().parents[2]
TERRAFORM = ROOT / "infra" / "terraform"
MODULES = TERRAFORM / "modules"
ENVS = TERRAFORM / "envs"

OPTIONS = hcl2.SerializationOptions(
    strip_string_quotes=True, with_comments=False, explicit_blocks=False
)


@cache
def load_file(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as stream:
        loaded: dict[str, Any] = hcl2.load(stream, serialization_options=OPTIONS)
    return loaded


@cache
def load_dir(directory: Path) -> dict[str, list[Any]]:
    """All top-level blocks of the .tf files of a directory, by block type."""
    merged: dict[str, list[Any]] = {}
    for path in sorted(directory.glob("*.tf")):
        for block_type, blocks in load_file(path).items():
            merged.setdefault(block_type, []).extend(blocks)
    return merged


def resources(directory: Path, resource_type: str, kind: str = "resource") -> dict[str, Any]:
    """The resources (or data sources) of one type in a module, by name."""
    found: dict[str, Any] = {}
    for block in load_dir(directory).get(kind, []):
        for type_name, by_name in block.items():
            if type_name == resource_type:
                for name, body in by_name.items():
                    assert name not in found, f"{resource_type}.{name} defined twice"
                    found[name] = body
    return found


def resource(directory: Path, resource_type: str, name: str, kind: str = "resource") -> Any:
    found = resources(directory, resource_type, kind)
    assert name in found, f"{directory.name}: no {kind} {resource_type}.{name}"
    return found[name]


def data(directory: Path, data_type: str, name: str) -> Any:
    return resource(directory, data_type, name, kind="data")


def blocks(body: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """The nested blocks of a resource body (python-hcl2 gives a list of dicts)."""
    value = body.get(name, [])
    return value if isinstance(value, list) else [value]


def variables(directory: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for block in load_dir(directory).get("variable", []):
        found.update(block)
    return found


def default(directory: Path, name: str) -> Any:
    """The default value of a module variable."""
    return variables(directory)[name]["default"]


def module_calls(directory: Path) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for block in load_dir(directory).get("module", []):
        found.update(block)
    return found


def env_platform(environment: str) -> dict[str, Any]:
    """The arguments an environment passes to modules/platform."""
    arguments: dict[str, Any] = module_calls(ENVS / environment)["platform"]
    return arguments


def environments() -> list[str]:
    return sorted(path.name for path in ENVS.iterdir() if (path / "main.tf").is_file())


def provider_account(environment: str) -> str:
    (provider,) = [block["aws"] for block in load_dir(ENVS / environment)["provider"]]
    (account,) = provider["allowed_account_ids"]
    return str(account)


def main() -> int:
    if sys.argv[1:] == ["eks-versions"]:
        versions = sorted({env_platform(env)["kubernetes_version"] for env in environments()})
        print(" ".join(versions))
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
