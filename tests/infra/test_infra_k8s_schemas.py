# mypy: disable-error-code="import-untyped,import-not-found"
# (PyYAML, python-hcl2 and kubernetes-validate come from requirements/infra.lock, without stubs.)
"""Every manifest against a strict schema: kubernetes-validate's for built-in kinds (the
Kubernetes version of each environment's cluster), tests/infra/crd_schemas.yaml for the custom
resources of External Secrets, the Prometheus Operator and KEDA."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from kubernetes_validate import utils as kv_utils

from tests.infra import render, tf
from tests.infra.k8s import Object

CRD_SCHEMAS = Path(__file__).with_name("crd_schemas.yaml")
TARGETS = list(render.targets())
K8S_VERSIONS = sorted({tf.env_platform(env)["kubernetes_version"] for env in tf.environments()})


@cache
def crd_schemas() -> dict[str, Any]:
    with CRD_SCHEMAS.open(encoding="utf-8") as stream:
        document: dict[str, Any] = yaml.safe_load(stream)
    return document


def crd_validator(api_version: str, kind: str) -> jsonschema.Draft202012Validator | None:
    document = crd_schemas()
    schema = document["kinds"].get(f"{api_version}/{kind}")
    if schema is None:
        return None
    return jsonschema.Draft202012Validator({**schema, "$defs": document["$defs"]})


def validate(obj: Object, version: str) -> None:
    validator = crd_validator(obj["apiVersion"], obj["kind"])
    if validator is not None:
        errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
        assert not errors, "; ".join(
            f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in errors
        )
        return
    # Raises SchemaNotFoundError for a kind it does not know: no manifest goes unchecked.
    kubernetes_validate.validate(obj, version, strict=True)


def test_the_clusters_version_is_one_kubernetes_validate_knows() -> None:
    assert K8S_VERSIONS
    for version in K8S_VERSIONS:
        assert version in {v.rsplit(".", 1)[0] for v in kv_utils.all_versions()}, version


@pytest.mark.parametrize("version", K8S_VERSIONS)
@pytest.mark.parametrize("target", TARGETS)
def test_rendered_manifests_are_valid(
    rendered: dict[str, list[Object]], target: str, version: str
) -> None:
    failures = []
    for obj in rendered[target]:
        try:
            validate(obj, version)
        except (AssertionError, kubernetes_validate.ValidationError) as error:
            failures.append(f"{obj['kind']}/{obj['metadata']['name']}: {error}")
    assert not failures, "\n".join(failures)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_component_resources_are_valid(version: str) -> None:
    component = render.K8S / "components" / "keda"
    for path in render.resource_files(component):
        for obj in render.load_yaml_documents(path):
            validate(obj, version)


@pytest.mark.parametrize(
    ("mutation", "message"),
    [
        (lambda o: o["spec"].update(refreshIntervall="1h"), "refreshIntervall"),
        (lambda o: o["spec"]["data"][0]["remoteRef"].pop("key"), "'key' is a required property"),
        (lambda o: o["spec"]["target"].update(creationPolicy="Always"), "Always"),
    ],
)
def test_crd_schemas_are_strict(
    rendered: dict[str, list[Object]], mutation: Any, message: str
) -> None:
    (external,) = [o for o in rendered["base"] if o["kind"] == "ExternalSecret"]
    broken = yaml.safe_load(yaml.safe_dump(external))
    mutation(broken)
    with pytest.raises(AssertionError, match=message):
        validate(broken, K8S_VERSIONS[0])


def test_kubernetes_validate_is_strict(rendered: dict[str, list[Object]]) -> None:
    (deployment,) = [
        o
        for o in rendered["base"]
        if o["metadata"]["name"] == "moviestore-api" and o["kind"] == "Deployment"
    ]
    broken = yaml.safe_load(yaml.safe_dump(deployment))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate(broken, K8S_VERSIONS[0])
