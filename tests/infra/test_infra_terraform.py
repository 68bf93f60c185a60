"""Invariants of infra/terraform, read with python-hcl2 (no provider, no AWS account needed)."""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path
from typing import Any

import pytest

from tests.infra import tf
from tests.infra.tf import MODULES, blocks, data, default, resource, resources, variables

MODULE_DIRS = sorted(path for path in MODULES.iterdir() if path.is_dir())
MODULE_FILES = ("main.tf", "variables.tf", "outputs.tf", "versions.tf", "README.md")
ENVIRONMENTS = tf.environments()


def statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The statements of an aws_iam_policy_document data source."""
    return blocks(document, "statement")


def conditions(statement: dict[str, Any]) -> dict[tuple[str, str], list[str]]:
    return {(c["test"], c["variable"]): c["values"] for c in blocks(statement, "condition")}


def principals(statement: dict[str, Any]) -> dict[str, list[str]]:
    return {p["type"]: p["identifiers"] for p in blocks(statement, "principals")}


# ---------------------------------------------------------------------------------------------
# Layout: terraform-aws-modules style modules, thin environments
# ---------------------------------------------------------------------------------------------
def test_environments_are_staging_and_production() -> None:
    assert ENVIRONMENTS == ["production", "staging"]


@pytest.mark.parametrize("module", MODULE_DIRS, ids=lambda p: p.name)
def test_every_module_has_the_standard_files(module: Path) -> None:
    for name in MODULE_FILES:
        assert (module / name).is_file(), f"{module.name}/{name}"
    assert "required_providers" in (module / "versions.tf").read_text(encoding="utf-8")


@pytest.mark.parametrize(
    "directory", [*MODULE_DIRS, *(tf.ENVS / env for env in ENVIRONMENTS)], ids=lambda p: p.name
)
def test_every_variable_is_typed_and_described_and_every_output_described(
    directory: Path,
) -> None:
    for name, body in variables(directory).items():
        assert body.get("type"), f"{directory.name}: variable {name} has no type"
        assert len(str(body.get("description", ""))) > 10, f"{directory.name}: {name} undescribed"
    for block in tf.load_dir(directory).get("output", []):
        for name, body in block.items():
            assert len(str(body.get("description", ""))) > 10, f"{directory.name}: output {name}"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environments_are_thin_callers_of_the_platform_module(environment: str) -> None:
    directory = tf.ENVS / environment
    loaded = tf.load_dir(directory)
    assert "resource" not in loaded
    assert "data" not in loaded
    assert set(tf.module_calls(directory)) == {"platform"}
    assert tf.env_platform(environment)["source"] == "../../modules/platform"
    assert tf.env_platform(environment)["environment"] == environment
    (backend,) = [b["s3"] for t in loaded["terraform"] for b in t.get("backend", [])]
    assert backend["encrypt"] is True
    assert backend["use_lockfile"] is True
    assert backend["key"] == f"{environment}/terraform.tfstate"


def test_environments_run_in_their_own_accounts() -> None:
    accounts = {env: tf.provider_account(env) for env in ENVIRONMENTS}
    assert len(set(accounts.values())) == len(ENVIRONMENTS)
    for env, account in accounts.items():
        assert re.fullmatch(r"\d{12}", account)
        loaded = tf.load_dir(tf.ENVS / env)
        (backend,) = [b["s3"] for t in loaded["terraform"] for b in t.get("backend", [])]
        assert backend["bucket"].endswith(account)


# ---------------------------------------------------------------------------------------------
# Network and EKS
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_network_spans_three_zones(environment: str) -> None:
    platform = tf.env_platform(environment)
    assert len(set(platform["azs"])) == 3
    for subnets in ("public_subnets", "private_subnets", "database_subnets"):
        assert len(platform[subnets]) == 3


def test_network_logs_flows_and_locks_the_default_security_group() -> None:
    network = MODULES / "network"
    flow_log = resource(network, "aws_flow_log", "this")
    assert flow_log["traffic_type"] == "ALL"
    default_sg = resource(network, "aws_default_security_group", "this")
    assert "ingress" not in default_sg
    assert "egress" not in default_sg
    database_routes = resources(network, "aws_route")
    assert all("database" not in body["route_table_id"] for body in database_routes.values())


def test_eks_is_private_encrypted_and_spread_over_three_zones() -> None:
    eks = MODULES / "eks"
    cluster = resource(eks, "aws_eks_cluster", "this")
    (vpc,) = cluster["vpc_config"]
    assert vpc["endpoint_public_access"] is False
    assert vpc["endpoint_private_access"] is True
    (encryption,) = cluster["encryption_config"]
    assert encryption["resources"] == ["secrets"]
    assert encryption["provider"][0]["key_arn"] == "${aws_kms_key.secrets.arn}"
    assert resource(eks, "aws_kms_key", "secrets")["enable_key_rotation"] is True
    assert set(cluster["enabled_cluster_log_types"]) == {
        "api",
        "audit",
        "authenticator",
        "controllerManager",
        "scheduler",
    }
    (access,) = cluster["access_config"]
    assert access["bootstrap_cluster_creator_admin_permissions"] is False

    node_group = resource(eks, "aws_eks_node_group", "this")
    assert "var.subnet_ids" in node_group["for_each"], "one node group per AZ's subnet"
    assert node_group["subnet_ids"] == ["${each.value}"]
    subnet_validation = variables(eks)["subnet_ids"]["validation"][0]["condition"]
    assert "length(var.subnet_ids) == 3" in subnet_validation

    (metadata,) = resource(eks, "aws_launch_template", "node")["metadata_options"]
    assert metadata["http_tokens"] == "required"
    assert metadata["http_put_response_hop_limit"] == 1
    (disk,) = resource(eks, "aws_launch_template", "node")["block_device_mappings"]
    assert disk["ebs"][0]["encrypted"] is True


def test_eks_has_irsa_and_enforces_network_policies() -> None:
    eks = MODULES / "eks"
    oidc = resource(eks, "aws_iam_openid_connect_provider", "this")
    assert oidc["client_id_list"] == ["sts.amazonaws.com"]
    cni = resource(eks, "aws_eks_addon", "vpc_cni")
    assert 'enableNetworkPolicy = "true"' in cni["configuration_values"]
    assert cni["service_account_role_arn"] == "${module.vpc_cni_irsa.arn}"


# ---------------------------------------------------------------------------------------------
# RDS PostgreSQL
# ---------------------------------------------------------------------------------------------
def test_postgres_is_multi_az_encrypted_backed_up_and_protected() -> None:
    database = MODULES / "database"
    primary = resource(database, "aws_db_instance", "this")
    assert primary["multi_az"] is True
    assert primary["storage_encrypted"] is True
    assert primary["kms_key_id"] == "${aws_kms_key.this.arn}"
    assert primary["performance_insights_kms_key_id"] == "${aws_kms_key.this.arn}"
    assert resource(database, "aws_kms_key", "this")["enable_key_rotation"] is True
    assert primary["deletion_protection"] is True
    assert primary["skip_final_snapshot"] is False
    assert primary["delete_automated_backups"] is False
    assert primary["publicly_accessible"] is False
    assert primary["backup_retention_period"] == "${var.backup_retention_days}"
    assert default(database, "backup_retention_days") >= 7
    validation = variables(database)["backup_retention_days"]["validation"][0]["condition"]
    assert "var.backup_retention_days >= 7" in validation
    assert primary["parameter_group_name"] == "${aws_db_parameter_group.this.name}"
    parameters = {
        p["name"]: p["value"]
        for p in resource(database, "aws_db_parameter_group", "this")["parameter"]
    }
    assert parameters["rds.force_ssl"] == "1"


def test_postgres_credentials_live_in_secrets_manager_only() -> None:
    database = MODULES / "database"
    primary = resource(database, "aws_db_instance", "this")
    assert "password" not in primary, "never a password that Terraform stores in its state"
    assert primary["password_wo"] == "${ephemeral.random_password.master.result}"
    version = resource(database, "aws_secretsmanager_secret_version", "credentials")
    assert "secret_string" not in version
    assert "ephemeral.random_password.master.result" in version["secret_string_wo"]
    assert version["secret_string_wo_version"] == primary["password_wo_version"]
    for name in ("credentials", "endpoint"):
        secret = resource(database, "aws_secretsmanager_secret", name)
        assert secret["kms_key_id"] == "${aws_kms_key.this.arn}"
        assert secret["name"] == f"${{var.secret_name_prefix}}/database/{name}"


def test_postgres_read_replica_is_optional_and_encrypted() -> None:
    database = MODULES / "database"
    replica = resource(database, "aws_db_instance", "replica")
    assert replica["count"] == "${var.create_read_replica ? 1 : 0}"
    assert replica["storage_encrypted"] is True
    assert replica["replicate_source_db"] == "${aws_db_instance.this.identifier}"
    assert default(database, "create_read_replica") is False


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environments_keep_a_week_of_point_in_time_recovery(environment: str) -> None:
    assert tf.env_platform(environment)["db_backup_retention_days"] >= 7


# ---------------------------------------------------------------------------------------------
# ElastiCache Redis
# ---------------------------------------------------------------------------------------------
def test_redis_is_a_multi_az_encrypted_replication_group_with_snapshots() -> None:
    cache = MODULES / "cache"
    group = resource(cache, "aws_elasticache_replication_group", "this")
    assert group["automatic_failover_enabled"] is True
    assert group["multi_az_enabled"] is True
    assert group["at_rest_encryption_enabled"] is True
    assert group["kms_key_id"] == "${aws_kms_key.this.arn}"
    assert group["transit_encryption_enabled"] is True
    assert group["transit_encryption_mode"] == "required"
    assert group["auth_token"] == "${random_password.auth_token.result}"
    assert group["snapshot_retention_limit"] == "${var.snapshot_retention_days}"
    assert default(cache, "snapshot_retention_days") >= 1
    secret = resource(cache, "aws_secretsmanager_secret_version", "this")
    assert "auth_token = random_password.auth_token.result" in secret["secret_string"]
    assert resource(cache, "aws_secretsmanager_secret", "this")["kms_key_id"] == (
        "${aws_kms_key.this.arn}"
    )
    token = resource(cache, "random_password", "auth_token")
    assert token["special"] is False, "the token goes into a URL unescaped"


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_environments_run_a_primary_and_replicas(environment: str) -> None:
    platform = tf.env_platform(environment)
    assert platform["cache_num_nodes"] >= 2
    assert platform["cache_snapshot_retention_days"] >= 1


# ---------------------------------------------------------------------------------------------
# S3
# ---------------------------------------------------------------------------------------------
def test_data_bucket_is_versioned_encrypted_private_and_tls_only() -> None:
    storage = MODULES / "storage"
    versioning = resource(storage, "aws_s3_bucket_versioning", "data")
    assert versioning["versioning_configuration"][0]["status"] == "Enabled"
    (rule,) = resource(storage, "aws_s3_bucket_server_side_encryption_configuration", "data")[
        "rule"
    ]
    sse = rule["apply_server_side_encryption_by_default"][0]
    assert sse["sse_algorithm"] == "aws:kms"
    assert sse["kms_master_key_id"] == "${aws_kms_key.this.arn}"
    block = resource(storage, "aws_s3_bucket_public_access_block", "data")
    for setting in (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ):
        assert block[setting] is True
    assert resource(storage, "aws_s3_bucket_policy", "data")["policy"] == (
        "${data.aws_iam_policy_document.data.json}"
    )
    (deny,) = [
        s
        for s in statements(data(storage, "aws_iam_policy_document", "data"))
        if s.get("sid") == "DenyInsecureTransport"
    ]
    assert deny["effect"] == "Deny"
    assert deny["actions"] == ["s3:*"]
    assert set(deny["resources"]) == {
        "${aws_s3_bucket.data.arn}",
        "${aws_s3_bucket.data.arn}/*",
    }
    assert principals(deny) == {"*": ["*"]}
    assert conditions(deny) == {("Bool", "aws:SecureTransport"): ["false"]}


def test_reports_expire_and_uploads_notify_the_queue() -> None:
    storage = MODULES / "storage"
    lifecycle = resource(storage, "aws_s3_bucket_lifecycle_configuration", "data")
    rules = {r["id"]: r for r in lifecycle["rule"]}
    reports = rules["reports"]
    assert reports["filter"][0]["prefix"] == "reports/"
    assert reports["expiration"][0]["days"] == "${var.reports_expiration_days}"
    assert default(storage, "reports_expiration_days") > 0
    assert "abort_incomplete_multipart_upload" in rules["abort-incomplete-multipart-uploads"]
    (queue,) = resource(storage, "aws_s3_bucket_notification", "data")["queue"]
    assert queue["events"] == ["s3:ObjectCreated:*"]
    assert queue["filter_prefix"] == "providers/"
    assert queue["queue_arn"] == "${var.notification_queue_arn}"


def allowed(policy: list[dict[str, Any]], action: str, arn: str, values: dict[str, str]) -> bool:
    """Whether the statements allow ``action`` on ``arn``, their ``${...}`` references replaced
    by ``values`` (IAM's evaluation for Allow statements without conditions on the resource:
    an action and a resource pattern, ``*`` matching any characters)."""

    def resolved(pattern: str) -> str:
        for name, value in values.items():
            pattern = pattern.replace("${" + name + "}", value)
        assert "${" not in pattern, pattern
        return pattern

    return any(
        statement.get("effect", "Allow") == "Allow"
        and action in statement["actions"]
        and any(fnmatch.fnmatchcase(arn, resolved(r)) for r in statement["resources"])
        for statement in policy
    )


def test_provider_roles_write_their_uploads_and_read_their_own_reports_only() -> None:
    storage = MODULES / "storage"
    validation = variables(storage)["upload_providers"]["validation"][0]["condition"]
    assert "^[a-z0-9]([a-z0-9-]*[a-z0-9])?$" in validation
    policy = statements(data(storage, "aws_iam_policy_document", "upload"))
    bucket = "arn:aws:s3:::moviestore-production-data-1"

    def may(provider: str, action: str, key: str) -> bool:
        values = {"aws_s3_bucket.data.arn": bucket, "each.key": provider,
                  "aws_kms_key.this.arn": "key"}  # fmt: skip
        return allowed(policy, action, f"{bucket}/{key}", values)

    for me, other in (("acme", "globex"), ("globex", "acme")):
        assert may(me, "s3:PutObject", f"providers/{me}/catalog.json")
        assert may(me, "s3:GetObject", f"reports/{me}/catalog.json.v1.errors.ndjson")
        assert not may(me, "s3:GetObject", f"reports/{other}/catalog.json.v1.errors.ndjson")
        assert not may(me, "s3:PutObject", f"providers/{other}/catalog.json")
        assert not may(me, "s3:PutObject", f"reports/{me}/forged.ndjson")
        assert not may(me, "s3:GetObject", f"providers/{other}/catalog.json")
        # A prefix is a whole name: "acme" reads nothing of "acme-films".
        assert not may(me, "s3:GetObject", f"reports/{me}-films/x.ndjson")
    s3_actions = {a for s in policy for a in s["actions"] if a.startswith("s3:")}
    assert s3_actions == {"s3:PutObject", "s3:AbortMultipartUpload",
                          "s3:ListMultipartUploadParts", "s3:GetObject"}  # fmt: skip
    (kms,) = [s for s in policy if any(a.startswith("kms:") for a in s["actions"])]
    assert conditions(kms)[("StringEquals", "kms:ViaService")] == [
        "s3.${data.aws_region.current.region}.amazonaws.com"
    ]
    trust = data(storage, "aws_iam_policy_document", "upload_assume")
    (assume,) = statements(trust)
    assert conditions(assume) == {("StringEquals", "sts:ExternalId"): ["${each.value.external_id}"]}


# ---------------------------------------------------------------------------------------------
# The application's own secrets
# ---------------------------------------------------------------------------------------------
def test_cursor_secret_is_generated_write_only_and_encrypted() -> None:
    app = MODULES / "app-secrets"
    version = resource(app, "aws_secretsmanager_secret_version", "cursor")
    assert "secret_string" not in version, "never a value that Terraform stores in its state"
    assert version["secret_string_wo"] == (
        "${jsonencode({secret = ephemeral.random_password.cursor.result})}"
    )
    assert version["secret_string_wo_version"] == "${var.cursor_secret_version}"
    cursor = tf.load_dir(app)["ephemeral"][0]["random_password"]["cursor"]
    assert cursor["length"] >= 32
    secret = resource(app, "aws_secretsmanager_secret", "cursor")
    assert secret["kms_key_id"] == "${aws_kms_key.this.arn}"
    assert secret["name"] == "${var.secret_name_prefix}/api/cursor"
    assert default(app, "secret_name_prefix") == default(MODULES / "database", "secret_name_prefix")


def test_external_secrets_may_read_the_cursor_secret() -> None:
    call = tf.module_calls(MODULES / "platform")["workload_iam"]
    assert "module.app_secrets.secret_arns" in call["secret_arns"]
    assert "${module.app_secrets.kms_key_arn}" in call["secret_kms_key_arns"]
    assert tf.module_calls(MODULES / "platform")["app_secrets"]["cursor_secret_version"] == (
        "${var.api_cursor_secret_version}"
    )


# ---------------------------------------------------------------------------------------------
# SQS and SNS
# ---------------------------------------------------------------------------------------------
def test_ingest_queue_redrives_after_five_receives_and_is_encrypted() -> None:
    messaging = MODULES / "messaging"
    ingest = resource(messaging, "aws_sqs_queue", "ingest")
    assert ingest["redrive_policy"] == (
        "${jsonencode({deadLetterTargetArn = aws_sqs_queue.dlq.arn, "
        "maxReceiveCount = var.max_receive_count})}"
    )
    assert default(messaging, "max_receive_count") == 5
    platform = tf.module_calls(MODULES / "platform")["messaging"]
    assert "max_receive_count" not in platform, "the worker's documented 5 applies everywhere"
    for name in ("ingest", "dlq"):
        assert resource(messaging, "aws_sqs_queue", name)["kms_master_key_id"] == (
            "${aws_kms_key.this.arn}"
        )
    allow = resource(messaging, "aws_sqs_queue_redrive_allow_policy", "dlq")["redrive_allow_policy"]
    assert 'redrivePermission = "byQueue"' in allow
    assert "sourceQueueArns = [aws_sqs_queue.ingest.arn]" in allow


def test_queue_policy_admits_only_the_bucket() -> None:
    messaging = MODULES / "messaging"
    policy = data(messaging, "aws_iam_policy_document", "ingest")
    allows = [s for s in statements(policy) if s.get("effect", "Allow") == "Allow"]
    (allow,) = allows
    assert allow["actions"] == ["sqs:SendMessage"]
    assert principals(allow) == {"Service": ["s3.amazonaws.com"]}
    assert conditions(allow) == {
        ("ArnEquals", "aws:SourceArn"): ["${var.source_bucket_arn}"],
        ("StringEquals", "aws:SourceAccount"): ["${local.account_id}"],
    }
    (deny,) = [s for s in statements(policy) if s.get("effect") == "Deny"]
    assert conditions(deny) == {("Bool", "aws:SecureTransport"): ["false"]}
    key_policy = resource(messaging, "aws_kms_key", "this")["policy"]
    assert 'Principal = {Service = "s3.amazonaws.com"}' in key_policy
    assert '"aws:SourceArn" = var.source_bucket_arn' in key_policy


def test_topics_are_encrypted_and_provider_notifications_filter_on_provider() -> None:
    messaging = MODULES / "messaging"
    topic = resource(messaging, "aws_sns_topic", "provider_notifications")
    assert topic["kms_master_key_id"] == "${aws_kms_key.this.arn}"
    subscription = resource(messaging, "aws_sns_topic_subscription", "provider_notifications")
    assert subscription["filter_policy_scope"] == "MessageAttributes"
    assert "provider = each.value.providers" in subscription["filter_policy"]
    alerts = resource(MODULES / "monitoring", "aws_sns_topic", "alerts")
    assert alerts["kms_master_key_id"] == "${aws_kms_key.alerts.arn}"


# ---------------------------------------------------------------------------------------------
# IAM: least privilege per component
# ---------------------------------------------------------------------------------------------
WORKLOAD_IAM = MODULES / "workload-iam"


def worker_statements() -> list[dict[str, Any]]:
    return statements(data(WORKLOAD_IAM, "aws_iam_policy_document", "worker"))


def test_irsa_roles_trust_exactly_one_service_account() -> None:
    (assume,) = statements(data(WORKLOAD_IAM, "aws_iam_policy_document", "assume"))
    assert assume["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    assert principals(assume) == {"Federated": ["${var.oidc_provider_arn}"]}
    assert conditions(assume) == {
        ("StringEquals", "${var.oidc_issuer}:sub"): ["system:serviceaccount:${each.value}"],
        ("StringEquals", "${var.oidc_issuer}:aud"): ["sts.amazonaws.com"],
    }


def test_the_api_role_may_only_read_reports_to_sign_links_to_them() -> None:
    """The API reads PostgreSQL and Redis; in AWS it only signs links to error reports."""
    attached: dict[str, str] = {}
    for kind in ("aws_iam_role_policy", "aws_iam_role_policy_attachment"):
        for name, body in resources(WORKLOAD_IAM, kind).items():
            roles = re.findall(
                r'^\$\{aws_iam_role\.this\["([\w-]+)"\]\.(?:id|name)\}$', body["role"]
            )
            assert roles, f"{kind}.{name}: attach policies to one named role"
            attached[name] = roles[0]
    assert set(attached.values()) == {"api", "worker", "external-secrets", "keda-operator"}
    assert not resources(WORKLOAD_IAM, "aws_iam_policy_attachment")
    read, decrypt = statements(data(WORKLOAD_IAM, "aws_iam_policy_document", "api"))
    assert (read["actions"], read["resources"]) == (["s3:GetObject"],
                                                    ["${var.bucket_arn}/reports/*"])  # fmt: skip
    assert decrypt["actions"] == ["kms:Decrypt"]
    assert conditions(decrypt)[("StringEquals", "kms:ViaService")] == [
        "s3.${local.region}.amazonaws.com"
    ]


def test_worker_reads_providers_writes_reports_and_nothing_else_in_s3() -> None:
    s3 = [s for s in worker_statements() if any(a.startswith("s3:") for a in s["actions"])]
    reads = {"s3:GetObject", "s3:GetObjectVersion"}  # exactly the version an event names
    writes = {"s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"}  # and sign links
    by_resource: dict[str, set[str]] = {}
    for statement in s3:
        assert statement.get("effect", "Allow") == "Allow"
        for resource_arn in statement["resources"]:
            by_resource.setdefault(resource_arn, set()).update(statement["actions"])
    assert by_resource == {
        "${var.bucket_arn}/providers/*": reads,
        "${var.bucket_arn}/reports/*": writes,
    }


def test_worker_uses_its_queues_topics_and_keys_only() -> None:
    allowed_resources = {
        "${var.bucket_arn}/providers/*",
        "${var.bucket_arn}/reports/*",
        "${var.bucket_kms_key_arn}",
        "${var.queue_arn}",
        "${var.dlq_arn}",
        "${var.provider_topic_arn}",
        "${var.alerts_topic_arn}",
        "${var.messaging_kms_key_arn}",
        "${var.alerts_kms_key_arn}",
    }
    for statement in worker_statements():
        assert statement.get("effect", "Allow") == "Allow"
        assert set(statement["resources"]) <= allowed_resources, statement["sid"]
        assert all("*" not in action for action in statement["actions"]), statement["sid"]
        if any(action.startswith("kms:") for action in statement["actions"]):
            assert ("StringEquals", "kms:ViaService") in conditions(statement)
        if any(action.startswith("sqs:Receive") for action in statement["actions"]):
            assert set(statement["resources"]) <= {"${var.queue_arn}", "${var.dlq_arn}"}
    publish = [s for s in worker_statements() if "sns:Publish" in s["actions"]]
    assert {r for s in publish for r in s["resources"]} == {
        "${var.provider_topic_arn}",
        "${var.alerts_topic_arn}",
    }


def test_external_secrets_reads_only_moviestores_secrets() -> None:
    policy = statements(data(WORKLOAD_IAM, "aws_iam_policy_document", "external_secrets"))
    read, decrypt = policy
    assert set(read["actions"]) == {
        "secretsmanager:GetSecretValue",
        "secretsmanager:DescribeSecret",
    }
    assert read["resources"] == "${var.secret_arns}"
    assert decrypt["actions"] == ["kms:Decrypt"]
    assert conditions(decrypt)[("StringEquals", "kms:ViaService")] == [
        "secretsmanager.${local.region}.amazonaws.com"
    ]


# Actions that have no resource-level permission: "*" is their only possible resource.
UNSCOPABLE_ACTIONS = {"ecr:GetAuthorizationToken"}


def test_no_iam_policy_grants_wildcard_actions_or_resources() -> None:
    for module in MODULE_DIRS:
        for name, document in resources(module, "aws_iam_policy_document", kind="data").items():
            for statement in statements(document):
                if statement.get("effect") == "Deny":
                    continue
                for action in statement["actions"]:
                    assert action != "*" and not action.endswith(":*"), f"{module.name}/{name}"
                if not set(statement["actions"]) <= UNSCOPABLE_ACTIONS:
                    assert statement.get("resources") != ["*"], f"{module.name}/{name}"


# ---------------------------------------------------------------------------------------------
# Alarms
# ---------------------------------------------------------------------------------------------
def test_alarms_cover_the_issue_and_notify_the_alerts_topic() -> None:
    monitoring = MODULES / "monitoring"
    alarms = resources(monitoring, "aws_cloudwatch_metric_alarm")
    assert {
        "dlq_not_empty",
        "oldest_message_age",
        "db_cpu",
        "db_free_storage",
        "api_5xx_rate",
    } <= set(alarms)
    for name, alarm in alarms.items():
        assert alarm["alarm_actions"] == ["${aws_sns_topic.alerts.arn}"], name
        assert alarm["ok_actions"] == ["${aws_sns_topic.alerts.arn}"], name
        assert "docs/operations.md#" in alarm["alarm_description"], name

    dlq = alarms["dlq_not_empty"]
    assert (dlq["metric_name"], dlq["comparison_operator"], dlq["threshold"]) == (
        "ApproximateNumberOfMessagesVisible",
        "GreaterThanThreshold",
        0,
    )
    assert dlq["dimensions"] == {"QueueName": "${var.dlq_name}"}
    assert alarms["oldest_message_age"]["metric_name"] == "ApproximateAgeOfOldestMessage"
    assert alarms["db_cpu"]["metric_name"] == "CPUUtilization"
    assert alarms["db_free_storage"]["metric_name"] == "FreeStorageSpace"
    queries = {q["id"]: q for q in alarms["api_5xx_rate"]["metric_query"]}
    assert queries["target5xx"]["metric"][0]["metric_name"] == "HTTPCode_Target_5XX_Count"
    assert queries["requests"]["metric"][0]["metric_name"] == "RequestCount"
    key_policy = resource(monitoring, "aws_kms_key", "alerts")["policy"]
    assert 'Principal = {Service = "cloudwatch.amazonaws.com"}' in key_policy


def test_every_alarm_runbook_exists_in_the_operations_guide() -> None:
    guide = (tf.ROOT / "docs" / "operations.md").read_text(encoding="utf-8")
    anchors = {
        re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        for heading in re.findall(r"^#+ (.+)$", guide, flags=re.MULTILINE)
    }
    monitoring = MODULES / "monitoring"
    for name, alarm in resources(monitoring, "aws_cloudwatch_metric_alarm").items():
        (anchor,) = re.findall(r"docs/operations\.md#([\w-]+)", alarm["alarm_description"])
        assert anchor in anchors, f"{name}: no section #{anchor} in docs/operations.md"


# ---------------------------------------------------------------------------------------------
# Every key rotates; every log group is encrypted and kept a year
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("module", MODULE_DIRS, ids=lambda p: p.name)
def test_keys_rotate_and_logs_are_encrypted_and_kept(module: Path) -> None:
    for name, key in resources(module, "aws_kms_key").items():
        assert key["enable_key_rotation"] is True, name
        assert "policy" in key, name
    for name, group in resources(module, "aws_cloudwatch_log_group").items():
        assert group["kms_key_id"], name
        retention = str(group["retention_in_days"])
        match = re.fullmatch(r"\$\{var\.(\w+)\}", retention)
        days = default(module, match.group(1)) if match else int(retention)
        assert days >= 365, name


def test_the_api_edge_refuses_bodies_and_limits_each_address() -> None:
    """A WAF web ACL on the API's load balancer: any body blocked (the API only reads), a
    rate per client address, logs encrypted with the keys redacted."""
    acl = resource(MODULES / "edge", "aws_wafv2_web_acl", "api")
    assert acl["scope"] == "REGIONAL"
    rules = {rule["name"]: rule for rule in blocks(acl, "rule")}
    assert set(rules) >= {"no-request-bodies", "rate-per-client-address"}
    body = blocks(blocks(rules["no-request-bodies"], "statement")[0], "size_constraint_statement")[
        0
    ]
    assert (body["comparison_operator"], body["size"]) == ("GT", 0)
    assert blocks(blocks(body, "field_to_match")[0], "body")[0]["oversize_handling"] == "MATCH"
    assert blocks(rules["no-request-bodies"], "action")[0].keys() == {"block"}
    rate = blocks(blocks(rules["rate-per-client-address"], "statement")[0], "rate_based_statement")[
        0
    ]
    assert rate["aggregate_key_type"] == "IP"
    assert blocks(rules["rate-per-client-address"], "action")[0].keys() == {"block"}
    logging = resource(MODULES / "edge", "aws_wafv2_web_acl_logging_configuration", "api")
    redacted = {b["single_header"][0]["name"] for b in blocks(logging, "redacted_fields")}
    assert redacted == {"authorization", "x-api-key"}
    assert "kms_key_id" in resource(MODULES / "edge", "aws_cloudwatch_log_group", "waf")
    association = resource(MODULES / "edge", "aws_wafv2_web_acl_association", "api")
    assert "load_balancer_arn" in str(association["resource_arn"])
