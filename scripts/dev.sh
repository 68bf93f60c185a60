#!/usr/bin/env bash
# First command of the README: set everything up and run the platform locally with sample data.
source "$(dirname "$0")/lib.sh"
bootstrap
log "validating the bundled sample catalogs"
cd "$ROOT"
status=0
moviestore validate samples/catalog.json samples/catalog-with-errors.ndjson || status=$?
log "done (exit $status: 0 all valid, 1 some records invalid, 2 file unusable)"
[ "$status" -le 1 ]
