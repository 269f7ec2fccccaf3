#!/usr/bin/env bash
# A project-local single-node Kafka (KRaft) run from Maven Central jars: no Docker, no tarball.
# Usage: infra/bin/kafka.sh {fetch|start|stop|status}
set -euo pipefail
TAG=kafka
# shellcheck source=infra/bin/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PORT=${KAFKA_PORT:-19092}
CPORT=${KAFKA_CONTROLLER_PORT:-19093}
HOME_DIR="$LOCAL/kafka"
LIB="$HOME_DIR/lib"
STAMP="$LIB/.complete"
DATA="$HOME_DIR/data"
PROPS="$HOME_DIR/server.properties"
PIDFILE="$HOME_DIR/kafka.pid"
LOG="$HOME_DIR/kafka.log"
POM="$ROOT/infra/kafka/pom.xml"
LOG4J="$ROOT/infra/kafka/log4j2.properties"
MAIN_PATTERN="kafka.Kafka $PROPS"
READY_SECS=90

external() {
  [[ -n ${KAFKA_BOOTSTRAP_SERVERS:-} ]] || return 1
  say "KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS: an external cluster is configured, nothing to $1"
}

# The stamp holds the pom's checksum, so changing a version in the pom triggers a new fetch.
fetch() {
  local sum
  sum=$(sha256sum "$POM" | cut -d' ' -f1)
  if [[ -f $STAMP && $(<"$STAMP") == "$sum" ]]; then
    say "jars already in ${LIB#"$ROOT"/}"
    return 0
  fi
  command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
  say "fetching the Kafka jars from Maven Central into ${LIB#"$ROOT"/}"
  rm -rf "$LIB" "$LIB.tmp"
  mkdir -p "$HOME_DIR"
  # Output kept aside (Debian's Maven 3.8.7 prints stray colour codes even with -q -B).
  mvn -q -B -f "$POM" org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$LIB.tmp" >"$HOME_DIR/fetch.log" 2>&1 ||
    { cat "$HOME_DIR/fetch.log" >&2; die "mvn failed (see above)"; }
  mv "$LIB.tmp" "$LIB"
  echo "$sum" >"$STAMP"
  say "fetched $(find "$LIB" -name '*.jar' | wc -l) jars"
}

JAVA=(java -Xmx1g -Xms256m -XX:+UseG1GC -Djava.awt.headless=true
  -Dlog4j2.configurationFile="$LOG4J" -cp "$LIB/*")

render_props() {
  mkdir -p "$DATA"
  sed -e "s|@PORT@|$PORT|g" -e "s|@CONTROLLER_PORT@|$CPORT|g" -e "s|@LOG_DIR@|$DATA|g" \
    "$ROOT/infra/kafka/server.properties.in" >"$PROPS"
}

# Fails fast (with the log tail) when the JVM dies instead of waiting out the deadline.
server_started() {
  # kill -0, not pid_running: right after the fork the pid may not have exec'd java yet.
  if ! kill -0 "$(<"$PIDFILE")" 2>/dev/null; then
    printf '\n'
    tail -n 40 "$LOG" >&2 || true
    die "Kafka exited during start-up (log: $LOG)"
  fi
  grep -q 'Kafka Server started' "$LOG"
}

start() {
  external start && return 0
  if pid_running "$PIDFILE" "$MAIN_PATTERN" && port_open "$PORT"; then
    say "already running (pid $(<"$PIDFILE")) on 127.0.0.1:$PORT"
    return 0
  fi
  local t0=$SECONDS left
  if ! pid_running "$PIDFILE" "$MAIN_PATTERN"; then
    port_open "$PORT" && die "127.0.0.1:$PORT is taken by another process; set KAFKA_PORT"
    [[ -f $STAMP ]] || fetch
    render_props
    if [[ ! -f $DATA/meta.properties ]]; then
      say "formatting storage in ${DATA#"$ROOT"/}"
      "${JAVA[@]}" kafka.tools.StorageTool format -c "$PROPS" --ignore-formatted \
        -t "$("${JAVA[@]}" kafka.tools.StorageTool random-uuid)"
    fi
    [[ -f $LOG ]] && mv -f "$LOG" "$LOG.1" # the readiness check reads this run's log only
    say "starting Kafka on 127.0.0.1:$PORT (controller $CPORT), log ${LOG#"$ROOT"/}"
    # setsid: its own session, so a Ctrl-C in the caller's terminal does not reach the broker.
    (cd "$HOME_DIR" && exec setsid nohup "${JAVA[@]}" kafka.Kafka "$PROPS" >"$LOG" 2>&1 </dev/null) &
    echo $! >"$PIDFILE"
  fi
  wait_until "$READY_SECS" '"Kafka Server started"' server_started ||
    die "no \"Kafka Server started\" in $LOG"
  # An open port is not ready: wait for a real request/response round trip.
  left=$((READY_SECS - (SECONDS - t0)))
  uv run python "$ROOT/infra/bin/kafka_ready.py" "127.0.0.1:$PORT" --timeout "$((left > 10 ? left : 10))"
  say "ready on 127.0.0.1:$PORT after $((SECONDS - t0))s (pid $(<"$PIDFILE"))"
}

stop() {
  external stop && return 0
  stop_pid "$PIDFILE" "$MAIN_PATTERN" Kafka
}

status() {
  if [[ -n ${KAFKA_BOOTSTRAP_SERVERS:-} ]]; then
    say "external cluster configured: KAFKA_BOOTSTRAP_SERVERS=$KAFKA_BOOTSTRAP_SERVERS"
  elif pid_running "$PIDFILE" "$MAIN_PATTERN"; then
    port_open "$PORT" && state="answering" || state="NOT answering"
    say "running (pid $(<"$PIDFILE")), 127.0.0.1:$PORT $state, data ${DATA#"$ROOT"/}"
  else
    say "stopped"
    return 3
  fi
}

case ${1:-} in
  fetch | start | stop | status) "$1" ;;
  *) die "usage: $0 {fetch|start|stop|status}" ;;
esac
