#!/usr/bin/env bash
# The home page rendered by the portal (release build, SQLite with the demo data) against
# nginx serving the very same bytes as a static file, measured side by side with wrk in one
# run on this machine, and the page weight a browser downloads for it.
#   scripts/bench-ssr.sh            (after `make build`; `make bench-ssr` does both)
# Uses what `make setup` installs (wrk, nginx-light); installs nothing itself.
# Env: DURATION (default 10s), CONNECTIONS (default 32), THREADS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${DURATION:-10s}"
CONNECTIONS="${CONNECTIONS:-32}"
THREADS="${THREADS:-2}"
BIN=target/release/ecpa-server
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
for t in "$BIN" "$NGINX" "$(command -v wrk || true)" "$(command -v curl || true)"; do
  if [ -z "$t" ] || [ ! -x "$t" ]; then
    echo "bench-ssr: missing ${t:-wrk/curl} (run make setup and make build)" >&2
    exit 2
  fi
done

work=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  [ -f "$work/nginx.pid" ] && kill "$(cat "$work/nginx.pid")" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
PORTAL_PORT=$(free_port)
NGINX_PORT=$(free_port)
ORIGIN="http://127.0.0.1:$PORTAL_PORT"

ECPA_DATABASE_URL="sqlite://$work/ecpa.db" ECPA_LISTEN="127.0.0.1:$PORTAL_PORT" \
  ECPA_PUBLIC_ORIGIN="$ORIGIN" ECPA_SITE_ROOT=target/site ECPA_MAIL_OUTBOX="$work/outbox" \
  RUST_LOG=warn "$BIN" serve --demo-if-empty >"$work/portal.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  curl -fsS "$ORIGIN/healthz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$ORIGIN/healthz" >/dev/null || { cat "$work/portal.log" >&2; exit 1; }

# A returning visitor: the browser-id cookie the first answer hands out.
curl -fsS -c "$work/jar" -o /dev/null "$ORIGIN/"
COOKIE=$(awk '$6 ~ /ecpa_b$/ {print $6"="$7}' "$work/jar")
mkdir -p "$work/www"
curl -fsS -H "Cookie: $COOKIE" -o "$work/www/index.html" "$ORIGIN/"

cat >"$work/nginx.conf" <<EOF
worker_processes auto;
pid $work/nginx.pid;
error_log $work/nginx-error.log;
events { worker_connections 1024; }
http {
  access_log off;
  default_type text/html;
  sendfile on;
  tcp_nodelay on;
  keepalive_requests 1000000;
  client_body_temp_path $work/nginx-body;
  proxy_temp_path $work/nginx-proxy;
  fastcgi_temp_path $work/nginx-fastcgi;
  uwsgi_temp_path $work/nginx-uwsgi;
  scgi_temp_path $work/nginx-scgi;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $work/www;
    location = / { try_files /index.html =404; }
  }
}
EOF
"$NGINX" -c "$work/nginx.conf" -p "$work" -g 'daemon on;' 2>"$work/nginx-start.log" \
  || { cat "$work/nginx-start.log" >&2; exit 1; }
for _ in $(seq 1 50); do
  curl -fsS "http://127.0.0.1:$NGINX_PORT/" >/dev/null 2>&1 && break
  sleep 0.1
done

run_wrk() { # url [header]
  wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency ${2:+-H "$2"} "$1"
}
rps() { awk '/^Requests\/sec:/ {print $2}'; }
p99() { awk '$1 == "99%" {print $2}'; }
in_ms() { # wrk's "1.23ms" / "456.00us" / "1.20s"
  awk '{ v=$1; if (v ~ /us$/) {sub(/us$/,"",v); print v/1000} else if (v ~ /ms$/) {sub(/ms$/,"",v); print v+0} else if (v ~ /s$/) {sub(/s$/,"",v); print v*1000} }'
}

echo "home page: $(wc -c <"$work/www/index.html") bytes of HTML; wrk -t$THREADS -c$CONNECTIONS -d$DURATION"
portal_out=$(run_wrk "$ORIGIN/" "Cookie: $COOKIE")
nginx_out=$(run_wrk "http://127.0.0.1:$NGINX_PORT/")
p_rps=$(rps <<<"$portal_out"); n_rps=$(rps <<<"$nginx_out")
p_p99=$(p99 <<<"$portal_out" | in_ms); n_p99=$(p99 <<<"$nginx_out" | in_ms)
errors=$(grep -E "Non-2xx|Socket errors" <<<"$portal_out" || true)
printf '%-8s %12s %10s\n' "" "requests/s" "p99 ms"
printf '%-8s %12s %10s\n' portal "$p_rps" "$p_p99"
printf '%-8s %12s %10s\n' nginx "$n_rps" "$n_p99"
awk -v p="$p_rps" -v n="$n_rps" 'BEGIN { printf "portal / nginx: %.1f %%\n", 100*p/n }'
[ -n "$errors" ] && echo "portal errors: $errors"

# What a browser downloads for the home page (brotli where offered).
echo "page weight (Accept-Encoding: br):"
html_br=$(curl -fsS -H "Cookie: $COOKIE" -H 'Accept-Encoding: br' -o /dev/null -w '%{size_download}' "$ORIGIN/")
total=$html_br
printf '  %-40s %8s\n' "/" "$html_br"
for u in $(grep -oE '/pkg/[^"]+\.(js|wasm|css)' "$work/www/index.html" | sort -u); do
  n=$(curl -fsS -H 'Accept-Encoding: br' -o /dev/null -w '%{size_download}' "$ORIGIN$u")
  printf '  %-40s %8s\n' "$u" "$n"
  total=$((total + n))
done
echo "  total $total bytes"
