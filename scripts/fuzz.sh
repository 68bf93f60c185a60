#!/usr/bin/env bash
# Fuzz the validator core for a bounded time: `scripts/fuzz.sh [SECONDS]` (default 60).
# cargo-fuzz wants a nightly compiler only for flags that stable rustc also has behind
# RUSTC_BOOTSTRAP; no other toolchain is needed (or reachable).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SECONDS_TO_RUN="${1:-60}"
CARGO_FUZZ_VERSION=0.13.2
export PATH="$HOME/.cargo/bin:$PATH"

if ! cargo fuzz --version 2>/dev/null | grep -q "$CARGO_FUZZ_VERSION"; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION" >&2
    cargo install --locked --quiet cargo-fuzz --version "$CARGO_FUZZ_VERSION"
fi
cd "$ROOT/fuzz"
mkdir -p corpus/validate
# New inputs go to the (ignored) corpus; the committed seeds stay as they are.
log="$(mktemp)"
status=0
RUSTC_BOOTSTRAP=1 cargo fuzz run validate --sanitizer none corpus/validate seeds -- \
    -max_total_time="$SECONDS_TO_RUN" -max_len=8192 -timeout=10 -rss_limit_mb=1024 \
    -print_final_stats=1 >"$log" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
    tail -n 60 "$log" >&2
    echo "fuzzing found a failure; the input is in fuzz/artifacts/validate/" >&2
else
    grep -E '^(Done|stat::number_of_executed_units|stat::peak_rss_mb)' "$log" || true
fi
rm -f "$log"
exit "$status"
