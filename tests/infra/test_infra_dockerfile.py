"""The container image: multi-stage, hash-pinned, non-root, fit for a read-only root filesystem.

No Docker engine runs here: checkov lints the Dockerfile (scripts/infra-check.sh) and these
tests read it, and execute the parts that can run without one.
"""

from __future__ import annotations

import json
import re
import subprocess
import tomllib
from dataclasses import dataclass, field

import pytest

from tests.infra import render
from tests.infra.k8s import pod_spec, workloads
from tests.infra.tf import ROOT

DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"


@dataclass
class Stage:
    image: str
    name: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def commands(self, instruction: str) -> list[str]:
        return [args for name, args in self.instructions if name == instruction]


def stages() -> list[Stage]:
    """The stages of the Dockerfile, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n\s*", " ", DOCKERFILE.read_text(encoding="utf-8"))
    parsed: list[Stage] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            image, _, name = arguments.partition(" AS ")
            parsed.append(Stage(image=image.strip(), name=name.strip()))
        else:
            assert parsed, "instruction before the first FROM"
            parsed[-1].instructions.append((instruction, arguments.strip()))
    return parsed


def by_name() -> dict[str, Stage]:
    return {stage.name: stage for stage in stages()}


def test_three_stages_build_install_and_run() -> None:
    assert [stage.name for stage in stages()] == ["wheel", "install", "runtime"]
    named = by_name()
    for stage in stages():
        assert re.fullmatch(r"[\w./-]+:[\w.-]+(@sha256:[0-9a-f]{64})?", stage.image), stage.image
        assert ":latest" not in stage.image
    # The venv built in `install` must run on the same Python in `runtime`.
    assert named["install"].image == named["runtime"].image
    assert named["runtime"].image.startswith("python:3.11-slim")


def test_the_wheel_is_built_with_maturin_from_the_locked_sources() -> None:
    wheel = by_name()["wheel"]
    runs = " ".join(wheel.commands("RUN"))
    assert "maturin build --release --locked" in runs
    assert "--require-hashes" in runs
    copied = " ".join(wheel.commands("COPY"))
    for source in ("Cargo.toml", "Cargo.lock", "pyproject.toml", "rust/", "python/"):
        assert source in copied


def test_maturin_comes_with_the_hashes_of_the_dev_lock() -> None:
    """Run the Dockerfile's own extraction of maturin from requirements/dev.lock."""
    (command,) = [run for run in by_name()["wheel"].commands("RUN") if "sed -n" in run]
    extraction = command.split(">", 1)[0]
    output = subprocess.run(
        ["bash", "-c", extraction], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    requirements = [line for line in output.splitlines() if re.match(r"^[A-Za-z0-9]", line)]
    assert len(requirements) == 1
    assert requirements[0].startswith("maturin==")
    assert output.count("--hash=sha256:") >= 1


def test_the_runtime_installs_only_binary_hash_pinned_packages() -> None:
    install = " ".join(by_name()["install"].commands("RUN"))
    assert "--require-hashes -r /tmp/runtime.lock" in install
    assert "--only-binary=:all:" in install
    assert "--no-deps /tmp/wheels/moviestore-" in install
    assert "pip check" in install, "the wheel's dependencies must all come from the lock"


def test_runtime_lock_pins_every_runtime_dependency() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    lock = (ROOT / "requirements" / "runtime.lock").read_text(encoding="utf-8")
    pinned = {
        re.sub(r"[-_.]+", "-", match.lower())
        for match in re.findall(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", lock, flags=re.MULTILINE)
    }
    for requirement in project.get("dependencies", []):
        name = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", requirement)
        assert name
        normalized = re.sub(r"[-_.]+", "-", name.group(0).lower())
        assert normalized in pinned, (
            f"{normalized} is missing from requirements/runtime.lock: regenerate it with "
            "uv pip compile --universal --python-version 3.11 --generate-hashes "
            "pyproject.toml -o requirements/runtime.lock"
        )


def test_the_runtime_has_no_build_tools_and_runs_as_the_pods_user() -> None:
    runtime = by_name()["runtime"]
    runs = " ".join(runtime.commands("RUN"))
    for tool in ("apt-get install", "gcc", "cargo", "rustc", "build-essential", "pip install"):
        assert tool not in runs, tool
    assert not runtime.commands("ADD")
    (user,) = runtime.commands("USER")
    uid, _, gid = user.partition(":")
    assert uid.isdigit() and int(uid) >= 10000
    copied = runtime.commands("COPY")
    assert copied == ["--from=install /opt/venv /opt/venv"]
    env = " ".join(runtime.commands("ENV"))
    assert "PYTHONDONTWRITEBYTECODE=1" in env, "no .pyc writes on a read-only root filesystem"
    for objects in render_all():
        for workload in workloads(objects):
            context = pod_spec(workload)["securityContext"]
            assert (context["runAsUser"], context["runAsGroup"]) == (int(uid), int(gid))


def render_all() -> list[list[dict[str, object]]]:
    return [render.render(path) for path in render.targets().values()]


def test_one_entrypoint_for_api_worker_and_migrate() -> None:
    runtime = by_name()["runtime"]
    (entrypoint,) = runtime.commands("ENTRYPOINT")
    assert json.loads(entrypoint) == ["moviestore"]
    (cmd,) = runtime.commands("CMD")
    assert json.loads(cmd) == ["api"]
    (expose,) = runtime.commands("EXPOSE")
    assert set(expose.split()) == {"8080", "9090"}


@pytest.mark.parametrize("excluded", ["**/*.so", "**/target/", "**/__pycache__/"])
def test_build_context_is_an_allowlist_without_host_build_outputs(excluded: str) -> None:
    lines = [
        line.strip()
        for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"
    assert excluded in lines
    allowed = {line[1:] for line in lines if line.startswith("!")}
    copied = " ".join(
        args for stage in stages() for name, args in stage.instructions if name == "COPY"
    )
    for path in re.findall(
        r"(?<![\w/=-])((?:requirements|rust|python)/[\w./-]*|[\w-]+\.(?:toml|lock|md))", copied
    ):
        assert any(path == entry or path.startswith(entry) for entry in allowed), path
