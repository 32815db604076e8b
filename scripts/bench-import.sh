#!/usr/bin/env bash
# Benchmark of the personnel importer: N generated rows (default 1,000,000) into a fresh
# SQLite database, then into a throw-away PostgreSQL, with wall time and peak memory.
#   make bench-import            # or: scripts/bench-import.sh 200000
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1000000}
BIN=target/release/ecpa-server
[ -x "$BIN" ] || { echo "build first: cargo build --release -p ecpa-server" >&2; exit 1; }
BENCH_DIR=$(mktemp -d /tmp/ecpa-bench.XXXXXX)
trap 'rm -rf "$BENCH_DIR"' EXIT

echo "== generating $N rows"
/usr/bin/time -f "gen-sample: %e s, peak %M KiB" "$BIN" personnel gen-sample "$N" --seed 42 --out "$BENCH_DIR/personnel.csv" --agencies-out "$BENCH_DIR/agencies.csv"
ls -l "$BENCH_DIR/personnel.csv" | awk '{printf "file: %.1f MB\n", $5/1e6}'

run_import() {
  "$BIN" migrate >/dev/null
  "$BIN" personnel import-agencies "$BENCH_DIR/agencies.csv" >/dev/null
  /usr/bin/time -f "import: %e s wall, %U s user, peak RSS %M KiB" "$BIN" personnel import "$BENCH_DIR/personnel.csv"
}

echo "== SQLite"
ECPA_DATABASE_URL="sqlite://$BENCH_DIR/bench.db" run_import
ls -l "$BENCH_DIR/bench.db" | awk '{printf "database: %.1f MB\n", $5/1e6}'

echo "== PostgreSQL"
export -f run_import
export BIN BENCH_DIR
scripts/with-postgres.sh bash -c 'ECPA_DATABASE_URL="$ECPA_TEST_PG_URL" run_import'
