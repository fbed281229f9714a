#!/usr/bin/env bash
# Make sure Graphviz's `dot` is on PATH: Debian's graphviz package when we are root.
set -euo pipefail
command -v dot >/dev/null 2>&1 && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Graphviz (apt-get install graphviz)…" >&2
  (apt-get install -y -qq graphviz >/dev/null 2>&1 || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq graphviz >/dev/null; })
  command -v dot >/dev/null 2>&1 && exit 0
fi
echo "Graphviz's dot is missing: install it (Debian/Ubuntu: sudo apt-get install graphviz; macOS: brew install graphviz)" >&2
exit 1
