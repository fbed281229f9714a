"""``topo path SRC DST``: where one request from SRC to DST goes, and each endpoint's share.

On the bundled example (``topo ingest --from examples/istio-demo``), ``path(g, "integration",
"publictest")`` gives one answer whose clusters are v1 at 0.9 and v2 at 0.1 (tests/test_queries.py
checks it).

The walk is Envoy's (ENVOY-SEMANTICS.md §2–§9), done once per distinct proxy config among
SRC's pods. Both backends answer through :class:`~topo.stores.hops.MeshGraph`: the
networkx hops, or the Cypher hops in ``topo.stores.neo4jgraph``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from topo.errors import TopoError
from topo.queries.envoy import Request
from topo.queries.locality import relocate_to, resolve_zone
from topo.queries.resolve import SourceGroup, make_request, resolve_destination, resolve_source
from topo.queries.walk import ClusterShare, DeadEnd, EndpointShare, Fault, Hop, Mirror, Unsupported, Walker
from topo.stores.hops import MeshGraph


@dataclass
class PathAnswer:
    pods: list[str]
    config: str
    request: dict[str, object]
    hops: list[Hop]
    clusters: list[ClusterShare]
    endpoints: list[EndpointShare]
    dead_ends: list[DeadEnd]
    outcome: str  # ok, partial (some requests die), dead_end (all do)
    notes: list[str] = field(default_factory=list)
    mirrors: list[Mirror] = field(default_factory=list)  # shadow copies: extra, not part of the 100 %
    faults: list[Fault] = field(default_factory=list)  # the route's fault injection (an abort is also a dead end FI)
    unsupported: list[Unsupported] = field(default_factory=list)  # requests reaching a filter topo does not follow
    # the share of requests that reach clusters whose endpoints the dump does not show (no EDS)
    endpoints_unknown: float = 0.0


@dataclass
class PathResult:
    source: str
    destination: str
    answers: list[PathAnswer]

    @property
    def ok(self) -> bool:
        return all(a.outcome == "ok" for a in self.answers)


def path(g: MeshGraph, src: str, dst: str, *, namespace: str | None = None, port: int | None = None,
         req_path: str | None = None, headers: dict[str, str] | None = None, method: str = "GET",
         host: str | None = None, tcp: bool = False, tls: bool = False, sni: str | None = None,
         from_zone: str | None = None) -> PathResult:
    """``tls`` (or an ``https://`` DST, or an ``sni``) makes the client start TLS, with the SNI
    ``sni`` or else the host it dials; ``tcp`` (or ``tcp://``) sends bytes that are not HTTP.
    ``from_zone``: evaluate the endpoints' priorities and locality weights as a caller in that
    locality (``REGION/ZONE[/SUB_ZONE]`` or a zone) would get them (:mod:`topo.queries.locality`)."""
    answers = []
    target = resolve_zone(g, from_zone) if from_zone else None
    for grp in resolve_source(g, src, namespace):
        d = resolve_destination(g, dst, grp, port=port, path=req_path)
        req = make_request(d, host=host, method=method, headers=headers, tcp=tcp, tls=tls, sni=sni)
        relocation = None
        walker_opts: dict[str, Any] = {}
        if target is not None:
            if not grp.locality:
                raise TopoError(f"--from-zone needs the source's locality, and {grp.pods[0]} has none "
                                "(its bootstrap sets no node.locality)", 2)
            relocation, walker_opts["relocate"] = relocate_to(g, grp.locality, target)
        a = answer(g, grp, req, service=d.fqdn, notes=d.notes, **walker_opts)
        if relocation is not None:
            a.notes = [*a.notes, f"as a caller in {target} (the source is in {grp.locality})", *relocation.notes]
        answers.append(a)
    return PathResult(source=src, destination=dst, answers=answers)


def answer(g: MeshGraph, grp: SourceGroup, req: Request, *, service: str = "", notes: list[str] | None = None,
           details: bool = True, **walker_opts: Any) -> PathAnswer:
    """One request from one proxy config: the walk, the shares, the dead ends (shared by search,
    diff --behavior and assert, so that each of them answers exactly what ``topo path`` answers).
    ``details``: name the Istio objects and settings of each hop (search leaves them out)."""
    hops, split = Walker(g, grp.config, details=details, istio_proxy=bool(grp.istio_version),
                         **walker_opts).request(req)
    eps = sorted((e for c in split.clusters for e in c.endpoints), key=lambda e: (-e.share, e.address, e.cluster))
    dead = sorted(split.dead_ends, key=lambda x: (-x.share, x.flag, x.object))
    delivered = sum(e.share for e in eps)
    outcome = "ok" if not dead else ("dead_end" if delivered == 0 else "partial")
    return PathAnswer(
        pods=grp.pods,
        config=grp.config,
        request={"ip": req.ip, "port": req.port, "host": req.host, "path": req.path, "method": req.method,
                 "headers": dict(sorted(req.headers.items())), "protocol": "http" if req.http else "tcp",
                 "service": service, "tls": req.tls, "sni": req.sni},
        hops=hops,
        clusters=split.clusters,
        endpoints=eps,
        dead_ends=dead,
        outcome=outcome,
        notes=list(notes or []),
        mirrors=sorted(split.mirrors, key=lambda m: m.cluster),
        faults=split.faults,
        unsupported=split.unsupported,
        endpoints_unknown=sum((c.share for c in split.clusters if c.endpoints_unknown), 0.0),
    )
