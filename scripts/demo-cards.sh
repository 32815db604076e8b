#!/usr/bin/env bash
# Simulated cards for trying certificate sign-in in a browser (`make demo-cards`; `make run`
# calls it too). Idempotent: creates the test PKI and the demo cards once (in data/cards),
# exports the trust anchors and CRLs for the server, makes sure pcscd with the virtual
# readers runs, inserts the demo cards and starts the card agent on 127.0.0.1:61161.
#   scripts/demo-cards.sh [start|stop|status]
set -euo pipefail
cd "$(dirname "$0")/.."

STATE="${ECPA_DEMO_CARDS:-$PWD/data/cards}"
ORIGIN="${ECPA_PUBLIC_ORIGIN:-http://${ECPA_LISTEN:-127.0.0.1:3000}}"
AGENT_PORT="${ECPA_AGENT_PORT:-61161}"
OPENSC=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so
BIN="$PWD/target/release"
export HSM_SIM_STATE="$STATE"

NATURAL=GP00000000000101   # 王小明 (account wangxm), PIN 123456
NATURAL2=GP00000000000102  # 陳志偉 (account chenzw), PIN 123456
ORG=GP00000000000201       # 行政院人事行政總處 (officer account linmh), PIN 12345678

sim() { "$BIN/hsm-sim" "$@"; }

stop() {
  if [[ -f data/agent.pid ]] && kill -0 "$(cat data/agent.pid)" 2>/dev/null; then
    kill "$(cat data/agent.pid)" && echo "card agent stopped"
  fi
  rm -f data/agent.pid
  sim eject --reader 0 >/dev/null 2>&1 || true
  sim eject --reader 1 >/dev/null 2>&1 || true
  if [[ -f data/pcscd.pid ]]; then
    kill "$(cat data/pcscd.pid)" 2>/dev/null || sudo kill "$(cat data/pcscd.pid)" 2>/dev/null || true
    rm -f data/pcscd.pid && echo "pcscd stopped"
  fi
}

case "${1:-start}" in
  stop) stop; exit 0 ;;
  status) sim status; curl -s "http://127.0.0.1:$AGENT_PORT/" | grep -o 'version:[0-9.]*' || echo "card agent: not running"; exit 0 ;;
  start) ;;
  *) echo "usage: $0 [start|stop|status]" >&2; exit 2 ;;
esac

mkdir -p "$STATE" data
cargo build --release -p hsm-sim -p ecpa-agent

sim init >/dev/null
card() { # number kind pin args...
  local n=$1 kind=$2 pin=$3; shift 3
  sim card show "$n" >/dev/null 2>&1 || sim card new --kind "$kind" --pin "$pin" --card-number "$n" "$@" >/dev/null
}
card "$NATURAL" natural 123456 --name 王小明 --national-id A123456789
card "$NATURAL2" natural 123456 --name 陳志偉 --national-id B120240011
card "$ORG" org 12345678 --agency-name 行政院人事行政總處 --agency-oid 2.16.886.101.20003.20006
sim pki crl >/dev/null               # fresh CRLs (they have a nextUpdate)
sim pki export "$STATE/pki" >/dev/null

# `pcscd start` does nothing when a pcscd with the virtual readers already runs; when it
# starts one, its pid is kept so `stop` can end it again.
if [[ $(id -u) -eq 0 ]]; then started=$(sim --json pcscd start)
else started=$(sudo "$BIN/hsm-sim" --state "$STATE" --json pcscd start); fi
pid=$(sed -n 's/.*"pid": *\([0-9][0-9]*\).*/\1/p' <<<"$started" | head -n1)
if grep -q '"started": *true' <<<"$started" && [[ -n $pid ]]; then echo "$pid" >data/pcscd.pid; fi
sim eject --reader 0 >/dev/null 2>&1 || true
sim eject --reader 1 >/dev/null 2>&1 || true
sim insert "$NATURAL" --reader 0 >/dev/null
sim insert "$ORG" --reader 1 >/dev/null

if ! curl -s -o /dev/null "http://127.0.0.1:$AGENT_PORT/"; then
  nohup "$BIN/ecpa-agent" --port "$AGENT_PORT" --module "$OPENSC" --trust "$ORIGIN" \
    --trust-file "$STATE/agent-trusted-sites.json" >data/agent.log 2>&1 &
  echo $! >data/agent.pid
  for _ in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$AGENT_PORT/" && break; sleep 0.1; done
fi

cat <<MSG
────────────────────────────────────────────────────────────────────────
 Simulated cards are in the virtual readers; the card agent listens on
 http://127.0.0.1:$AGENT_PORT (log: data/agent.log) and trusts $ORIGIN.

 Reader 0  自然人憑證 $NATURAL  王小明  PIN 123456  → account wangxm
 Reader 1  機關憑證   $ORG  行政院人事行政總處  PIN 12345678  → account linmh
 (also issued: 自然人憑證 $NATURAL2 陳志偉 PIN 123456 → chenzw)
 Demo accounts' password: Ecpa-Demo-2026.

 Open $ORIGIN/login/certificate, or upload from 我的專區.
 Swap cards:  target/release/hsm-sim --state $STATE insert $NATURAL2 --reader 0
 Stop:        scripts/demo-cards.sh stop
────────────────────────────────────────────────────────────────────────
MSG
