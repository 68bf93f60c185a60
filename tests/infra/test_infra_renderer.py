# mypy: disable-error-code="import-untyped,import-not-found"
# (PyYAML, python-hcl2 and kubernetes-validate come from requirements/infra.lock, without stubs.)
"""The fallback kustomize renderer applies the features deploy/k8s uses, and refuses others.

scripts/infra-check.sh also compares it with kustomize on every target where kustomize is
installed (render.py --check-fidelity).
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.infra import render

DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "app", "namespace": "ns", "annotations": {"a": "1", "b": "2"}},
    "spec": {
        "template": {
            "spec": {
                "containers": [{"name": "app", "image": "app:1.0", "args": ["serve"]}],
                "initContainers": [{"name": "init", "image": "registry.local:5000/app:1.0"}],
            }
        }
    },
}


def write(directory: Path, name: str, *documents: object) -> None:
    (directory / name).write_text(yaml.safe_dump_all(documents), encoding="utf-8")


def kustomization(directory: Path, **fields: object) -> None:
    write(
        directory,
        "kustomization.yaml",
        {"apiVersion": "kustomize.config.k8s.io/v1beta1", "kind": "Kustomization", **fields},
    )


@pytest.fixture
def base(tmp_path: Path) -> Path:
    directory = tmp_path / "base"
    directory.mkdir()
    write(directory, "deployment.yaml", DEPLOYMENT)
    kustomization(directory, resources=["deployment.yaml"])
    return directory


def overlay(tmp_path: Path, patch: object, **fields: object) -> Path:
    directory = tmp_path / "overlay"
    directory.mkdir()
    write(directory, "patch.yaml", patch)
    kustomization(directory, resources=["../base"], patches=[{"path": "patch.yaml"}], **fields)
    return directory


def test_patches_merge_maps_replace_lists_and_drop_nulls(base: Path, tmp_path: Path) -> None:
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "ns", "annotations": {"a": None, "c": "3"}},
        "spec": {"template": {"spec": {"nodeSelector": {"zone": "x"}}}},
    }
    (deployment,) = render.build(overlay(tmp_path, patch))
    assert deployment["metadata"]["annotations"] == {"b": "2", "c": "3"}
    assert deployment["spec"]["template"]["spec"]["nodeSelector"] == {"zone": "x"}
    assert deployment["spec"]["template"]["spec"]["containers"][0]["args"] == ["serve"]


def test_delete_patch_removes_the_object(base: Path, tmp_path: Path) -> None:
    patch = {
        "$patch": "delete",
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "ns"},
    }
    assert render.build(overlay(tmp_path, patch)) == []


def test_images_rename_and_retag_containers_and_init_containers(base: Path, tmp_path: Path) -> None:
    directory = tmp_path / "images"
    directory.mkdir()
    kustomization(
        directory,
        resources=["../base"],
        images=[
            {"name": "app", "newName": "123.dkr.ecr/app", "newTag": "2.0"},
            {"name": "registry.local:5000/app", "digest": "sha256:" + "0" * 64},
        ],
    )
    (deployment,) = render.build(directory)
    spec = deployment["spec"]["template"]["spec"]
    assert spec["containers"][0]["image"] == "123.dkr.ecr/app:2.0"
    assert spec["initContainers"][0]["image"] == "registry.local:5000/app@sha256:" + "0" * 64


@pytest.mark.parametrize(
    ("patch_spec", "message"),
    [
        ({"containers": [{"name": "app", "image": "x"}]}, "merges by key"),
        ({"$setElementOrder/containers": []}, "unsupported directive"),
    ],
)
def test_refuses_what_it_does_not_implement(
    base: Path, tmp_path: Path, patch_spec: object, message: str
) -> None:
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "app", "namespace": "ns"},
        "spec": {"template": {"spec": patch_spec}},
    }
    with pytest.raises(render.RenderError, match=message):
        render.build(overlay(tmp_path, patch))


def test_refuses_unknown_kustomization_fields_and_unmatched_patches(
    base: Path, tmp_path: Path
) -> None:
    unknown = tmp_path / "unknown"
    unknown.mkdir()
    kustomization(unknown, resources=["../base"], namePrefix="x-")
    with pytest.raises(render.RenderError, match="namePrefix"):
        render.build(unknown)
    patch = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "other", "namespace": "ns"},
    }
    with pytest.raises(render.RenderError, match="matched 0 objects"):
        render.build(overlay(tmp_path, patch))


def test_renders_every_target_of_the_repository_without_kustomize() -> None:
    for name, directory in render.targets().items():
        objects = render.build(directory)
        assert objects, name
        assert len({render.identity(o) for o in objects}) == len(objects), name
