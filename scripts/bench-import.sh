#!/usr/bin/env bash
# Benchmark of the personnel importer: N generated rows (default 1,000,000) into a fresh
# SQLite database, then into a throw-away PostgreSQL, with wall time and peak memory.
#   make bench-import            # or: scripts/bench-import.sh 200000
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
BIN=target/release/ecpa-server
[ -x "$BIN" ] || { echo "build first: cargo build --release -p ecpa-server" >&2; exit 1; }
dir=$(mktemp -d /tmp/ecpa-bench.XXXXXX)
trap 'rm -rf "$dir"' EXIT

echo "== generating $N rows"
/usr/bin/time -f "gen-sample: %e s, peak %M KiB" "$BIN" personnel gen-sample "$N" --seed 42 --out "$dir/personnel.csv" --agencies-out "$dir/agencies.csv"
ls -l "$dir/personnel.csv" | awk '{printf "file: %.1f MB\n", $5/1e6}'

run_import() {
  "$BIN" migrate >/dev/null
  "$BIN" personnel import-agencies "$dir/agencies.csv" >/dev/null
  /usr/bin/time -f "import: %e s wall, %U s user, peak RSS %M KiB" "$BIN" personnel import "$dir/personnel.csv"
}

echo "== SQLite"
ECPA_DATABASE_URL="sqlite://$dir/bench.db" run_import
ls -l "$dir/bench.db" | awk '{printf "database: %.1f MB\n", $5/1e6}'

echo "== PostgreSQL"
export -f run_import
export BIN dir
scripts/with-postgres.sh bash -c 'ECPA_DATABASE_URL="$ECPA_TEST_PG_URL" run_import'
