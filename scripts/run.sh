#!/usr/bin/env bash
# `make run` (release, with simulated cards) and `make dev` (cargo leptos watch: hot reload;
# simulated cards when DEV_CARDS=1). Whatever this started for the demo (the cards in the
# virtual readers, the card agent, pcscd) is stopped again when the portal stops, Ctrl-C
# included, so `make test` (or another `make run`) finds the machine as it was.
#   scripts/run.sh run|dev
set -euo pipefail
cd "$(dirname "$0")/.."
mode="${1:-run}"
cards=1
if [[ $mode == dev ]]; then cards="${DEV_CARDS:-0}"; fi

stopped=0
cleanup() {
  if [[ $stopped -eq 0 && $cards -eq 1 ]]; then
    stopped=1
    echo "stopping the simulated cards and the card agent…"
    scripts/demo-cards.sh stop || true
  fi
}

if [[ $cards -eq 1 ]]; then
  if scripts/demo-cards.sh; then
    export ECPA_CARD_PKI_DIR="$PWD/data/cards/pki"
    trap cleanup EXIT
    trap 'cleanup; exit 130' INT
    trap 'cleanup; exit 143' TERM
  else
    cards=0
    echo "warning: simulated cards not started; certificate sign-in is unavailable (password sign-in works)"
  fi
fi

case "$mode" in
  run)
    ECPA_SITE_ROOT=target/site target/release/ecpa-server serve --demo-if-empty
    ;;
  dev)
    # cargo-leptos runs the server binary with the arguments after `--`, and rebuilds and
    # restarts it (and reloads the browser) when a page, a style or server code changes.
    cargo leptos watch -- serve --demo-if-empty
    ;;
  *) echo "usage: $0 run|dev" >&2; exit 2 ;;
esac
