#!/usr/bin/env bash
# `make test`: lint, type-check, start a real Neo4j (unless NEO4J_URI is set), run pytest, stop Neo4j.
set -uo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
status=0
echo "== ruff"; $BIN/ruff check topo tests || status=1
echo "== mypy"; $BIN/mypy topo || status=1

started=""
if [ -z "${NEO4J_URI:-}" ]; then
  if uri=$(scripts/neo4j-server.sh start | tail -n 1) && [ -n "$uri" ]; then
    export NEO4J_URI="$uri"; started=1
    trap 'scripts/neo4j-server.sh stop >/dev/null 2>&1' EXIT
    echo "== neo4j at $NEO4J_URI"
  else
    echo "== neo4j could not be started: its tests will skip (a failure under CI=true)"
  fi
fi
echo "== pytest"
$BIN/python -m pytest -q --ignore=tests/soak "$@"   # tests/soak: `make soak`
rc=$?
[ $rc -ne 0 ] && status=$rc
[ -n "$started" ] && scripts/neo4j-server.sh stop >/dev/null 2>&1
exit $status
