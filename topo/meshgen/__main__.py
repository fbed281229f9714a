"""``python -m topo.meshgen demo --out DIR`` / ``python -m topo.meshgen random --services S --pods P ...``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from .demo import demo_mesh
from .envoy import DETAIL_FULL, DETAIL_LEAN
from .random import random_mesh
from .writer import write_bundle


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="topo-meshgen",
                                 description="Write deterministic Istio 1.22-shaped sidecar config dumps.")
    sub = ap.add_subparsers(dest="cmd", required=True)

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--out", required=True, type=Path, help="bundle directory to write")
        p.add_argument("--lean", action="store_true",
                       help="leave out what never changes routing (mTLS transport sockets, HTTP filters, retries)")
        p.add_argument("--dumps", choices=["all", "per-group"], default="all",
                       help="one dump per pod (default) or one per (workload, locality) group")

    demo = sub.add_parser("demo", help="the istio-demo mesh of the seed article")
    common(demo)

    rnd = sub.add_parser("random", help="a random mesh, deterministic per --seed")
    rnd.add_argument("--services", type=int, default=50, help="Kubernetes Services (default 50)")
    rnd.add_argument("--pods", type=int, default=150, help="pods (default 150)")
    rnd.add_argument("--workloads", type=int, default=None, help="Deployments (default min(pods, 1.25*services))")
    rnd.add_argument("--seed", type=int, default=0)
    rnd.add_argument("--namespaces", type=int, default=None, help="default: services/25, 1..20")
    rnd.add_argument("--localities", type=int, default=3, help="region/zone pairs, 1..6 (default 3)")
    rnd.add_argument("--unhealthy-ratio", type=float, default=0.05)
    rnd.add_argument("--headless-ratio", type=float, default=0.05)
    rnd.add_argument("--service-entries", type=int, default=2)
    rnd.add_argument("--dr-ratio", type=float, default=0.3, help="DestinationRules on single-version services")
    rnd.add_argument("--vs-ratio", type=float, default=0.6, help="VirtualServices on multi-version services")
    rnd.add_argument("--spread-workloads", action="store_true",
                     help="spread each workload's pods over the localities (pods then differ by EDS priorities)")
    common(rnd)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    t0 = time.perf_counter()
    if args.cmd == "demo":
        mesh = demo_mesh()
    else:
        try:
            mesh = random_mesh(args.services, args.pods, args.workloads, args.seed,
                               namespaces=args.namespaces, localities=args.localities,
                               unhealthy_ratio=args.unhealthy_ratio, headless_ratio=args.headless_ratio,
                               service_entries=args.service_entries, dr_ratio=args.dr_ratio,
                               vs_ratio=args.vs_ratio, zonal_workloads=not args.spread_workloads)
        except ValueError as e:
            print(f"topo-meshgen: {e}", file=sys.stderr)
            return 2
    out: Path = args.out
    before = {p.name for p in out.glob("*.json")} if out.is_dir() else set()
    res = write_bundle(mesh, out, detail=DETAIL_LEAN if args.lean else DETAIL_FULL, dumps=args.dumps)
    stale = sorted(before - set(res["files"]))
    dt = time.perf_counter() - t0
    print(f"{mesh.name}: wrote {res['dumps']} dumps + pods.json + services.json to {out} "
          f"({res['bytes'] / 1e6:.1f} MB) in {dt:.1f}s")
    if stale:
        print(f"topo-meshgen: warning: {len(stale)} other .json file(s) already in {out} "
              f"(e.g. {stale[0]}); an ingest of that directory would read them too", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
