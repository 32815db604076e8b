#!/usr/bin/env bash
# Runs a command with a throw-away PostgreSQL server (Debian's postgresql package):
# a fresh cluster in a temporary folder, listening only on a Unix socket there, removed
# when the command ends (whatever way it ends). The command sees its URL in
# ECPA_TEST_PG_URL; each test creates its own database in it.
#
#   scripts/with-postgres.sh cargo nextest run
#
# initdb refuses to run as root, so as root the cluster runs as the `postgres` user.
set -euo pipefail

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
if [ -z "$PGBIN" ] || [ ! -x "$PGBIN/initdb" ]; then
  echo "with-postgres: PostgreSQL server binaries not found (run 'make setup')" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/ecpa-pg.XXXXXX)
chmod 755 "$dir"
as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$dir"
  as_pg=(runuser -u postgres --)
fi
# A free TCP port number names the socket file (.s.PGSQL.<port>); nothing listens on TCP.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')

cleanup() {
  "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT INT TERM

"${as_pg[@]}" "$PGBIN/initdb" -D "$dir/data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 \
  || { cat "$dir/initdb.log" >&2; exit 1; }
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
  -o "-c listen_addresses='' -c unix_socket_directories=$dir -p $port -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
  start >/dev/null || { cat "$dir/server.log" >&2; exit 1; }

export ECPA_TEST_PG_URL="postgres://postgres@localhost/postgres?host=$dir&port=$port"
echo "with-postgres: PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}') running for this command at $dir (port $port)"
set +e
"$@"
rc=$?
set -e
exit $rc
