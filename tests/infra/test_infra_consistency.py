"""Each environment's Kubernetes overlay agrees with its Terraform: account, region, names,
domain, network ranges and the settings both sides rely on."""

from __future__ import annotations

import ipaddress
import re
from typing import Any

import pytest

from tests.infra import tf
from tests.infra.k8s import Object, config_map_data, find, find_all, pod_spec
from tests.infra.tf import MODULES, default, resource

ENVIRONMENTS = tf.environments()


def provider_region(environment: str) -> str:
    (provider,) = [block["aws"] for block in tf.load_dir(tf.ENVS / environment)["provider"]]
    region: str = provider["region"]
    return region


def terraform_name(pattern: str, environment: str, account: str) -> str:
    """A Terraform name pattern of the modules, with this environment's values."""
    return (
        pattern.replace("${var.name}", f"moviestore-{environment}")
        .replace("${local.name}", f"moviestore-{environment}")
        .replace("${local.account_id}", account)
        .replace("${var.secret_name_prefix}", default(MODULES / "database", "secret_name_prefix"))
    )


def networks(cidrs: list[str]) -> list[ipaddress.IPv4Network]:
    return [ipaddress.IPv4Network(cidr) for cidr in cidrs]


def ip_blocks(objects: list[Object], policy: str, direction: str) -> list[ipaddress.IPv4Network]:
    spec = find(objects, "NetworkPolicy", policy)["spec"]
    return [
        ipaddress.IPv4Network(peer["ipBlock"]["cidr"])
        for rule in spec[direction]
        for peer in rule["from" if direction == "ingress" else "to"]
        if "ipBlock" in peer
    ]


@pytest.fixture(params=ENVIRONMENTS)
def environment(request: pytest.FixtureRequest) -> str:
    value: str = request.param
    return value


def test_overlay_names_the_environments_account_and_region(
    rendered: dict[str, list[Object]], environment: str
) -> None:
    objects = rendered[environment]
    account, region = tf.provider_account(environment), provider_region(environment)
    data = config_map_data(objects)
    assert data["MOVIESTORE_ENV"] == environment
    assert data["MOVIESTORE_AWS_REGION"] == region
    assert f"/{account}/" in data["MOVIESTORE_SQS_QUEUE_URL"]
    image = pod_spec(find(objects, "Deployment", "moviestore-api"))["containers"][0]["image"]
    assert image.startswith(f"{account}.dkr.ecr.{region}.amazonaws.com/moviestore")
    assert (
        find(objects, "SecretStore", "moviestore-aws")["spec"]["provider"]["aws"]["region"]
        == region
    )


def test_overlay_uses_the_names_terraform_creates(
    rendered: dict[str, list[Object]], environment: str
) -> None:
    objects = rendered[environment]
    account, region = tf.provider_account(environment), provider_region(environment)
    data = config_map_data(objects)

    def name(module: str, resource_type: str, resource_name: str, field: str = "name") -> str:
        pattern = resource(MODULES / module, resource_type, resource_name)[field]
        return terraform_name(pattern, environment, account)

    queue = name("messaging", "aws_sqs_queue", "ingest")
    dlq = name("messaging", "aws_sqs_queue", "dlq")
    assert (
        data["MOVIESTORE_SQS_QUEUE_URL"] == f"https://sqs.{region}.amazonaws.com/{account}/{queue}"
    )
    assert data["MOVIESTORE_SQS_DLQ_URL"] == f"https://sqs.{region}.amazonaws.com/{account}/{dlq}"
    topics = f"arn:aws:sns:{region}:{account}"
    assert data["MOVIESTORE_SNS_PROVIDER_TOPIC_ARN"] == (
        f"{topics}:{name('messaging', 'aws_sns_topic', 'provider_notifications')}"
    )
    assert data["MOVIESTORE_SNS_ALERTS_TOPIC_ARN"] == (
        f"{topics}:{name('monitoring', 'aws_sns_topic', 'alerts')}"
    )
    storage_locals = {
        key: value
        for block in tf.load_dir(MODULES / "storage")["locals"]
        for key, value in block.items()
    }
    assert data["MOVIESTORE_S3_BUCKET"] == terraform_name(
        storage_locals["data_bucket"], environment, account
    )
    ingress = find(objects, "Ingress", "moviestore-api")["metadata"]["annotations"]
    logs_bucket = terraform_name(storage_locals["logs_bucket"], environment, account)
    assert (
        f"access_logs.s3.bucket={logs_bucket},"
        in (ingress["alb.ingress.kubernetes.io/load-balancer-attributes"])
    )
    # Terraform finds the ALB by the name the Ingress gives it (DNS record, 5xx alarm).
    alb = tf.data(MODULES / "platform", "aws_lb", "api")["name"]
    assert ingress["alb.ingress.kubernetes.io/load-balancer-name"] == terraform_name(
        alb, environment, account
    )


def test_service_accounts_match_the_irsa_roles_and_their_trust(
    rendered: dict[str, list[Object]], environment: str
) -> None:
    objects = rendered[environment]
    account = tf.provider_account(environment)
    iam = MODULES / "workload-iam"
    iam_locals = {
        key: value for block in tf.load_dir(iam)["locals"] for key, value in block.items()
    }
    namespace = default(iam, "namespace")
    role_pattern = resource(iam, "aws_iam_role", "this")["name"]
    trusted = iam_locals["service_accounts"]
    for role_key in ("api", "worker", "external-secrets"):
        (sub,) = re.findall(rf"{role_key} = \"\$\{{var\.namespace\}}:([\w-]+)\"", trusted)
        service_account = find(objects, "ServiceAccount", sub)
        assert service_account["metadata"]["namespace"] == namespace
        role_name = terraform_name(
            role_pattern.replace("${each.key}", role_key), environment, account
        )
        assert service_account["metadata"]["annotations"]["eks.amazonaws.com/role-arn"] == (
            f"arn:aws:iam::{account}:role/{role_name}"
        )


def test_ingress_host_is_the_domain_of_the_certificate(
    rendered: dict[str, list[Object]], environment: str
) -> None:
    domain = tf.env_platform(environment)["api_domain"]
    ingress = find(rendered[environment], "Ingress", "moviestore-api")
    assert [rule["host"] for rule in ingress["spec"]["rules"]] == [domain]
    assert ingress["spec"]["tls"][0]["hosts"] == [domain]


def test_network_policies_admit_exactly_the_environments_subnets(
    rendered: dict[str, list[Object]], environment: str
) -> None:
    objects = rendered[environment]
    platform = tf.env_platform(environment)
    vpc = ipaddress.IPv4Network(platform["vpc_cidr"])
    public = networks(platform["public_subnets"])
    private = networks(platform["private_subnets"])
    database = networks(platform["database_subnets"])

    def check(blocks: list[ipaddress.IPv4Network], inside: list[Any], outside: list[Any]) -> None:
        assert blocks
        for block in blocks:
            assert block.subnet_of(vpc)
            assert not any(block.overlaps(other) for other in outside), block
        for subnet in inside:
            assert any(subnet.subnet_of(block) for block in blocks), subnet

    check(ip_blocks(objects, "moviestore-allow-postgres", "egress"), database, public + private)
    check(ip_blocks(objects, "moviestore-allow-redis", "egress"), database, public + private)
    check(ip_blocks(objects, "moviestore-api-allow-ingress", "ingress"), public, private + database)


def test_secret_names_and_properties_exist_in_terraform(rendered: dict[str, list[Object]]) -> None:
    database, cache, app = MODULES / "database", MODULES / "cache", MODULES / "app-secrets"
    secrets = {
        terraform_name(
            resource(database, "aws_secretsmanager_secret", "credentials")["name"], "", ""
        ): (
            resource(database, "aws_secretsmanager_secret_version", "credentials")[
                "secret_string_wo"
            ]
        ),
        terraform_name(
            resource(database, "aws_secretsmanager_secret", "endpoint")["name"], "", ""
        ): (resource(database, "aws_secretsmanager_secret_version", "endpoint")["secret_string"]),
        resource(cache, "aws_secretsmanager_secret", "this")["name"].replace(
            "${var.secret_name_prefix}", default(cache, "secret_name_prefix")
        ): resource(cache, "aws_secretsmanager_secret_version", "this")["secret_string"],
        resource(app, "aws_secretsmanager_secret", "cursor")["name"].replace(
            "${var.secret_name_prefix}", default(app, "secret_name_prefix")
        ): resource(app, "aws_secretsmanager_secret_version", "cursor")["secret_string_wo"],
    }
    for objects in rendered.values():
        for item in find(objects, "ExternalSecret", "moviestore")["spec"]["data"]:
            key, prop = item["remoteRef"]["key"], item["remoteRef"]["property"]
            assert key in secrets, key
            assert re.search(rf"\b{prop} = ", secrets[key]), f"{key} has no property {prop}"


def test_queue_visibility_timeout_is_the_workers_setting(rendered: dict[str, list[Object]]) -> None:
    visibility = default(MODULES / "messaging", "visibility_timeout_seconds")
    assert "visibility_timeout_seconds" not in tf.module_calls(MODULES / "platform")["messaging"]
    for objects in rendered.values():
        assert (
            int(config_map_data(objects)["MOVIESTORE_SQS_VISIBILITY_TIMEOUT_SECONDS"]) == visibility
        )


def test_keda_operator_role_trusts_the_operator_that_scales_the_worker(
    rendered: dict[str, list[Object]],
) -> None:
    assert default(MODULES / "workload-iam", "keda_service_account") == "keda:keda-operator"
    for objects in rendered.values():
        for auth in find_all(objects, "TriggerAuthentication"):
            assert auth["spec"]["podIdentity"] == {"provider": "aws", "identityOwner": "keda"}
