#!/usr/bin/env bash
# Regenerate the conformance suite's data: dumps/, istioctl/ and istio-simulation.json of every
# scenario under tests/conformance/, with istiod's own code (istiod-gen, see its README.md).
#
#   tests/conformance/regenerate.sh          (or: make conformance)
#
# It copies istiod-gen to a writable work folder (the original is used read-only), builds istioctl
# there from the same Istio module if there is none yet (~8 min on 2 cores the first time), then
# runs build.sh on the whole suite (the first build compiles istiod: 8-12 min; later ~1 min).
# input/, expected.json and README.md of the scenarios are never touched.
#
# Environment (paths relative to the repository root unless absolute):
#   ISTIOD_GEN=DIR   istiod-gen to copy            (default ../shared/istiod-gen)
#   GEN_COPY=DIR     where to copy it              (default ${XDG_CACHE_HOME:-$HOME/.cache}/topo-conformance/istiod-gen)
#   ISTIOCTL=PATH    istioctl to use; built there if it does not exist (default $GEN_COPY/bin/istioctl)
#   SUITE=DIR        the suite                     (default tests/conformance)
#   ONLY=NAME        only this scenario folder
#   JOBS=N           Go build parallelism          (default 2)
#   INPUTS=1         first rewrite every input/ with tools/make_inputs.py (discards hand edits of input/)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
abs() { case "$1" in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$repo/$1" ;; esac; }

gen="$(abs "${ISTIOD_GEN:-../shared/istiod-gen}")"
copy="$(abs "${GEN_COPY:-${XDG_CACHE_HOME:-$HOME/.cache}/topo-conformance/istiod-gen}")"
suite="$(abs "${SUITE:-tests/conformance}")"
[ -f "$gen/build.sh" ] || { echo "regenerate.sh: no istiod-gen at $gen (set ISTIOD_GEN)" >&2; exit 2; }
[ -d "$suite" ] || { echo "regenerate.sh: no suite at $suite" >&2; exit 2; }

# 1. a writable copy of istiod-gen (refreshed from the original; its bin/ is kept)
mkdir -p "$copy"
for f in "$gen"/*; do
  b="$(basename "$f")"
  case "$b" in bin|examples) continue ;; esac
  rm -rf "${copy:?}/$b"
  cp -r "$f" "$copy/$b"
done
chmod -R u+w "$copy"
echo "istiod-gen: $gen → $copy"

# 2. optional: rewrite the inputs from tools/make_inputs.py
if [ "${INPUTS:-}" = 1 ]; then
  ISTIOD_GEN="$copy" python3 "$suite/tools/make_inputs.py" ${ONLY:+"$ONLY"}
fi

# 3. istioctl from the same Istio module, if missing
ictl="$(abs "${ISTIOCTL:-$copy/bin/istioctl}")"
if [ ! -x "$ictl" ]; then
  echo "building istioctl → $ictl (about 8 min on 2 cores the first time) ..."
  (cd "$copy" && ./make-istioctl.sh "$ictl")
fi

# 4. dumps, goldens, Istio's simulation
(cd "$copy" && ISTIOCTL="$ictl" ./build.sh "$suite")
du -sh "$suite"
