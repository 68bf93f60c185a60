"""Invariants of deploy/k8s, checked on every rendered target (the base and each overlay)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.infra import render
from tests.infra.k8s import (
    NAMESPACE,
    Object,
    config_map_data,
    containers,
    exists,
    find,
    find_all,
    named_port,
    pod_labels,
    pod_spec,
    policies_for,
    rule_ports,
    rules,
    selects,
    workloads,
)

TARGETS = list(render.targets())
OVERLAYS = [name for name in TARGETS if name != "base"]
# Targets where the worker is scaled by KEDA rather than the plain HPA.
KEDA_TARGETS = [name for name in TARGETS if name.endswith("-keda")]
PRODUCTION_LIKE = ["base", "production", "production-keda"]

API = {"app.kubernetes.io/name": "moviestore", "app.kubernetes.io/component": "api"}
WORKER = {"app.kubernetes.io/name": "moviestore", "app.kubernetes.io/component": "worker"}
MIGRATE = {"app.kubernetes.io/name": "moviestore", "app.kubernetes.io/component": "migrate"}

SETTINGS = {
    "MOVIESTORE_ENV",
    "MOVIESTORE_LOG_LEVEL",
    "MOVIESTORE_AWS_REGION",
    "MOVIESTORE_S3_BUCKET",
    "MOVIESTORE_SQS_QUEUE_URL",
    "MOVIESTORE_SQS_DLQ_URL",
    "MOVIESTORE_SNS_PROVIDER_TOPIC_ARN",
    "MOVIESTORE_SNS_ALERTS_TOPIC_ARN",
    "MOVIESTORE_API_PORT",
    "MOVIESTORE_METRICS_PORT",
    "MOVIESTORE_API_PROCESSES",
    "MOVIESTORE_API_WORKERS",
    "MOVIESTORE_API_SHUTDOWN_GRACE_SECONDS",
    "MOVIESTORE_WORKER_CONCURRENCY",
    "MOVIESTORE_WORKER_LARGE_FILE_BYTES",
    "MOVIESTORE_WORKER_SHUTDOWN_GRACE_SECONDS",
    "MOVIESTORE_SQS_VISIBILITY_TIMEOUT_SECONDS",
}
SECRET_SETTINGS = {
    "MOVIESTORE_DATABASE_URL",
    "MOVIESTORE_DATABASE_READ_URL",
    "MOVIESTORE_REDIS_URL",
    "MOVIESTORE_API_CURSOR_SECRET",
}


def objects_of(rendered: dict[str, list[Object]], target: str) -> list[Object]:
    return rendered[target]


def hpa_targets(hpa: Object) -> dict[str, int]:
    return {
        metric["resource"]["name"]: metric["resource"]["target"]["averageUtilization"]
        for metric in hpa["spec"]["metrics"]
        if metric["type"] == "Resource" and metric["resource"]["target"]["type"] == "Utilization"
    }


# ---------------------------------------------------------------------------------------------
# Every object
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", TARGETS)
def test_objects_live_in_the_namespace_and_are_labelled(
    rendered: dict[str, list[Object]], target: str
) -> None:
    for obj in rendered[target]:
        metadata = obj["metadata"]
        if obj["kind"] != "Namespace":
            assert metadata.get("namespace") == NAMESPACE, obj["metadata"]["name"]
        assert metadata["labels"]["app.kubernetes.io/name"] == "moviestore"
        assert metadata["labels"]["app.kubernetes.io/part-of"] == "moviestore"
        assert metadata["labels"]["app.kubernetes.io/component"]


@pytest.mark.parametrize("target", TARGETS)
def test_no_secret_is_written_in_the_manifests(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    assert not find_all(objects, "Secret"), "Secrets come from External Secrets only"
    data = config_map_data(objects)
    assert not SECRET_SETTINGS & set(data), "secret settings must not be in the ConfigMap"
    for workload in workloads(objects):
        for container in containers(workload):
            for env in container.get("env", []):
                assert env["name"] not in SECRET_SETTINGS or "valueFrom" in env


@pytest.mark.parametrize("target", OVERLAYS)
def test_overlays_leave_no_base_placeholder(rendered: dict[str, list[Object]], target: str) -> None:
    text = render.dump(rendered[target])
    assert "000000000000" not in text
    assert not re.search(r"\bENV\b", text), "the base's ENV placeholder survived"


def test_namespace_enforces_the_restricted_pod_security_standard(
    rendered: dict[str, list[Object]],
) -> None:
    for objects in rendered.values():
        labels = find(objects, "Namespace", NAMESPACE)["metadata"]["labels"]
        assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        assert labels["elbv2.k8s.aws/pod-readiness-gate-inject"] == "enabled"


# ---------------------------------------------------------------------------------------------
# Pods: restricted security context, resources, /tmp, one image
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", TARGETS)
def test_every_pod_and_container_meets_the_restricted_profile(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    assert {w["metadata"]["name"] for w in workloads(objects)} == {
        "moviestore-api",
        "moviestore-worker",
        "moviestore-migrate",
    }
    for workload in workloads(objects):
        spec = pod_spec(workload)
        pod_context = spec["securityContext"]
        assert pod_context["runAsNonRoot"] is True
        assert pod_context["runAsUser"] >= 10000
        assert pod_context["seccompProfile"]["type"] == "RuntimeDefault"
        for forbidden in ("hostNetwork", "hostPID", "hostIPC"):
            assert not spec.get(forbidden)
        assert not any("hostPath" in volume for volume in spec.get("volumes", []))
        assert spec["automountServiceAccountToken"] is False
        assert exists(objects, "ServiceAccount", spec["serviceAccountName"])
        for container in containers(workload):
            context = container["securityContext"]
            assert context["runAsNonRoot"] is True
            assert context["runAsUser"] == pod_context["runAsUser"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["privileged"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            assert "add" not in context["capabilities"]
            assert context["seccompProfile"]["type"] == "RuntimeDefault"


@pytest.mark.parametrize("target", TARGETS)
def test_every_container_has_requests_limits_and_a_writable_tmp(
    rendered: dict[str, list[Object]], target: str
) -> None:
    for workload in workloads(rendered[target]):
        volumes = {v["name"]: v for v in pod_spec(workload).get("volumes", [])}
        for container in containers(workload):
            resources = container["resources"]
            for resource in ("cpu", "memory", "ephemeral-storage"):
                assert resource in resources["requests"], (container["name"], resource)
                assert resource in resources["limits"], (container["name"], resource)
            # Memory is not compressible: a limit above the request invites OOM kills on busy nodes.
            assert resources["limits"]["memory"] == resources["requests"]["memory"]
            (tmp,) = [m for m in container["volumeMounts"] if m["mountPath"] == "/tmp"]
            empty_dir = volumes[tmp["name"]]["emptyDir"]
            assert empty_dir.get("sizeLimit"), "bound /tmp so it cannot fill the node's disk"


@pytest.mark.parametrize("target", TARGETS)
def test_one_image_runs_the_three_subcommands(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    commands = {}
    images = set()
    for workload in workloads(objects):
        (container,) = pod_spec(workload)["containers"]
        images.add(container["image"])
        commands[workload["metadata"]["name"]] = container["args"]
        assert "command" not in container, "the image's ENTRYPOINT is `moviestore`"
        assert container["imagePullPolicy"] == "Always"
        env_from = {next(iter(ref.values()))["name"] for ref in container["envFrom"]}
        assert env_from == {"moviestore-config", "moviestore-secrets"}
    assert len(images) == 1
    assert commands == {
        "moviestore-api": ["api"],
        "moviestore-worker": ["worker"],
        "moviestore-migrate": ["migrate"],
    }


@pytest.mark.parametrize("target", OVERLAYS)
def test_overlays_pull_from_their_accounts_registry(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    image = pod_spec(find(objects, "Deployment", "moviestore-api"))["containers"][0]["image"]
    assert re.fullmatch(
        r"[0-9]{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com/moviestore(:[\w.-]+|@sha256:[0-9a-f]{64})",
        image,
    ), image


# ---------------------------------------------------------------------------------------------
# API and worker Deployments
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    ("name", "labels"), [("moviestore-api", API), ("moviestore-worker", WORKER)]
)
def test_deployments_spread_over_zones_and_nodes(
    rendered: dict[str, list[Object]], target: str, name: str, labels: dict[str, str]
) -> None:
    deployment = find(rendered[target], "Deployment", name)
    assert selects(deployment["spec"]["selector"], pod_labels(deployment))
    assert pod_labels(deployment).items() >= labels.items()
    assert "replicas" not in deployment["spec"], "the HPA owns the replica count"
    spec = pod_spec(deployment)

    (zone,) = [
        c
        for c in spec["topologySpreadConstraints"]
        if c["topologyKey"] == "topology.kubernetes.io/zone"
    ]
    assert zone["maxSkew"] == 1
    assert zone["whenUnsatisfiable"] == "DoNotSchedule"
    assert zone["nodeTaintsPolicy"] == "Honor"
    assert zone["labelSelector"]["matchLabels"] == labels

    (term,) = spec["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == labels

    rolling = deployment["spec"]["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0


@pytest.mark.parametrize("target", TARGETS)
def test_probes_hit_the_health_endpoints_on_the_right_ports(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    settings = config_map_data(objects)
    for name, port_name, setting in (
        ("moviestore-api", "http", "MOVIESTORE_API_PORT"),
        ("moviestore-worker", "metrics", "MOVIESTORE_METRICS_PORT"),
    ):
        (container,) = pod_spec(find(objects, "Deployment", name))["containers"]
        assert named_port(container, port_name) == int(settings[setting])
        for probe, path in (
            ("startupProbe", "/healthz"),
            ("livenessProbe", "/healthz"),
            ("readinessProbe", "/readyz"),
        ):
            http = container[probe]["httpGet"]
            assert (http["path"], http["port"]) == (path, port_name), (name, probe)
            assert container[probe]["timeoutSeconds"] <= container[probe]["periodSeconds"]
    assert settings["MOVIESTORE_API_PORT"] == "8080"
    assert settings["MOVIESTORE_METRICS_PORT"] == "9090"


@pytest.mark.parametrize("target", TARGETS)
def test_worker_grace_period_covers_its_drain(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    drain = int(config_map_data(objects)["MOVIESTORE_WORKER_SHUTDOWN_GRACE_SECONDS"])
    assert drain == 300
    spec = pod_spec(find(objects, "Deployment", "moviestore-worker"))
    # SIGTERM must come at once (a preStop delay would only let the worker take more messages)
    # and the kubelet must wait for the whole drain plus time to close connections.
    assert "lifecycle" not in spec["containers"][0]
    assert spec["terminationGracePeriodSeconds"] >= drain + 30


@pytest.mark.parametrize("target", TARGETS)
def test_api_drains_behind_the_load_balancer(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    spec = pod_spec(find(objects, "Deployment", "moviestore-api"))
    pre_stop = spec["containers"][0]["lifecycle"]["preStop"]["sleep"]["seconds"]
    annotations = find(objects, "Ingress", "moviestore-api")["metadata"]["annotations"]
    match = re.search(
        r"deregistration_delay\.timeout_seconds=(\d+)",
        annotations["alb.ingress.kubernetes.io/target-group-attributes"],
    )
    assert match
    deregistration = int(match.group(1))
    assert pre_stop >= 10, "the ALB needs a few seconds to stop routing to the pod"
    assert spec["terminationGracePeriodSeconds"] >= pre_stop + deregistration
    # After the preStop sleep, the server processes drain for the shutdown grace and the
    # supervisor waits 5 s more (python/moviestore/api/server.py); SIGKILL must come later.
    drain = float(config_map_data(objects)["MOVIESTORE_API_SHUTDOWN_GRACE_SECONDS"])
    assert spec["terminationGracePeriodSeconds"] > pre_stop + drain + 5


def cpu_cores(quantity: str) -> float:
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


@pytest.mark.parametrize("target", TARGETS)
def test_api_runs_two_single_threaded_processes_with_a_core_each(
    rendered: dict[str, list[Object]], target: str
) -> None:
    """Measured best on 2-core pods: 2 processes x 1 worker (Robyn's 2 workers are slower)."""
    objects = rendered[target]
    settings = config_map_data(objects)
    processes = int(settings["MOVIESTORE_API_PROCESSES"])
    assert (processes, int(settings["MOVIESTORE_API_WORKERS"])) == (2, 1)
    (container,) = pod_spec(find(objects, "Deployment", "moviestore-api"))["containers"]
    assert container["args"] == ["api"]
    limits, requests = container["resources"]["limits"], container["resources"]["requests"]
    assert cpu_cores(limits["cpu"]) == processes, "one core per server process"
    assert 0 < cpu_cores(requests["cpu"]) <= cpu_cores(limits["cpu"])
    # The request must fit the smallest nodes (2 vCPU, about 1.9 allocatable, in staging).
    assert cpu_cores(requests["cpu"]) <= 1.5


def mebibytes(quantity: str) -> float:
    units = {"Ki": 1 / 1024, "Mi": 1, "Gi": 1024}
    return float(quantity[:-2]) * units[quantity[-2:]]


@pytest.mark.parametrize("target", TARGETS)
def test_api_processes_share_the_search_index_in_a_bounded_memory_volume(
    rendered: dict[str, list[Object]], target: str
) -> None:
    """One copy of the index's base per pod, in tmpfs (counted against the memory limit), room
    for two (a merge writes the next beside the current), and the limit above it."""
    spec = pod_spec(find(rendered[target], "Deployment", "moviestore-api"))
    (container,) = spec["containers"]
    env = {e["name"]: e.get("value") for e in container.get("env", [])}
    directory = env["MOVIESTORE_API_SEARCH_INDEX_DIR"]
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == directory]
    volume = {v["name"]: v for v in spec["volumes"]}[mount["name"]]["emptyDir"]
    assert volume["medium"] == "Memory"
    size = mebibytes(volume["sizeLimit"])
    assert size < mebibytes(container["resources"]["limits"]["memory"])


# ---------------------------------------------------------------------------------------------
# Autoscaling and disruption budgets
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", PRODUCTION_LIKE)
def test_api_autoscales_from_3_to_10_on_cpu_70(
    rendered: dict[str, list[Object]], target: str
) -> None:
    hpa = find(rendered[target], "HorizontalPodAutoscaler", "moviestore-api")
    assert hpa["apiVersion"] == "autoscaling/v2"
    assert hpa["spec"]["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "moviestore-api",
    }
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (3, 10)
    # not memory: a pod's memory is the catalog's index, whatever the load
    assert hpa_targets(hpa) == {"cpu": 70}


@pytest.mark.parametrize("target", [t for t in PRODUCTION_LIKE if t not in KEDA_TARGETS])
def test_worker_autoscales_from_2_to_5_on_cpu_80_memory_85(
    rendered: dict[str, list[Object]], target: str
) -> None:
    hpa = find(rendered[target], "HorizontalPodAutoscaler", "moviestore-worker")
    assert hpa["spec"]["scaleTargetRef"]["name"] == "moviestore-worker"
    assert (hpa["spec"]["minReplicas"], hpa["spec"]["maxReplicas"]) == (2, 5)
    assert hpa_targets(hpa) == {"cpu": 80, "memory": 85}
    assert not find_all(rendered[target], "ScaledObject")


@pytest.mark.parametrize("target", KEDA_TARGETS)
def test_keda_scales_the_worker_on_queue_depth_within_the_same_bounds(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    assert not exists(objects, "HorizontalPodAutoscaler", "moviestore-worker"), (
        "KEDA creates its own HPA; two would fight over the replica count"
    )
    scaled = find(objects, "ScaledObject", "moviestore-worker")["spec"]
    assert scaled["scaleTargetRef"]["name"] == "moviestore-worker"
    assert (scaled["minReplicaCount"], scaled["maxReplicaCount"]) == (2, 5)
    triggers = {t["type"]: t for t in scaled["triggers"]}
    assert triggers["cpu"]["metadata"]["value"] == "80"
    assert triggers["memory"]["metadata"]["value"] == "85"
    sqs = triggers["aws-sqs-queue"]
    assert sqs["metadata"]["queueURLFromEnv"] == "MOVIESTORE_SQS_QUEUE_URL"
    assert sqs["metadata"]["awsRegion"] == config_map_data(objects)["MOVIESTORE_AWS_REGION"]
    auth = find(objects, "TriggerAuthentication", sqs["authenticationRef"]["name"])
    assert auth["spec"]["podIdentity"]["provider"] == "aws"


def test_staging_keeps_at_least_two_api_replicas(rendered: dict[str, list[Object]]) -> None:
    hpa = find(rendered["staging"], "HorizontalPodAutoscaler", "moviestore-api")
    assert hpa["spec"]["minReplicas"] >= 2
    assert hpa_targets(hpa) == {"cpu": 70}
    worker = find(rendered["staging"], "HorizontalPodAutoscaler", "moviestore-worker")
    assert hpa_targets(worker) == {"cpu": 80, "memory": 85}


@pytest.mark.parametrize("target", TARGETS)
@pytest.mark.parametrize(
    ("name", "labels"), [("moviestore-api", API), ("moviestore-worker", WORKER)]
)
def test_disruption_budgets_cover_api_and_worker(
    rendered: dict[str, list[Object]], target: str, name: str, labels: dict[str, str]
) -> None:
    objects = rendered[target]
    pdb = find(objects, "PodDisruptionBudget", name)
    assert pdb["spec"]["maxUnavailable"] == 1
    assert pdb["spec"]["unhealthyPodEvictionPolicy"] == "AlwaysAllow"
    assert selects(pdb["spec"]["selector"], pod_labels(find(objects, "Deployment", name)))
    assert pdb["spec"]["selector"]["matchLabels"] == labels


# ---------------------------------------------------------------------------------------------
# Migration Job
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", TARGETS)
def test_migration_runs_once_as_a_job_before_the_rollout(
    rendered: dict[str, list[Object]], target: str
) -> None:
    job = find(rendered[target], "Job", "moviestore-migrate")
    spec = pod_spec(job)
    assert spec["restartPolicy"] == "Never"
    assert pod_labels(job).items() >= MIGRATE.items()
    assert 0 < job["spec"]["backoffLimit"] <= 3
    assert job["spec"]["activeDeadlineSeconds"] > 0
    assert job["metadata"]["annotations"]["argocd.argoproj.io/hook"] == "PreSync"
    # The migration needs the database only.
    assert spec["serviceAccountName"] == "moviestore-migrate"
    account = find(rendered[target], "ServiceAccount", "moviestore-migrate")
    assert "annotations" not in account["metadata"]


# ---------------------------------------------------------------------------------------------
# Configuration and secrets
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", TARGETS)
def test_configmap_carries_every_non_secret_setting(
    rendered: dict[str, list[Object]], target: str
) -> None:
    data = config_map_data(rendered[target])
    assert set(data) == SETTINGS
    assert "MOVIESTORE_AWS_ENDPOINT_URL" not in data, "only the local stack sets it"
    assert all(isinstance(value, str) for value in data.values())


@pytest.mark.parametrize("target", OVERLAYS)
def test_overlay_settings_name_one_account_region_and_environment(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    data = config_map_data(objects)
    environment, region = data["MOVIESTORE_ENV"], data["MOVIESTORE_AWS_REGION"]
    assert environment in {"staging", "production"}
    assert target.startswith(environment)
    queue = re.fullmatch(
        rf"https://sqs\.{region}\.amazonaws\.com/(\d{{12}})/moviestore-{environment}-ingest",
        data["MOVIESTORE_SQS_QUEUE_URL"],
    )
    assert queue, data["MOVIESTORE_SQS_QUEUE_URL"]
    account = queue.group(1)
    assert data["MOVIESTORE_SQS_DLQ_URL"] == data["MOVIESTORE_SQS_QUEUE_URL"] + "-dlq"
    assert data["MOVIESTORE_S3_BUCKET"] == f"moviestore-{environment}-data-{account}"
    topic = f"arn:aws:sns:{region}:{account}:moviestore-{environment}"
    assert data["MOVIESTORE_SNS_PROVIDER_TOPIC_ARN"] == f"{topic}-provider-notifications"
    assert data["MOVIESTORE_SNS_ALERTS_TOPIC_ARN"] == f"{topic}-alerts"
    for service_account in ("moviestore-api", "moviestore-worker", "moviestore-external-secrets"):
        role = find(objects, "ServiceAccount", service_account)["metadata"]["annotations"]
        suffix = service_account.removeprefix("moviestore-")
        assert role["eks.amazonaws.com/role-arn"] == (
            f"arn:aws:iam::{account}:role/moviestore-{environment}-{suffix}"
        )
    image = pod_spec(find(objects, "Deployment", "moviestore-api"))["containers"][0]["image"]
    assert image.startswith(f"{account}.dkr.ecr.{region}.amazonaws.com/")
    store = find(objects, "SecretStore", "moviestore-aws")
    assert store["spec"]["provider"]["aws"]["region"] == region


@pytest.mark.parametrize("target", TARGETS)
def test_external_secret_builds_every_secret_setting(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    external = find(objects, "ExternalSecret", "moviestore")["spec"]
    assert external["target"]["name"] == "moviestore-secrets"
    template = external["target"]["template"]["data"]
    assert set(template) == SECRET_SETTINGS
    assert template["MOVIESTORE_REDIS_URL"].startswith("rediss://"), "Redis needs TLS"
    for setting in ("MOVIESTORE_DATABASE_URL", "MOVIESTORE_DATABASE_READ_URL"):
        assert template[setting].startswith("postgresql://")
        assert "sslmode=require" in template[setting] or "sslmode=verify-full" in template[setting]
    keys = {item["secretKey"] for item in external["data"]}
    used = {key for value in template.values() for key in re.findall(r"{{ \.(\w+) }}", value)}
    assert used == keys, "every template variable comes from one remote property, none unused"
    for item in external["data"]:
        assert item["remoteRef"]["key"].startswith("moviestore/")
        assert item["remoteRef"]["property"]

    store_ref = external["secretStoreRef"]
    store = find(objects, store_ref["kind"], store_ref["name"])["spec"]["provider"]["aws"]
    assert store["service"] == "SecretsManager"
    account = find(objects, "ServiceAccount", store["auth"]["jwt"]["serviceAccountRef"]["name"])
    assert "eks.amazonaws.com/role-arn" in account["metadata"]["annotations"]


@pytest.mark.parametrize("target", TARGETS)
def test_irsa_annotations_on_the_service_accounts_that_call_aws(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    for name in ("moviestore-api", "moviestore-worker", "moviestore-external-secrets"):
        account = find(objects, "ServiceAccount", name)
        assert re.fullmatch(
            r"arn:aws:iam::\d{12}:role/moviestore-[a-zA-Z]+-[a-z-]+",
            account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"],
        )
        assert account["automountServiceAccountToken"] is False


# ---------------------------------------------------------------------------------------------
# Service, Ingress, ServiceMonitors
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("target", TARGETS)
def test_ingress_is_https_only_with_a_readyz_health_check(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    ingress = find(objects, "Ingress", "moviestore-api")
    annotations = ingress["metadata"]["annotations"]
    prefix = "alb.ingress.kubernetes.io/"
    assert ingress["spec"]["ingressClassName"] == "alb"
    assert annotations[prefix + "scheme"] == "internet-facing"
    assert annotations[prefix + "target-type"] == "ip"
    assert annotations[prefix + "listen-ports"] == '[{"HTTP": 80}, {"HTTPS": 443}]'
    assert annotations[prefix + "ssl-redirect"] == "443"
    assert annotations[prefix + "ssl-policy"].startswith("ELBSecurityPolicy-TLS13-1-2")
    assert annotations[prefix + "healthcheck-path"] == "/readyz"
    assert annotations[prefix + "healthcheck-port"] == "traffic-port"
    attributes = annotations[prefix + "load-balancer-attributes"]
    assert "deletion_protection.enabled=true" in attributes
    assert "routing.http.drop_invalid_header_fields.enabled=true" in attributes
    assert "access_logs.s3.enabled=true" in attributes
    assert "routing.http.desync_mitigation_mode=strictest" in attributes
    assert "idle_timeout.timeout_seconds=30" in attributes
    # Only the API and its docs are public; the probes and metrics stay inside the cluster.
    routed = {
        (p["path"], p["pathType"]) for r in ingress["spec"]["rules"] for p in r["http"]["paths"]
    }
    assert routed == {("/v1", "Prefix"), ("/docs", "Prefix"), ("/openapi.json", "Exact")}
    # The certificate is found from spec.tls, which must cover every host served.
    (tls,) = ingress["spec"]["tls"]
    hosts = [rule["host"] for rule in ingress["spec"]["rules"]]
    assert tls["hosts"] == hosts
    for rule in ingress["spec"]["rules"]:
        for path in rule["http"]["paths"]:
            backend = path["backend"]["service"]
            service = find(objects, "Service", backend["name"])
            assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}


@pytest.mark.parametrize("target", TARGETS)
def test_services_and_service_monitors_reach_the_metrics(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    for name, port_name in (("moviestore-api", "http"), ("moviestore-worker", "metrics")):
        service = find(objects, "Service", name)
        deployment = find(objects, "Deployment", name)
        assert selects({"matchLabels": service["spec"]["selector"]}, pod_labels(deployment))
        (port,) = [p for p in service["spec"]["ports"] if p["name"] == port_name]
        assert port["targetPort"] == port_name
        monitor = find(objects, "ServiceMonitor", name)["spec"]
        assert selects(monitor["selector"], service["metadata"]["labels"])
        (endpoint,) = monitor["endpoints"]
        assert (endpoint["port"], endpoint["path"]) == (port_name, "/metrics")


@pytest.mark.parametrize("target", TARGETS)
def test_ingestion_alerts_use_the_workers_metrics_and_have_runbooks(
    rendered: dict[str, list[Object]], target: str
) -> None:
    rule = find(rendered[target], "PrometheusRule", "moviestore-ingestion")
    (group,) = rule["spec"]["groups"]
    alerts = {r["alert"]: r for r in group["rules"]}
    assert set(alerts) == {"MoviestoreSnapshotHeld", "MoviestoreRejectionsAcrossProviders"}
    metrics_py = (render.ROOT / "python/moviestore/worker/metrics.py").read_text("utf-8")
    guide = (render.ROOT / "docs/operations.md").read_text("utf-8")
    anchors = {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", guide, flags=re.MULTILINE)
    }
    for name, alert in alerts.items():
        for metric in re.findall(r"moviestore_\w+", alert["expr"]):
            assert f'"{metric}"' in metrics_py, f"{name}: the worker exports no {metric}"
        runbook = alert["annotations"]["runbook_url"]
        assert runbook.removeprefix("docs/operations.md#") in anchors, f"{name}: {runbook}"


# ---------------------------------------------------------------------------------------------
# NetworkPolicies: default deny, then each component's needs only
# ---------------------------------------------------------------------------------------------
def peers(rule: Object, direction: str) -> list[Object]:
    peers_: list[Object] = rule.get("from" if direction == "ingress" else "to", [])
    return peers_


@pytest.mark.parametrize("target", TARGETS)
def test_network_policies_deny_by_default(rendered: dict[str, list[Object]], target: str) -> None:
    objects = rendered[target]
    deny = find(objects, "NetworkPolicy", "moviestore-default-deny")["spec"]
    assert deny["podSelector"] == {}
    assert sorted(deny["policyTypes"]) == ["Egress", "Ingress"]
    assert "ingress" not in deny
    assert "egress" not in deny
    for policy in find_all(objects, "NetworkPolicy"):
        for direction in ("ingress", "egress"):
            for rule in policy["spec"].get(direction, []):
                assert peers(rule, direction), f"{policy['metadata']['name']} admits any peer"
                assert rule.get("ports"), f"{policy['metadata']['name']} admits any port"


def allowed(objects: list[Object], labels: dict[str, str], direction: str) -> list[Object]:
    policy_type = "Ingress" if direction == "ingress" else "Egress"
    return rules(policies_for(objects, labels, policy_type), direction)


def allowed_ports(objects: list[Object], labels: dict[str, str], direction: str) -> set[Any]:
    return {port for rule in allowed(objects, labels, direction) for port in rule_ports(rule)}


@pytest.mark.parametrize("target", TARGETS)
def test_each_component_gets_only_the_traffic_it_needs(
    rendered: dict[str, list[Object]], target: str
) -> None:
    objects = rendered[target]
    dns = {("UDP", 53), ("TCP", 53)}
    postgres, redis, https = ("TCP", 5432), ("TCP", 6379), ("TCP", 443)

    assert allowed_ports(objects, API, "egress") == dns | {postgres, redis}
    assert allowed_ports(objects, WORKER, "egress") == dns | {postgres, redis, https}
    assert allowed_ports(objects, MIGRATE, "egress") == dns | {postgres}

    assert allowed_ports(objects, API, "ingress") == {("TCP", 8080)}
    assert allowed_ports(objects, WORKER, "ingress") == {("TCP", 9090)}
    assert allowed_ports(objects, MIGRATE, "ingress") == set()

    # DNS only to CoreDNS; HTTPS never to the instance metadata service.
    for rule in allowed(objects, API, "egress"):
        if rule_ports(rule) & dns:
            (peer,) = rule["to"]
            assert peer["podSelector"]["matchLabels"] == {"k8s-app": "kube-dns"}
            assert peer["namespaceSelector"]["matchLabels"] == {
                "kubernetes.io/metadata.name": "kube-system"
            }
    for rule in allowed(objects, WORKER, "egress"):
        if https in rule_ports(rule):
            (peer,) = rule["to"]
            assert "169.254.0.0/16" in peer["ipBlock"]["except"]

    # Scrapes come from Prometheus in the monitoring namespace only.
    for labels in (API, WORKER):
        for rule in allowed(objects, labels, "ingress"):
            for peer in rule["from"]:
                if "ipBlock" in peer:
                    assert labels is API, "only the API is reached from the load balancer"
                    continue
                assert peer["namespaceSelector"]["matchLabels"] == {
                    "kubernetes.io/metadata.name": "monitoring"
                }
                assert peer["podSelector"]["matchLabels"] == {
                    "app.kubernetes.io/name": "prometheus"
                }
