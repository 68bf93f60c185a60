# mypy: disable-error-code="import-untyped,import-not-found"
# (PyYAML comes from requirements/infra.lock, without stubs.)
"""The release pipeline (.github/workflows, .github/scripts/deploy.sh): pinned, least-privileged,
bounded in time, and production reached only through a passed staging gate, with a rollback on
every failure. GitHub's own schema is checked by check-jsonschema (scripts/infra-check.sh);
these tests check what a schema cannot. Nothing here talks to GitHub or AWS.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.infra import render
from tests.infra.k8s import NAMESPACE, Object, containers, find, find_all
from tests.infra.tf import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY_SH = ROOT / ".github" / "scripts" / "deploy.sh"
RELEASE_DOC = ROOT / "docs" / "release.md"

Workflow = dict[str, Any]
Job = dict[str, Any]
Step = dict[str, Any]

SHA_PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")
USES_LINE = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?:\s+#\s*(?P<comment>.*))?$")
EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.DOTALL)
DIGEST = "sha256:" + "0123456789abcdef" * 4
COMPONENT = "app.kubernetes.io/component"


@cache
def workflow(name: str) -> Workflow:
    with (WORKFLOWS / name).open(encoding="utf-8") as stream:
        loaded: dict[Any, Any] = yaml.safe_load(stream)
    # YAML 1.1 reads the key `on` as the boolean true.
    return {("on" if key is True else key): value for key, value in loaded.items()}


def workflow_names() -> list[str]:
    return sorted(path.name for path in WORKFLOWS.iterdir() if path.is_file())


def jobs(name: str) -> dict[str, Job]:
    found: dict[str, Job] = workflow(name)["jobs"]
    return found


def steps(job: Job) -> list[Step]:
    found: list[Step] = job.get("steps", [])
    return found


def step(job: Job, *, uses: str | None = None, runs: str | None = None) -> Step:
    """The one step of a job that uses an action (prefix) or whose script contains a text."""
    matches = [
        s
        for s in steps(job)
        if (uses is not None and str(s.get("uses", "")).startswith(uses))
        or (runs is not None and runs in str(s.get("run", "")))
    ]
    assert len(matches) == 1, f"expected one step {uses or runs!r}, found {len(matches)}"
    return matches[0]


def index(job: Job, wanted: Step) -> int:
    return next(i for i, s in enumerate(steps(job)) if s is wanted)


def all_steps() -> list[Any]:
    return [
        pytest.param(name, job_name, s, id=f"{name}:{job_name}:{s.get('name', i)}")
        for name in workflow_names()
        for job_name, job in jobs(name).items()
        for i, s in enumerate(steps(job))
    ]


def deploy_job() -> Job:
    return jobs("deploy.yml")["deploy"]


def deploy_sh_constant(name: str) -> str:
    match = re.search(rf"^{name}=(\S+)$", DEPLOY_SH.read_text(encoding="utf-8"), re.MULTILINE)
    assert match, f"{name} is not set in {DEPLOY_SH.name}"
    return match.group(1)


def minutes(duration: str) -> int:
    value, unit = re.fullmatch(r"(\d+)([sm])", duration).groups()  # type: ignore[union-attr]
    return int(value) // 60 if unit == "s" else int(value)


# ---------------------------------------------------------------------------------------------
# Every workflow: schema-checked, pinned, bounded, least privilege
# ---------------------------------------------------------------------------------------------
def test_the_workflows_are_ci_release_and_deploy_all_seen_by_the_schema_check() -> None:
    # scripts/infra-check.sh validates .github/workflows/*.yml: a .yaml file would escape it.
    assert workflow_names() == ["ci.yml", "deploy.yml", "release.yml"]
    script = (ROOT / "scripts" / "infra-check.sh").read_text(encoding="utf-8")
    assert "--builtin-schema vendor.github-workflows .github/workflows/*.yml" in script


@pytest.mark.parametrize("name", workflow_names())
def test_every_action_is_local_or_pinned_by_commit_sha_with_its_release(name: str) -> None:
    for line in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines():
        match = USES_LINE.match(line)
        if not match:
            continue
        ref = match.group("ref")
        if ref.startswith("./"):
            assert (ROOT / ref).is_file(), ref
            continue
        assert SHA_PINNED.match(ref), f"{name}: {ref} is not pinned by a full commit SHA"
        assert re.fullmatch(r"v\d+(\.\d+){1,2}", match.group("comment") or ""), (
            f"{name}: {ref} needs its release as a comment (# vX.Y.Z)"
        )


def test_one_action_one_sha_one_release_everywhere() -> None:
    pins: dict[str, set[tuple[str, str]]] = {}
    for name in workflow_names():
        for line in (WORKFLOWS / name).read_text(encoding="utf-8").splitlines():
            match = USES_LINE.match(line)
            if match and not match.group("ref").startswith("./"):
                action, sha = match.group("ref").split("@")
                pins.setdefault(action, set()).add((sha, match.group("comment")))
    for action, versions in pins.items():
        assert len(versions) == 1, f"{action} is pinned to several commits: {versions}"


@pytest.mark.parametrize("name", workflow_names())
def test_every_job_has_a_timeout_or_calls_a_local_workflow_that_has(name: str) -> None:
    for job_name, job in jobs(name).items():
        if "uses" in job:
            called = job["uses"]
            assert called.startswith("./.github/workflows/"), f"{name}: {job_name} calls {called}"
            continue  # the called workflow's own jobs are checked by this same test
        timeout = job.get("timeout-minutes")
        assert isinstance(timeout, int) and 0 < timeout <= 180, f"{name}: {job_name}: {timeout}"
        timed = [s.get("timeout-minutes", 0) for s in steps(job)]
        assert sum(timed) <= timeout - 10, f"{name}: {job_name}: step timeouts exceed the job's"


@pytest.mark.parametrize("name", workflow_names())
def test_permissions_are_least_privilege(name: str) -> None:
    assert workflow(name)["permissions"] == {"contents": "read"}
    for job_name, job in jobs(name).items():
        permissions = job.get("permissions", {"contents": "read"})
        assert permissions in ({"contents": "read"}, {"contents": "read", "id-token": "write"}), (
            f"{name}: {job_name}: {permissions}"
        )
        if permissions.get("id-token") == "write":
            # Only jobs that exchange GitHub's OIDC token for an AWS role get to mint one.
            assumes_role = job.get("uses") == "./.github/workflows/deploy.yml" or any(
                str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@")
                for s in steps(job)
            )
            assert assumes_role, f"{name}: {job_name} has id-token: write without an AWS role"


@pytest.mark.parametrize("name", workflow_names())
def test_aws_access_is_oidc_roles_from_variables_and_no_secret_is_used(name: str) -> None:
    text = (WORKFLOWS / name).read_text(encoding="utf-8")
    assert "secrets." not in text, "no long-lived secret: roles are assumed with OIDC"
    for job in jobs(name).values():
        for s in steps(job):
            if str(s.get("uses", "")).startswith("aws-actions/configure-aws-credentials@"):
                inputs = s["with"]
                assert re.fullmatch(r"\$\{\{ vars\.[A-Z_]+_ROLE_ARN \}\}", inputs["role-to-assume"])
                assert not {"aws-access-key-id", "aws-secret-access-key"} & set(inputs)


@pytest.mark.parametrize(("name", "job_name", "s"), all_steps())
def test_scripts_take_values_through_env_and_parse(name: str, job_name: str, s: Step) -> None:
    """No ${{ }} inside a script (GitHub would paste the value into the shell: injection);
    every script is valid bash."""
    script = s.get("run")
    if script is None:
        return
    assert not EXPRESSION.search(script), f"{name}: {job_name}: {script[:60]!r}"
    subprocess.run(["bash", "-n", "-c", script], check=True)


def test_every_variable_the_workflows_read_is_documented() -> None:
    doc = RELEASE_DOC.read_text(encoding="utf-8")
    used = {
        variable
        for name in workflow_names()
        for variable in re.findall(r"vars\.([A-Z0-9_]+)", (WORKFLOWS / name).read_text("utf-8"))
    }
    assert used
    for variable in used:
        assert f"`{variable}`" in doc, f"{variable} is not described in docs/release.md"
    for page in ("README.md", "docs/operations.md"):
        assert "release.md" in (ROOT / page).read_text(encoding="utf-8"), page


# ---------------------------------------------------------------------------------------------
# ci.yml: the README's test command on every push and pull request
# ---------------------------------------------------------------------------------------------
def test_ci_runs_the_readme_test_command_on_every_push_and_pull_request() -> None:
    ci = workflow("ci.yml")
    assert set(ci["on"]) == {"push", "pull_request", "workflow_call"}
    assert ci["on"]["push"] is None and ci["on"]["pull_request"] is None, "no branch filter"
    assert ci["concurrency"]["cancel-in-progress"] is True
    (job,) = jobs("ci.yml").values()
    assert "./scripts/test.sh" in (ROOT / "README.md").read_text(encoding="utf-8")
    assert steps(job)[-1]["run"] == "./scripts/test.sh"
    python = step(job, uses="actions/setup-python@")["with"]["python-version"]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert f"FROM python:{python}-slim" in dockerfile, "CI tests the image's Python"
    rust = step(job, runs="rustup toolchain install")["run"]
    assert "stable" in rust and "rustfmt" in rust and "clippy" in rust
    cached = " ".join(
        str(s["with"]["path"]) for s in steps(job) if "actions/cache@" in s.get("uses", "")
    )
    for path in ("~/.cargo/registry", "target/", "~/.cache/uv"):
        assert path in cached, path


# ---------------------------------------------------------------------------------------------
# release.yml: one build, staging and its gate, then production and its gate
# ---------------------------------------------------------------------------------------------
def test_release_runs_on_version_tags_one_release_at_a_time() -> None:
    release = workflow("release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    assert release["concurrency"]["cancel-in-progress"] is False
    assert deploy_job()["concurrency"]["cancel-in-progress"] is False


def test_release_tests_the_commit_before_deploying_it() -> None:
    release_jobs = jobs("release.yml")
    assert release_jobs["test"]["uses"] == "./.github/workflows/ci.yml"
    assert {"test", "wheel", "image"} <= set(release_jobs["staging"]["needs"])


def test_the_wheel_is_built_by_maturin_at_the_locked_version() -> None:
    maturin = step(jobs("release.yml")["wheel"], uses="PyO3/maturin-action@")["with"]
    assert "--release" in maturin["args"] and "--locked" in maturin["args"]
    assert maturin["manylinux"]
    lock = (ROOT / "requirements" / "dev.lock").read_text(encoding="utf-8")
    locked = re.search(r"^maturin==(\S+) ", lock, re.MULTILINE)
    assert locked and maturin["maturin-version"] == f"v{locked.group(1)}"


def test_the_image_is_built_once_tagged_with_git_tag_and_sha_for_both_registries() -> None:
    image = jobs("release.yml")["image"]
    build = step(image, uses="docker/build-push-action@")
    assert build["with"]["push"] is True and build["with"]["context"] == "."
    tags = build["with"]["tags"].splitlines()
    for registry in ("steps.repos.outputs.staging", "steps.repos.outputs.production"):
        assert f"${{{{ {registry} }}}}:${{{{ github.ref_name }}}}" in tags
        assert f"${{{{ {registry} }}}}:${{{{ github.sha }}}}" in tags
    assert image["outputs"]["digest"] == "${{ steps.build.outputs.digest }}"
    # Deploys take that digest; nothing downstream builds an image again.
    deploy_text = (WORKFLOWS / "deploy.yml").read_text(encoding="utf-8")
    assert "build-push-action" not in deploy_text and "docker build" not in deploy_text
    for environment in ("staging", "production"):
        call = jobs("release.yml")[environment]
        assert call["uses"] == "./.github/workflows/deploy.yml"
        assert call["with"]["environment"] == environment
        assert call["with"]["digest"] == "${{ needs.image.outputs.digest }}"


def needs(job: Job) -> list[str]:
    value = job.get("needs", [])
    return [value] if isinstance(value, str) else list(value)


def test_production_is_deployed_only_after_the_staging_gate_passed() -> None:
    release_jobs = jobs("release.yml")
    production = release_jobs["production"]
    assert "staging" in needs(production)
    # No `if`: the default success() skips production unless staging, its gate included, passed.
    assert "if" not in production and "if" not in release_jobs["staging"]
    # In deploy.yml the gate runs after the deploy, and nothing lets either fail softly.
    job = deploy_job()
    deploy, gate = step(job, runs="deploy.sh apply"), step(job, runs="moviestore bench gate")
    assert index(job, deploy) < index(job, gate)
    for s in (deploy, gate):
        assert "if" not in s and "continue-on-error" not in s


def test_the_gate_runs_against_the_environment_and_its_reports_are_kept() -> None:
    job = deploy_job()
    command = step(job, runs="moviestore bench gate")["run"].splitlines()[-1].strip()
    assert command == (
        'moviestore bench gate --host "$API_URL" --env "$ENVIRONMENT" --out "$GATE_REPORTS"'
    ), "the load and the limits are benchmarks/gates.toml's, never overridden by the release"
    upload = step(job, uses="actions/upload-artifact@")
    assert upload["with"]["path"].startswith("${{ env.GATE_REPORTS }}")
    assert "always()" in upload["if"]
    assert job["environment"]["name"] == "${{ inputs.environment }}"
    assert job["env"]["API_URL"] == "${{ vars.API_URL }}"


def test_the_production_gate_is_smaller_and_read_only() -> None:
    with (ROOT / "benchmarks" / "gates.toml").open("rb") as stream:
        gates = tomllib.load(stream)["environments"]
    staging, production = gates["staging"], gates["production"]
    assert production["load"]["users"] < staging["load"]["users"]
    assert "ingest" not in production, "the provider scenario would serve test movies to clients"


def test_a_failed_rollout_or_gate_rolls_the_deployments_back() -> None:
    job = deploy_job()
    record = step(job, runs="deploy.sh revisions")
    apply = step(job, runs="deploy.sh apply")
    gate = step(job, runs="moviestore bench gate")
    rollback = step(job, runs="deploy.sh rollback")
    assert index(job, record) < index(job, apply) < index(job, gate) < index(job, rollback)
    condition = rollback["if"]
    for part in ("failure()", "cancelled()", f"steps.{record['id']}.outcome == 'success'"):
        assert part in condition, part
    # Fresh credentials just before, under the same condition.
    refresh = steps(job)[index(job, rollback) - 1]
    assert refresh["uses"].startswith("aws-actions/configure-aws-credentials@")
    assert refresh["if"] == condition
    # A step that fails after the apply rolls back; only reporting may not fail the job.
    for s in steps(job)[index(job, apply) :]:
        if s.get("continue-on-error"):
            assert "actions/upload-artifact@" in s.get("uses", "") or "SUMMARY" in s.get("run", "")


# ---------------------------------------------------------------------------------------------
# .github/scripts/deploy.sh: the objects it names exist, the image override pins every container
# ---------------------------------------------------------------------------------------------
def test_deploy_script_parses() -> None:
    subprocess.run(["bash", "-n", str(DEPLOY_SH)], check=True)


@pytest.mark.parametrize("overlay", ["staging", "production", "production-keda"])
def test_the_release_override_pins_every_container_to_the_digest(
    rendered: dict[str, list[Object]], overlay: str, tmp_path: Path
) -> None:
    (repository,) = {
        re.sub(r"(@sha256:[0-9a-f]+|:[^:/]+)$", "", c["image"])
        for obj in rendered[overlay]
        if obj["kind"] in ("Deployment", "Job")
        for c in containers(obj)
    }
    image = f"{repository}@{DIGEST}"
    subprocess.run([str(DEPLOY_SH), "wrap", overlay, image, str(tmp_path)], check=True)
    released = render.render(tmp_path)
    assert len(released) == len(rendered[overlay])
    workloads = [o for o in released if o["kind"] in ("Deployment", "Job")]
    assert workloads
    for obj in workloads:
        assert {c["image"] for c in containers(obj)} == {image}, obj["metadata"]["name"]
    if shutil.which("kubectl"):
        found = subprocess.run(
            [str(DEPLOY_SH), "image-repo", overlay], capture_output=True, text=True, check=True
        ).stdout.strip()
        assert found == repository


@pytest.mark.parametrize("image", ["moviestore:v1.2.3", "repo.example/moviestore@sha256:abc"])
def test_the_release_override_refuses_anything_but_a_digest(image: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(DEPLOY_SH), "wrap", "staging", image, str(tmp_path)], capture_output=True, check=False
    )
    assert result.returncode != 0
    assert not (tmp_path / "kustomization.yaml").exists()


def test_deploy_script_names_what_the_manifests_define(
    rendered: dict[str, list[Object]],
) -> None:
    script = DEPLOY_SH.read_text(encoding="utf-8")
    assert deploy_sh_constant("NAMESPACE") == NAMESPACE
    assert "externalsecret/moviestore" in script
    label, value = deploy_sh_constant("SELECTOR").split("=")
    migration_timeout = int(deploy_sh_constant("MIGRATION_TIMEOUT_SECONDS"))
    rollout_timeout = minutes(deploy_sh_constant("ROLLOUT_TIMEOUT")) * 60
    step_budget = step(deploy_job(), runs="deploy.sh apply")["timeout-minutes"] * 60
    rollback_budget = step(deploy_job(), runs="deploy.sh rollback")["timeout-minutes"] * 60
    for target in ("staging", "production", "production-keda"):
        objects = rendered[target]
        find(objects, "ExternalSecret", "moviestore")
        job = find(objects, "Job", deploy_sh_constant("MIGRATION_JOB"))
        deployments = find_all(objects, "Deployment")
        assert deployments and all(d["metadata"]["labels"][label] == value for d in deployments)
        components = {o["metadata"].get("labels", {}).get(COMPONENT) for o in objects}
        assert {"api", "worker", "migrate"} <= components, "the script applies by component"
        # The script's waits outlast Kubernetes' own deadlines, so Kubernetes decides...
        assert migration_timeout > job["spec"]["activeDeadlineSeconds"]
        for deployment in deployments:
            assert rollout_timeout > deployment["spec"]["progressDeadlineSeconds"]
        # ...and the workflow's steps leave time for all of them.
        assert step_budget >= migration_timeout + rollout_timeout * len(deployments)
        assert rollback_budget >= rollout_timeout * len(deployments)


# A kubectl that records its arguments and answers the few queries deploy.sh makes.
FAKE_KUBECTL = """#!/usr/bin/env bash
echo "$*" >>"$FAKE_LOG"
case "$*" in
    *"get deployments"*"-o name"*) printf 'deployment.apps/moviestore-api\\n' ;;
    *"get deployments"*jsonpath*) printf 'moviestore-api 7\\nmoviestore-worker \\n' ;;
    *"get job/moviestore-migrate"*) printf '%s ' "$FAKE_JOB_STATE" ;;
    *"rollout undo"*) [ -z "$FAKE_UNDO_FAILS" ] ;;
esac
"""


def run_deploy_sh(
    tmp_path: Path, *args: str, job_state: str = "Complete", undo_fails: bool = False
) -> tuple[int, list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    kubectl = bin_dir / "kubectl"
    kubectl.write_text(FAKE_KUBECTL, encoding="utf-8")
    kubectl.chmod(0o755)
    log = tmp_path / "kubectl.log"
    log.write_text("", encoding="utf-8")
    environment = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "FAKE_LOG": str(log),
        "FAKE_JOB_STATE": job_state,
        "FAKE_UNDO_FAILS": "1" if undo_fails else "",
    }
    result = subprocess.run(
        [str(DEPLOY_SH), *args], env=environment, capture_output=True, text=True, check=False
    )
    return result.returncode, log.read_text(encoding="utf-8").splitlines()


def test_deploy_runs_the_migration_to_completion_before_the_workloads(tmp_path: Path) -> None:
    status, calls = run_deploy_sh(tmp_path, "apply", "release.yaml")
    assert status == 0
    assert calls == [
        "apply -f release.yaml -l app.kubernetes.io/component notin (api,worker,migrate)",
        "-n moviestore wait externalsecret/moviestore --for=condition=Ready --timeout=2m",
        "-n moviestore delete job/moviestore-migrate --ignore-not-found --wait",
        "apply -f release.yaml -l app.kubernetes.io/component=migrate",
        calls[4],  # the Job's conditions
        "apply -f release.yaml",
        "-n moviestore get deployments -l app.kubernetes.io/part-of=moviestore -o name",
        "-n moviestore rollout status deployment.apps/moviestore-api --timeout=20m",
    ]
    assert calls[4].startswith("-n moviestore get job/moviestore-migrate")


def test_a_failed_migration_stops_the_deploy_before_the_workloads(tmp_path: Path) -> None:
    status, calls = run_deploy_sh(tmp_path, "apply", "release.yaml", job_state="Failed")
    assert status != 0
    assert "apply -f release.yaml" not in calls
    assert calls[-1] == "-n moviestore logs job/moviestore-migrate --tail=200"


def test_rollback_returns_each_deployment_to_its_recorded_revision(tmp_path: Path) -> None:
    revisions = tmp_path / "revisions.txt"
    status, _ = run_deploy_sh(tmp_path, "revisions", str(revisions))
    assert status == 0
    status, calls = run_deploy_sh(tmp_path, "rollback", str(revisions))
    assert status == 0
    # The worker had no revision (created by this release): it is left alone.
    assert calls == [
        "-n moviestore rollout undo deployment/moviestore-api --to-revision=7",
        "-n moviestore rollout status deployment/moviestore-api --timeout=20m",
    ]
    status, _ = run_deploy_sh(tmp_path, "rollback", str(revisions), undo_fails=True)
    assert status != 0, "a rollback that did not happen must fail loudly"
