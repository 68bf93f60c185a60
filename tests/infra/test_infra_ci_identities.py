# mypy: disable-error-code="import-untyped,import-not-found"
"""Invariants of the release pipeline's AWS identities (infra/terraform/modules/ci-identities):
who may assume each role (repository, release tags, workflow, GitHub environment) and what it
may do, read with python-hcl2 and checked against the workflows that use them."""

from __future__ import annotations

import re
import tomllib
from typing import Any

import pytest
import yaml

from tests.infra import tf
from tests.infra.tf import MODULES, ROOT, blocks, data, default, resource, resources, variables

CI = MODULES / "ci-identities"
PLATFORM = MODULES / "platform"
ISSUER = "token.actions.githubusercontent.com"
WORKFLOWS = ROOT / ".github" / "workflows"
REPOSITORY = "acme/moviestore"  # any "owner/name": the module is checked with this value
ENVIRONMENTS = tf.environments()


def module_locals(directory: Any) -> dict[str, str]:
    return {k: v for block in tf.load_dir(directory).get("locals", []) for k, v in block.items()}


def resolve(text: str, environment: str = "staging") -> str:
    """A string of the module with its locals and variables (defaults, REPOSITORY) filled in."""
    values = {
        f"var.{name}": str(body["default"])
        for name, body in variables(CI).items()
        if body.get("default") is not None and not isinstance(body["default"], list | dict)
    }
    values |= {"var.github_repository": REPOSITORY, "var.github_environment": environment}
    values |= {f"local.{name}": value for name, value in module_locals(CI).items()}
    for _ in range(5):
        text = re.sub(r"\$\{((?:var|local)\.\w+)\}", lambda m: values[m.group(1)], text)
    assert "${" not in text, text
    return text


def statements(name: str) -> list[dict[str, Any]]:
    return blocks(data(CI, "aws_iam_policy_document", name), "statement")


def trust(name: str, environment: str = "staging") -> dict[tuple[str, str], list[str]]:
    """The trust policy's one statement: its conditions, resolved, by (test, variable)."""
    (statement,) = statements(name)
    assert statement["actions"] == ["sts:AssumeRoleWithWebIdentity"]
    assert statement.get("effect", "Allow") == "Allow"
    (principal,) = blocks(statement, "principals")
    assert principal == {
        "type": "Federated",
        "identifiers": ["${aws_iam_openid_connect_provider.github.arn}"],
    }
    return {
        (c["test"], resolve(c["variable"])): [resolve(v, environment) for v in c["values"]]
        for c in blocks(statement, "condition")
    }


def workflow(name: str) -> dict[Any, Any]:
    with (WORKFLOWS / name).open(encoding="utf-8") as stream:
        loaded: dict[Any, Any] = yaml.safe_load(stream)
    return loaded


def glob_matches(pattern: str, value: str) -> bool:
    """IAM StringLike: * is any run of characters, ? one character."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value) is not None


# ---------------------------------------------------------------------------------------------
# The OIDC provider
# ---------------------------------------------------------------------------------------------
def test_one_github_oidc_provider_with_the_sts_audience() -> None:
    provider = resource(CI, "aws_iam_openid_connect_provider", "github")
    assert resolve(provider["url"]) == f"https://{ISSUER}"
    assert provider["client_id_list"] == ["sts.amazonaws.com"]
    assert "count" not in provider and "for_each" not in provider


def test_the_repository_is_one_exact_owner_and_name() -> None:
    (validation,) = variables(CI)["github_repository"]["validation"]
    (pattern,) = re.findall(r'regex\("(.+?)", var\.github_repository\)', validation["condition"])
    pattern = pattern.replace("\\\\", "\\")
    assert re.fullmatch(pattern, REPOSITORY)
    for loose in ("acme/*", "acme/movie*", "*", "acme", "acme/moviestore:ref:x", "acme/a/b"):
        assert not re.fullmatch(pattern, loose), loose
    for environment in ENVIRONMENTS:
        body = variables(tf.ENVS / environment)["github_repository"]
        assert "default" not in body, "no default: a forgotten value must not trust a stranger"
        assert tf.env_platform(environment)["github_repository"] == "${var.github_repository}"


# ---------------------------------------------------------------------------------------------
# ECR push role: this repository's release workflow on a release tag
# ---------------------------------------------------------------------------------------------
def test_push_role_trusts_the_release_workflow_on_release_tags_only() -> None:
    conditions = trust("ecr_push_assume")
    assert conditions == {
        ("StringEquals", f"{ISSUER}:aud"): ["sts.amazonaws.com"],
        ("StringLike", f"{ISSUER}:sub"): [f"repo:{REPOSITORY}:ref:refs/tags/v*"],
        ("StringLike", f"{ISSUER}:job_workflow_ref"): [
            f"{REPOSITORY}/.github/workflows/release.yml@refs/tags/v*"
        ],
    }
    (subject,) = conditions[("StringLike", f"{ISSUER}:sub")]
    (job_workflow,) = conditions[("StringLike", f"{ISSUER}:job_workflow_ref")]
    assert glob_matches(subject, f"repo:{REPOSITORY}:ref:refs/tags/v1.4.0")
    release_run = f"{REPOSITORY}/.github/workflows/release.yml@refs/tags/v1.4.0"
    assert glob_matches(job_workflow, release_run)
    for other in (
        f"repo:{REPOSITORY}:ref:refs/heads/main",
        f"repo:{REPOSITORY}:pull_request",
        f"repo:{REPOSITORY}:environment:staging",
        f"repo:{REPOSITORY}-fork:ref:refs/tags/v1.4.0",
        "repo:acme/other:ref:refs/tags/v1.4.0",
    ):
        assert not glob_matches(subject, other), other
    for other in (
        f"{REPOSITORY}/.github/workflows/ci.yml@refs/tags/v1.4.0",
        f"{REPOSITORY}/.github/workflows/release.yml@refs/heads/main",
    ):
        assert not glob_matches(job_workflow, other), other


def test_the_trusted_workflow_is_the_one_that_pushes_on_those_tags() -> None:
    path = default(CI, "release_workflow")
    release = workflow(path.removeprefix(".github/workflows/"))
    # PyYAML reads the key `on` as the boolean True.
    triggers: dict[str, Any] = release["on"] if "on" in release else release[True]
    assert set(triggers) == {"push"}
    assert triggers["push"] == {"tags": ["v*"]}
    assert default(CI, "release_tag_pattern") == "refs/tags/v*"
    pushing = [
        name
        for name, job in release["jobs"].items()
        for step in job.get("steps", [])
        if "ECR_PUSH_ROLE_ARN" in str(step.get("with", {}).get("role-to-assume", ""))
    ]
    assert pushing and set(pushing) == {"image"}
    assert "environment" not in release["jobs"]["image"], "its sub claim is the tag's ref"


def test_push_role_pushes_to_the_moviestore_repositories_only() -> None:
    login, push = statements("ecr_push")
    assert login["actions"] == ["ecr:GetAuthorizationToken"]
    assert login["resources"] == ["*"], "GetAuthorizationToken has no resource-level permission"
    assert set(push["actions"]) == {
        "ecr:BatchCheckLayerAvailability",
        "ecr:InitiateLayerUpload",
        "ecr:UploadLayerPart",
        "ecr:CompleteLayerUpload",
        "ecr:PutImage",
        "ecr:BatchGetImage",
    }
    assert push["resources"] == "${var.ecr_repository_arns}"
    call = tf.module_calls(PLATFORM)["ci_identities"]
    assert call["ecr_repository_arns"] == ["${aws_ecr_repository.moviestore.arn}"]
    assert tf.resource(PLATFORM, "aws_ecr_repository", "moviestore")["name"] == "moviestore"
    role = resource(CI, "aws_iam_role", "ecr_push")
    assert role["assume_role_policy"] == "${data.aws_iam_policy_document.ecr_push_assume.json}"
    assert role["max_session_duration"] == 3600


# ---------------------------------------------------------------------------------------------
# Deploy role: this account's GitHub environment only
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_deploy_role_trusts_its_own_github_environment_only(environment: str) -> None:
    assert trust("deploy_assume", environment) == {
        ("StringEquals", f"{ISSUER}:aud"): ["sts.amazonaws.com"],
        ("StringEquals", f"{ISSUER}:sub"): [f"repo:{REPOSITORY}:environment:{environment}"],
    }
    # The platform of an account passes that account's environment: staging's role cannot be
    # assumed by production's jobs and the other way round.
    assert tf.module_calls(PLATFORM)["ci_identities"]["github_environment"] == (
        "${var.environment}"
    )
    assert tf.env_platform(environment)["environment"] == environment


def test_deploy_jobs_run_in_the_github_environments_the_roles_trust() -> None:
    release = workflow("release.yml")
    called = {
        job["with"]["environment"]
        for job in release["jobs"].values()
        if job.get("uses") == "./.github/workflows/deploy.yml"
    }
    assert called == set(ENVIRONMENTS)
    (deploy,) = workflow("deploy.yml")["jobs"].values()
    assert deploy["environment"]["name"] == "${{ inputs.environment }}"


def test_deploy_role_finds_the_cluster_checks_the_digest_and_nothing_more() -> None:
    find_cluster, check_digest = statements("deploy")
    assert (find_cluster["actions"], find_cluster["resources"]) == (
        ["eks:DescribeCluster"],
        ["${var.cluster_arn}"],
    )
    assert (check_digest["actions"], check_digest["resources"]) == (
        ["ecr:DescribeImages"],
        "${var.ecr_repository_arns}",
    )
    (dynamic,) = data(CI, "aws_iam_policy_document", "deploy")["dynamic"]
    (gate,) = dynamic["statement"]["content"]
    assert gate["actions"] == ["sts:AssumeRole"]
    assert gate["resources"] == "${statement.value}"
    assert "var.gate_upload_role_arns" in dynamic["statement"]["for_each"]
    call = tf.module_calls(PLATFORM)["ci_identities"]
    assert call["cluster_arn"] == "${module.eks.cluster_arn}"
    assert "module.storage.upload_role_arns" in call["gate_upload_role_arns"]
    assert "local.gate_upload_providers" in call["gate_upload_role_arns"]


def test_deploy_role_sessions_last_two_hours_and_it_is_a_cluster_admin() -> None:
    role = resource(CI, "aws_iam_role", "deploy")
    assert role["max_session_duration"] == "${var.deploy_max_session_seconds}"
    assert default(CI, "deploy_max_session_seconds") == 7200
    assert "role-duration-seconds: 7200" in (WORKFLOWS / "deploy.yml").read_text("utf-8")
    admins = tf.module_calls(PLATFORM)["eks"]["cluster_admin_principal_arns"]
    assert "module.ci_identities.deploy_role_arn" in admins
    # The access entries' for_each keys on these ARNs: the output must be known at plan time,
    # so it is built from the role's (configured) name, not its computed arn.
    outputs = {k: v for block in tf.load_dir(CI)["output"] for k, v in block.items()}
    assert outputs["deploy_role_arn"]["value"].endswith(":role/${aws_iam_role.deploy.name}")


def test_roles_carry_only_their_own_inline_policies() -> None:
    assert not resources(CI, "aws_iam_role_policy_attachment")
    assert not resources(CI, "aws_iam_policy_attachment")
    policies = resources(CI, "aws_iam_role_policy")
    assert {name: body["role"] for name, body in policies.items()} == {
        "ecr_push": "${aws_iam_role.ecr_push.id}",
        "deploy": "${aws_iam_role.deploy.id}",
    }
    for name, body in policies.items():
        assert body["policy"] == f"${{data.aws_iam_policy_document.{name}.json}}"


# ---------------------------------------------------------------------------------------------
# The release gate's upload role (staging): providers/<provider>/ only, from the deploy role
# ---------------------------------------------------------------------------------------------
def gates() -> dict[str, Any]:
    with (ROOT / "benchmarks" / "gates.toml").open("rb") as stream:
        environments: dict[str, Any] = tomllib.load(stream)["environments"]
    return environments


@pytest.mark.parametrize("environment", ENVIRONMENTS)
def test_the_gate_upload_provider_is_the_gates_provider(environment: str) -> None:
    ingest = gates()[environment].get("ingest")
    configured = tf.env_platform(environment).get("gate_upload_provider")
    assert configured == (ingest["provider"] if ingest else None)


def test_only_the_deploy_role_assumes_the_gate_upload_role_with_an_external_id() -> None:
    gate = module_locals(PLATFORM)["gate_upload_providers"]
    assert "principal_arns = [module.ci_identities.deploy_role_arn]" in gate
    assert "external_id = random_password.gate_upload_external_id[0].result" in gate
    storage = tf.module_calls(PLATFORM)["storage"]
    assert storage["upload_providers"] == (
        "${merge(var.upload_providers, local.gate_upload_providers)}"
    )
    external_id = resource(PLATFORM, "random_password", "gate_upload_external_id")
    assert external_id["length"] >= 16, "modules/storage requires 16 characters or more"
    # What the upload role may do is modules/storage's (PutObject under providers/<name>/,
    # sts:ExternalId in its trust): tests/infra/test_infra_terraform.py checks it.


def test_environments_output_what_docs_release_md_asks_operators_to_configure() -> None:
    guide = (ROOT / "docs" / "release.md").read_text(encoding="utf-8")
    wanted = {
        "ecr_push_role_arn": False,
        "deploy_role_arn": False,
        "gate_upload_role_arn": False,
        "gate_upload_external_id": True,
    }
    for environment in ENVIRONMENTS:
        outputs = {
            k: v for block in tf.load_dir(tf.ENVS / environment)["output"] for k, v in block.items()
        }
        gated = tf.env_platform(environment).get("gate_upload_provider") is not None
        for name, sensitive in wanted.items():
            if name.startswith("gate_") and not gated:
                assert name not in outputs, (environment, name)
                continue
            assert outputs[name]["value"] == f"${{module.platform.{name}}}", (environment, name)
            assert outputs[name].get("sensitive", False) is sensitive, (environment, name)
            assert f"`{name}`" in guide, f"docs/release.md does not name output {name}"
