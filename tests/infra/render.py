# mypy: disable-error-code="import-untyped,import-not-found"
# (PyYAML, python-hcl2 and kubernetes-validate come from requirements/infra.lock, without stubs.)
"""Render the kustomize targets of deploy/k8s, with kustomize when it is installed.

Without kustomize (CI has none), a small renderer here applies exactly the kustomize features
that deploy/k8s uses, and refuses anything else instead of guessing:

- ``resources``: YAML files and directories with a kustomization;
- ``components``: kustomize Components (their resources and patches);
- ``patches`` given by ``path``, without ``target``: strategic-merge patches that name their
  object (apiVersion, kind, metadata.name/namespace), several per file allowed;
  ``$patch: delete`` removes the object; maps are merged, ``null`` removes a key, lists are
  replaced (the overlays never rely on merge keys: a patch that would is refused);
- ``images``: ``name`` with ``newName``, ``newTag`` and/or ``digest``.

Where kustomize is installed, ``--check-fidelity`` renders every target both ways and fails on
any difference, which keeps this renderer honest.

    python tests/infra/render.py --out-dir DIR        # every target to DIR/<target>.yaml
    python tests/infra/render.py --engine-available   # which kustomize, exit 1 if none
    python tests/infra/render.py --check-fidelity     # this renderer == kustomize
    python tests/infra/render.py --list-resource-files deploy/k8s/base
"""

from __future__ import annotations

import argparse
import copy
import difflib
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"

Object = dict[str, Any]

SUPPORTED_FIELDS = {"apiVersion", "kind", "resources", "components", "patches", "images"}

# Lists that a strategic-merge patch merges by key in built-in kinds. This renderer replaces
# lists, so a patch touching one of these on a built-in kind is refused.
MERGE_KEY_LISTS = {
    "containers",
    "initContainers",
    "ephemeralContainers",
    "env",
    "envFrom",
    "volumes",
    "volumeMounts",
    "ports",
    "imagePullSecrets",
    "topologySpreadConstraints",
    "tolerations",
    "hostAliases",
}

BUILTIN_GROUPS = {
    "v1",
    "apps/v1",
    "batch/v1",
    "autoscaling/v2",
    "policy/v1",
    "networking.k8s.io/v1",
    "rbac.authorization.k8s.io/v1",
}

CONTAINER_PATHS = (
    ("spec",),
    ("spec", "template", "spec"),
    ("spec", "jobTemplate", "spec", "template", "spec"),
)


class RenderError(Exception):
    """The kustomization uses something this renderer does not implement."""


def targets() -> dict[str, Path]:
    """Every kustomize target: the base and each overlay, by name."""
    found = {"base": K8S / "base"}
    for overlay in sorted((K8S / "overlays").iterdir()):
        if (overlay / "kustomization.yaml").is_file():
            found[overlay.name] = overlay
    return found


def load_yaml_documents(path: Path) -> list[Object]:
    with path.open(encoding="utf-8") as stream:
        return [doc for doc in yaml.safe_load_all(stream) if doc]


def load_kustomization(directory: Path) -> Object:
    path = directory / "kustomization.yaml"
    if not path.is_file():
        raise RenderError(f"{directory}: no kustomization.yaml")
    (kustomization,) = load_yaml_documents(path)
    unsupported = set(kustomization) - SUPPORTED_FIELDS
    if unsupported:
        raise RenderError(f"{path}: unsupported fields {sorted(unsupported)}")
    return kustomization


def resource_files(directory: Path) -> list[Path]:
    """The YAML files listed under resources (not directories)."""
    kustomization = load_kustomization(directory)
    return [
        directory / entry
        for entry in kustomization.get("resources", [])
        if (directory / entry).is_file()
    ]


def identity(obj: Object) -> tuple[str, str, str, str]:
    metadata = obj.get("metadata", {})
    return (
        obj.get("apiVersion", ""),
        obj.get("kind", ""),
        metadata.get("namespace", ""),
        metadata.get("name", ""),
    )


def build(directory: Path, *, component: bool = False) -> list[Object]:
    kustomization = load_kustomization(directory)
    expected_kind = "Component" if component else "Kustomization"
    if kustomization.get("kind") != expected_kind:
        raise RenderError(f"{directory}: expected kind {expected_kind}")

    objects: list[Object] = []
    for entry in kustomization.get("resources", []):
        path = (directory / entry).resolve()
        loaded = build(path) if path.is_dir() else load_yaml_documents(path)
        for obj in loaded:
            if any(identity(obj) == identity(existing) for existing in objects):
                raise RenderError(f"{path}: duplicate object {identity(obj)}")
            objects.append(obj)

    for entry in kustomization.get("components", []):
        objects = apply_component((directory / entry).resolve(), objects)

    for patch_entry in kustomization.get("patches", []):
        objects = apply_patch_entry(directory, patch_entry, objects)

    for image in kustomization.get("images", []):
        apply_image(image, objects)
    return objects


def apply_component(directory: Path, objects: list[Object]) -> list[Object]:
    kustomization = load_kustomization(directory)
    if kustomization.get("kind") != "Component":
        raise RenderError(f"{directory}: a component must have kind Component")
    objects = list(objects)
    for entry in kustomization.get("resources", []):
        objects.extend(load_yaml_documents(directory / entry))
    for patch_entry in kustomization.get("patches", []):
        objects = apply_patch_entry(directory, patch_entry, objects)
    for image in kustomization.get("images", []):
        apply_image(image, objects)
    return objects


def apply_patch_entry(directory: Path, entry: Object, objects: list[Object]) -> list[Object]:
    if set(entry) != {"path"}:
        raise RenderError(f"{directory}: only `patches: - path: FILE` is supported, got {entry}")
    path = directory / entry["path"]
    for patch in load_yaml_documents(path):
        objects = apply_strategic_merge(patch, objects, path)
    return objects


def apply_strategic_merge(patch: Object, objects: list[Object], source: Path) -> list[Object]:
    patch = copy.deepcopy(patch)
    directive = patch.pop("$patch", None)
    matches = [obj for obj in objects if identity(obj) == identity(patch)]
    if len(matches) != 1:
        raise RenderError(
            f"{source}: patch target {identity(patch)} matched {len(matches)} objects"
        )
    (target,) = matches
    if directive == "delete":
        return [obj for obj in objects if obj is not target]
    if directive is not None:
        raise RenderError(f"{source}: unsupported $patch: {directive}")
    builtin = patch.get("apiVersion") in BUILTIN_GROUPS
    merged = merge(target, patch, builtin=builtin, where=f"{source}")
    return [merged if obj is target else obj for obj in objects]


def merge(base: Any, patch: Any, *, builtin: bool, where: str) -> Any:
    if isinstance(base, dict) and isinstance(patch, dict):
        result = dict(base)
        for key, value in patch.items():
            if isinstance(key, str) and key.startswith("$"):
                raise RenderError(f"{where}: unsupported directive {key}")
            if value is None:
                result.pop(key, None)
            elif key in result:
                if builtin and key in MERGE_KEY_LISTS and isinstance(value, list):
                    raise RenderError(
                        f"{where}: `{key}` merges by key in kustomize; this renderer only "
                        "replaces lists (extend it, or render with kustomize)"
                    )
                result[key] = merge(result[key], value, builtin=builtin, where=f"{where}.{key}")
            else:
                result[key] = copy.deepcopy(value)
        return result
    return copy.deepcopy(patch)


def split_image(image: str) -> tuple[str, str | None, str | None]:
    """name, tag, digest of an image reference."""
    digest = None
    if "@" in image:
        image, digest = image.split("@", 1)
    tag = None
    slash = image.rfind("/")
    colon = image.rfind(":")
    if colon > slash:
        image, tag = image[:colon], image[colon + 1 :]
    return image, tag, digest


def apply_image(rule: Object, objects: list[Object]) -> None:
    unsupported = set(rule) - {"name", "newName", "newTag", "digest"}
    if unsupported:
        raise RenderError(f"images: unsupported fields {sorted(unsupported)}")
    for obj in objects:
        for path in CONTAINER_PATHS:
            spec: Any = obj
            for key in path:
                spec = spec.get(key) if isinstance(spec, dict) else None
            if not isinstance(spec, dict):
                continue
            for field in ("containers", "initContainers"):
                for container in spec.get(field) or []:
                    name, tag, digest = split_image(container.get("image", ""))
                    if name != rule["name"]:
                        continue
                    name = rule.get("newName", name)
                    if "digest" in rule:
                        container["image"] = f"{name}@{rule['digest']}"
                        continue
                    tag = rule.get("newTag", tag)
                    reference = name + (f":{tag}" if tag else "")
                    container["image"] = reference + (f"@{digest}" if digest else "")


# ---------------------------------------------------------------------------------------------
# kustomize itself
# ---------------------------------------------------------------------------------------------
def kustomize_command() -> list[str] | None:
    """kustomize, or kubectl's built-in one; none when INFRA_NO_KUSTOMIZE=1 (to try CI's path)."""
    if os.environ.get("INFRA_NO_KUSTOMIZE") == "1":
        return None
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        probe = subprocess.run(
            ["kubectl", "kustomize", "--help"], capture_output=True, text=True, check=False
        )
        if probe.returncode == 0:
            return ["kubectl", "kustomize"]
    return None


def build_with_kustomize(directory: Path, command: list[str]) -> list[Object]:
    output = subprocess.run(
        [*command, str(directory)], capture_output=True, text=True, check=True
    ).stdout
    return [doc for doc in yaml.safe_load_all(output) if doc]


def render(directory: Path, engine: str = "auto") -> list[Object]:
    command = kustomize_command() if engine in {"auto", "kustomize"} else None
    if engine == "kustomize" and command is None:
        raise RenderError("kustomize is not installed")
    if command is not None:
        return build_with_kustomize(directory, command)
    return build(directory)


def dump(objects: list[Object]) -> str:
    text: str = yaml.safe_dump_all(objects, sort_keys=True, default_flow_style=False)
    return text


def check_fidelity() -> int:
    command = kustomize_command()
    if command is None:
        print("kustomize is not installed: nothing to compare with", file=sys.stderr)
        return 1
    failures = 0
    for name, directory in targets().items():
        ours = {identity(obj): obj for obj in build(directory)}
        theirs = {identity(obj): obj for obj in build_with_kustomize(directory, command)}
        if ours == theirs:
            print(f"{name}: identical ({len(ours)} objects)")
            continue
        failures += 1
        print(f"{name}: DIFFERENT from {' '.join(command)}")
        for key in sorted(set(ours) | set(theirs)):
            left = dump([ours[key]]) if key in ours else ""
            right = dump([theirs[key]]) if key in theirs else ""
            if left != right:
                sys.stdout.writelines(
                    difflib.unified_diff(
                        left.splitlines(True), right.splitlines(True), "render.py", "kustomize"
                    )
                )
    return 1 if failures else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    group = parser.add_mutually_exclusive_group(required=True)
    group.add_argument("--out-dir", type=Path)
    group.add_argument("--engine-available", action="store_true")
    group.add_argument("--check-fidelity", action="store_true")
    group.add_argument("--list-resource-files", type=Path)
    args = parser.parse_args()

    if args.engine_available:
        command = kustomize_command()
        if command is None:
            return 1
        print(" ".join(command))
        return 0
    if args.check_fidelity:
        return check_fidelity()
    if args.list_resource_files:
        for path in resource_files(args.list_resource_files.resolve()):
            print(path.relative_to(ROOT))
        return 0

    command = kustomize_command()
    engine = " ".join(command) if command else "tests/infra/render.py"
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name, directory in targets().items():
        objects = render(directory)
        (args.out_dir / f"{name}.yaml").write_text(dump(objects), encoding="utf-8")
        print(f"{name}: {len(objects)} objects ({engine})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except RenderError as error:
        sys.exit(f"render.py: {error}")
