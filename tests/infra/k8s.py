"""Small helpers over rendered Kubernetes objects (plain dicts)."""

from __future__ import annotations

from typing import Any

Object = dict[str, Any]

WORKLOAD_KINDS = ("Deployment", "Job")
NAMESPACE = "moviestore"


def find(objects: list[Object], kind: str, name: str) -> Object:
    matches = [o for o in objects if o["kind"] == kind and o["metadata"]["name"] == name]
    assert len(matches) == 1, f"expected one {kind}/{name}, found {len(matches)}"
    return matches[0]


def find_all(objects: list[Object], kind: str) -> list[Object]:
    return [o for o in objects if o["kind"] == kind]


def exists(objects: list[Object], kind: str, name: str) -> bool:
    return any(o["kind"] == kind and o["metadata"]["name"] == name for o in objects)


def pod_spec(workload: Object) -> Object:
    spec: Object = workload["spec"]["template"]["spec"]
    return spec


def pod_labels(workload: Object) -> dict[str, str]:
    labels: dict[str, str] = workload["spec"]["template"]["metadata"]["labels"]
    return labels


def containers(workload: Object) -> list[Object]:
    spec = pod_spec(workload)
    return [*spec.get("initContainers", []), *spec["containers"]]


def workloads(objects: list[Object]) -> list[Object]:
    return [o for o in objects if o["kind"] in WORKLOAD_KINDS]


def selects(selector: Object, labels: dict[str, str]) -> bool:
    """Whether a label selector (matchLabels/matchExpressions) selects these labels."""
    for key, value in selector.get("matchLabels", {}).items():
        if labels.get(key) != value:
            return False
    for expression in selector.get("matchExpressions", []):
        key, operator = expression["key"], expression["operator"]
        values = expression.get("values", [])
        if operator == "In" and labels.get(key) not in values:
            return False
        if operator == "NotIn" and labels.get(key) in values:
            return False
        if operator == "Exists" and key not in labels:
            return False
        if operator == "DoesNotExist" and key in labels:
            return False
    return True


def config_map_data(objects: list[Object]) -> dict[str, str]:
    data: dict[str, str] = find(objects, "ConfigMap", "moviestore-config")["data"]
    return data


def named_port(container: Object, name: str) -> int:
    (port,) = [p["containerPort"] for p in container.get("ports", []) if p["name"] == name]
    return int(port)


def policies_for(objects: list[Object], labels: dict[str, str], policy_type: str) -> list[Object]:
    """NetworkPolicies of the given type (Ingress/Egress) that select pods with these labels."""
    return [
        p
        for p in find_all(objects, "NetworkPolicy")
        if policy_type in p["spec"].get("policyTypes", [])
        and selects(p["spec"]["podSelector"], labels)
    ]


def rules(policies: list[Object], direction: str) -> list[Object]:
    """The ingress or egress rules of these policies, flattened."""
    return [rule for policy in policies for rule in policy["spec"].get(direction, [])]


def rule_ports(rule: Object) -> set[tuple[str, int]]:
    return {(port.get("protocol", "TCP"), int(port["port"])) for port in rule.get("ports", [])}
