#!/usr/bin/env bash
# Start/stop a throwaway Neo4j Community server (in-process harness, no Docker) for tests.
#
#   scripts/neo4j-server.sh start    # prints bolt://127.0.0.1:PORT as its last line
#   scripts/neo4j-server.sh status   # prints the URI, exit 1 if not running
#   scripts/neo4j-server.sh stop     # safe when nothing runs
#
# Bolt only (no HTTP), auth disabled, data in a temp dir removed at exit.
# Env: TOPO_NEO4J_PORT (default: a free port), TOPO_NEO4J_HEAP (default 1g),
#      TOPO_NEO4J_DATA_DIR (default: a temp dir), TOPO_NEO4J_START_TIMEOUT (default 120 s).
# `start` while a server is running reuses it (prints the same URI).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PROJ="$ROOT/neo4j"
STATE="$ROOT/.neo4j"
PID_FILE="$STATE/pid"
URI_FILE="$STATE/uri"
LOG="$STATE/server.log"

is_running() { # the pid file names a live Launcher (not a recycled pid)
  [[ -f "$PID_FILE" ]] && ps -ww -o args= -p "$(cat "$PID_FILE")" 2>/dev/null | grep -q dev.topo.Launcher
}

port_open() { # port_open PORT
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

build() {
  local stamp="$PROJ/lib/.pom.sha256" want
  want="$(sha256sum "$PROJ/pom.xml" | cut -d' ' -f1)"
  if [[ "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
    echo "neo4j-server: fetching Neo4j jars into neo4j/lib (once) ..." >&2
    rm -rf "${PROJ:?}/lib"
    if ! (cd "$PROJ" && mvn -B -q dependency:copy-dependencies -DoutputDirectory=lib) >"$STATE/mvn.log" 2>&1; then
      echo "neo4j-server: mvn failed; log tail ($STATE/mvn.log):" >&2
      tail -n 40 "$STATE/mvn.log" >&2
      exit 1
    fi
    echo "$want" >"$stamp"
  fi
  local src="$PROJ/src/main/java/dev/topo/Launcher.java"
  local cls="$PROJ/target/classes/dev/topo/Launcher.class"
  if [[ ! -f "$cls" || "$src" -nt "$cls" || "$stamp" -nt "$cls" ]]; then
    mkdir -p "$PROJ/target/classes"
    javac -nowarn -cp "$PROJ/lib/*" -d "$PROJ/target/classes" "$src" >&2
  fi
}

cmd_start() {
  if is_running && [[ -s "$URI_FILE" ]]; then
    cat "$URI_FILE"
    return 0
  fi
  cmd_stop >/dev/null 2>&1 || true # clear stale state
  for tool in java javac mvn; do
    if ! command -v "$tool" >/dev/null 2>&1; then
      echo "neo4j-server: '$tool' not found; need Java 17+ and Maven to run a local Neo4j" >&2
      exit 3
    fi
  done
  mkdir -p "$STATE"
  build
  nohup java "-Xmx${TOPO_NEO4J_HEAP:-1g}" -XX:+ExitOnOutOfMemoryError \
    -cp "$PROJ/target/classes:$PROJ/lib/*" dev.topo.Launcher \
    >"$LOG" 2>&1 </dev/null &
  echo $! >"$PID_FILE"

  local deadline=$((SECONDS + ${TOPO_NEO4J_START_TIMEOUT:-120})) uri=""
  while ((SECONDS < deadline)); do
    if ! is_running; then
      echo "neo4j-server: server exited during startup; log tail:" >&2
      tail -n 40 "$LOG" >&2
      rm -f "$PID_FILE"
      exit 1
    fi
    uri="$(grep -m1 -o '^bolt://127\.0\.0\.1:[0-9]*' "$LOG" || true)"
    if [[ -n "$uri" ]] && port_open "${uri##*:}"; then
      echo "$uri" >"$URI_FILE"
      echo "$uri"
      return 0
    fi
    sleep 0.5
  done
  echo "neo4j-server: not ready after ${TOPO_NEO4J_START_TIMEOUT:-120}s; log tail:" >&2
  tail -n 40 "$LOG" >&2
  cmd_stop >/dev/null
  exit 1
}

cmd_stop() {
  if is_running; then
    local pid
    pid="$(cat "$PID_FILE")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do # up to ~10 s for a clean shutdown (normally < 1 s)
      is_running || break # (an exited child may linger as a zombie: kill -0 is not enough)
      sleep 0.2
    done
    if is_running; then
      echo "neo4j-server: pid $pid ignored TERM; sending KILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.5
    fi
  fi
  rm -f "$PID_FILE" "$URI_FILE"
}

cmd_status() {
  if is_running && [[ -s "$URI_FILE" ]]; then
    cat "$URI_FILE"
  else
    echo "neo4j-server: not running" >&2
    exit 1
  fi
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop ;;
  status) cmd_status ;;
  *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
