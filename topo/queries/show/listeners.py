"""``istioctl proxy-config listener POD``: PrintListenerSummary (configdump/listener.go), from the graph."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from topo.errors import TopoError
from topo.model.rows import jload
from topo.queries.show.common import (
    BLACKHOLE,
    HCM,
    TCP_PROXY,
    Cell,
    RawReader,
    ShowTable,
    dynamic_first,
    resolve_pod,
    strip_any,
)
from topo.queries.show.gosort import go_sort_slice
from topo.stores.hops import MeshGraph, Props
from topo.util import as_dict, as_list, as_str


@dataclass(frozen=True)
class ListenerFilter:
    """istioctl's ListenerFilter: which listeners to list, and how much to say."""

    address: str = ""
    port: int = 0
    type: str = ""
    verbose: bool = True


_PROT_DESCRS = (
    ("App: HTTP TLS", ["http/1.0", "http/1.1", "h2c", "istio-http/1.0", "istio-http/1.1", "istio-h2"]),
    ("App: Istio HTTP Plain", ["istio", "istio-http/1.0", "istio-http/1.1", "istio-h2"]),
    ("App: TCP TLS", ["istio-peer-exchange", "istio"]),
    ("App: HTTP", ["http/1.0", "http/1.1", "h2c"]),
)


def describe_chain_match(chain: Props) -> str:
    """getMatches: SNI, transport, ALPN and destination of a filter chain's match, else ALL."""
    descrs = []
    if chain["server_names"]:
        descrs.append("SNI: " + ",".join(chain["server_names"]))
    if chain["transport_protocol"]:
        descrs.append("Trans: " + chain["transport_protocol"])
    alpn = list(chain["application_protocols"] or [])
    if alpn:
        named = next((d for d, protos in _PROT_DESCRS if protos == alpn), None)
        descrs.append(named or "App: " + ",".join(alpn))
    port = f":{chain['destination_port']}" if chain["destination_port"] is not None else ""
    if chain["prefix_ranges"]:
        descrs.append(f"Addr: {','.join(chain['prefix_ranges'])}{port}")
    elif port:
        descrs.append(f"Addr: *{port}")
    return "; ".join(descrs) or "ALL"


def describe_match(match: dict[str, Any]) -> str:
    """describeMatch: the path part of a RouteMatch (headers are ignored)."""
    conds = []
    if as_str(match.get("prefix")):
        conds.append(f"{match['prefix']}*")
    if as_str(match.get("path_separated_prefix")):
        conds.append(f"PathPrefix:{match['path_separated_prefix']}")
    if as_str(match.get("path")):
        conds.append(match["path"])
    if isinstance(match.get("safe_regex"), dict):
        conds.append(f"regex {as_str(match['safe_regex'].get('regex'))}")
    return " ".join(conds)


def _describe_route_config(rc: dict[str, Any]) -> str:
    vhs = [as_dict(v) for v in as_list(rc.get("virtual_hosts"))]
    if len(vhs) == 1 and as_list(vhs[0].get("domains")) == ["*"] and len(as_list(vhs[0].get("routes"))) == 1:
        r = as_dict(as_list(vhs[0]["routes"])[0])
        cl = as_dict(r.get("route")).get("cluster")
        if as_str(as_dict(r.get("match")).get("prefix")) == "/" and "route" in r and isinstance(cl, str):
            return cl if "Cluster" in cl else f"Cluster: {cl}"
    parts = []
    for vh in vhs:
        domains = [as_str(x) for x in as_list(vh.get("domains"))]
        dom = "" if domains == ["*"] else "/".join(domains)
        routes = ", ".join(describe_match(as_dict(as_dict(r).get("match"))) for r in as_list(vh.get("routes")))
        parts.append(routes if dom == "" else f"{dom} {routes}")
    return "Inline Route: " + "; ".join(parts)


# Today's istioctl knows the two filters by their current names only, and reads only
# `typed_config`: on a dump of Envoy ≤1.13 (`envoy.http_connection_manager`, `envoy.tcp_proxy`,
# a v2 `config` Struct) it prints `Non-HTTP/Non-TCP` and TYPE `UNKNOWN`. topo reads them as the
# HTTP connection manager and tcp_proxy they are, as `topo path` does (ENVOY-SEMANTICS.md §1
# "Legacy filters"), so the table says what those listeners do.
HCM_NAMES = (HCM, "envoy.http_connection_manager")
TCP_NAMES = (TCP_PROXY, "envoy.tcp_proxy")


def _filter_config(f: dict[str, Any]) -> dict[str, Any]:
    cfg = as_dict(f.get("typed_config")) or as_dict(f.get("config"))
    if cfg.get("deprecated_v1") is True and isinstance(cfg.get("value"), dict):
        # Envoy v1's tcp_proxy: {value: {route_config: {routes: [{cluster, destination_ip_list…}]}}}
        routes = [as_dict(r) for r in as_list(as_dict(cfg["value"].get("route_config")).get("routes"))]
        if len(routes) == 1 and as_str(routes[0].get("cluster")):
            return {"cluster": routes[0]["cluster"]}
        return {}
    return cfg


def describe_filters(filters: list[dict[str, Any]]) -> str:
    """getFilterType: the first HTTP connection manager or non-blackhole tcp_proxy decides."""
    for f in filters:
        name = as_str(f.get("name"))
        if name in HCM_NAMES:
            cfg = _filter_config(f)
            if "route_config" in cfg:
                return _describe_route_config(as_dict(cfg["route_config"]))
            rds = as_str(as_dict(cfg.get("rds")).get("route_config_name"))
            return f"Route: {rds}" if rds else "HTTP"
        if name in TCP_NAMES:
            cfg = _filter_config(f)
            if BLACKHOLE not in orjson.dumps(cfg).decode():
                cluster = as_str(cfg.get("cluster"))
                return cluster if "Cluster" in cluster else f"Cluster: {cluster}"
    return "Non-HTTP/Non-TCP"


def listener_type(chains_filters: list[list[dict[str, Any]]]) -> str:
    """retrieveListenerType: HTTP, TCP, HTTP+TCP or UNKNOWN over every chain's filters."""
    n_http = n_tcp = 0
    for filters in chains_filters:
        for f in filters:
            name = as_str(f.get("name"))
            if name in HCM_NAMES:
                n_http += 1
            elif name in TCP_NAMES and BLACKHOLE not in orjson.dumps(_filter_config(f)).decode():
                n_tcp += 1
    if n_http:
        return "HTTP" if n_tcp == 0 else "HTTP+TCP"
    return "TCP" if n_tcp else "UNKNOWN"


def _synth_filters(g: MeshGraph, chain: Props, config: str) -> list[dict[str, Any]]:
    """A chain's terminal filter rebuilt from graph properties, for backends without ``raw``."""
    if chain["terminal"] == "http":
        cfg: dict[str, Any] = {}
        if chain["rds_name"]:
            cfg["rds"] = {"route_config_name": chain["rds_name"]}
        elif (rc := g.route_config(chain["key"], config)) is not None:  # inline (its name may be empty)
            cfg["route_config"] = _synth_route_config(g, rc)
        return [{"name": HCM, "typed_config": cfg}]
    if chain["terminal"] == "tcp":
        clusters = jload(chain["tcp_clusters"]) or []
        tcfg: dict[str, Any] = {"stat_prefix": clusters[0][0] if len(clusters) == 1 else ""}
        if len(clusters) == 1:
            tcfg["cluster"] = clusters[0][0]
        else:
            tcfg["weighted_clusters"] = {"clusters": [{"name": c, "weight": w} for c, w in clusters]}
        return [{"name": TCP_PROXY, "typed_config": tcfg}]
    return []


def _synth_route_config(g: MeshGraph, rc: Props) -> dict[str, Any]:
    vhosts = []
    for vh in g.vhosts(rc["key"]):
        routes = []
        for r in g.routes(vh["key"]):
            rt: dict[str, Any] = {"match": jload(r["match"]) or {}}
            cl = jload(r["clusters"]) or []
            if r["action"] == "route":
                rt["route"] = {"cluster": cl[0][0]} if len(cl) == 1 else {"weighted_clusters": {}}
            routes.append(rt)
        vhosts.append({"name": vh["name"], "domains": vh["domains"], "routes": routes})
    return {"name": rc["name"], "virtual_hosts": vhosts}


def _listener_addr(props: Props) -> str:
    """retrieveListenerAddress: the socket address or pipe path; empty for internal listeners."""
    a = props["address"] or ""
    if a.startswith("unix:"):
        return a[len("unix:"):]
    if a.startswith("internal:"):
        return ""
    return a


@dataclass
class _Listener:
    props: Props
    raw: dict[str, Any] | None
    addr: str  # retrieveListenerAddress
    extra: list[str]  # additional addresses
    port: int
    type: str  # HTTP, TCP, HTTP+TCP or UNKNOWN
    matches: list[tuple[str, str]]  # (MATCH, DESTINATION) per filter chain, default chain last


def _listener_items(g: MeshGraph, config: str, raw: RawReader) -> list[_Listener]:
    items = []
    for lp in dynamic_first([p for p in g.listeners(config) if p["state"] in ("static", "active")]):
        rl = raw.get("Listener", lp["key"])
        chains = sorted(g.chains(lp["key"]), key=lambda c: (c["index"] < 0, c["index"]))
        extra: list[str] = []
        if rl is not None:
            raw_chains = [as_dict(c) for c in as_list(rl.get("filter_chains"))]
            if "default_filter_chain" in rl:
                raw_chains.append(as_dict(rl["default_filter_chain"]))
            filters = [[as_dict(f) for f in as_list(c.get("filters"))] for c in raw_chains]
            extra = [as_str(as_dict(as_dict(as_dict(a).get("address")).get("socket_address")).get("address"))
                     for a in as_list(rl.get("additional_addresses"))]
        else:
            filters = [_synth_filters(g, c, config) for c in chains]
        matches = [(describe_chain_match(c), describe_filters(f)) for c, f in zip(chains, filters, strict=False)]
        items.append(_Listener(lp, rl, _listener_addr(lp), extra, lp["port"] or 0, listener_type(filters), matches))
    return items


def listener_table(g: MeshGraph, pod: str, f: ListenerFilter = ListenerFilter(), *, namespace: str | None = None,
                   config_type: bool = False, require: bool = True) -> ShowTable:
    """``istioctl proxy-config listener POD`` (PrintListenerSummary; padding 1)."""
    grp = resolve_pod(g, pod, namespace)
    items = _listener_items(g, grp.config, RawReader(g))
    if require and not items:
        raise TopoError(f"no listeners found for {grp.pods[0]}", 1)

    def verify(it: _Listener) -> bool:
        if f.address and not any(a.lower() == f.address.lower() for a in [*it.extra, it.addr]):
            return False
        if f.port and it.port != f.port:
            return False
        return not (f.type and it.type.lower() != f.type.lower())

    items = [it for it in items if verify(it)]
    resources = [strip_any(it.raw) if it.raw is not None else it.props for it in items]  # istioctl: unsorted

    def less(a: _Listener, b: _Listener) -> bool:
        if a.port != b.port:
            return a.port < b.port
        if a.addr != b.addr:
            return a.addr < b.addr
        return a.type < b.type

    go_sort_slice(items, less)
    header = ["ADDRESSES", "PORT", *(["MATCH", "DESTINATION"] if f.verbose else ["TYPE"])]
    if config_type:
        header.insert(0, "NAME")
    rows: list[list[Cell]] = []
    for it in items:
        addrs = ",".join([it.addr, *it.extra])
        lead: list[Cell] = [f"listener/{it.props['name']}"] if config_type else []
        if f.verbose:
            matches = list(it.matches)
            go_sort_slice(matches, lambda x, y: x[1] > y[1])
            rows += [[*lead, addrs, it.port, m, dst] for m, dst in matches]
        else:
            rows.append([*lead, addrs, it.port, it.type])
    return ShowTable("listeners", grp.pods, header, rows, 1, resources)
