#!/usr/bin/env bash
# Second command of the README: every check CI runs. Fails on the first failing step.
source "$(dirname "$0")/lib.sh"
bootstrap
cd "$ROOT"

log "cargo fmt --check";  cargo fmt --all -- --check
log "cargo clippy";       cargo clippy --workspace --all-targets -q -- -D warnings
log "cargo test";         cargo test --workspace -q
log "ruff";               ruff check . && ruff format --check .
log "mypy";               mypy
log "stubtest";           python -m mypy.stubtest moviestore._validator
log "dependency audit";   python scripts/audit.py
log "pytest";             pytest -q -p no:cacheprovider
log "infrastructure";     "$ROOT/scripts/infra-check.sh"
log "fuzz";               "$ROOT/scripts/fuzz.sh" "${FUZZ_SECONDS:-60}"
log "all checks passed"
