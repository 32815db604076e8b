#!/usr/bin/env bash
# The `make dev` contract, tested as a developer uses it: `cargo leptos watch -- serve
# --demo-if-empty` (what `make dev` runs) serves the portal with demo data; a change of a
# style is served without a restart, and a change of a page (Rust, compiled into the server
# and the wasm) is rebuilt and served by the restarted server. The changed files are put back
# whatever happens. Runs in `make test` after the debug site is built (so the first build is
# quick); the page rebuild takes a few minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PWD/.tools/node_modules/.bin:$PATH"

free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$(( 20000 + RANDOM % 30000 ))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  echo "no free port" >&2; exit 1
}

tmp=$(mktemp -d)
port=$(free_port)
reload=$(free_port)
style=style/main.css
page=app/src/pages/help.rs
cp "$style" "$tmp/main.css.orig"
cp "$page" "$tmp/help.rs.orig"
watch_pid=""
cleanup() {
  cp "$tmp/main.css.orig" "$style"
  cp "$tmp/help.rs.orig" "$page"
  if [[ -n $watch_pid ]]; then kill -- "-$watch_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "dev-reload: $1"
  echo "--- cargo leptos watch (last lines) ---"
  tail -n 40 "$tmp/watch.log" || true
  echo "dev-reload: 0 passed, 1 failed"
  exit 1
}

# Wait until URL's body contains TEXT (or time out after SECONDS).
wait_for() {
  local url=$1 text=$2 secs=$3 start=$SECONDS
  while (( SECONDS - start < secs )); do
    if curl -fsS --max-time 5 "$url" 2>/dev/null | grep -qF -- "$text"; then return 0; fi
    sleep 1
  done
  return 1
}

export ECPA_DATABASE_URL="sqlite://$tmp/dev.db" ECPA_LISTEN="127.0.0.1:$port" \
  LEPTOS_SITE_ADDR="127.0.0.1:$port" LEPTOS_RELOAD_PORT="$reload" ECPA_MAIL_OUTBOX="$tmp/outbox"
echo "dev-reload: cargo leptos watch on 127.0.0.1:$port (reload port $reload)"
setsid cargo leptos watch -- serve --demo-if-empty >"$tmp/watch.log" 2>&1 &
watch_pid=$!

wait_for "http://127.0.0.1:$port/readyz" ready 900 || fail "the portal never became ready"
wait_for "http://127.0.0.1:$port/" "人事服務網" 30 || fail "the home page is not served"
# The demo data was loaded into the new database.
grep -q "demo data loaded into the new database" "$tmp/watch.log" || fail "no demo data"
curl -fsS --max-time 10 "http://127.0.0.1:$port/help/start" | grep -qF "新手上路" || fail "no help page"

marker="dev-reload-$RANDOM$RANDOM"
printf '\n/* %s */\n.%s { outline: 0; }\n' "$marker" "$marker" >>"$style"
wait_for "http://127.0.0.1:$port/pkg/ecpa.css" "$marker" 180 || fail "the style change was not served"
echo "dev-reload: a style change was served"

sed -i "s|<h1 id=\"guide-title\">\"新手上路\"</h1>|<h1 id=\"guide-title\">\"新手上路 $marker\"</h1>|" "$page"
grep -qF "$marker" "$page" || fail "could not change the page (test out of date)"
wait_for "http://127.0.0.1:$port/help/start" "$marker" 900 || fail "the page change was not served"
echo "dev-reload: a page change was rebuilt and served"
echo "dev-reload: 1 passed, 0 failed"
