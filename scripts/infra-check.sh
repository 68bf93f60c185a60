#!/usr/bin/env bash
# Offline checks of everything that deploys moviestore: the Dockerfile, deploy/k8s,
# infra/terraform and the GitHub workflows. Needs only PyPI; exits non-zero on the first
# failing step.
#
#   scripts/infra-check.sh            # all steps
#   KEEP_RENDERED=DIR scripts/infra-check.sh   # also keep the rendered overlays in DIR
#   INFRA_NO_KUSTOMIZE=1 scripts/infra-check.sh # render with tests/infra/render.py only, as
#                                               # where kustomize is not installed
#
# Tools live in $ROOT/.venv-infra, (re)built only when requirements/infra.lock changes.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv-infra"
CHECKOV_VENV="$VENV/opt/checkov"
UV_VENV="$VENV/opt/uv"
LOCK="$ROOT/requirements/infra.lock"
UV_LOCK="$ROOT/requirements/bootstrap.lock"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }
die() { printf 'infra-check: %s\n' "$*" >&2; exit 1; }

# The lock without the named packages' entries. checkov pins bc-python-hcl2, which installs the
# same top-level `hcl2` package as python-hcl2: one environment cannot hold both, so the tests'
# environment drops checkov and its fork, and checkov's environment drops python-hcl2.
lock_without() {
    python3 - "$LOCK" "$@" <<'PY'
import re, sys
lock, drop = sys.argv[1], set(sys.argv[2:])
keep = True
for line in open(lock, encoding="utf-8"):
    head = re.match(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==", line)
    if head:
        keep = re.sub(r"[-_.]+", "-", head.group(1).lower()) not in drop
    elif not line.startswith((" ", "\t")):
        keep = True
    if keep:
        sys.stdout.write(line)
PY
}

ensure_tools() {
    local stamp="$VENV/.lock-stamp" want
    want="$(cat "$LOCK" "$UV_LOCK" | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
        return
    fi
    log "installing the pinned infrastructure tools into $VENV"
    python3 -c 'import venv, ensurepip' 2>/dev/null ||
        die "python3 cannot create virtualenvs: install Debian's python3-venv"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    printf '*\n' >"$VENV/.gitignore"
    python3 -m venv "$UV_VENV"
    "$UV_VENV/bin/python" -m pip install -q --disable-pip-version-check --require-hashes -r "$UV_LOCK"
    python3 -m venv "$CHECKOV_VENV"
    lock_without checkov bc-python-hcl2 >"$VENV/tests.lock"
    lock_without python-hcl2 >"$VENV/checkov.lock"
    "$UV_VENV/bin/uv" pip sync -q --compile-bytecode --python "$VENV/bin/python" --require-hashes "$VENV/tests.lock"
    "$UV_VENV/bin/uv" pip sync -q --compile-bytecode --python "$CHECKOV_VENV/bin/python" --require-hashes "$VENV/checkov.lock"
    echo "$want" >"$stamp"
}

ensure_tools
PY="$VENV/bin/python"
CHECKOV="$CHECKOV_VENV/bin/checkov"
cd "$ROOT"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
RENDERED="${KEEP_RENDERED:-$WORK/rendered}"
mkdir -p "$RENDERED"

log "render the kustomize targets"
"$PY" tests/infra/render.py --out-dir "$RENDERED"
if "$PY" tests/infra/render.py --engine-available >/dev/null; then
    log "compare tests/infra/render.py with $("$PY" tests/infra/render.py --engine-available)"
    "$PY" tests/infra/render.py --check-fidelity
else
    log "neither kustomize nor kubectl is installed (not in Debian's archive): no fidelity check"
fi

# Against the Kubernetes version of every environment's EKS cluster.
read -r -a k8s_versions <<<"$("$PY" tests/infra/tf.py eks-versions)"
[ "${#k8s_versions[@]}" -gt 0 ] || die "no EKS version found in infra/terraform/envs"
version_args=()
for version in "${k8s_versions[@]}"; do version_args+=(-k "$version"); done
log "kubernetes-validate --strict against Kubernetes ${k8s_versions[*]} (base files and rendered targets)"
mapfile -t base_files < <("$PY" tests/infra/render.py --list-resource-files deploy/k8s/base)
out="$("$VENV/bin/kubernetes-validate" --strict --quiet "${version_args[@]}" \
    "${base_files[@]}" "$RENDERED"/*.yaml 2>&1)" || { printf '%s\n' "$out"; die "kubernetes-validate failed"; }
# Custom resources have no schema there: tests/infra/test_infra_k8s_schemas.py validates them
# against tests/infra/crd_schemas.yaml. Any other kind without a schema is a failure.
unknown="$(printf '%s\n' "$out" | grep -E '^WARN' |
    grep -vE "kind (ExternalSecret|SecretStore|ServiceMonitor|PrometheusRule|ScaledObject|TriggerAuthentication) with api version (external-secrets.io/v1|monitoring.coreos.com/v1|keda.sh/v1alpha1) " || true)"
[ -z "$unknown" ] || { printf '%s\n' "$unknown"; die "manifests of kinds without a schema"; }
if printf '%s\n' "$out" | grep -E '^(ERROR|FATAL)'; then die "kubernetes-validate reported errors"; fi

# GitHub's workflow schema ships inside check-jsonschema (requirements/infra.lock pins the
# version, hence the schema): no download. tests/infra/test_infra_workflows.py checks the rest.
log "check-jsonschema: .github/workflows and dependabot.yml against their schemas"
"$VENV/bin/check-jsonschema" --builtin-schema vendor.github-workflows .github/workflows/*.yml
"$VENV/bin/check-jsonschema" --builtin-schema vendor.dependabot .github/dependabot.yml

if command -v terraform >/dev/null; then
    log "terraform fmt -check -recursive infra/terraform"
    terraform fmt -check -recursive -diff infra/terraform
else
    log "terraform is not installed (not in Debian's archive): no terraform fmt -check"
fi

# One checkov run (it takes seconds to start) over one directory that mirrors the repository:
# the Terraform, the base manifests, every rendered target (overlays and components included),
# the Dockerfile, the GitHub workflows, docs/operations.md and docs/release.md; secrets are
# looked for in all of them. Registry modules are not downloaded (offline): checkov warns so,
# and checks the module calls.
log "checkov: terraform, kubernetes (base and rendered targets), dockerfile, github actions, secrets"
SCAN="$WORK/scan"
mkdir -p "$SCAN/infra" "$SCAN/deploy/k8s" "$SCAN/docs" "$SCAN/.github"
cp -R infra/terraform "$SCAN/infra/"
cp -R deploy/k8s/base "$SCAN/deploy/k8s/"
cp -R "$RENDERED" "$SCAN/rendered"
cp Dockerfile "$SCAN/"
cp docs/operations.md docs/release.md "$SCAN/docs/"
cp -R .github/workflows "$SCAN/.github/"
"$CHECKOV" --quiet --compact --skip-download \
    --framework terraform kubernetes dockerfile github_actions secrets -d "$SCAN"

log "pytest tests/infra"
"$PY" -m pytest -c tests/infra/pytest.ini -q tests/infra

log "infrastructure checks passed"
