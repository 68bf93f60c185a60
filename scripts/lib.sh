# Shared by scripts/dev.sh and scripts/test.sh: make this checkout ready to run, idempotently.
# Sourced, not executed. Installs only what is missing, so a second run takes seconds.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
PY="$VENV/bin/python"
export PATH="$VENV/bin:$HOME/.cargo/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

as_root() {
    if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# Every program that the scripts, the tests and the benchmarks run, and the Debian packages that
# bring it: "command:packages" (a path pattern where the program is not on PATH). The missing ones
# are installed; nothing may count on a program that merely happens to be on the machine, and
# tests/e2e/test_tools.py fails on a program the code runs that is not declared here. No
# package: not in Debian's archive, so optional; the step that would use it says when it does not
# run. Debian's essential tools (coreutils, grep, sed, ...) are always there.
TOOLS=(
    "cc:gcc libc6-dev"            # C code of Rust crates
    "c++:g++"                     # libFuzzer (scripts/fuzz.sh)
    "cargo:cargo rustc"           # only when no Rust toolchain is installed (rustup's comes first)
    "rustc:rustc"
    "git:git"
    "bash:bash"                   # also run by tests/infra
    "curl:curl"                   # the README's examples
    "/usr/lib/postgresql/*/bin/postgres:postgresql"  # the local stack, pg_trgm included
    "redis-server:redis-server"   # the local stack; TLS for tests/integration/test_redis_pipe.py
    "runuser:util-linux"          # PostgreSQL runs as its own user when we are root
    "useradd:passwd"
    "nice:coreutils"              # benchmarks/api_churn.py: the worker at the lowest priority
    "wrk:wrk"                     # benchmarks/bench_api.py
    "chromium:chromium"           # the API's docs page, opened headless by its test
    "kubectl:"                    # scripts/infra-check.sh: kustomize engines compared with
    "kustomize:"                  #   tests/infra/render.py, which renders without them
    "terraform:"                  # scripts/infra-check.sh: terraform fmt -check
)

have() {
    case "$1" in
        /*) compgen -G "$1" >/dev/null ;;
        *) command -v "$1" >/dev/null ;;
    esac
}

ensure_system_packages() {
    local missing=() entry
    for entry in "${TOOLS[@]}"; do
        local packages="${entry#*:}"
        # shellcheck disable=SC2206 # a list of package names
        [ -z "$packages" ] || have "${entry%%:*}" || missing+=($packages)
    done
    python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends \
            "${missing[@]}" >/dev/null
    fi
    python3 - <<'PY'
import sys
if sys.version_info < (3, 11):
    sys.exit(f"moviestore needs Python 3.11 or newer, found {sys.version.split()[0]}")
PY
}

# The virtualenv, synced to the committed lock files; re-synced only when a lock changes.
ensure_venv() {
    [ -x "$PY" ] || { log "creating $VENV"; python3 -m venv "$VENV"; }
    local stamp="$VENV/.lock-stamp"
    local want
    want="$(cat "$ROOT/requirements/bootstrap.lock" "$ROOT/requirements/dev.lock" | sha256sum | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
        log "installing pinned Python packages"
        "$PY" -m pip install -q --require-hashes -r "$ROOT/requirements/bootstrap.lock"
        "$VENV/bin/uv" pip sync -q --python "$PY" --require-hashes "$ROOT/requirements/dev.lock"
        echo "$want" >"$stamp"
    fi
}

# The Rust extension, built in release mode into the virtualenv (cargo makes repeats cheap).
ensure_extension() {
    log "building the Rust extension (release)"
    (cd "$ROOT" && maturin develop --release --uv -q 2>&1 | grep -vE '^(📦|🔗|🐍|⚠️|🛠|📡|✏️|🔨|🚀)' || true)
    "$PY" -c 'import moviestore._validator' || { echo "extension build failed" >&2; exit 1; }
}

bootstrap() {
    ensure_system_packages
    ensure_venv
    ensure_extension
}
