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

# The server answers before cargo-leptos's file watcher is set up (it logs "Creating ignore
# list" right before it starts watching): a change made earlier would go unseen.
start=$SECONDS
until grep -q "ignore list from" "$tmp/watch.log"; do
  (( SECONDS - start < 600 )) || fail "cargo leptos watch never started watching files"
  sleep 1
done
sleep 3

marker="dev-reload-$RANDOM$RANDOM"
change_style() {
  cp "$tmp/main.css.orig" "$style"
  printf '\n/* %s */\n.%s { outline: 0; }\n' "$marker" "$marker" >>"$style"
}
change_page() {
  cp "$tmp/help.rs.orig" "$page"
  sed -i "s|<h1 id=\"guide-title\">\"新手上路\"</h1>|<h1 id=\"guide-title\">\"新手上路 $marker\"</h1>|" "$page"
  grep -qF "$marker" "$page" || fail "could not change the page (test out of date)"
}
# Make the change; if it is not served in time, write it again (a developer saving twice),
# up to three times, before calling it a failure.
change_and_see() {
  local change=$1 url=$2 each=$3
  for _ in 1 2 3; do
    "$change"
    wait_for "$url" "$marker" "$each" && return 0
  done
  return 1
}
change_and_see change_style "http://127.0.0.1:$port/pkg/ecpa.css" 60 || fail "the style change was not served"
echo "dev-reload: a style change was served"
change_and_see change_page "http://127.0.0.1:$port/help/start" 300 || fail "the page change was not served"
echo "dev-reload: a page change was rebuilt and served"
echo "dev-reload: 1 passed, 0 failed"
