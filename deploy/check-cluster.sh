#!/usr/bin/env bash
# Prove "several app servers, one database, reports on a replica" on this one machine:
#
#   a PostgreSQL primary (initdb into a temporary directory, its own port), a streaming replica of
#   it (pg_basebackup -R, another port), PgBouncer in transaction pooling mode in front of the
#   primary, and two gunicorn servers (deploy/gunicorn.conf.py) on two ports, both through
#   PgBouncer with DATABASE_PREPARED_STATEMENTS=off and the replica as REPORTS_DATABASE_URL;
#   then deploy/check_cluster.py sends concurrent work split across both servers and checks it,
#   and `loyalty verify-ledger` must end clean.
#
# Usage: deploy/check-cluster.sh        (from the repository; needs PostgreSQL's server binaries
# and pgbouncer: apt-get install postgresql pgbouncer). Everything it starts runs in a temporary
# directory and is stopped and removed at the end, whatever happens. As root, PostgreSQL and
# PgBouncer run as the `postgres` user. Exit status 0 only when every check passed.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-$ROOT/.venv/bin/python}
FLASK=${FLASK:-$ROOT/.venv/bin/flask}
PGBIN=${PGBIN:-$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)}
[ -x "$PGBIN/initdb" ] || { echo "PostgreSQL server binaries not found (set PGBIN)"; exit 2; }
command -v pgbouncer >/dev/null || { echo "pgbouncer not found (apt-get install pgbouncer)"; exit 2; }

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PRIMARY=$(free_port); REPLICA=$(free_port); BOUNCER=$(free_port); WEB1=$(free_port); WEB2=$(free_port)
WORK=$(mktemp -d /tmp/loyalty-cluster.XXXXXX)
if [ "$(id -u)" = 0 ]; then chown postgres: "$WORK"; AS_PG=(runuser -u postgres --); else AS_PG=(); fi
PIDS=()

cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  [ -f "$WORK/pgbouncer.pid" ] && kill -TERM "$(cat "$WORK/pgbouncer.pid")" 2>/dev/null
  for node in replica primary; do
    [ -f "$WORK/$node/postmaster.pid" ] && "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/$node" -m fast -w stop >/dev/null
  done
  if [ -n "${KEEP_WORK:-}" ]; then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
step() { echo "== $(date -u +%H:%M:%S) $*"; }

step "primary PostgreSQL on port $PRIMARY"
"${AS_PG[@]}" "$PGBIN/initdb" -D "$WORK/primary" -A trust -U postgres >/dev/null
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/primary" -l "$WORK/primary.log" -w start \
  -o "-p $PRIMARY -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK -c max_connections=200" >/dev/null
"${AS_PG[@]}" "$PGBIN/psql" -h 127.0.0.1 -p "$PRIMARY" -U postgres -qc "CREATE DATABASE loyalty"
PRIMARY_URL="postgresql://postgres@127.0.0.1:$PRIMARY/loyalty"
DATABASE_URL=$PRIMARY_URL "$FLASK" --app wsgi db upgrade > "$WORK/upgrade.log" 2>&1

step "streaming replica (pg_basebackup) on port $REPLICA"
"${AS_PG[@]}" "$PGBIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY" -U postgres -D "$WORK/replica" -R -X stream -c fast
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$WORK/replica" -l "$WORK/replica.log" -w start \
  -o "-p $REPLICA -c listen_addresses=127.0.0.1 -c unix_socket_directories=$WORK -c max_connections=200" >/dev/null

step "PgBouncer (transaction pooling) on port $BOUNCER"
cat > "$WORK/pgbouncer.ini" <<EOF
[databases]
loyalty = host=127.0.0.1 port=$PRIMARY dbname=loyalty
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $BOUNCER
unix_socket_dir = $WORK
auth_type = trust
auth_file = $WORK/userlist.txt
pool_mode = transaction
max_client_conn = 500
default_pool_size = 20
ignore_startup_parameters = extra_float_digits
logfile = $WORK/pgbouncer.log
pidfile = $WORK/pgbouncer.pid
EOF
echo '"postgres" ""' > "$WORK/userlist.txt"
[ "$(id -u)" = 0 ] && chown postgres: "$WORK/pgbouncer.ini" "$WORK/userlist.txt"
"${AS_PG[@]}" pgbouncer -d "$WORK/pgbouncer.ini"

export DATABASE_URL="postgresql://postgres@127.0.0.1:$BOUNCER/loyalty"
export DATABASE_PREPARED_STATEMENTS=off
export REPORTS_DATABASE_URL="postgresql://postgres@127.0.0.1:$REPLICA/loyalty"
export SECRET_KEY="cluster-check-$RANDOM$RANDOM" RATELIMIT_STORAGE_URI="memory://"
ADMIN_KEY=$("$FLASK" --app wsgi loyalty create-api-key --name "cluster check" --role admin | tail -1)

for port in "$WEB1" "$WEB2"; do
  step "gunicorn (deploy/gunicorn.conf.py) on port $port"
  BIND="127.0.0.1:$port" WEB_CONCURRENCY=3 "$ROOT/.venv/bin/gunicorn" -c deploy/gunicorn.conf.py \
    -b "127.0.0.1:$port" -w 3 --error-logfile "$WORK/gunicorn-$port.log" wsgi:app &
  PIDS+=($!)
done

step "checks across both servers"
"$PY" deploy/check_cluster.py --servers "http://127.0.0.1:$WEB1,http://127.0.0.1:$WEB2" --admin-key "$ADMIN_KEY" \
  --primary "$PRIMARY_URL" --replica "$REPORTS_DATABASE_URL"

step "verify-ledger"
"$FLASK" --app wsgi loyalty verify-ledger
step "cluster check passed"
