#!/usr/bin/env bash
# First command of the README: set everything up and run the platform locally with sample
# data, until Ctrl-C. Extra arguments go to `moviestore dev` (e.g. --state-dir DIR).
source "$(dirname "$0")/lib.sh"
bootstrap
cd "$ROOT"
log "validating the bundled sample catalogs (exit 1 below is expected: one sample has errors)"
.venv/bin/moviestore validate --max-errors 5 samples/catalog.json samples/catalog-with-errors.ndjson || true
log "starting the local platform"
exec .venv/bin/moviestore dev "$@"
