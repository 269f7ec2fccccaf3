# shellcheck shell=bash
# Shared helpers, sourced by the infra/bin scripts (not executed on its own).

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck disable=SC2034 # used by the scripts that source this file
# REPAIR_LOCAL moves every piece of local state (a second, independent stack on other ports).
LOCAL=${REPAIR_LOCAL:-$ROOT/.local}
TAG=${TAG:-infra}

say() { printf '[%s] %s\n' "$TAG" "$*"; }
die() { printf '[%s] error: %s\n' "$TAG" "$*" >&2; exit 1; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pid_running PIDFILE PATTERN: the pid in PIDFILE is alive AND its command line contains PATTERN,
# so that a stale pid file whose number the kernel gave to another process is never trusted.
pid_running() {
  local pid
  [[ -s $1 ]] || return 1
  pid=$(<"$1")
  [[ $pid =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -qF -- "$2"
}

# wait_until SECONDS WHAT CMD...: rerun CMD every second, printing a dot, until it succeeds.
wait_until() {
  local secs=$1 what=$2 start=$SECONDS
  shift 2
  printf '[%s] waiting for %s ' "$TAG" "$what"
  until "$@"; do
    if ((SECONDS - start >= secs)); then
      printf ' gave up after %ss\n' "$secs"
      return 1
    fi
    printf '.'
    sleep 1
  done
  printf ' ok (%ss)\n' "$((SECONDS - start))"
}

# stop_pid PIDFILE PATTERN NAME [GROUP]: SIGTERM, wait up to 60 s, then SIGKILL; removes PIDFILE.
# With GROUP=group the signal goes to the process group the pid leads (started under setsid),
# which reaches the children of a wrapper such as `uv run` and nothing else.
stop_pid() {
  local pidfile=$1 pattern=$2 name=$3 target
  if ! pid_running "$pidfile" "$pattern"; then
    say "$name is not running"
    rm -f "$pidfile"
    return 0
  fi
  target=$(<"$pidfile")
  [[ ${4:-} == group ]] && target="-$target"
  say "stopping $name (pid $(<"$pidfile"))"
  kill -TERM -- "$target" 2>/dev/null || true
  if ! wait_until 60 "$name to exit" eval "! kill -0 -- $target 2>/dev/null"; then
    say "$name ignored SIGTERM; sending SIGKILL"
    kill -KILL -- "$target" 2>/dev/null || true
    sleep 1
  fi
  rm -f "$pidfile"
}
