"""Small config dumps built in tests (Envoy admin shape, snake_case)."""

from __future__ import annotations

import copy
import re
from typing import Any

ADMIN = "type.googleapis.com/envoy.admin.v3."
HCM = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
TCP = "type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"


def sock(ip: str, port: int) -> dict[str, Any]:
    return {"socket_address": {"address": ip, "port_value": port}}


def hcm_chain(rds: str, *, name: str = "", match: dict[str, Any] | None = None) -> dict[str, Any]:
    fc: dict[str, Any] = {
        "filters": [{"name": "envoy.filters.network.http_connection_manager",
                     "typed_config": {"@type": HCM, "rds": {"route_config_name": rds}}}],
    }
    if match is not None:
        fc["filter_chain_match"] = match
    if name:
        fc["name"] = name
    return fc


def tcp_chain(cluster: str | list[tuple[str, int]], *, name: str = "", match: dict[str, Any] | None = None) -> dict[str, Any]:
    cfg: dict[str, Any] = {"@type": TCP, "stat_prefix": "x"}
    if isinstance(cluster, str):
        cfg["cluster"] = cluster
    else:
        cfg["weighted_clusters"] = {"clusters": [{"name": n, "weight": w} for n, w in cluster]}
    fc: dict[str, Any] = {"filters": [{"name": "envoy.filters.network.tcp_proxy", "typed_config": cfg}]}
    if match is not None:
        fc["filter_chain_match"] = match
    if name:
        fc["name"] = name
    return fc


def listener(name: str, ip: str, port: int, chains: list[dict[str, Any]], *, default: dict[str, Any] | None = None,
             bind: bool | None = False, original_dst: bool = False, http_inspector: bool = True) -> dict[str, Any]:
    l: dict[str, Any] = {"name": name, "address": sock(ip, port), "filter_chains": chains}
    if default is not None:
        l["default_filter_chain"] = default
    if bind is not None:
        l["bind_to_port"] = bind
    if original_dst:
        l["use_original_dst"] = True
    if http_inspector:
        l["listener_filters"] = [{"name": "envoy.filters.listener.http_inspector"}]
    l["traffic_direction"] = "OUTBOUND"
    return l


def virtual_outbound() -> dict[str, Any]:
    return listener("virtualOutbound", "0.0.0.0", 15001, [
        tcp_chain("BlackHoleCluster", name="virtualOutbound-blackhole", match={"destination_port": 15001}),
        tcp_chain("PassthroughCluster", name="virtualOutbound-catchall-tcp"),
    ], bind=None, original_dst=True, http_inspector=False)


def http_listener(port: int, rds: str | None = None) -> dict[str, Any]:
    return listener(f"0.0.0.0_{port}", "0.0.0.0", port,
                    [hcm_chain(rds or str(port), match={"transport_protocol": "raw_buffer",
                                                         "application_protocols": ["http/1.1", "h2c"]})],
                    default=tcp_chain("PassthroughCluster", name="PassthroughFilterChain"))


def route(prefix: str = "/", *, clusters: list[tuple[str, int]] | None = None, cluster: str | None = None,
          name: str = "default", match: dict[str, Any] | None = None) -> dict[str, Any]:
    m = match if match is not None else {"prefix": prefix}
    if cluster is not None:
        action: dict[str, Any] = {"cluster": cluster}
    else:
        action = {"weighted_clusters": {"clusters": [{"name": n, "weight": w} for n, w in clusters or []]}}
    return {"name": name, "match": m, "route": action}


def vhost(name: str, domains: list[str], routes: list[dict[str, Any]]) -> dict[str, Any]:
    return {"name": name, "domains": domains, "routes": routes}


def route_config(name: str, vhosts: list[dict[str, Any]], *, ignore_port: bool = True) -> dict[str, Any]:
    rc: dict[str, Any] = {"name": name, "virtual_hosts": vhosts}
    if ignore_port:
        rc["ignore_port_in_host_matching"] = True
    return rc


def cluster(name: str, *, type_: str = "EDS", **extra: Any) -> dict[str, Any]:
    c: dict[str, Any] = {"name": name, "type": type_}
    if type_ == "EDS":
        c["eds_cluster_config"] = {"service_name": name}
    if type_ == "ORIGINAL_DST":
        c["lb_policy"] = "CLUSTER_PROVIDED"
    c.update(extra)
    return c


def cla(name: str, endpoints: list[dict[str, Any]], *, opf: int = 140) -> dict[str, Any]:
    """endpoints: dicts with ip, port, and optional health, weight, priority, zone."""
    groups: dict[tuple[int, str], list[dict[str, Any]]] = {}
    for e in endpoints:
        groups.setdefault((e.get("priority", 0), e.get("zone", "z1")), []).append(e)
    locs = []
    for (prio, zone), eps in sorted(groups.items()):
        loc: dict[str, Any] = {
            "locality": {"region": "r1", "zone": zone},
            "lb_endpoints": [
                {"endpoint": {"address": sock(e["ip"], e["port"])}, "health_status": e.get("health", "HEALTHY"),
                 "load_balancing_weight": e.get("weight", 1)} for e in eps
            ],
            "load_balancing_weight": sum(e.get("weight", 1) for e in eps),
        }
        if prio:
            loc["priority"] = prio
        locs.append(loc)
    return {"cluster_name": name, "endpoints": locs, "policy": {"overprovisioning_factor": opf}}


def dump(*, pod: str = "client-abc", ns: str = "default", ip: str = "10.0.0.1", labels: dict[str, str] | None = None,
         listeners: list[dict[str, Any]] | None = None, route_configs: list[dict[str, Any]] | None = None,
         clusters: list[dict[str, Any]] | None = None, endpoints: list[dict[str, Any]] | None = None,
         istio_version: str = "1.22.3") -> dict[str, Any]:
    labels = labels or {"app": re.sub(r"-[^-]+$", "", pod)}
    clusters = list(clusters or [])
    names = {c["name"] for c in clusters}
    for special in (cluster("PassthroughCluster", type_="ORIGINAL_DST"), cluster("BlackHoleCluster", type_="STATIC")):
        if special["name"] not in names:
            clusters.append(special)
    configs: list[dict[str, Any]] = [
        {"@type": ADMIN + "BootstrapConfigDump", "bootstrap": {"node": {
            "id": f"sidecar~{ip}~{pod}.{ns}~{ns}.svc.cluster.local",
            "metadata": {"NAME": pod, "NAMESPACE": ns, "LABELS": labels, "INSTANCE_IPS": ip,
                         "WORKLOAD_NAME": labels.get("app", pod), "ISTIO_VERSION": istio_version}}}},
        {"@type": ADMIN + "ClustersConfigDump", "dynamic_active_clusters": [{"cluster": c} for c in clusters]},
    ]
    if endpoints is not None:
        configs.append({"@type": ADMIN + "EndpointsConfigDump",
                        "dynamic_endpoint_configs": [{"endpoint_config": e} for e in endpoints]})
    configs.append({"@type": ADMIN + "ListenersConfigDump", "dynamic_listeners": [
        {"name": l["name"], "active_state": {"listener": l}} for l in (listeners or [])]})
    configs.append({"@type": ADMIN + "RoutesConfigDump", "dynamic_route_configs": [
        {"route_config": r} for r in (route_configs or [])]})
    return {"configs": configs}


def simple_mesh_dump(*, pod: str = "client-abc", weights: tuple[int, int] = (90, 10),
                     v1: list[dict[str, Any]] | None = None, v2: list[dict[str, Any]] | None = None,
                     **kw: Any) -> dict[str, Any]:
    """A client whose `svc:8080` (HTTP port) splits between subsets v1 and v2."""
    fq = "svc.default.svc.cluster.local"
    c1, c2 = f"outbound|8080|v1|{fq}", f"outbound|8080|v2|{fq}"
    v1 = v1 if v1 is not None else [{"ip": "10.1.0.1", "port": 8080}, {"ip": "10.1.0.2", "port": 8080}]
    v2 = v2 if v2 is not None else [{"ip": "10.1.0.3", "port": 8080}]
    return dump(
        pod=pod,
        listeners=[virtual_outbound(), http_listener(8080)],
        route_configs=[route_config("8080", [
            vhost(f"{fq}:8080", [fq, "svc.default.svc", "svc.default", "svc", "10.96.0.10"],
                  [route(clusters=[(c1, weights[0]), (c2, weights[1])], name="split")]),
            vhost("allow_any", ["*"], [route(cluster="PassthroughCluster", name="allow_any")]),
        ])],
        clusters=[cluster(c1), cluster(c2), cluster(f"outbound|8080||{fq}")],
        endpoints=[cla(c1, v1), cla(c2, v2), cla(f"outbound|8080||{fq}", v1 + v2)],
        **kw,
    )


def to_camel(obj: Any) -> Any:
    """lowerCamelCase keys, as Go jsonpb prints (user-data maps left alone)."""
    def camel(k: str) -> str:
        if k.startswith("@") or k.isupper() or "_" not in k:
            return k
        head, *rest = k.split("_")
        return head + "".join(r[:1].upper() + r[1:] for r in rest)

    if isinstance(obj, dict):
        return {camel(k): (v if k in ("LABELS", "filter_metadata") else to_camel(v)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [to_camel(v) for v in obj]
    return obj


def deep(obj: Any) -> Any:
    return copy.deepcopy(obj)


def static_cluster(name: str, ips: list[str], port: int = 8080, **extra: Any) -> dict[str, Any]:
    """A STATIC cluster with an inline load assignment (no EDS entry needed)."""
    c = cluster(name, type_="STATIC", **extra)
    c["load_assignment"] = cla(name, [{"ip": ip, "port": port} for ip in ips])
    return c


def two_versions_dumps() -> tuple[dict[str, Any], dict[str, Any]]:
    """Pod a's proxy holds one `svc` cluster; pod b's holds that same cluster *and* a later
    entry of the same name with other endpoints (a dump that lists a name twice: the later
    entry is the one in force). Both route `svc:8080` through the same route config."""
    fq = "svc.default.svc.cluster.local"
    name = f"outbound|8080||{fq}"
    old = static_cluster(name, ["10.1.0.1"])
    new = static_cluster(name, ["10.1.0.9"], lb_policy="LEAST_REQUEST")
    common = {
        "listeners": [virtual_outbound(), http_listener(8080)],
        "route_configs": [route_config("8080", [vhost(f"{fq}:8080", [fq, "svc"], [route(cluster=name)])])],
    }
    a = dump(pod="a-1", ip="10.0.0.1", clusters=[old], **common)
    b = dump(pod="b-1", ip="10.0.0.2", clusters=[old, new], **common)
    return a, b
