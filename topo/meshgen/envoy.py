"""Render the ``/config_dump?include_eds=true`` document of an Istio ~1.22 sidecar.

``render_dump(mesh, pod)`` gives the document as a dict; ``render_dump_json(mesh, pod)`` gives the exact
bytes Envoy's admin API prints (``json.dumps(doc, indent=1)``: snake_case keys, 1-space indent).

What is built follows Istio 1.22 sidecar behaviour (see shared/ENVOY-SEMANTICS.md §1, §2, §4, §5, §7, §8):

* ``virtualOutbound`` (15001, use_original_dst) with ``virtualOutbound-blackhole`` and
  ``virtualOutbound-catchall-tcp``; ``virtualInbound`` (15006) with the pod's own per-port chains.
* HTTP-named ports: one shared ``0.0.0.0_<port>`` listener, RDS ``"<port>"``, one vhost per service
  (domains: FQDN, short forms, bare name only in the client's namespace, VIP) and the ``allow_any``
  catch-all, ``ignore_port_in_host_matching: true``.
* Unnamed ports (protocol sniffing): ``<vip>_<port>`` listener with an HTTP chain to RDS
  ``"<fqdn>:<port>"`` (a single ``*`` vhost, no catch-all) and a tcp_proxy ``default_filter_chain``.
* TCP ports: ``<vip>_<port>`` with one match-all chain. Headless services: one listener per pod IP and
  an ORIGINAL_DST cluster. ServiceEntry TLS hosts without an address: ``0.0.0.0_<port>`` with a
  ``server_names`` chain per host; DNS resolution gives STRICT_DNS clusters with an inline load_assignment.
* EDS clusters per service port and per DestinationRule subset, with the endpoint dump (health,
  locality, Istio's locality-failover priorities when the DR has outlier detection).

Rendering is O(services + endpoints) per dump. A :class:`Renderer` caches every resource that does not
depend on the client, so writing many dumps of one mesh costs little more than writing the bytes.
Standard library only.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import time
from collections.abc import Iterable
from typing import Any

from .model import (
    AUTO,
    HTTP,
    K8S,
    REGISTRY_ONLY,
    SERVICE_ENTRY,
    TLS,
    UDP,
    HTTPMatch,
    HTTPRoute,
    Locality,
    Mesh,
    Pod,
    Service,
    ServicePort,
    Subset,
    VirtualService,
    Workload,
    qualify,
    stable_hash,
)

ENVOY_VERSION = (1, 30, 4)  # the Envoy that Istio 1.22.3's proxyv2 ships
# Istio ≤1.22 splits the inbound passthrough cluster per IP family; 1.23 renamed it InboundPassthroughCluster.
INBOUND_PASSTHROUGH = "InboundPassthroughClusterIpv4"
PASSTHROUGH = "PassthroughCluster"
BLACKHOLE = "BlackHoleCluster"
# Version segment of route/cluster ``metadata.filter_metadata.istio.config`` paths.
CONFIG_API_VERSION = "v1"
OVERPROVISIONING_FACTOR = 140
HTTP_ALPN = ["http/1.1", "h2c"]
ISTIO_HTTP_ALPN = ["istio-http/1.0", "istio-http/1.1", "istio-h2"]
MAX_U32 = 4294967295

_T = "type.googleapis.com/"
T_BOOTSTRAP_DUMP = _T + "envoy.admin.v3.BootstrapConfigDump"
T_CLUSTERS_DUMP = _T + "envoy.admin.v3.ClustersConfigDump"
T_ENDPOINTS_DUMP = _T + "envoy.admin.v3.EndpointsConfigDump"
T_LISTENERS_DUMP = _T + "envoy.admin.v3.ListenersConfigDump"
T_SCOPED_DUMP = _T + "envoy.admin.v3.ScopedRoutesConfigDump"
T_ROUTES_DUMP = _T + "envoy.admin.v3.RoutesConfigDump"
T_SECRETS_DUMP = _T + "envoy.admin.v3.SecretsConfigDump"
T_CLUSTER = _T + "envoy.config.cluster.v3.Cluster"
T_LISTENER = _T + "envoy.config.listener.v3.Listener"
T_ROUTE_CONFIG = _T + "envoy.config.route.v3.RouteConfiguration"
T_CLA = _T + "envoy.config.endpoint.v3.ClusterLoadAssignment"
T_SECRET = _T + "envoy.extensions.transport_sockets.tls.v3.Secret"
T_HCM = _T + "envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
T_TCP_PROXY = _T + "envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy"
T_ROUTER = _T + "envoy.extensions.filters.http.router.v3.Router"

DETAIL_FULL = "full"  # what Istio really sends: mTLS transport sockets, HTTP filter chain, retry policies
DETAIL_LEAN = "lean"  # the same topology without the parts that never change where traffic goes


# --------------------------------------------------------------------------------------------------
# JSON text with cached fragments


class Raw:
    """A JSON-ready object whose ``json.dumps(indent=1)`` text is cached (per indentation level)."""

    __slots__ = ("obj", "_lvl", "_txt")

    def __init__(self, obj: Any) -> None:
        self.obj = obj
        self._lvl = -1
        self._txt = ""

    def text(self, lvl: int) -> str:
        if self._lvl != lvl:
            t = json.dumps(self.obj, indent=1)
            if lvl:
                t = t.replace("\n", "\n" + " " * lvl)
            self._lvl, self._txt = lvl, t
        return self._txt


def _enc(o: Any, lvl: int) -> str:
    """``json.dumps(o, indent=1)`` for a tree that may hold :class:`Raw` leaves (nested ``lvl`` deep)."""
    if isinstance(o, Raw):
        return o.text(lvl)
    if isinstance(o, dict):
        if not o:
            return "{}"
        ind = "\n" + " " * (lvl + 1)
        body = ("," + ind).join(json.dumps(k) + ": " + _enc(v, lvl + 1) for k, v in o.items())
        return "{" + ind + body + "\n" + " " * lvl + "}"
    if isinstance(o, list):
        if not o:
            return "[]"
        ind = "\n" + " " * (lvl + 1)
        return "[" + ind + ("," + ind).join(_enc(v, lvl + 1) for v in o) + "\n" + " " * lvl + "]"
    return json.dumps(o)


# --------------------------------------------------------------------------------------------------
# Deterministic clock: every timestamp derives from the mesh seed and the resource name.


def _iso(ms: int, with_ms: bool = True) -> str:
    s = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000))
    return f"{s}.{ms % 1000:03d}Z" if with_ms else s + "Z"


class Clock:
    def __init__(self, seed: int) -> None:
        h = stable_hash(f"meshgen-seed:{seed}")
        self.base_ms = (1717200000 + h % (180 * 86400)) * 1000  # somewhere in 2024-06 .. 2024-11
        self.push_ms = self.base_ms + (600 + h % 600) * 1000  # the last full xDS push
        self.version = f"{_iso(self.push_ms, with_ms=False)}/{17 + (h >> 20) % 500}"

    def updated(self, key: str) -> str:
        """When a dynamic resource was last applied: after the push, the same for every proxy."""
        return _iso(self.push_ms + 1000 + stable_hash(key) % 4000)

    def booted(self, pod: str, offset_ms: int = 0) -> str:
        """Start-up of one proxy (bootstrap and static resources): before the push."""
        return _iso(self.base_ms + stable_hash("boot:" + pod) % 300000 + offset_ms)


# --------------------------------------------------------------------------------------------------
# Small builders (each call returns fresh objects)


def _sa(address: str, port: int) -> dict:
    return {"socket_address": {"address": address, "port_value": port}}


def _ads() -> dict:
    return {"ads": {}, "initial_fetch_timeout": "0s", "resource_api_version": "V3"}


def _sds(name: str) -> dict:
    return {
        "name": name,
        "sds_config": {
            "api_config_source": {
                "api_type": "GRPC",
                "grpc_services": [{"envoy_grpc": {"cluster_name": "sds-grpc"}}],
                "set_node_on_first_message_only": True,
                "transport_api_version": "V3",
            },
            "initial_fetch_timeout": "0s",
            "resource_api_version": "V3",
        },
    }


def _circuit_breakers() -> dict:
    return {"thresholds": [{
        "max_connections": MAX_U32,
        "max_pending_requests": MAX_U32,
        "max_requests": MAX_U32,
        "max_retries": MAX_U32,
        "track_remaining": True,
    }]}


def _istio_metadata(**fields: Any) -> dict:
    return {"filter_metadata": {"istio": {k: v for k, v in sorted(fields.items()) if v is not None}}}


def _config_path(kind: str, namespace: str, name: str) -> str:
    return f"/apis/networking.istio.io/{CONFIG_API_VERSION}/namespaces/{namespace}/{kind}/{name}"


def _tls_inspector() -> dict:
    return {"name": "envoy.filters.listener.tls_inspector", "typed_config": {
        "@type": _T + "envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector"}}


def _http_inspector() -> dict:
    return {"name": "envoy.filters.listener.http_inspector", "typed_config": {
        "@type": _T + "envoy.extensions.filters.listener.http_inspector.v3.HttpInspector"}}


def _ip_key(ip: str) -> tuple[int, int]:
    a = ipaddress.ip_address(ip)
    return (a.version, int(a))


class Renderer:
    """Builds the dumps of one mesh; reuse it to render many pods cheaply."""

    def __init__(self, mesh: Mesh, detail: str = DETAIL_FULL) -> None:
        if detail not in (DETAIL_FULL, DETAIL_LEAN):
            raise ValueError(f"detail must be {DETAIL_FULL!r} or {DETAIL_LEAN!r}")
        self.mesh = mesh
        self.ix = mesh.index
        self.full = detail == DETAIL_FULL
        self.clock = Clock(mesh.seed)
        self.domain = mesh.domain
        self._cache: dict[Any, Raw] = {}
        self._group_key: Any = None
        self._group_text: list[str] = []
        self._plan()

    # ---------------------------------------------------------------- mesh-wide plan (client-independent)

    def _plan(self) -> None:
        ix, d = self.ix, self.domain
        self.http_ports: dict[int, list[tuple[Service, ServicePort]]] = {}
        self.sni_ports: dict[int, list[tuple[Service, ServicePort]]] = {}
        self.out_listeners: dict[str, tuple] = {}  # name -> builder args
        self.sniffed_routes: dict[str, tuple[Service, ServicePort]] = {}
        self.clusters: dict[str, tuple] = {}  # name -> (kind, svc, sp, subset)
        self.pods_of: dict[str, list[tuple[Workload, Pod]]] = {}
        for svc in self.mesh.services:
            fqdn = svc.fqdn(d)
            if fqdn in self.pods_of:
                continue  # a duplicate host: Istio keeps the first
            backing = [(w, p) for w in ix.backing.get(fqdn, []) for p in w.pods]
            backing.sort(key=lambda wp: _ip_key(wp[1].ip))
            self.pods_of[fqdn] = backing
            dr = ix.dr.get(fqdn)
            for sp in svc.ports:
                proto = sp.proto
                if proto == UDP:
                    continue
                port = sp.port
                base = f"outbound|{port}||{fqdn}"
                if svc.headless:
                    kind = "odst"
                elif svc.kind == SERVICE_ENTRY:
                    kind = {"DNS": "dns", "NONE": "odst"}.get(svc.resolution.upper(), "eds")
                else:
                    kind = "eds"
                self.clusters.setdefault(base, (kind, svc, sp, None))
                if dr and kind == "eds":
                    for sub in dr.subsets:
                        self.clusters.setdefault(f"outbound|{port}|{sub.name}|{fqdn}", (kind, svc, sp, sub))
                if proto == HTTP:
                    self.http_ports.setdefault(port, []).append((svc, sp))
                elif svc.headless:
                    for _w, p in backing:
                        self.out_listeners.setdefault(f"{p.ip}_{port}", ("vip", p.ip, svc, sp))
                    if proto == AUTO:
                        self.sniffed_routes.setdefault(f"{fqdn}:{port}", (svc, sp))
                elif svc.vip:
                    self.out_listeners.setdefault(f"{svc.vip}_{port}", ("vip", svc.vip, svc, sp))
                    if proto == AUTO:
                        self.sniffed_routes.setdefault(f"{fqdn}:{port}", (svc, sp))
                elif proto == TLS:
                    self.sni_ports.setdefault(port, []).append((svc, sp))
                elif proto == AUTO:
                    # no address and auto-detect: Istio binds 0.0.0.0 and uses the shared "<port>" routes
                    self.http_ports.setdefault(port, []).append((svc, sp))
                else:
                    self.out_listeners.setdefault(f"0.0.0.0_{port}", ("vip", "0.0.0.0", svc, sp))
        for port in self.http_ports:
            self.http_ports[port].sort(key=lambda t: t[0].fqdn(d))
            self.out_listeners.setdefault(f"0.0.0.0_{port}", ("http", port))
        for port in self.sni_ports:
            self.sni_ports[port].sort(key=lambda t: t[0].fqdn(d))
            self.out_listeners.setdefault(f"0.0.0.0_{port}", ("sni", port))
        self.listener_order = sorted(self.out_listeners, key=lambda n: (int(n.rsplit("_", 1)[1]), n))
        self.sniffed_order = sorted(self.sniffed_routes)
        self.http_route_order = sorted(self.http_ports)

    # ---------------------------------------------------------------- public

    def render_json(self, pod: Pod | str, namespace: str | None = None) -> str:
        w, p = self._resolve(pod, namespace)
        key = (w.namespace, w.name, p.locality)
        if key != self._group_key:
            self._group_key, self._group_text = key, [_enc(c, 2) for c in self._group_configs(w, p)]
        boot = _enc(self._bootstrap(w, p), 2)
        return '{\n "configs": [\n  ' + ",\n  ".join([boot, *self._group_text]) + "\n ]\n}"

    def render(self, pod: Pod | str, namespace: str | None = None) -> dict:
        return json.loads(self.render_json(pod, namespace))

    def group_key(self, w: Workload, p: Pod) -> tuple:
        """Pods with the same key get byte-identical dumps apart from the bootstrap."""
        return (w.namespace, w.name, p.locality)

    def _resolve(self, pod: Pod | str, namespace: str | None) -> tuple[Workload, Pod]:
        if isinstance(pod, Pod):
            w = self.ix.workload_of.get(id(pod))
            if w is None:
                raise KeyError(f"pod {pod.name!r} is not part of mesh {self.mesh.name!r}")
            return w, pod
        return self.mesh.find_pod(pod, namespace)

    def _raw(self, key: Any, build, *args) -> Raw:
        r = self._cache.get(key)
        if r is None:
            r = self._cache[key] = Raw(build(*args))
        return r

    # ---------------------------------------------------------------- the document

    def _group_configs(self, w: Workload, p: Pod) -> list[dict]:
        v, clk = self.clock.version, self.clock
        inbound = self._inbound_ports(w)
        wkey = ("wl", w.namespace, w.name)

        # clusters: Envoy lists them sorted by name
        names = set(self.clusters) | {PASSTHROUGH, BLACKHOLE, INBOUND_PASSTHROUGH}
        names |= {f"inbound|{tp}||" for tp in inbound}
        cluster_entries = []
        endpoint_entries = []
        for name in sorted(names):
            if name.startswith("inbound|"):
                tp = int(name.split("|")[1])
                craw = self._raw((wkey, "c", name), self._inbound_cluster_entry, name, inbound[tp][1])
            else:
                craw = self._raw(("c", name), self._cluster_entry, name)
            cluster_entries.append(craw)
            endpoint_entries.append(self._endpoint_raw(name, p.locality))

        listeners = [self._raw(("l", "virtualOutbound"), self._listener_entry, "virtualOutbound", None),
                     self._raw((wkey, "l", "virtualInbound"), self._listener_entry, "virtualInbound", inbound)]
        listeners += [self._raw(("l", n), self._listener_entry, n, None) for n in self.listener_order]

        routes = [self._raw(("r", str(port), w.namespace), self._http_route_entry, port, w.namespace)
                  for port in self.http_route_order]
        routes += [self._raw(("r", n), self._sniffed_route_entry, n) for n in self.sniffed_order]
        static_routes = [self._raw(("sr", "15090"), self._static_route_entry, self._prom_route_config()),
                         self._raw(("sr", "15021"), self._static_route_entry, self._ready_route_config()),
                         self._raw(("sr", INBOUND_PASSTHROUGH), self._static_route_entry,
                                   self._inbound_route_config(INBOUND_PASSTHROUGH, 0, ":0/*"))]
        for tp, (_proto, svcs) in sorted(inbound.items()):
            if _proto in (HTTP, AUTO):
                static_routes.append(self._raw((wkey, "sr", tp), self._static_route_entry,
                                               self._inbound_route_config(f"inbound|{tp}||", tp,
                                                                          self._inbound_operation(svcs, tp))))

        return [
            {"@type": T_CLUSTERS_DUMP, "version_info": v,
             "static_clusters": [self._raw(("sc", c["name"]), self._static_cluster_entry, c)
                                 for c in sorted(self._bootstrap_clusters(), key=lambda c: c["name"])],
             "dynamic_active_clusters": cluster_entries},
            {"@type": T_ENDPOINTS_DUMP,
             "static_endpoint_configs": [self._raw(("se", c["name"]), self._static_endpoint_entry, c)
                                         for c in self._bootstrap_clusters()],
             "dynamic_endpoint_configs": endpoint_entries},
            {"@type": T_LISTENERS_DUMP, "version_info": v,
             "static_listeners": [self._raw(("sl", i), self._static_listener_entry, lst, i)
                                  for i, lst in enumerate(self._bootstrap_listeners())],
             "dynamic_listeners": listeners},
            {"@type": T_SCOPED_DUMP},
            {"@type": T_ROUTES_DUMP, "static_route_configs": static_routes, "dynamic_route_configs": routes},
            {"@type": T_SECRETS_DUMP, "dynamic_active_secrets": [
                {"name": n, "last_updated": clk.updated("secret:" + n), "secret": {"@type": T_SECRET, "name": n}}
                for n in ("default", "ROOTCA")]},
        ]

    def _inbound_ports(self, w: Workload) -> dict[int, tuple[str, list[tuple[Service, ServicePort]]]]:
        out: dict[int, tuple[str, list[tuple[Service, ServicePort]]]] = {}
        for sname in w.services:
            svc = self.ix.by_fqdn.get(f"{sname}.{w.namespace}.svc.{self.domain}")
            if svc is None:
                continue
            for sp in svc.ports:
                if sp.proto == UDP:
                    continue
                out.setdefault(sp.target, (sp.proto, []))[1].append((svc, sp))
        return out

    # ---------------------------------------------------------------- bootstrap

    def _bootstrap_clusters(self) -> list[dict]:
        def static(name: str, addr: dict, timeout: str, extra: dict | None = None) -> dict:
            c: dict = {"name": name, "type": "STATIC", "connect_timeout": timeout}
            if extra and "max_requests_per_connection" in extra:
                c["max_requests_per_connection"] = extra.pop("max_requests_per_connection")
            c["load_assignment"] = {"cluster_name": name, "endpoints": [{"lb_endpoints": [
                {"endpoint": {"address": addr}}]}]}
            if extra:
                c.update(extra)
            return c

        h2 = {"typed_extension_protocol_options": {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
            "@type": _T + "envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
            "explicit_http_config": {"http2_protocol_options": {}}}}}
        return [
            static("prometheus_stats", _sa("127.0.0.1", 15000), "0.250s"),
            static("agent", _sa("127.0.0.1", 15020), "0.250s"),
            static("sds-grpc", {"pipe": {"path": "./var/run/secrets/workload-spiffe-uds/socket"}}, "1s", dict(h2)),
            static("xds-grpc", {"pipe": {"path": "./etc/istio/proxy/XDS"}}, "1s",
                   {"max_requests_per_connection": 1, **h2}),
        ]

    def _bootstrap_listeners(self) -> list[dict]:
        def lst(port: int, prefix: str, cluster: str, stat: str) -> dict:
            return {"address": _sa("0.0.0.0", port), "filter_chains": [{"filters": [{
                "name": "envoy.filters.network.http_connection_manager",
                "typed_config": {"@type": T_HCM, "stat_prefix": stat,
                                 "route_config": {"virtual_hosts": [{"name": "backend", "domains": ["*"], "routes": [
                                     {"match": {"prefix": prefix}, "route": {"cluster": cluster}}]}]},
                                 "http_filters": [self._router()]}}]}]}
        return [lst(15090, "/stats/prometheus", "prometheus_stats", "stats"),
                lst(15021, "/healthz/ready", "agent", "agent")]

    def _prom_route_config(self) -> dict:
        return {"@type": T_ROUTE_CONFIG, "virtual_hosts": [{"name": "backend", "domains": ["*"], "routes": [
            {"match": {"prefix": "/stats/prometheus"}, "route": {"cluster": "prometheus_stats"}}]}]}

    def _ready_route_config(self) -> dict:
        return {"@type": T_ROUTE_CONFIG, "virtual_hosts": [{"name": "backend", "domains": ["*"], "routes": [
            {"match": {"prefix": "/healthz/ready"}, "route": {"cluster": "agent"}}]}]}

    def _bootstrap(self, w: Workload, p: Pod) -> dict:
        m, ns = self.mesh, w.namespace
        labels = {"app": w.app, "security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": w.app,
                  "service.istio.io/canonical-revision": w.version, "version": w.version}
        pod_ports = sorted(self._inbound_ports(w))
        sha = hashlib.sha1(("istio-proxy " + m.istio_version).encode()).hexdigest()
        metadata = {
            "ANNOTATIONS": {
                "istio.io/rev": "default",
                "kubectl.kubernetes.io/default-container": w.app,
                "kubectl.kubernetes.io/default-logs-container": w.app,
                "kubernetes.io/config.source": "api",
                "prometheus.io/path": "/stats/prometheus",
                "prometheus.io/port": "15020",
                "prometheus.io/scrape": "true",
            },
            "APP_CONTAINERS": w.app,
            "CLUSTER_ID": m.cluster_id,
            "ENVOY_PROMETHEUS_PORT": 15090,
            "ENVOY_STATUS_PORT": 15021,
            "INSTANCE_IPS": p.ip,
            "INTERCEPTION_MODE": "REDIRECT",
            "ISTIO_PROXY_SHA": sha,
            "ISTIO_VERSION": m.istio_version,
            "LABELS": labels,
            "MESH_ID": m.domain,
            "NAME": p.name,
            "NAMESPACE": ns,
            "NODE_NAME": p.node,
            "OWNER": f"kubernetes://apis/apps/v1/namespaces/{ns}/deployments/{w.name}",
            "PILOT_SAN": ["istiod.istio-system.svc"],
            "POD_PORTS": json.dumps([{"containerPort": tp, "protocol": "TCP"} for tp in pod_ports],
                                    separators=(",", ":")),
            "PROXY_CONFIG": {
                "binaryPath": "/usr/local/bin/envoy",
                "concurrency": 2,
                "configPath": "./etc/istio/proxy",
                "controlPlaneAuthPolicy": "MUTUAL_TLS",
                "discoveryAddress": "istiod.istio-system.svc:15012",
                "drainDuration": "45s",
                "proxyAdminPort": 15000,
                "serviceCluster": "istio-proxy",
                "statNameLength": 189,
                "statusPort": 15020,
                "terminationDrainDuration": "5s",
            },
            "SERVICE_ACCOUNT": w.sa,
            "WORKLOAD_NAME": w.name,
        }
        node = {
            "id": f"sidecar~{p.ip}~{p.name}.{ns}~{ns}.svc.{m.domain}",
            "cluster": f"{w.app}.{ns}",
            "metadata": metadata,
            "locality": p.locality.as_envoy(),
            "user_agent_name": "envoy",
            "user_agent_build_version": {
                "version": {"major_number": ENVOY_VERSION[0], "minor_number": ENVOY_VERSION[1],
                            "patch": ENVOY_VERSION[2]},
                "metadata": {"build.type": "RELEASE", "revision.sha": sha, "revision.status": "Clean",
                             "ssl.version": "BoringSSL"},
            },
        }
        bootstrap = {
            "node": node,
            "static_resources": {"listeners": self._bootstrap_listeners(), "clusters": self._bootstrap_clusters()},
            "dynamic_resources": {
                "lds_config": _ads(),
                "cds_config": _ads(),
                "ads_config": {"api_type": "GRPC", "grpc_services": [{"envoy_grpc": {"cluster_name": "xds-grpc"}}],
                               "set_node_on_first_message_only": True, "transport_api_version": "V3"},
            },
            "admin": {"profile_path": "/var/lib/istio/data/envoy.prof", "address": _sa("127.0.0.1", 15000),
                      "access_log": [{"name": "envoy.access_loggers.file", "typed_config": {
                          "@type": _T + "envoy.extensions.access_loggers.file.v3.FileAccessLog",
                          "path": "/dev/null"}}]},
        }
        return {"@type": T_BOOTSTRAP_DUMP, "bootstrap": bootstrap, "last_updated": self.clock.booted(p.name)}

    def _static_cluster_entry(self, c: dict) -> dict:
        return {"cluster": {"@type": T_CLUSTER, **c}, "last_updated": self._boot_fixed("sc:" + c["name"])}

    def _static_listener_entry(self, lst: dict, i: int) -> dict:
        return {"listener": {"@type": T_LISTENER, **lst}, "last_updated": self._boot_fixed(f"sl:{i}")}

    def _static_route_entry(self, rc: dict) -> dict:
        # bootstrap listeners' inline routes load at start-up; virtualInbound's arrive with the LDS push
        name = rc.get("name")
        upd = self.clock.updated("sr:" + name) if name else self._boot_fixed("sr:" + str(rc))
        return {"route_config": rc, "last_updated": upd}

    def _boot_fixed(self, key: str) -> str:
        # static resources: the same for every pod (so pods of a workload stay identical outside the bootstrap)
        return _iso(self.clock.base_ms + 300000 + stable_hash(key) % 2000)

    def _static_endpoint_entry(self, c: dict) -> dict:
        lbe = [{"endpoint": {"address": e["endpoint"]["address"], "health_check_config": {}},
                "health_status": "HEALTHY", "load_balancing_weight": 1}
               for grp in c["load_assignment"]["endpoints"] for e in grp["lb_endpoints"]]
        return {"endpoint_config": {"@type": T_CLA, "cluster_name": c["name"],
                                    "endpoints": [{"locality": {}, "lb_endpoints": lbe}],
                                    "policy": {"overprovisioning_factor": OVERPROVISIONING_FACTOR}}}

    # ---------------------------------------------------------------- clusters

    def _dynamic(self, name: str, body: dict) -> dict:
        return {"version_info": self.clock.version, "cluster": body, "last_updated": self.clock.updated("c:" + name)}

    def _cluster_entry(self, name: str) -> dict:
        if name == PASSTHROUGH:
            c = {"@type": T_CLUSTER, "name": PASSTHROUGH, "type": "ORIGINAL_DST", "connect_timeout": "10s",
                 "lb_policy": "CLUSTER_PROVIDED", "circuit_breakers": _circuit_breakers()}
            if self.full:
                c["typed_extension_protocol_options"] = self._downstream_protocol(idle=True)
                c["filters"] = self._cluster_filters()
            return self._dynamic(name, c)
        if name == BLACKHOLE:
            return self._dynamic(name, {"@type": T_CLUSTER, "name": BLACKHOLE, "type": "STATIC",
                                        "connect_timeout": "10s"})
        if name == INBOUND_PASSTHROUGH:
            c = {"@type": T_CLUSTER, "name": name, "type": "ORIGINAL_DST", "connect_timeout": "10s",
                 "lb_policy": "CLUSTER_PROVIDED", "circuit_breakers": _circuit_breakers(),
                 "upstream_bind_config": {"source_address": {"address": "127.0.0.6", "port_value": 0}}}
            if self.full:
                c["typed_extension_protocol_options"] = self._downstream_protocol(idle=True)
            return self._dynamic(name, c)
        kind, svc, sp, subset = self.clusters[name]
        return self._dynamic(name, self._outbound_cluster(name, kind, svc, sp, subset))

    def _outbound_cluster(self, name: str, kind: str, svc: Service, sp: ServicePort, subset: Subset | None) -> dict:
        fqdn = svc.fqdn(self.domain)
        dr = self.ix.dr.get(fqdn)
        c: dict = {"@type": T_CLUSTER, "name": name}
        if kind == "eds":
            c["type"] = "EDS"
            c["eds_cluster_config"] = {"eds_config": _ads(), "service_name": name}
        elif kind == "odst":
            c["type"] = "ORIGINAL_DST"
        else:
            c["type"] = "STRICT_DNS"
        c["connect_timeout"] = "10s"
        if kind == "odst":
            c["lb_policy"] = "CLUSTER_PROVIDED"
        else:
            lb = (dr.lb_policy if dr and dr.lb_policy else "LEAST_REQUEST").upper()
            if lb != "ROUND_ROBIN":  # the enum default is omitted from the JSON
                c["lb_policy"] = lb
        c["circuit_breakers"] = _circuit_breakers()
        if kind == "dns":
            c["dns_refresh_rate"] = "60s"
            c["dns_lookup_family"] = "V4_ONLY"
        outlier = bool(dr and dr.outlier_detection and kind != "odst")
        if outlier:
            c["outlier_detection"] = {
                "consecutive_5xx": 5, "interval": "10s", "base_ejection_time": "30s", "max_ejection_percent": 100,
                "enforcing_consecutive_5xx": 100, "enforcing_success_rate": 0,
                "consecutive_gateway_failure": 0, "enforcing_consecutive_gateway_failure": 0}
        svc_meta = [{"host": fqdn, "name": svc.name if svc.kind == K8S else fqdn, "namespace": svc.namespace}]
        c["metadata"] = _istio_metadata(
            config=_config_path("destination-rule", dr.namespace, dr.name) if dr else None,
            services=svc_meta, subset=subset.name if subset else None)
        clb: dict = {}
        if outlier:
            clb["healthy_panic_threshold"] = {}
        if self.ix.multi_locality:
            clb["locality_weighted_lb_config"] = {}
        c["common_lb_config"] = clb
        if kind == "dns":
            c["load_assignment"] = {"cluster_name": name, "endpoints": [{"locality": {}, "lb_endpoints": [{
                "endpoint": {"address": _sa(fqdn, sp.target)}, "load_balancing_weight": 1}],
                "load_balancing_weight": 1}]}
            c["respect_dns_ttl"] = True
        if self.full:
            c["filters"] = self._cluster_filters()
            if kind == "eds" and svc.kind == K8S:
                c["transport_socket_matches"] = self._mtls_matches(fqdn, sp.port, subset)
        return c

    def _cluster_filters(self) -> list[dict]:
        return [{"name": "istio.metadata_exchange", "typed_config": {
            "@type": _T + "envoy.tcp.metadataexchange.config.MetadataExchange", "protocol": "istio-peer-exchange"}}]

    def _downstream_protocol(self, idle: bool) -> dict:
        opts: dict = {"@type": _T + "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"}
        if idle:
            opts["common_http_protocol_options"] = {"idle_timeout": "300s"}
        opts["use_downstream_protocol_config"] = {"http_protocol_options": {}, "http2_protocol_options": {}}
        return {"envoy.extensions.upstreams.http.v3.HttpProtocolOptions": opts}

    def _mtls_matches(self, fqdn: str, port: int, subset: Subset | None) -> list[dict]:
        sas = sorted({f"spiffe://{self.domain}/ns/{w.namespace}/sa/{w.sa}"
                      for w, _p in self.pods_of.get(fqdn, [])})
        ctx: dict = {"tls_params": {"tls_minimum_protocol_version": "TLSv1_2",
                                    "tls_maximum_protocol_version": "TLSv1_3"},
                     "alpn_protocols": ["istio-peer-exchange", "istio"],
                     "tls_certificate_sds_secret_configs": [_sds("default")],
                     "combined_validation_context": {
                         "default_validation_context": {"match_subject_alt_names": [{"exact": s} for s in sas]},
                         "validation_context_sds_secret_config": _sds("ROOTCA")}}
        if not sas:
            ctx["combined_validation_context"]["default_validation_context"] = {}
        sni = f"outbound_.{port}_.{subset.name if subset else ''}_.{fqdn}"
        return [
            {"name": "tlsMode-istio", "match": {"tlsMode": "istio"}, "transport_socket": {
                "name": "envoy.transport_sockets.tls", "typed_config": {
                    "@type": _T + "envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext",
                    "common_tls_context": ctx, "sni": sni}}},
            {"name": "tlsMode-disabled", "match": {}, "transport_socket": {
                "name": "envoy.transport_sockets.raw_buffer", "typed_config": {
                    "@type": _T + "envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer"}}},
        ]

    def _inbound_cluster_entry(self, name: str, svcs: list[tuple[Service, ServicePort]]) -> dict:
        seen: list[dict] = []
        for svc, _sp in svcs:
            m = {"host": svc.fqdn(self.domain), "name": svc.name, "namespace": svc.namespace}
            if m not in seen:
                seen.append(m)
        c = {"@type": T_CLUSTER, "name": name, "type": "ORIGINAL_DST", "connect_timeout": "10s",
             "lb_policy": "CLUSTER_PROVIDED", "circuit_breakers": _circuit_breakers(),
             "upstream_bind_config": {"source_address": {"address": "127.0.0.6", "port_value": 0}},
             "metadata": _istio_metadata(services=seen), "common_lb_config": {}}
        if self.full:
            c["typed_extension_protocol_options"] = self._downstream_protocol(idle=False)
        return self._dynamic(name, c)

    # ---------------------------------------------------------------- endpoints

    def _endpoint_raw(self, name: str, client: Locality) -> Raw:
        spec = self.clusters.get(name)
        if spec is None or spec[0] == "odst":
            return self._raw(("e", name), self._empty_cla, name)
        kind, svc, sp, subset = spec
        if kind == "dns":
            return self._raw(("e", name), self._dns_cla, name, svc, sp)
        dr = self.ix.dr.get(svc.fqdn(self.domain))
        failover = bool(dr and dr.outlier_detection and self.ix.multi_locality)
        key = ("e", name, client) if failover else ("e", name)
        return self._raw(key, self._eds_cla, name, svc, sp, subset, client if failover else None)

    def _empty_cla(self, name: str) -> dict:
        return {"endpoint_config": {"@type": T_CLA, "cluster_name": name,
                                    "policy": {"overprovisioning_factor": OVERPROVISIONING_FACTOR}}}

    def _dns_cla(self, name: str, svc: Service, sp: ServicePort) -> dict:
        host = svc.fqdn(self.domain)
        h = stable_hash("dns:" + host)
        ip = f"192.0.2.{1 + h % 254}"  # TEST-NET-1: what the name "resolved" to
        return {"endpoint_config": {"@type": T_CLA, "cluster_name": name, "endpoints": [{
            "locality": {}, "lb_endpoints": [{
                "endpoint": {"address": _sa(ip, sp.target), "health_check_config": {}, "hostname": host},
                "health_status": "HEALTHY", "load_balancing_weight": 1}],
            "load_balancing_weight": 1}],
            "policy": {"overprovisioning_factor": OVERPROVISIONING_FACTOR}}}

    def _eds_cla(self, name: str, svc: Service, sp: ServicePort, subset: Subset | None,
                 client: Locality | None) -> dict:
        pods = self.pods_of.get(svc.fqdn(self.domain), [])
        if subset is not None:
            pods = [(w, p) for w, p in pods if all(w.labels.get(k) == v for k, v in subset.labels.items())]
        if not pods:
            return self._empty_cla(name)
        groups: dict[Locality, list[tuple[Workload, Pod]]] = {}
        for w, p in pods:
            groups.setdefault(p.locality, []).append((w, p))
        prio: dict[Locality, int] = {loc: 0 for loc in groups}
        if client is not None:  # Istio applyLocalityFailover: raw priority by match level, then compacted
            raw = {loc: _lb_priority(client, loc) for loc in groups}
            levels = sorted(set(raw.values()))
            prio = {loc: levels.index(r) for loc, r in raw.items()}
        out = []
        for loc in sorted(groups, key=lambda lc: (prio[lc], lc.region, lc.zone)):
            lbe = [{"endpoint": {"address": _sa(p.ip, sp.target), "health_check_config": {}},
                    "health_status": p.health,
                    "metadata": {"filter_metadata": {
                        "istio": {"workload": f"{w.name};{w.namespace};{w.app};{w.version};{self.mesh.cluster_id}"},
                        "envoy.transport_socket_match": {"tlsMode": "istio"}}},
                    "load_balancing_weight": 1} for w, p in groups[loc]]
            g: dict = {"locality": loc.as_envoy(), "lb_endpoints": lbe, "load_balancing_weight": len(lbe)}
            if prio[loc]:
                g["priority"] = prio[loc]
            out.append(g)
        return {"endpoint_config": {"@type": T_CLA, "cluster_name": name, "endpoints": out,
                                    "policy": {"overprovisioning_factor": OVERPROVISIONING_FACTOR}}}

    # ---------------------------------------------------------------- listeners

    def _listener_entry(self, name: str, inbound: Any) -> dict:
        if name == "virtualOutbound":
            lst = self._virtual_outbound()
        elif name == "virtualInbound":
            lst = self._virtual_inbound(inbound)
        else:
            spec = self.out_listeners[name]
            if spec[0] == "http":
                lst = self._http_listener(name, spec[1])
            elif spec[0] == "sni":
                lst = self._sni_listener(name, spec[1])
            else:
                lst = self._vip_listener(name, spec[1], spec[2], spec[3])
        upd = self.clock.updated("l:" + name)
        return {"name": name, "active_state": {"version_info": self.clock.version, "listener": lst,
                                               "last_updated": upd}}

    def _stats_net(self) -> list[dict]:
        return [{"name": "istio.stats", "typed_config": {"@type": _T + "stats.PluginConfig"}}] if self.full else []

    def _tcp_proxy(self, cluster: str | None = None, weighted: list[tuple[str, int]] | None = None,
                   stat: str | None = None) -> dict:
        cfg: dict = {"@type": T_TCP_PROXY, "stat_prefix": stat or cluster or ""}
        if weighted:
            cfg["weighted_clusters"] = {"clusters": [{"name": n, "weight": wt} for n, wt in weighted]}
        else:
            cfg["cluster"] = cluster
        return {"name": "envoy.filters.network.tcp_proxy", "typed_config": cfg}

    def _passthrough_chain(self) -> dict:
        cluster = BLACKHOLE if self.mesh.outbound_traffic_policy == REGISTRY_ONLY else PASSTHROUGH
        return {"filter_chain_match": {}, "filters": [*self._stats_net(), self._tcp_proxy(cluster)],
                "name": "PassthroughFilterChain"}

    def _virtual_outbound(self) -> dict:
        catchall = BLACKHOLE if self.mesh.outbound_traffic_policy == REGISTRY_ONLY else PASSTHROUGH
        return {"@type": T_LISTENER, "name": "virtualOutbound", "address": _sa("0.0.0.0", 15001),
                "filter_chains": [
                    {"filter_chain_match": {"destination_port": 15001},
                     "filters": [*self._stats_net(), self._tcp_proxy(BLACKHOLE)],
                     "name": "virtualOutbound-blackhole"},
                    {"filters": [*self._stats_net(), self._tcp_proxy(catchall)],
                     "name": "virtualOutbound-catchall-tcp"}],
                "use_original_dst": True, "traffic_direction": "OUTBOUND"}

    def _http_filters(self) -> list[dict]:
        if not self.full:
            return [self._router()]
        return [
            {"name": "envoy.filters.http.grpc_stats", "typed_config": {
                "@type": _T + "envoy.extensions.filters.http.grpc_stats.v3.FilterConfig",
                "emit_filter_state": True, "stats_for_all_methods": False}},
            {"name": "istio.alpn", "typed_config": {
                "@type": _T + "istio.envoy.config.filter.http.alpn.v2alpha1.FilterConfig",
                "alpn_override": [
                    {"alpn_override": ["istio-http/1.0", "istio", "http/1.0"]},
                    {"upstream_protocol": "HTTP11", "alpn_override": ["istio-http/1.1", "istio", "http/1.1"]},
                    {"upstream_protocol": "HTTP2", "alpn_override": ["istio-h2", "istio", "h2"]}]}},
            {"name": "envoy.filters.http.fault", "typed_config": {
                "@type": _T + "envoy.extensions.filters.http.fault.v3.HTTPFault"}},
            {"name": "envoy.filters.http.cors", "typed_config": {
                "@type": _T + "envoy.extensions.filters.http.cors.v3.Cors"}},
            {"name": "istio.stats", "typed_config": {"@type": _T + "stats.PluginConfig"}},
            self._router(),
        ]

    def _router(self) -> dict:
        return {"name": "envoy.filters.http.router", "typed_config": {"@type": T_ROUTER}}

    def _hcm_rds(self, stat_prefix: str, route_name: str) -> dict:
        cfg: dict = {"@type": T_HCM, "stat_prefix": stat_prefix,
                     "rds": {"config_source": _ads(), "route_config_name": route_name},
                     "http_filters": self._http_filters()}
        if self.full:
            cfg.update({
                "use_remote_address": False,
                "upgrade_configs": [{"upgrade_type": "websocket"}],
                "stream_idle_timeout": "0s",
                "normalize_path": True,
                "request_id_extension": {"typed_config": {
                    "@type": _T + "envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig",
                    "use_request_id_for_trace_sampling": True}},
                "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
            })
        return {"name": "envoy.filters.network.http_connection_manager", "typed_config": cfg}

    def _http_listener(self, name: str, port: int) -> dict:
        return {"@type": T_LISTENER, "name": name, "address": _sa("0.0.0.0", port),
                "filter_chains": [{
                    "filter_chain_match": {"transport_protocol": "raw_buffer", "application_protocols": HTTP_ALPN},
                    "filters": [self._hcm_rds(f"outbound_0.0.0.0_{port}", str(port))]}],
                "listener_filters": [_tls_inspector(), _http_inspector()],
                "listener_filters_timeout": "0s", "traffic_direction": "OUTBOUND",
                "continue_on_listener_filters_timeout": True,
                "default_filter_chain": self._passthrough_chain(), "bind_to_port": False}

    def _sni_listener(self, name: str, port: int) -> dict:
        chains = []
        for svc, sp in self.sni_ports[port]:
            fqdn = svc.fqdn(self.domain)
            chains.append({"filter_chain_match": {"server_names": [fqdn]},
                           "filters": [*self._stats_net(), self._tcp_filter(svc, sp)]})
        return {"@type": T_LISTENER, "name": name, "address": _sa("0.0.0.0", port), "filter_chains": chains,
                "listener_filters": [_tls_inspector()], "listener_filters_timeout": "0s",
                "traffic_direction": "OUTBOUND", "continue_on_listener_filters_timeout": True,
                "default_filter_chain": self._passthrough_chain(), "bind_to_port": False}

    def _tcp_filter(self, svc: Service, sp: ServicePort) -> dict:
        fqdn = svc.fqdn(self.domain)
        base = f"outbound|{sp.port}||{fqdn}"
        vs = self.ix.vs.get(fqdn)
        if vs and vs.tcp:
            weighted = self._weighted(vs, vs.tcp[0].route, fqdn, sp.port)
            if len(weighted) == 1:
                return self._tcp_proxy(weighted[0][0])
            if weighted:
                return self._tcp_proxy(weighted=weighted, stat=base)
        return self._tcp_proxy(base)

    def _tcp_chain_meta(self, fqdn: str) -> dict | None:
        vs = self.ix.vs.get(fqdn)
        if vs and vs.tcp:
            return {"filter_metadata": {"istio": {"config": _config_path("virtual-service", vs.namespace, vs.name)}}}
        return None

    def _vip_listener(self, name: str, addr: str, svc: Service, sp: ServicePort) -> dict:
        port, fqdn = sp.port, svc.fqdn(self.domain)
        tcp_chain: dict = {"filters": [*self._stats_net(), self._tcp_filter(svc, sp)]}
        meta = self._tcp_chain_meta(fqdn)
        if meta:
            tcp_chain["metadata"] = meta
        if sp.proto == AUTO:
            return {"@type": T_LISTENER, "name": name, "address": _sa(addr, port),
                    "filter_chains": [{
                        "filter_chain_match": {"transport_protocol": "raw_buffer",
                                               "application_protocols": HTTP_ALPN},
                        "filters": [self._hcm_rds(f"outbound_{addr}_{port}", f"{fqdn}:{port}")]}],
                    "listener_filters": [_tls_inspector(), _http_inspector()],
                    "listener_filters_timeout": "0s", "traffic_direction": "OUTBOUND",
                    "continue_on_listener_filters_timeout": True,
                    "default_filter_chain": tcp_chain, "bind_to_port": False}
        return {"@type": T_LISTENER, "name": name, "address": _sa(addr, port), "filter_chains": [tcp_chain],
                "traffic_direction": "OUTBOUND", "bind_to_port": False}

    # inbound ------------------------------------------------------------------------------------

    def _dtls(self) -> dict:
        return {"name": "envoy.transport_sockets.tls", "typed_config": {
            "@type": _T + "envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext",
            "common_tls_context": {
                "tls_params": {"tls_minimum_protocol_version": "TLSv1_2", "tls_maximum_protocol_version": "TLSv1_3"},
                "alpn_protocols": ["h2", "http/1.1"],
                "tls_certificate_sds_secret_configs": [_sds("default")],
                "combined_validation_context": {"default_validation_context": {},
                                                "validation_context_sds_secret_config": _sds("ROOTCA")}},
            "require_client_certificate": True}}

    def _inbound_route_config(self, name: str, port: int, operation: str) -> dict:
        return {"@type": T_ROUTE_CONFIG, "name": name, "virtual_hosts": [{
            "name": f"inbound|http|{port}", "domains": ["*"], "routes": [{
                "match": {"prefix": "/"},
                "route": {"cluster": name, "timeout": "0s",
                          "max_stream_duration": {"max_stream_duration": "0s", "grpc_timeout_header_max": "0s"}},
                "decorator": {"operation": operation}, "name": "default"}]}],
            "validate_clusters": False}

    def _inbound_operation(self, svcs: list[tuple[Service, ServicePort]], tp: int) -> str:
        svc, sp = svcs[0]
        return f"{svc.fqdn(self.domain)}:{sp.port}/*"

    def _hcm_inline(self, stat_prefix: str, rc: dict) -> dict:
        rc = {k: v for k, v in rc.items() if k != "@type"}
        cfg: dict = {"@type": T_HCM, "stat_prefix": stat_prefix, "route_config": rc,
                     "http_filters": self._http_filters()}
        if self.full:
            cfg.update({
                "server_name": "istio-envoy",
                "use_remote_address": False,
                "forward_client_cert_details": "APPEND_FORWARD",
                "set_current_client_cert_details": {"subject": True, "dns": True, "uri": True},
                "upgrade_configs": [{"upgrade_type": "websocket"}],
                "stream_idle_timeout": "0s",
                "normalize_path": True,
                "request_id_extension": {"typed_config": {
                    "@type": _T + "envoy.extensions.request_id.uuid.v3.UuidRequestIdConfig",
                    "use_request_id_for_trace_sampling": True}},
                "path_with_escaped_slashes_action": "KEEP_UNCHANGED",
            })
        return {"name": "envoy.filters.network.http_connection_manager", "typed_config": cfg}

    def _chain(self, match: dict, filters: list[dict], name: str, tls: bool) -> dict:
        ch: dict = {"filter_chain_match": match, "filters": filters}
        if tls and self.full:
            ch["transport_socket"] = self._dtls()
        ch["name"] = name
        return ch

    def _virtual_inbound(self, inbound: dict[int, tuple[str, list]]) -> dict:
        any_ip = [{"address_prefix": "0.0.0.0", "prefix_len": 0}]
        ipt = INBOUND_PASSTHROUGH
        pt_rc = self._inbound_route_config(ipt, 0, ":0/*")
        chains = [
            {"filter_chain_match": {"destination_port": 15006},
             "filters": [*self._stats_net(), self._tcp_proxy(BLACKHOLE)], "name": "virtualInbound-blackhole"},
            self._chain({"prefix_ranges": any_ip, "transport_protocol": "tls",
                         "application_protocols": ISTIO_HTTP_ALPN},
                        [self._hcm_inline(ipt, pt_rc)], "virtualInbound-catchall-http", True),
            self._chain({"prefix_ranges": any_ip, "transport_protocol": "raw_buffer",
                         "application_protocols": HTTP_ALPN},
                        [self._hcm_inline(ipt, pt_rc)], "virtualInbound-catchall-http", False),
            self._chain({"prefix_ranges": any_ip, "transport_protocol": "tls",
                         "application_protocols": ["istio-peer-exchange", "istio"]},
                        [*self._stats_net(), self._tcp_proxy(ipt)], "virtualInbound", True),
            self._chain({"prefix_ranges": any_ip, "transport_protocol": "raw_buffer"},
                        [*self._stats_net(), self._tcp_proxy(ipt)], "virtualInbound", False),
            self._chain({"prefix_ranges": any_ip, "transport_protocol": "tls"},
                        [*self._stats_net(), self._tcp_proxy(ipt)], "virtualInbound", True),
        ]
        for tp, (proto, svcs) in sorted(inbound.items()):
            cname, chname = f"inbound|{tp}||", f"0.0.0.0_{tp}"
            tcp = [*self._stats_net(), self._tcp_proxy(cname)]
            if proto in (HTTP, AUTO):
                rc = self._inbound_route_config(cname, tp, self._inbound_operation(svcs, tp))
                hcm = self._hcm_inline(f"inbound_0.0.0.0_{tp}", rc)
                chains.append(self._chain({"destination_port": tp, "transport_protocol": "tls",
                                           "application_protocols": ISTIO_HTTP_ALPN}, [hcm], chname, True))
                if proto == HTTP:
                    chains.append(self._chain({"destination_port": tp, "transport_protocol": "raw_buffer"},
                                              [hcm], chname, False))
                    continue
                chains.append(self._chain({"destination_port": tp, "transport_protocol": "raw_buffer",
                                           "application_protocols": HTTP_ALPN}, [hcm], chname, False))
            chains.append(self._chain({"destination_port": tp, "transport_protocol": "tls",
                                       "application_protocols": ["istio-peer-exchange", "istio"]},
                                      tcp, chname, True))
            chains.append(self._chain({"destination_port": tp, "transport_protocol": "raw_buffer"},
                                      tcp, chname, False))
            chains.append(self._chain({"destination_port": tp, "transport_protocol": "tls"}, tcp, chname, True))
        disabled = {"destination_port_range": {"start": 15006, "end": 15007}}
        return {"@type": T_LISTENER, "name": "virtualInbound", "address": _sa("0.0.0.0", 15006),
                "filter_chains": chains,
                "listener_filters": [
                    {"name": "envoy.filters.listener.original_dst", "typed_config": {
                        "@type": _T + "envoy.extensions.filters.listener.original_dst.v3.OriginalDst"}},
                    {**_tls_inspector(), "filter_disabled": disabled},
                    {**_http_inspector(), "filter_disabled": dict(disabled)}],
                "listener_filters_timeout": "0s", "traffic_direction": "INBOUND",
                "continue_on_listener_filters_timeout": True}

    # ---------------------------------------------------------------- routes

    def _dynamic_route(self, name: str, rc: dict) -> dict:
        return {"version_info": self.clock.version, "route_config": rc, "last_updated": self.clock.updated("r:" + name)}

    def _route_config(self, name: str, vhosts: list[dict]) -> dict:
        return {"@type": T_ROUTE_CONFIG, "name": name, "virtual_hosts": vhosts, "validate_clusters": False,
                "max_direct_response_body_size_bytes": 1048576, "ignore_port_in_host_matching": True}

    def _http_route_entry(self, port: int, client_ns: str) -> dict:
        vhosts = []
        seen: set[str] = set()
        for svc, sp in self.http_ports[port]:
            doms = [x for x in self._domains(svc, client_ns) if x not in seen]
            seen.update(doms)
            vhosts.append(self._vhost(svc, sp, doms))
        if self.mesh.outbound_traffic_policy == REGISTRY_ONLY:
            vhosts.append({"name": "block_all", "domains": ["*"], "routes": [
                {"match": {"prefix": "/"}, "direct_response": {"status": 502}, "name": "block_all"}],
                "include_request_attempt_count": True})
        else:
            vhosts.append({"name": "allow_any", "domains": ["*"], "routes": [
                {"match": {"prefix": "/"},
                 "route": {"cluster": PASSTHROUGH, "timeout": "0s", "max_grpc_timeout": "0s"},
                 "name": "allow_any"}], "include_request_attempt_count": True})
        return self._dynamic_route(str(port), self._route_config(str(port), vhosts))

    def _sniffed_route_entry(self, name: str) -> dict:
        svc, sp = self.sniffed_routes[name]
        return self._dynamic_route(name, self._route_config(name, [self._vhost(svc, sp, ["*"])]))

    def _domains(self, svc: Service, client_ns: str) -> list[str]:
        """Istio generateVirtualHostDomains (1.19+: no ':port' variants)."""
        fqdn = svc.fqdn(self.domain)
        out = [fqdn]
        if svc.kind == K8S:
            if svc.namespace == client_ns:
                out += [svc.name, f"{svc.name}.{svc.namespace}.svc", f"{svc.name}.{svc.namespace}"]
            else:
                out += [f"{svc.name}.{svc.namespace}", f"{svc.name}.{svc.namespace}.svc"]
        if svc.vip:
            out.append(svc.vip)
        return out

    def _vhost(self, svc: Service, sp: ServicePort, domains: list[str]) -> dict:
        fqdn = svc.fqdn(self.domain)
        vs = self.ix.vs.get(fqdn)
        if vs and vs.http:
            routes = [r for hr in vs.http for r in self._vs_routes(vs, hr, fqdn, sp.port)]
        else:
            routes = [{"match": {"prefix": "/"},
                       "route": self._route_action(cluster=f"outbound|{sp.port}||{fqdn}"),
                       "decorator": {"operation": f"{fqdn}:{sp.port}/*"}, "name": "default"}]
        return {"name": f"{fqdn}:{sp.port}", "domains": domains, "routes": routes,
                "include_request_attempt_count": True}

    def _route_action(self, cluster: str | None = None, weighted: list[tuple[str, int]] | None = None) -> dict:
        a: dict = {}
        if weighted:
            a["weighted_clusters"] = {"clusters": [{"name": n, "weight": wt} for n, wt in weighted]}
        else:
            a["cluster"] = cluster
        a["timeout"] = "0s"
        if self.full:
            a["retry_policy"] = {
                "retry_on": "connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes",
                "num_retries": 2,
                "retry_host_predicate": [{"name": "envoy.retry_host_predicates.previous_hosts", "typed_config": {
                    "@type": _T + "envoy.extensions.retry.host.previous_hosts.v3.PreviousHostsPredicate"}}],
                "host_selection_retry_max_attempts": "5",
                "retriable_status_codes": [503]}
        a["max_grpc_timeout"] = "0s"
        return a

    def _weighted(self, vs: VirtualService, dests: Iterable, fqdn: str, port: int) -> list[tuple[str, int]]:
        out = []
        for dst in dests:
            host = qualify(dst.host, vs.namespace, self.domain) if dst.host else fqdn
            out.append((f"outbound|{dst.port or port}|{dst.subset or ''}|{host}", dst.weight))
        if len(out) == 1:
            return out  # a lone destination gets all traffic whatever its weight says
        return [(n, wt) for n, wt in out if wt > 0]  # Istio drops weight-0 destinations, sets no total_weight

    def _vs_routes(self, vs: VirtualService, hr: HTTPRoute, fqdn: str, port: int) -> list[dict]:
        weighted = self._weighted(vs, hr.route, fqdn, port)
        action = self._route_action(cluster=weighted[0][0]) if len(weighted) == 1 else \
            self._route_action(weighted=weighted)
        out = []
        matches: list[HTTPMatch | None] = list(hr.match) or [None]
        for m in matches:
            match: dict = {}
            path_part = "/*"
            if m is not None and m.exact is not None:
                match["path"] = m.exact
                path_part = m.exact
            else:
                prefix = m.prefix if m is not None and m.prefix is not None else "/"
                match["prefix"] = prefix
                path_part = prefix + "*"
            if m is not None and m.headers:
                match["headers"] = [{"name": k, "string_match": {"exact": v}} for k, v in sorted(m.headers.items())]
            # Istio getRouteOperation: "<host>:<port><path>" for one cluster, "<vs name>:<port><path>" for a split
            if "cluster" in action:
                parts = action["cluster"].split("|")
                op = f"{parts[3]}:{parts[1]}{path_part}"
            else:
                op = f"{vs.name}:{port}{path_part}"
            r: dict = {"match": match, "route": json.loads(json.dumps(action)),
                       "metadata": {"filter_metadata": {"istio": {
                           "config": _config_path("virtual-service", vs.namespace, vs.name)}}},
                       "decorator": {"operation": op}}
            name = hr.name
            if name and m is not None and m.name:
                name = f"{name}.{m.name}"
            if name:
                r["name"] = name
            out.append(r)
        return out


def _lb_priority(client: Locality, ep: Locality) -> int:
    """Istio util.LbPriority (sub-zones are not modelled, so they always match)."""
    if client.region == ep.region:
        return 0 if client.zone == ep.zone else 2
    return 3


def render_dump(mesh: Mesh, pod: Pod | str, namespace: str | None = None, detail: str = DETAIL_FULL) -> dict:
    """The ``/config_dump?include_eds=true`` document of the sidecar on ``pod`` (a Pod or a pod name)."""
    return Renderer(mesh, detail).render(pod, namespace)


def render_dump_json(mesh: Mesh, pod: Pod | str, namespace: str | None = None, detail: str = DETAIL_FULL) -> str:
    """Exactly ``json.dumps(render_dump(...), indent=1)``, the way Envoy's admin API prints it."""
    return Renderer(mesh, detail).render_json(pod, namespace)

