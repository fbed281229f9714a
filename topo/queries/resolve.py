"""Turn what the user typed into pods (SRC) and a request (DST)."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from topo.errors import TopoError
from topo.queries.envoy import Request
from topo.stores.hops import MeshGraph, Props
from topo.util import is_ip


@dataclass
class SourceGroup:
    """Pods that share one proxy config: one answer covers them all."""

    config: str
    pods: list[str]
    namespace: str
    cluster_domain: str = "cluster.local"
    istio_version: str = ""  # ISTIO_VERSION of the first pod ("" for a proxy outside Istio)
    locality: str = ""  # the first pod's own locality (bootstrap node.locality)


def _index(rows: list[Props], field_: str) -> dict[str, list[Props]]:
    out: dict[str, list[Props]] = {}
    for r in rows:
        out.setdefault(r[field_], []).append(r)
    return out


def resolve_source(g: MeshGraph, src: str, namespace: str | None = None) -> list[SourceGroup]:
    """SRC is ``ns/pod``, a pod name, a unique pod-name prefix, a workload (WORKLOAD_NAME or app), or
    ``ns/workload``."""
    pods = g.pods()
    by_name = g.memo(("pods_by_name",), lambda: _index(pods, "name"))
    by_id = g.memo(("pods_by_id",), lambda: _index(pods, "id"))
    if namespace:
        pods = [p for p in pods if p["namespace"] == namespace]
    if "/" in src:
        chosen = [p for p in by_id.get(src, ()) if not namespace or p["namespace"] == namespace]
        if not chosen:  # ns/workload
            ns, _, wl = src.partition("/")
            chosen = [p for p in pods if p["namespace"] == ns and (p["workload"] == wl or p["app"] == wl)]
    else:
        chosen = [p for p in by_name.get(src, ()) if not namespace or p["namespace"] == namespace]
        if not chosen:
            chosen = [p for p in pods if p["workload"] == src] or [p for p in pods if p["app"] == src]
        if not chosen:
            pre = [p for p in pods if p["name"].startswith(src)]
            workloads = {p["workload"] for p in pre}
            if len(pre) == 1 or (pre and len(workloads) == 1):
                chosen = pre
            elif pre:
                names = ", ".join(sorted(p["name"] for p in pre)[:5])
                raise TopoError(f"source {src!r} is ambiguous: it prefixes {len(pre)} pods ({names}…)", 2)
    if not chosen:
        raise TopoError(f"no ingested pod or workload matches {src!r}" + (f" in namespace {namespace}" if namespace else ""), 2)
    groups: dict[str, SourceGroup] = {}
    for p in chosen:
        grp = groups.setdefault(p["config"], SourceGroup(p["config"], [], p["namespace"], p["cluster_domain"] or "cluster.local",
                                                         p["istio_version"] or "", p["locality"] or ""))
        grp.pods.append(p["id"])
    return sorted(groups.values(), key=lambda s: s.pods[0])


@dataclass
class Destination:
    typed: str
    host: str  # what the client puts in Host (without a default port)
    fqdn: str  # service FQDN if known
    ip: str | None
    port: int
    path: str
    scheme: str
    service: Props | None = None
    notes: list[str] = field(default_factory=list)


def check_port(port: int, what: str = "port") -> int:
    """A destination port: 1 to 65535 (a TCP port; 0 is no port to connect to)."""
    if not 1 <= port <= 65535:
        raise TopoError(f"{what} {port} is not a port number (1 to 65535)", 2)
    return port


def split_hostport(s: str) -> tuple[str, int | None]:
    """``host``, ``host:port``, ``[v6]`` or ``[v6]:port``; a bad port is a one-line error."""
    if s.startswith("["):
        end = s.find("]")
        if end < 0:
            raise TopoError(f"invalid address {s!r}: no closing ']'", 2)
        host, rest = s[1:end], s[end + 1:]
        if not rest:
            return host, None
        if not (rest.startswith(":") and rest[1:].isdigit()):
            raise TopoError(f"bad port in {s!r}", 2)
        return host, check_port(int(rest[1:]), f"port in {s!r}:")
    if s.count(":") == 1:
        h, p = s.split(":")
        if p.isdigit():
            return h, check_port(int(p), f"port in {s!r}:")
        raise TopoError(f"bad port in {s!r}", 2)
    return s, None


def resolve_destination(g: MeshGraph, dst: str, grp: SourceGroup, port: int | None = None,
                        path: str | None = None) -> Destination:
    """DST is a short name (resolved in SRC's namespace), an FQDN, a VIP, ``IP:PORT`` or a URL."""
    scheme, upath = "http", "/"
    if port is not None:
        check_port(port, "--port")
    if "://" in dst:
        try:  # a bad URL ("http://[::1", a port that is not a number or past 65535): one line
            u = urlsplit(dst)
            uport = u.port
        except ValueError as e:
            raise TopoError(f"invalid URL {dst!r}: {e}", 2) from None
        scheme = (u.scheme or "http").lower()
        if scheme not in ("http", "https", "tcp", "tls"):
            raise TopoError(f"unknown scheme {scheme!r} in {dst!r}: use http://, https://, tcp:// or tls://", 2)
        upath = (u.path or "/") + (f"?{u.query}" if u.query else "")
        if port is None and uport is None and scheme in ("http", "https"):
            port = 80 if scheme == "http" else 443
        host, p = u.hostname or "", None if uport is None else check_port(uport, f"port in {dst!r}:")
        if not host:
            raise TopoError(f"invalid URL {dst!r}: no host", 2)
    else:
        host, p = split_hostport(dst)
    if p is not None:
        if port is not None and port != p:
            raise TopoError(f"--port {port} contradicts the port in {dst!r}", 2)
        port = p
    services = g.services()
    svc: Props | None = None
    ip: str | None = None
    fqdn = ""
    if is_ip(host):
        ip = host
        svc = next((s for s in services if host in (s["vips"] or [])), None)
    else:
        h = host.lower().rstrip(".")
        domain = grp.cluster_domain
        cands = [h]
        parts = h.split(".")
        if len(parts) == 1:
            cands.insert(0, f"{h}.{grp.namespace}.svc.{domain}")
        elif len(parts) == 2:
            cands.insert(0, f"{h}.svc.{domain}")
        elif len(parts) == 3 and parts[2] == "svc":
            cands.insert(0, f"{h}.{domain}")
        by_fqdn = g.memo(("services_by_fqdn",), lambda: {s["fqdn"]: s for s in services})
        svc = next((by_fqdn[c] for c in cands if c in by_fqdn), None)
        if svc is None:
            raise TopoError(f"unknown destination {host!r}: no service {cands[0]} in the graph "
                            f"(give an IP:PORT, or ingest services.json)", 2)
    if svc is not None:
        fqdn = svc["fqdn"]
        vips = [v for v in svc["vips"] or [] if is_ip(v)]
        if ip is None and vips:
            ip = vips[0]
        if port is None:
            ports = sorted(set(svc["ports"] or []))
            if len(ports) == 1:
                port = ports[0]
            else:
                raise TopoError(f"{fqdn} has ports {', '.join(map(str, ports)) or 'unknown'}: pick one with --port", 2)
    if port is None:
        raise TopoError(f"no port for {dst!r}: give --port or IP:PORT", 2)
    d = Destination(typed=dst, host=host, fqdn=fqdn, ip=ip, port=port, path=path or upath, scheme=scheme, service=svc)
    if svc is not None and ip is None:
        d.notes.append(f"{fqdn} has no VIP (headless or external): matched by port only")
    return d


HTTPS_ALPN = ("h2", "http/1.1")  # what curl and browsers offer in their ClientHello


def make_request(d: Destination, *, host: str | None = None, method: str = "GET",
                 headers: dict[str, str] | None = None, tcp: bool = False, tls: bool = False,
                 sni: str | None = None) -> Request:
    """The request a client sends for the DST typed. HTTP: the Host ``name:port``, without the
    default port (§5). TLS (an ``https://`` or ``tls://`` URL, ``tls``, or an ``sni``): the SNI is
    ``sni``, else the host dialled (none for an IP); ``https`` offers ALPN h2 and http/1.1.
    ``tcp`` (or ``tcp://``, ``tls://``): bytes that are not HTTP."""
    default_port = 443 if d.scheme == "https" else 80
    if host is None:
        h = d.host if d.port == default_port else f"{d.host}:{d.port}"
        if ":" in d.host and not d.host.startswith("["):  # IPv6 literal
            h = f"[{d.host}]" if d.port == default_port else f"[{d.host}]:{d.port}"
    else:
        h = host
    use_tls = tls or bool(sni) or d.scheme in ("https", "tls")
    http = not tcp and d.scheme not in ("tcp", "tls")
    server_name = ""
    if use_tls:
        server_name = (sni if sni else ("" if is_ip(d.host) else d.host)).lower().rstrip(".")
    alpn = HTTPS_ALPN if use_tls and http else ()
    return Request(ip=d.ip, port=d.port, host=h, path=d.path, method=method.upper(),
                   headers={k.lower(): v for k, v in (headers or {}).items()}, http=http, scheme=d.scheme,
                   sni=server_name, tls=use_tls, alpn=alpn)
