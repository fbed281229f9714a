"""Ingest = get → transform → load.

:func:`run` takes a :class:`~topo.ingest.sources.Bundle` (get), turns each dump into rows
with the pure :func:`~topo.ingest.transform.transform_bytes` (transform), merges them and
links what only the whole set knows (endpoint → pod, Kubernetes metadata), then hands the
rows to a loader (load): any object with ``save(rows, meta) -> str``. This module never
imports neo4j or the queries.
"""

from __future__ import annotations

import gc
import multiprocessing as mp
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from topo.ingest.dump import DumpError, parse_json
from topo.ingest.sources import Bundle, RawDump
from topo.ingest.transform import DumpResult, Summary, transform_bytes
from topo.model.names import owner_workload
from topo.model.rows import Rows, jdump
from topo.util import as_dict, as_list, as_str

EXIT_OK = 0
EXIT_NOTHING = 1
EXIT_PARTIAL = 3


class Loader(Protocol):
    def save(self, rows: Rows, meta: dict[str, Any]) -> str: ...


@dataclass
class FileResult:
    source: str
    pod: str
    summary: Summary
    api: str
    notes: list[str]


@dataclass
class IngestResult:
    rows: Rows
    files: list[FileResult] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    snapshot: str = ""
    skipped: list[tuple[str, str]] = field(default_factory=list)  # files not read (not dumps), and why

    @property
    def exit_code(self) -> int:
        if not self.files:
            return EXIT_NOTHING
        return EXIT_PARTIAL if self.refused else EXIT_OK

    def totals(self) -> Summary:
        s = Summary()
        for f in self.files:
            s.add(f.summary)
        return s

    def graph_counts(self) -> dict[str, int]:
        return {label: len(b) for label, b in self.rows.nodes.items()}


def transform_all(bundle: Bundle, progress: Callable[[str, bool], None] | None = None) -> IngestResult:
    # Parsed dumps are millions of acyclic objects: the cyclic GC only rescans them, again
    # and again, as they pile up (measured: it doubles the parse time). Refcounting frees them.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _transform_all(bundle, progress)
    finally:
        if was_enabled:
            gc.enable()


_worker_cache: dict[str, Any] = {}


def _transform_one(raw: RawDump, cache: dict[str, Any]) -> tuple[RawDump, DumpResult | str]:
    try:
        return raw, transform_bytes(raw.data, raw.source, raw.clusters, cache)
    except DumpError as e:
        return raw, str(e)
    except RecursionError:
        return raw, "JSON nested too deeply"


def _in_worker(raw: RawDump) -> tuple[RawDump, DumpResult | str]:
    # Each worker process keeps its own resource cache; the parent merges, so a distinct
    # resource is built at most once per worker. Bytes go back only for new resources.
    r, out = _transform_one(raw, _worker_cache)
    return RawDump(r.source, b"", None), out


def workers_wanted(total: int) -> int:
    """``TOPO_WORKERS`` processes (default 1). On the 2-vCPU machines this was measured on,
    two CPU-bound processes each ran at half speed, so a second worker only added the cost
    of shipping bytes and rows between processes (m100: 2.5 s with 1, 3.2 s with 2)."""
    env = os.environ.get("TOPO_WORKERS", "")
    n = int(env) if env.isdigit() and int(env) > 0 else 1
    return min(n, max(total, 1))


def _results(bundle: Bundle) -> Iterator[tuple[RawDump, DumpResult | str]]:
    n = workers_wanted(bundle.total)
    if n <= 1:
        cache: dict[str, Any] = {}
        for raw in bundle.dumps:
            yield _transform_one(raw, cache)
        return
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context()
    with ctx.Pool(n) as pool:
        yield from pool.imap(_in_worker, bundle.dumps, chunksize=1)


def _transform_all(bundle: Bundle, progress: Callable[[str, bool], None] | None) -> IngestResult:
    res = IngestResult(rows=Rows(), refused=bundle.refused, skipped=bundle.skipped)
    seen: dict[str, FileResult] = {}
    for raw, r in _results(bundle):
        if isinstance(r, str):
            res.refused.append((raw.source, r))
            if progress:
                progress(raw.source, False)
            continue
        res.rows.merge(r.rows)
        fr = FileResult(raw.source, r.pod_id, r.summary, r.api, r.notes)
        old = seen.get(r.pod_id)
        if old is not None:
            # Two files of one pod: the later file is the pod, in every count (its Pod row whole,
            # its config alone; what only the earlier config held goes at the prune below).
            res.notes.append(f"{raw.source}: pod {r.pod_id} was already read from {old.source}; the later file wins")
            res.files.remove(old)
            pod = dict(r.rows.nodes["Pod"][r.pod_id])
            res.rows.nodes["Pod"][r.pod_id] = pod
            for k in [k for k in res.rows.rels.get("USES_CONFIG", {}) if k[0] == r.pod_id and k[1] != pod["config"]]:
                res.rows.drop_rel("USES_CONFIG", k)
        seen[r.pod_id] = fr
        res.files.append(fr)
        if progress:
            progress(raw.source, True)
    res.rows.prune()
    enrich(res, bundle.pods_json, bundle.services_json)
    link(res.rows)
    return res


def _items(data: bytes | None, what: str, res: IngestResult) -> list[dict[str, Any]]:
    if data is None:
        return []
    try:
        doc = parse_json(data)
    except DumpError as e:
        res.refused.append((what, str(e)))
        return []
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        res.refused.append((what, "not `kubectl get -o json` output (no `items` list)"))
        return []
    return [i for i in items if isinstance(i, dict)]


def enrich(res: IngestResult, pods_json: bytes | None, services_json: bytes | None) -> None:
    """Add what ``kubectl get pods|svc -o json`` knows: labels, node, owner, service VIPs."""
    rows = res.rows
    pods = rows.nodes.get("Pod", {})
    by_name: dict[str, list[str]] = {}
    for pid, p in pods.items():
        by_name.setdefault(p["name"], []).append(pid)
    for item in _items(pods_json, "pods.json", res):
        meta, spec, status = as_dict(item.get("metadata")), as_dict(item.get("spec")), as_dict(item.get("status"))
        name, ns = meta.get("name"), as_str(meta.get("namespace"))
        if not isinstance(name, str):
            continue
        pid = f"{ns}/{name}"
        if pid not in pods:
            # a dump whose node said nothing was named after its file
            cands = [c for c in by_name.get(name, []) if not pods[c]["namespace"]]
            if len(cands) != 1:
                continue
            _rekey_pod(rows, cands[0], pid, ns)
        p = pods[pid]
        labels = meta.get("labels") or {}
        if isinstance(labels, dict) and labels:
            p["labels"] = jdump({str(k): str(v) for k, v in labels.items()})
            p["app"] = str(labels.get("app", p.get("app") or ""))
            p["version"] = str(labels.get("version", p.get("version") or ""))
        p["node_name"] = as_str(spec.get("nodeName")) or p.get("node_name") or ""
        p["service_account"] = as_str(spec.get("serviceAccountName")) or p.get("service_account") or ""
        ips = [x["ip"] for x in as_list(status.get("podIPs")) if isinstance(x, dict) and as_str(x.get("ip"))]
        if not ips and as_str(status.get("podIP")):
            ips = [status["podIP"]]
        if ips and not p.get("ips"):
            p["ips"], p["ip"] = ips, ips[0]
        owner = owner_workload(as_list(meta.get("ownerReferences")))
        if owner and (not p.get("workload") or p["workload"] == p["name"]):
            p["workload"] = owner
    for item in _items(services_json, "services.json", res):
        meta, spec = as_dict(item.get("metadata")), as_dict(item.get("spec"))
        name, ns = meta.get("name"), as_str(meta.get("namespace")) or "default"
        if not isinstance(name, str) or not name:
            continue
        domain = "cluster.local"
        fqdn = f"{name}.{ns}.svc.{domain}"
        cips = as_list(spec.get("clusterIPs")) or ([spec["clusterIP"]] if as_str(spec.get("clusterIP")) else [])
        headless = spec.get("clusterIP") == "None"
        rows.add_node("Service", {
            "fqdn": fqdn,
            "name": name,
            "namespace": ns,
            "vips": [c for c in cips if isinstance(c, str) and c != "None"],
            "ports": [p["port"] for p in as_list(spec.get("ports")) if isinstance(p, dict) and type(p.get("port")) is int
                      and 0 < p["port"] < 65536],
            "headless": headless,
            "kind": "kubernetes",
        })


def _rekey_pod(rows: Rows, old: str, new: str, ns: str) -> None:
    pods = rows.nodes["Pod"]
    p = pods.pop(old)
    p["id"], p["namespace"] = new, ns
    pods[new] = p
    uses = rows.rels.get("USES_CONFIG", {})
    for k in [k for k in uses if k[0] == old]:
        uses[(new, k[1], k[2])] = uses.pop(k)


def link(rows: Rows) -> None:
    """Endpoint → Pod by IP, across every ingested proxy (§ path step 10)."""
    by_ip: dict[str, list[str]] = {}
    for pid, p in rows.nodes.get("Pod", {}).items():
        for ip in p.get("ips") or []:
            by_ip.setdefault(ip, []).append(pid)
    on_pod = rows.rels.setdefault("ON_POD", {})
    on_pod.clear()
    for ekey, e in rows.nodes.get("Endpoint", {}).items():
        for pid in by_ip.get(e.get("ip") or "", []):
            on_pod[(ekey, pid, "")] = {}


def run(bundle: Bundle, loader: Loader | None, progress: Callable[[str, bool], None] | None = None,
        meta: dict[str, Any] | None = None) -> IngestResult:
    """Transform a bundle and, when anything was ingested, hand the rows to the loader.

    Nothing is written when no file could be ingested, so the previous snapshot stays.
    """
    res = transform_all(bundle, progress)
    if loader is not None and res.files:
        m = {"origin": bundle.origin, "pods": len(res.files), "refused": len(res.refused)}
        m.update(meta or {})
        res.snapshot = loader.save(res.rows, m)
    return res


def summary_dict(res: IngestResult) -> dict[str, Any]:
    t = res.totals()
    counts = res.graph_counts()
    return {
        "snapshot": res.snapshot,
        "pods": len(res.files),
        "proxy_configs": counts.get("ProxyConfig", 0),
        "in_dumps": {
            "listeners": t.listeners,
            "route_configs": t.route_configs,
            "clusters": t.clusters,
            "endpoint_configs": t.endpoint_configs,
            "endpoints": t.lb_endpoints,
        },
        "in_graph": {
            "listeners": counts.get("Listener", 0),
            # an inline route config and its twin under static_route_configs (§4) are one config
            "route_configs": len({rc.get("raw") if rc.get("inline") or rc.get("state") == "static" else k
                                  for k, rc in res.rows.nodes.get("RouteConfig", {}).items()}),
            "clusters": counts.get("Cluster", 0),
            "endpoints": counts.get("Endpoint", 0),
            "services": counts.get("Service", 0),
        },
        "nodes": sum(counts.values()),
        "relationships": sum(len(b) for b in res.rows.rels.values()),
        "refused": [{"source": s, "reason": r} for s, r in res.refused],
        "skipped": [{"source": s, "reason": r} for s, r in res.skipped],
        "notes": res.notes + [f"{f.source}: {n}" for f in res.files for n in f.notes],
    }
