#!/usr/bin/env bash
# cargo-deny for `make test`: licences, bans and sources always; advisories against the
# RustSec database `make setup` placed in .tools/advisory-dbs (never fetched here: a test
# run downloads nothing). Without that database the advisories check cannot run, and this
# script says so and fails, rather than pass without it.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_DENY_DB_PATH="$PWD/.tools/advisory-dbs"
DB="$CARGO_DENY_DB_PATH/advisory-db-3157b0e258782691"
if [ ! -d "$DB/crates" ]; then
  echo "deny: no RustSec advisory database at $DB (run make setup; see scripts/setup.sh)" >&2
  exit 1
fi
echo "deny: RustSec advisory database of $(git -C "$DB" log -1 --format=%cs 2>/dev/null || echo '?')" >&2
# Duplicate versions are listed by a plain `cargo deny check`; here they would bury the rest.
exec "${CARGO_HOME:-$HOME/.cargo}/bin/cargo-deny" --offline check --hide-inclusion-graph -A duplicate
