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

# Debian packages the project needs, installed only when a command is missing.
APT_UPDATED=0
apt_install() {
    if [ "$APT_UPDATED" -eq 0 ]; then
        as_root apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

ensure_system_packages() {
    local missing=()
    command -v cc >/dev/null || missing+=(gcc libc6-dev)
    command -v git >/dev/null || missing+=(git)
    python3 -c 'import venv, ensurepip' 2>/dev/null || missing+=(python3-venv)
    # The local stack: PostgreSQL (with pg_trgm) and Redis from Debian, run as local processes.
    compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || missing+=(postgresql)
    command -v redis-server >/dev/null || missing+=(redis-server)
    command -v runuser >/dev/null || missing+=(util-linux)
    # The API's docs page is opened in headless Chromium by its test (no browser download).
    command -v chromium >/dev/null || missing+=(chromium)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "installing Debian packages: ${missing[*]}"
        apt_install "${missing[@]}"
    fi
    if ! command -v cargo >/dev/null; then
        log "no Rust toolchain found; installing Debian's cargo"
        apt_install cargo rustc
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
