#!/usr/bin/env bash
# Runs the three HTTP services in the background against the local (or configured) infrastructure.
# Usage: infra/bin/services.sh {start|stop|status}
set -euo pipefail
TAG=services
# shellcheck source=infra/bin/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SERVICES=(intake dispatch timeline)
declare -A DEFAULT_PORT=([intake]=8001 [dispatch]=8002 [timeline]=8003)
DIR="$LOCAL/services"
READY_SECS=60

port_of() { local var="${1^^}_PORT"; echo "${!var:-${DEFAULT_PORT[$1]}}"; }
# <NAME>_WORKERS (default 1): uvicorn worker processes of a service on its one port and one
# database (DISPATCH_WORKERS=2 uses the second core for GPS reports; the relay, consumer group
# and timers already allow several instances: docs/scaling.md).
workers_of() { local var="${1^^}_WORKERS"; echo "${!var:-1}"; }
pidfile() { echo "$DIR/$1.pid"; }
logfile() { echo "$DIR/$1.log"; }
pattern() { echo "services.$1.app:create_app"; }

# <NAME>_DATABASE_URL wins; else DATABASE_URL's server with this service's database; else the
# cluster of infra/bin/postgres.sh.
db_url() {
  local var="${1^^}_DATABASE_URL" base query
  if [[ -n ${!var:-} ]]; then
    echo "${!var}"
  elif [[ -n ${DATABASE_URL:-} ]]; then
    base=${DATABASE_URL%%\?*}
    query=${DATABASE_URL:${#base}}
    [[ $base == *://*/* ]] && base=${base%/*}
    echo "$base/repair_$1$query"
  else
    echo "postgresql://repair@127.0.0.1:${PGPORT_LOCAL:-25432}/repair_$1"
  fi
}

healthy() { [[ $(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$(port_of "$1")/healthz") == 200 ]]; }

start_one() {
  local name=$1 port workers
  port=$(port_of "$name")
  if pid_running "$(pidfile "$name")" "$(pattern "$name")"; then
    say "$name already running (pid $(<"$(pidfile "$name")")) on 127.0.0.1:$port"
    return 0
  fi
  port_open "$port" && die "127.0.0.1:$port is taken by another process; set ${name^^}_PORT"
  [[ -f $(logfile "$name") ]] && mv -f "$(logfile "$name")" "$(logfile "$name").1"
  workers=$(workers_of "$name")
  [[ $workers =~ ^[1-9][0-9]*$ ]] || die "${name^^}_WORKERS must be a whole number ≥ 1, not '$workers'"
  say "starting $name on 127.0.0.1:$port ($workers worker(s)), log ${DIR#"$ROOT"/}/$name.log"
  # setsid: own process group, so that stop can signal the loop, uv and the python it spawns, and
  # only them. The loop is the supervisor: a service whose background task cannot go on exits
  # (status 70) and is started again; five quick exits in a row mean it cannot start at all.
  (
    cd "$ROOT"
    export DATABASE_URL KAFKA_BOOTSTRAP_SERVERS
    DATABASE_URL=$(db_url "$name")
    KAFKA_BOOTSTRAP_SERVERS=${KAFKA_BOOTSTRAP_SERVERS:-127.0.0.1:${KAFKA_PORT:-19092}}
    # shellcheck disable=SC2016 # expanded by the inner shell
    exec setsid nohup bash -c '
      quick=0
      while ((quick < 5)); do
        started=$SECONDS
        uv run uvicorn "$0" --factory --host 127.0.0.1 --port "$1" --workers "$2"
        rc=$?
        ((SECONDS - started < 10)) && quick=$((quick + 1)) || quick=0
        echo "[supervisor] $0 exited with status $rc; starting it again in 1 s"
        sleep 1
      done
      echo "[supervisor] $0 exited five times within 10 s of starting; giving up"
      exit 1' "$(pattern "$name")" "$port" "$workers" >"$(logfile "$name")" 2>&1 </dev/null
  ) &
  echo $! >"$(pidfile "$name")"
}

# Fails fast, with the log tail, when a service dies instead of waiting out the deadline.
all_healthy() {
  local name ok=0
  for name in "${SERVICES[@]}"; do
    if ! kill -0 "$(<"$(pidfile "$name")")" 2>/dev/null; then
      printf '\n'
      tail -n 30 "$(logfile "$name")" >&2 || true
      rm -f "$(pidfile "$name")"
      die "$name exited during start-up (log: $(logfile "$name"))"
    fi
    healthy "$name" || ok=1
  done
  return "$ok"
}

start() {
  mkdir -p "$DIR"
  local name
  for name in "${SERVICES[@]}"; do start_one "$name"; done
  wait_until "$READY_SECS" "GET /healthz = 200 on all three" all_healthy || {
    for name in "${SERVICES[@]}"; do
      healthy "$name" || { say "$name is not healthy; log tail:"; tail -n 30 "$(logfile "$name")"; }
    done
    die "services not healthy after ${READY_SECS}s"
  }
}

stop() {
  local name
  for name in "${SERVICES[@]}"; do stop_pid "$(pidfile "$name")" "$(pattern "$name")" "$name" group; done
}

status() {
  local name rc=0
  for name in "${SERVICES[@]}"; do
    if pid_running "$(pidfile "$name")" "$(pattern "$name")"; then
      healthy "$name" && state=healthy || state="NOT healthy"
      say "$name running (pid $(<"$(pidfile "$name")")) on 127.0.0.1:$(port_of "$name"), $state"
    else
      say "$name stopped"
      rc=3
    fi
  done
  return "$rc"
}

case ${1:-} in
  start | stop | status) "$1" ;;
  *) die "usage: $0 {start|stop|status}" ;;
esac
