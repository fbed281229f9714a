#!/usr/bin/env bash
# Run a command with NEO4J_URI set: a throwaway Neo4j (scripts/neo4j-server.sh) started for it
# unless NEO4J_URI is already set, stopped afterwards. `make soak` runs through this.
set -uo pipefail
cd "$(dirname "$0")/.."
started=""
if [ -z "${NEO4J_URI:-}" ]; then
  uri=$(scripts/neo4j-server.sh start | tail -n 1) || { echo "neo4j could not be started" >&2; exit 1; }
  export NEO4J_URI="$uri"; started=1
  trap 'scripts/neo4j-server.sh stop >/dev/null 2>&1' EXIT
  echo "== neo4j at $NEO4J_URI"
fi
"$@"
