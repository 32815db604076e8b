#!/usr/bin/env bash
# The one place that installs tools. Idempotent: every step checks first and is fast when
# everything is present. Called by `make setup` (and by `make run` / `.ci/run`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
TOOLS="$ROOT/.tools"
mkdir -p "$TOOLS"

log() { printf '\033[1;34m[setup]\033[0m %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

# --- Debian packages -------------------------------------------------------------------------
APT_PACKAGES=(
  build-essential pkg-config ca-certificates curl openssl util-linux
  softhsm2 opensc pcscd libpcsclite-dev vsmartcard-vpcd
  chromium chromium-driver fonts-wqy-microhei
  postgresql time
  wrk nginx-light
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  log "installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  # (The postgresql package's own cluster is never used: tests start throw-away servers.)
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  log "Debian packages present"
fi

# --- Rust targets and cargo tools ------------------------------------------------------------
if ! rustup target list --installed | grep -q '^wasm32-unknown-unknown$'; then
  log "adding rust target wasm32-unknown-unknown"
  rustup target add wasm32-unknown-unknown
fi
for c in rustfmt clippy; do
  if ! rustup component list --installed | grep -q "^$c"; then rustup component add "$c"; fi
done

CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
if ! "$CARGO_BIN/cargo-leptos" --version 2>/dev/null | grep -q '0.3.10'; then
  log "installing cargo-leptos 0.3.10 (takes ~11 minutes on 2 cores)"
  cargo install cargo-leptos --version 0.3.10 --locked --features no_downloads
fi

if ! command -v cargo-nextest >/dev/null 2>&1; then
  log "installing cargo-nextest"
  cargo install cargo-nextest --locked
fi

# The view! macros' formatter of `make test` (project-local, pinned).
if ! "$TOOLS/bin/leptosfmt" --version 2>/dev/null | grep -q '0.1.33'; then
  log "installing leptosfmt 0.1.33 (about a minute)"
  cargo install leptosfmt --version 0.1.33 --locked --root "$TOOLS"
fi

# Unused-dependency check of `make test` (project-local, pinned).
if ! "$TOOLS/bin/cargo-machete" --version 2>/dev/null | grep -q '0.9.2'; then
  log "installing cargo-machete 0.9.2 (about a minute)"
  cargo install cargo-machete --version 0.9.2 --locked --root "$TOOLS"
fi

# Licences, bans, sources and advisories of `make test` (pinned; in the user's cargo bin
# like cargo-leptos, so another checkout of the project does not build it again).
if ! "$CARGO_BIN/cargo-deny" --version 2>/dev/null | grep -q '0.18.9'; then
  log "installing cargo-deny 0.18.9 (about 8 minutes on 2 cores)"
  cargo install cargo-deny --version 0.18.9 --locked
fi

# The RustSec advisory database for cargo-deny, in the folder its configured URL maps to.
# Refreshed from GitHub when it can be reached; otherwise cloned once from an offline
# mirror of github.com/rustsec/advisory-db: $ECPA_ADVISORY_DB_MIRROR, or the build
# machine's mirror under /work/.mirror. A test run never fetches it.
ADVISORY_DB="$TOOLS/advisory-dbs/advisory-db-3157b0e258782691"
ADVISORY_URL=https://github.com/rustsec/advisory-db
if [ -d "$ADVISORY_DB/.git" ]; then
  GIT_TERMINAL_PROMPT=0 timeout 60 git -C "$ADVISORY_DB" pull -q --ff-only "$ADVISORY_URL" 2>/dev/null \
    || log "advisory database kept as it is (of $(git -C "$ADVISORY_DB" log -1 --format=%cs)): GitHub not reachable"
else
  mkdir -p "$TOOLS/advisory-dbs"
  if GIT_TERMINAL_PROMPT=0 timeout 120 git clone -q --depth 1 "$ADVISORY_URL" "$ADVISORY_DB" 2>/dev/null; then
    log "advisory database cloned from GitHub"
  else
    rm -rf "$ADVISORY_DB"
    for m in "${ECPA_ADVISORY_DB_MIRROR:-}" /work/.mirror/rustsec+advisory-db/repo; do
      if [ -n "$m" ] && [ -d "$m" ] && git clone -q "$m" "$ADVISORY_DB" 2>/dev/null; then
        log "advisory database cloned from the mirror $m (of $(git -C "$ADVISORY_DB" log -1 --format=%cs))"
        break
      fi
      rm -rf "$ADVISORY_DB"
    done
    [ -d "$ADVISORY_DB/.git" ] || log "WARNING: no RustSec advisory database (no GitHub, no mirror): make test will fail at deny"
  fi
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
WBG_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock 2>/dev/null || true)
if [ -n "$WBG_VERSION" ]; then
  if ! "$CARGO_BIN/wasm-bindgen" --version 2>/dev/null | grep -q " $WBG_VERSION\$"; then
    log "installing wasm-bindgen-cli $WBG_VERSION (matches Cargo.lock)"
    cargo install wasm-bindgen-cli --version "$WBG_VERSION" --force
  fi
fi

# wasm-opt from npm's binaryen, in a project-local tools folder.
if [ ! -x "$TOOLS/node_modules/.bin/wasm-opt" ]; then
  log "installing wasm-opt (npm binaryen) into .tools/"
  (cd "$TOOLS" && npm install --no-audit --no-fund --silent binaryen@123 >/dev/null)
fi

log "setup complete"
