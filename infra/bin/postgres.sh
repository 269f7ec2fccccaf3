#!/usr/bin/env bash
# A project-local PostgreSQL cluster (own data directory, port and socket; never the system one).
# Usage: infra/bin/postgres.sh {start|stop|status}
set -euo pipefail
TAG=postgres
# shellcheck source=infra/bin/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# Below Linux's ephemeral range (32768-60999): a client socket that the kernel gave 55432 as its
# source port once made the server's bind fail although nothing was listening there.
PORT=${PGPORT_LOCAL:-25432}
SUPERUSER=repair
DATABASES=(repair_intake repair_dispatch repair_timeline)

external() {
  [[ -n ${DATABASE_URL:-} ]] || return 1
  say "DATABASE_URL is set: an external cluster is configured, nothing to $1"
}

# initdb, pg_ctl and postgres refuse to run as root: as root, run them as the postgres user.
as_pg() {
  if ((EUID == 0)); then
    su postgres -s /bin/sh -c "cd / && $(printf '%q ' "$@")"
  else
    "$@"
  fi
}

# Debian keeps the server binaries off the PATH, under /usr/lib/postgresql/<version>/bin.
find_bindir() {
  local initdb
  initdb=$(command -v initdb || printf '%s\n' /usr/lib/postgresql/*/bin/initdb | sort -V | tail -n 1)
  [[ -x $initdb ]] && dirname "$(readlink -f "$initdb")"
}

setup() {
  BIN=$(find_bindir) || true
  if [[ -z $BIN ]]; then
    ((EUID == 0)) || die "PostgreSQL server not installed (apt-get install -y postgresql)"
    say "PostgreSQL server not installed; installing it with apt-get"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    BIN=$(find_bindir) || die "initdb still not found after installing postgresql"
  fi
  BASE="$LOCAL/postgres"
  if ((EUID == 0)); then
    mkdir -p "$BASE"
    # The postgres user must be able to reach the data directory (a checkout under /root is not).
    if ! su postgres -s /bin/sh -c "test -x $(printf '%q' "$BASE")"; then
      BASE="/var/lib/postgresql/repair-dispatch-$(printf '%s' "$LOCAL" | sha256sum | cut -c1-10)"
      say "${LOCAL#"$ROOT"/} is not reachable by the postgres user; using $BASE"
      mkdir -p "$BASE"
    fi
    chown postgres:postgres "$BASE"
  fi
  DATA="$BASE/data"
  SOCK="$BASE/run"
  LOGFILE="$BASE/postgres.log"
}

running() { as_pg "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; }

create_databases() {
  local list
  list=$(printf "'%s'," "${DATABASES[@]}")
  "$(command -v psql || echo "$BIN/psql")" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U "$SUPERUSER" -d postgres <<SQL
SELECT format('CREATE DATABASE %I', d) FROM unnest(ARRAY[${list%,}]) AS d
WHERE d NOT IN (SELECT datname FROM pg_database)
\gexec
SQL
}

start() {
  external start && return 0
  setup
  local t0=$SECONDS
  if running; then
    PORT=$(sed -n 4p "$DATA/postmaster.pid")
    say "already running on 127.0.0.1:$PORT (data $DATA)"
  else
    port_open "$PORT" && die "127.0.0.1:$PORT is taken by another process; set PGPORT_LOCAL"
    if [[ ! -f $DATA/PG_VERSION ]]; then
      say "creating a cluster in $DATA (superuser $SUPERUSER, trust auth)"
      as_pg mkdir -p "$SOCK"
      as_pg "$BIN/initdb" -D "$DATA" -A trust -U "$SUPERUSER" -E UTF8 --no-locale >/dev/null
    fi
    say "starting on 127.0.0.1:$PORT, log $LOGFILE"
    # Test stacks, the bench and two-instance tests each hold pools of their own: 100 is too few.
    as_pg "$BIN/pg_ctl" -D "$DATA" -l "$LOGFILE" -w -t 60 \
      -o "-p $PORT -k $SOCK -c listen_addresses=127.0.0.1 -c max_connections=${PG_MAX_CONNECTIONS:-300}" start >/dev/null ||
      { tail -n 20 "$LOGFILE" >&2; die "pg_ctl start failed"; }
  fi
  create_databases
  say "ready on 127.0.0.1:$PORT after $((SECONDS - t0))s: databases ${DATABASES[*]}, user $SUPERUSER"
}

stop() {
  external stop && return 0
  setup
  if running; then
    say "stopping (data $DATA)"
    as_pg "$BIN/pg_ctl" -D "$DATA" -m fast -w stop >/dev/null
  fi
  say "stopped"
}

status() {
  external status && return 0
  setup
  if running; then
    say "running (pid $(sed -n 1p "$DATA/postmaster.pid")) on 127.0.0.1:$(sed -n 4p "$DATA/postmaster.pid"), data $DATA"
  else
    say "stopped"
    return 3
  fi
}

case ${1:-} in
  start | stop | status) "$1" ;;
  *) die "usage: $0 {start|stop|status}" ;;
esac
