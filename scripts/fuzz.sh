#!/usr/bin/env bash
# Runs the cargo-fuzz targets of fuzz/ for SECONDS each, JOBS at a time (default: the
# number of cores), each from fuzz/corpus/<target> (grown by the runs, not committed)
# plus the committed seeds in fuzz/seeds/<target>. Installs the nightly toolchain and
# cargo-fuzz when missing (needs the package registries once).
#
#   scripts/fuzz.sh 600 apdu agent_package cert_profile proof_token personnel_csv
#
# A crash stops that target; its input is kept in fuzz/artifacts/<target>/ and the
# script exits non-zero. Logs: target/fuzz-report/<target>.log.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-600}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(apdu agent_package cert_profile proof_token personnel_csv)
fi
jobs=${FUZZ_JOBS:-$(nproc)}

rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked

cargo +nightly fuzz build -O
mkdir -p target/fuzz-report

run_one() {
  local t=$1
  mkdir -p "fuzz/corpus/$t"
  local log="target/fuzz-report/$t.log"
  if cargo +nightly fuzz run -O "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- \
      -max_total_time="$seconds" -rss_limit_mb=2048 -print_final_stats=1 >"$log" 2>&1; then
    local runs
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | awk '{print $2}' | tail -n1)
    local cov
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n1)
    echo "fuzz $t: clean for ${seconds}s, ${runs:-?} executions, ${cov:-cov ?}"
  else
    echo "fuzz $t: FAILED (see $log and fuzz/artifacts/$t/)"
    return 1
  fi
}

status=0
pids=()
names=()
for t in "${targets[@]}"; do
  run_one "$t" &
  pids+=($!)
  names+=("$t")
  if [ ${#pids[@]} -ge "$jobs" ]; then
    wait "${pids[0]}" || status=1
    pids=("${pids[@]:1}")
    names=("${names[@]:1}")
  fi
done
for p in "${pids[@]}"; do
  wait "$p" || status=1
done
exit $status
