"""Transform: one config dump → graph rows. Pure: no I/O, no clock, no randomness.

Shapes follow ENVOY-SEMANTICS.md §1 (dump layout), §2 (listeners), §4 (network filters),
§6 (route actions), §7 (clusters and Istio names) and §8 (endpoints).
"""

from __future__ import annotations

import contextvars
import os
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from topo.ingest.dump import (
    Chunks,
    Dump,
    DumpError,
    _json_kind,
    is_clusters_status,
    normalize,
    parse_chunked,
    parse_json,
    to_snake,
)
from topo.model import secrets
from topo.model.names import istio_config, parse_cluster_name, proxy_workload, resource_part, runs
from topo.model.rows import Rows, content_key, jdump
from topo.model.schema import SCHEMA
from topo.util import is_ip as _is_ip

HCM_NAMES = ("envoy.filters.network.http_connection_manager", "envoy.http_connection_manager")
TCP_NAMES = ("envoy.filters.network.tcp_proxy", "envoy.tcp_proxy")
# The filters Istio's own config generation puts in a chain (1.3 to 1.31, sidecars, gateways and
# waypoints: pilot/pkg/networking/core, seen in the dumps of tests/conformance and ../shared/realdumps).
# Any other filter is there because an EnvoyFilter patched the chain in. WasmPlugins (an Istio API
# of their own) are recognised by their Wasm config or ECDS discovery, not by name.
ISTIO_NETWORK_FILTERS = frozenset({
    *HCM_NAMES, *TCP_NAMES, "istio.metadata_exchange", "istio.stats", "istio_authn", "mixer",
    "istio.stackdriver", "envoy.filters.network.rbac", "envoy.filters.network.ext_authz",
    "envoy.filters.network.mysql_proxy", "envoy.filters.network.mongo_proxy", "envoy.filters.network.redis_proxy",
    "envoy.filters.network.sni_dynamic_forward_proxy", "envoy.filters.network.wasm", "connect_authority",
    "envoy.filters.network.set_filter_state",
})
ISTIO_HTTP_FILTERS = frozenset({
    "envoy.filters.http.router", "envoy.router", "envoy.filters.http.cors", "envoy.cors", "envoy.filters.http.fault",
    "envoy.fault", "envoy.filters.http.grpc_stats", "istio.alpn", "istio.metadata_exchange", "istio.stats",
    "istio_authn", "istio.stackdriver", "mixer", "envoy.filters.http.rbac", "envoy.filters.http.ext_authz",
    "envoy.filters.http.jwt_authn", "envoy.filters.http.grpc_web", "envoy.filters.http.connect_authority",
    "envoy.filters.http.stateful_session", "envoy.filters.http.dynamic_forward_proxy",
    "waypoint_upstream_peer_metadata", "waypoint_downstream_peer_metadata", "connect_authority",
    "envoy.filters.http.wasm", "envoy.filters.http.set_filter_state", "envoy.filters.http.peer_metadata",
})


@dataclass
class Summary:
    """Entry counts as the dump states them (MANIFEST.md counts the same way)."""

    listeners: int = 0
    route_configs: int = 0
    clusters: int = 0
    endpoint_configs: int = 0
    lb_endpoints: int = 0
    warming: int = 0
    errors: int = 0

    def add(self, o: Summary) -> None:
        for k in vars(self):
            setattr(self, k, getattr(self, k) + getattr(o, k))


@dataclass
class DumpResult:
    rows: Rows
    pod_id: str
    summary: Summary
    api: str
    notes: list[str] = field(default_factory=list)


# ---------------------------------------------------------------- small readers
# A value of the wrong type (a string where a list belongs, …) is read as empty, zero or the
# default, and recorded here while a dump is transformed: the dump then gets a note.
_WRONG: contextvars.ContextVar[list[str] | None] = contextvars.ContextVar("topo_wrong_types", default=None)


def _wrong(v: Any, want: str) -> None:
    seen = _WRONG.get()
    if seen is not None and len(seen) < 100:
        seen.append(f"{_json_kind(v)} where {want} belongs")


def _d(v: Any) -> dict[str, Any]:
    if isinstance(v, dict):
        return v
    if v is not None:
        _wrong(v, "an object")
    return {}


def _l(v: Any) -> list[Any]:
    if isinstance(v, list):
        return v
    if v is not None:
        _wrong(v, "a list")
    return []


_INT64 = range(-(2**63), 2**63)


def _int(v: Any, default: int = 0) -> int:
    """An integer field; anything else, or a number outside the signed 64-bit range (which
    no store can hold and no Envoy field allows), is ``default``."""
    if isinstance(v, dict):  # wrapper printed as {"value": n} by some encoders
        v = v.get("value", default)
    if isinstance(v, bool):
        return int(v)
    n: int | None = None
    if isinstance(v, int):
        n = v
    elif isinstance(v, float) and v.is_integer():
        n = int(v)
    elif isinstance(v, str):
        try:
            n = int(v)
        except ValueError:
            pass
    if n is None:
        if v is not None:
            _wrong(v, "an integer")
        return default
    if n not in _INT64:
        _wrong(v, "a 64-bit integer")
        return default
    return n


def _bool(v: Any, default: bool) -> bool:
    if isinstance(v, dict):
        v = v.get("value", default)
    if isinstance(v, bool):
        return v
    if v is not None:
        _wrong(v, "true or false")
    return default


def _str(v: Any) -> str:
    if isinstance(v, str):
        return v
    if v is not None:
        _wrong(v, "a string")
    return ""


def _strs(v: Any) -> list[str]:
    out = []
    for x in _l(v):
        if isinstance(x, str):
            out.append(x)
        else:
            _wrong(x, "a string")
    return out


UINT32_MAX = 2**32 - 1


def _weights_refused(entries: list[list[Any]]) -> str:
    """Why Envoy refuses these weighted clusters, or "": a weight is a uint32 and their sum
    may not pass 4294967295 either (RouteEntryImplBase's "sum of weights … exceeds"), so no
    stored weight or sum goes past what every store holds."""
    total = sum(w for _n, w in entries)
    return f"its weights sum to {total}, past Envoy's limit of {UINT32_MAX}" if total > UINT32_MAX else ""


def _summed(entries: list[list[Any]]) -> dict[str, int]:
    """Weights by cluster name: two weighted entries naming one cluster add up (Envoy walks both intervals)."""
    out: dict[str, int] = {}
    for name, w in entries:
        out[name] = out.get(name, 0) + w
    return out


def socket_addr(addr: Any) -> tuple[str, int]:
    a = _d(addr)
    sa = _d(a.get("socket_address"))
    if sa:
        port = _int(sa.get("port_value"))
        if not 0 <= port <= 65535:
            _wrong(port, "a port number (0 to 65535)")
        return _str(sa.get("address")), port
    if "envoy_internal_address" in a:
        ia = _d(a["envoy_internal_address"])
        return "internal:" + _str(ia.get("server_listener_name")), 0
    if "pipe" in a:
        return "unix:" + _str(_d(a["pipe"]).get("path")), 0
    return "", 0


def filter_label(filt: dict[str, Any]) -> str:
    """How a filter is named to a user: its name, else its config's type (``…v3.RedisProxy``)."""
    name = _str(filt.get("name"))
    if name:
        return name
    tc = _d(filt.get("typed_config"))
    t = _str(tc.get("@type"))
    if t.endswith("udpa.type.v1.TypedStruct") or t.endswith("xds.type.v3.TypedStruct"):
        t = _str(tc.get("type_url"))
    return t.rsplit("/", 1)[-1] or "(unnamed filter)"


def _typed(filt: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """A network/listener filter's kind and config, v3 ``typed_config`` or v2 ``config`` (§1, §4)."""
    tc = _d(filt.get("typed_config"))
    t = _str(tc.get("@type"))
    if t.endswith("udpa.type.v1.TypedStruct") or t.endswith("xds.type.v3.TypedStruct"):
        t, tc = _str(tc.get("type_url")), _d(tc.get("value"))
    name = _str(filt.get("name"))
    cfg = tc if tc else _d(filt.get("config"))
    if cfg and not tc and any(_has_upper(k) for k in cfg):
        cfg = to_snake(cfg)
    if "HttpConnectionManager" in t or name in HCM_NAMES:
        return "http", cfg
    if "TcpProxy" in t or name in TCP_NAMES:
        return "tcp", cfg
    return "other", cfg


def _foreign(filt: dict[str, Any], istio_own: frozenset[str]) -> list[str]:
    """[name] when a filter is not one Istio generates (see ISTIO_NETWORK_FILTERS), else []."""
    name = _str(filt.get("name"))
    if name in istio_own or "config_discovery" in filt:
        return []
    tc = _d(filt.get("typed_config"))
    t = tc["@type"] if isinstance(tc.get("@type"), str) else ""
    url = tc["type_url"] if isinstance(tc.get("type_url"), str) else ""
    if "wasm" in t.lower() or "wasm" in url.lower():
        return []
    return [name or t.rsplit(".", 1)[-1] or "(unnamed filter)"]


_SECRET_KEYS = frozenset({
    "private_key", "password", "private_key_provider", "session_ticket_keys", "hmac_secret",
    "client_secret", "token", "inline_bytes", "secret", "api_key", "access_token",
    # code (Lua, ...) is not read by topo and often carries credentials in its literals
    "inline_code", "source_code", "default_source_code", "source_codes",
    # a Wasm plugin's configuration (opaque to topo, a credential's usual home) and its VM's
    # environment variables
    "configuration", "key_values",
})
# a scalar or a DataSource under a key with one of these words in its name is a credential
# (redis' downstream_auth_password, auth_token, client_secret_value, ...)
_SECRET_WORDS = ("password", "passwd", "secret", "token", "private_key", "api_key", "apikey", "credential")
# header (and query parameter) names whose values are credentials: in headers to add, gRPC
# initial metadata, env-like {name, value} pairs, and the exact matchers of routes (hashed)
_SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key",
                             "api-key", "apikey", "x-auth-token", "x-access-token", "private-token"})
_SECRET_HEADER_WORDS = ("auth", "token", "secret", "key", "password", "passwd", "cookie", "session",
                        "credential", "jwt", "signature")
_MATCHER_KEYS = frozenset({"string_match", "exact_match", "prefix_match", "suffix_match", "contains_match",
                           "safe_regex_match", "present_match", "range_match", "invert_match"})
# credentials inside any string: HTTP auth schemes, JWTs (their dots maybe escaped in a regex),
# private key blocks, passwords in a URI's userinfo
_TOKEN = re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{6,}"
                    r"|\beyJ[A-Za-z0-9_-]{4,}\\?\.[A-Za-z0-9_-]{4,}\\?\.[A-Za-z0-9_-]*")
_PEM = re.compile(r"-----BEGIN ([A-Z0-9 ]*)PRIVATE KEY-----[\s\S]*?(?:-----END \1PRIVATE KEY-----|$)")
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^/\s:@]*):[^/\s@]*@")
# free text (error_state.details) may quote a rejected resource: secret-named fields' values,
# and long base64 runs (key material without its PEM armour)
_ASSIGNED = re.compile(r"(?i)((?:private_?key|password|passwd|secret|token|api_?key|credential|inline_?bytes)\w*\"?"
                       r"\s*[:=]\s*\{?\s*(?:\"?inline_?(?:string|bytes)\"?\s*[:=]\s*)?)(\\?\"(?:[^\"\\]|\\.)*\"|[^\s,}]+)")
_BASE64 = re.compile(r"[A-Za-z0-9+/]{40,}={0,2}")
REDACTED = secrets.REDACTED


def _token_sub(m: re.Match[str]) -> str:
    return f"{m[1]}{m[2]}{REDACTED}" if m[1] else REDACTED


def scrub_text(s: str) -> str:
    """A string without the credentials it may carry: private key blocks, bearer/basic tokens,
    JWTs, passwords in URIs. Plain strings come back as they are (the same object)."""
    lo = s.lower()
    if "private key" in lo:
        s = _PEM.sub(REDACTED, s)
    if "bearer" in lo or "basic" in lo or "eyj" in lo:
        s = _TOKEN.sub(_token_sub, s)
    if "@" in s and "://" in s:
        s = _USERINFO.sub(lambda m: f"{m[1]}:{REDACTED}@", s)
    return s


def scrub_message(s: str) -> str:
    """Free text that may quote a rejected resource (Envoy's ``error_state.details``):
    :func:`scrub_text`, then secret-named fields' values and long base64 runs."""
    s = scrub_text(s)
    s = _ASSIGNED.sub(lambda m: m[1] + REDACTED, s)
    return _BASE64.sub(REDACTED, s)


# key → (snake_case, 0 plain | 1 a secret key | 2 a key with a secret word, the key scrubbed)
_KEY_KIND: dict[str, tuple[str, int, str]] = {}
_CAMEL = re.compile(r"(?<=[a-z0-9])([A-Z])")


def _key_kind(k: str) -> tuple[str, int, str]:
    """A key in snake_case (a camelCase ``privateKey`` inside a snake_case dump is the same
    field), what it holds, and the key itself scrubbed (a map's keys may be credentials)."""
    got = _KEY_KIND.get(k)
    if got is None:
        nk = _CAMEL.sub(r"_\1", k).lower() if _has_upper(k) else k.lower()
        got = (nk, 1 if nk in _SECRET_KEYS else 2 if any(w in nk for w in _SECRET_WORDS) else 0, scrub_text(k))
        if len(_KEY_KIND) < 100_000:
            _KEY_KIND[k] = got
    return got


def sensitive_name(name: str) -> bool:
    """A header, query parameter or variable name whose values are credentials (pseudo-headers
    such as ``:authority`` are not)."""
    n = name.lower()
    return not n.startswith(":") and (n in _SECRET_HEADERS or any(w in n for w in _SECRET_HEADER_WORDS))


def _pair_name(obj: dict[str, Any]) -> str | None:
    """The name of a {key|name: N, value: V} pair or of a header/parameter matcher, else None."""
    for k in ("key", "name"):
        v = obj.get(k)
        if isinstance(v, str):
            if "value" in obj or "raw_value" in obj or k == "name" and any(
                    _key_kind(x)[0] in _MATCHER_KEYS for x in obj):
                return v
    return None


def _exact_hidden(out: dict[str, Any], k: str, v: str, name: str, hash_key: str, ignore_case: bool) -> None:
    out[k] = secrets.HIDDEN
    if v != secrets.HIDDEN:  # (scrubbing twice keeps the first hash)
        out[hash_key] = secrets.value_hash(name, v, ignore_case)


def scrub(obj: Any) -> Any:
    """A copy without credentials: secret-named fields and DataSources (camelCase too), inline_bytes,
    private key blocks, inline code, Wasm plugin configuration, credential headers' values,
    bearer/basic tokens, JWTs and URI passwords in strings and in map keys. An exact header or
    query-parameter matcher on a sensitive name (or whose value holds a token) keeps
    ``<redacted>`` and a salted hash of its value (``topo.model.secrets``), so a request still
    matches it."""
    if isinstance(obj, dict):
        pname = _pair_name(obj)
        sensitive = pname is not None and sensitive_name(pname)
        out: dict[str, Any] = {}
        for k, v in obj.items():
            nk, kind, sk = _key_kind(k)
            if sk != k:  # a map key holding a credential (exact_match_map's keys)
                k = sk
                while k in out or k in obj:
                    k += "'"
            if kind == 1:
                out[k] = REDACTED
            elif kind == 2 and (isinstance(v, str) or isinstance(v, dict) and any(
                    _key_kind(x)[0] in ("inline_string", "inline_bytes") for x in v)):
                out[k] = REDACTED
            elif sensitive and nk in ("value", "raw_value"):
                out[k] = REDACTED
            elif nk == "details" and isinstance(v, str):  # error_state.details may quote a rejected key
                out[k] = scrub_message(v)
            elif pname is not None and nk == "exact_match" and isinstance(v, str) and (
                    sensitive or scrub_text(v) is not v):
                _exact_hidden(out, k, v, pname, k + "_hash", False)
            elif pname is not None and nk == "string_match" and isinstance(v, dict) and isinstance(
                    v.get("exact"), str) and (sensitive or scrub_text(v["exact"]) is not v["exact"]):
                sm = scrub(v)
                _exact_hidden(sm, "exact", v["exact"], pname, "exact_hash", v.get("ignore_case") is True)
                out[k] = sm
            else:
                out[k] = scrub(v)
        return out
    if isinstance(obj, list):
        return [scrub(v) for v in obj]
    if isinstance(obj, str):
        return scrub_text(obj)
    return obj


def _details(error_state: dict[str, Any]) -> str:
    """Envoy's reason for refusing a push, without the credentials it may quote."""
    return scrub_message(_str(error_state.get("details")))


def _has_upper(k: str) -> bool:
    return any(c.isupper() for c in k) and not k.isupper()


# ---------------------------------------------------------------- node identity (§ pod identity)
@dataclass
class PodInfo:
    name: str
    namespace: str
    ips: list[str]
    labels: dict[str, str]
    workload: str
    istio_version: str
    proxy_type: str
    node_name: str
    service_account: str
    cluster_domain: str
    istio_proxy_sha: str = ""
    envoy_version: str = ""
    locality: str = ""

    @property
    def id(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.name


def pod_identity(bootstrap: dict[str, Any], fallback_name: str) -> PodInfo:
    """From the bootstrap node: Istio's id ``sidecar~IP~POD.NS~NS.svc.cluster.local`` plus metadata.

    A proxy outside Istio (plain Envoy, Envoy Gateway, Cilium, Kuma…) is named by its whole
    ``node.id``, the name its control plane knows it by; only a dump without a node id is named
    after its file (``fallback_name``)."""
    node = _d(bootstrap.get("node"))
    meta = _d(node.get("metadata"))
    nid = _str(node.get("id"))
    name = ns = ""
    ips: list[str] = []
    proxy_type = "unknown"
    domain = "cluster.local"
    parts = nid.split("~")
    if len(parts) == 4:
        proxy_type = parts[0] or "unknown"
        if parts[1]:
            ips = [parts[1]]
        if "." in parts[2]:
            name, ns = parts[2].rsplit(".", 1)
        else:
            name = parts[2]
        m = re.match(r"^[^.]+\.svc\.(.+)$", parts[3])
        if m:
            domain = m[1]
    elif nid.strip():
        name = nid.strip()
    name = _str(meta.get("NAME")) or name
    ns = _str(meta.get("NAMESPACE")) or ns
    inst = meta.get("INSTANCE_IPS")
    if isinstance(inst, str) and inst:
        ips = [i.strip() for i in inst.split(",") if i.strip()]
    labels = {str(k): scrub_text(str(v)) for k, v in _d(meta.get("LABELS")).items()}
    if not name:
        name = fallback_name
    return PodInfo(
        name=name,
        namespace=ns,
        ips=ips,
        labels=labels,
        workload=proxy_workload(_str(meta.get("WORKLOAD_NAME")), _str(meta.get("OWNER")), labels, name),
        istio_version=_str(meta.get("ISTIO_VERSION")),
        proxy_type=proxy_type,
        node_name=_str(meta.get("NODE_NAME")),
        service_account=_str(meta.get("SERVICE_ACCOUNT")),
        cluster_domain=domain,
        istio_proxy_sha=(sha.split(":")[1] if ":" in (sha := _str(meta.get("ISTIO_PROXY_SHA"))) else sha),
        envoy_version=_envoy_version(node) if node else "",
        locality=_locality(node.get("locality")),
    )


def _envoy_version(node: dict[str, Any]) -> str:
    """istioctl's getUserAgentVersionInfo: ``major.minor.patch`` then ``-label``, ``/status``,
    ``/type``, ``/ssl`` from the build metadata."""
    bv = _d(node.get("user_agent_build_version"))
    v = _d(bv.get("version"))
    md = _d(bv.get("metadata"))
    out = f"{_int(v.get('major_number'))}.{_int(v.get('minor_number'))}.{_int(v.get('patch'))}"
    for key, sep in (("build.label", "-"), ("revision.status", "/"), ("build.type", "/"), ("ssl.version", "/")):
        if key in md:
            out += sep + _str(md[key])
    return out


def fallback_name(source: str) -> str:
    """A pod name from a dump's file name: ``web-1.json`` is ``web-1``; a file named only
    ``config_dump…`` (istioctl bug-report's ``proxies/NS/POD/config_dump``) takes its folder's name."""
    path = source.replace("\\", "/").rstrip("/")
    base = os.path.basename(path)
    for suffix in (".json", ".yaml", ".yml", ".config_dump", "_config_dump"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
    if base.startswith("config_dump") or not base:
        parent = os.path.basename(os.path.dirname(path))
        if parent:
            return parent
    return base or source


def _locality(v: Any) -> str:
    """``region/zone/sub_zone`` of an Envoy Locality (trailing empty parts dropped)."""
    lo = _d(v)
    return "/".join(_str(lo.get(k)) for k in ("region", "zone", "sub_zone")).rstrip("/")


# ---------------------------------------------------------------- endpoints (§8)
def _endpoint_rows(cla: dict[str, Any]) -> tuple[list[dict[str, Any]], int]:
    """Endpoint props from a ClusterLoadAssignment, and its overprovisioning factor."""
    out = []
    for loc in _l(cla.get("endpoints")):
        loc = _d(loc)
        locality = _locality(loc.get("locality"))
        prio = _int(loc.get("priority"))
        lw = _int(loc.get("load_balancing_weight"))
        for lbe in _l(loc.get("lb_endpoints")):
            lbe = _d(lbe)
            ep = _d(lbe.get("endpoint"))
            ip, port = socket_addr(ep.get("address"))
            # A missing health_status means UNKNOWN, which counts as healthy (§1, §8).
            health = _str(lbe.get("health_status")) or "UNKNOWN"
            out.append({
                "ip": ip,
                "port": port,
                "address": f"{ip}:{port}" if port else ip,
                "health": health,
                "eds_health": health,
                "outlier_failed": False,
                "endpoint_id": _str(_d(_d(ep.get("address")).get("envoy_internal_address")).get("endpoint_id")),
                "weight": max(_int(lbe.get("load_balancing_weight"), 1), 0) or 1,
                "priority": max(prio, 0),
                "locality": locality,
                "locality_weight": lw,
                "hostname": _str(ep.get("hostname")),
            })
    opf = _int(_d(cla.get("policy")).get("overprovisioning_factor"), 140) or 140
    return out, opf


def _status_endpoint_rows(cs: dict[str, Any]) -> list[dict[str, Any]]:
    """Endpoints from one ``/clusters?format=json`` cluster status (hosts' live health)."""
    out = []
    for hs in _l(cs.get("host_statuses")):
        hs = _d(hs)
        ip, port = socket_addr(hs.get("address"))
        h = _d(hs.get("health_status"))
        failed = any(v is True for k, v in h.items() if k.startswith("failed") or k == "pending_dynamic_removal")
        eds = _str(h.get("eds_health_status")) or "HEALTHY"
        out.append({
            "ip": ip,
            "port": port,
            "address": f"{ip}:{port}" if port else ip,
            "health": "UNHEALTHY" if failed else eds,
            "eds_health": eds,
            "outlier_failed": h.get("failed_outlier_check") is True,
            "endpoint_id": "",
            "weight": max(_int(hs.get("weight"), 1), 1),
            "priority": _int(hs.get("priority")),
            "locality": _locality(hs.get("locality")),
            "locality_weight": 0,
            "hostname": _str(hs.get("hostname")),
        })
    return out


def _duration(v: Any) -> str:
    """A Duration as dumped (``"10s"``; a v2-era ``{"seconds": 10, "nanos": …}`` as seconds)."""
    if isinstance(v, dict):
        secs = _int(v.get("seconds")) + _int(v.get("nanos")) / 1e9
        return f"{secs:g}s"
    return _str(v)


def _json_or_none(v: Any, keep_empty: bool = False) -> str | None:
    return jdump(scrub(v)) if v or keep_empty else None


def _istio_services(metadata: Any) -> str | None:
    """``filter_metadata.istio.services`` of a cluster (the Service or ServiceEntry hosts behind it, §7)
    with the entry's ``external`` flag (MESH_EXTERNAL ServiceEntries)."""
    istio = _d(_d(_d(metadata).get("filter_metadata")).get("istio"))
    out = []
    for svc in _l(istio.get("services")):
        svc = _d(svc)
        row = {k: _str(svc.get(k)) for k in ("host", "name", "namespace")}
        if row["host"] or row["name"]:
            out.append(row)
    if not out:
        return None
    return jdump({"services": out, "external": _bool(istio.get("external"), False)})


def _v2_hosts_cla(cluster: dict[str, Any]) -> dict[str, Any]:
    """v2 clusters may list ``hosts`` instead of a ``load_assignment``."""
    hosts = _l(cluster.get("hosts"))
    return {"endpoints": [{"lb_endpoints": [{"endpoint": {"address": h}} for h in hosts]}]} if hosts else {}


# ---------------------------------------------------------------- mirrors and faults (§6)
_DENOMINATORS = {"HUNDRED": 100, "TEN_THOUSAND": 10_000, "MILLION": 1_000_000}
FAULT_FILTER = "envoy.filters.http.fault"


def _fraction(fp: Any, default: float = 0.0) -> float:
    """A FractionalPercent ({numerator, denominator HUNDRED|TEN_THOUSAND|MILLION}) as a fraction;
    a numerator above its denominator counts as all (Envoy caps it)."""
    if not isinstance(fp, dict):
        return default
    den = _DENOMINATORS.get(_str(fp.get("denominator")) or "HUNDRED", 100)
    return min(max(_int(fp.get("numerator")), 0) / den, 1.0)


def _fault(per_filter: Any) -> dict[str, Any] | None:
    """The fault filter's per-route config (HTTPFault, maybe wrapped in a TypedStruct or a
    FilterConfig), as {abort, delay, headers, upstream_cluster}; None when there is none."""
    cfg = _d(_d(per_filter).get(FAULT_FILTER)) if isinstance(per_filter, dict) else {}
    if not cfg:
        for k, v in _d(per_filter).items():
            t = _str(_d(v).get("@type")) + _str(_d(v).get("type_url"))
            if "HTTPFault" in t or k == "envoy.fault":
                cfg = _d(v)
                break
    t = _str(cfg.get("@type"))
    if t.endswith("TypedStruct"):
        cfg = _d(cfg.get("value"))
    elif t.endswith("config.route.v3.FilterConfig"):
        cfg = _d(cfg.get("config"))
    if not cfg:
        return None
    out: dict[str, Any] = {}
    ab = _d(cfg.get("abort"))
    if ab:
        # FaultAbort.percentage unset is 0 %; header_abort takes the code and percentage from headers
        out["abort"] = {"percent": 100.0 * _fraction(ab.get("percentage")),
                        "http_status": _int(ab.get("http_status")) or None,
                        "grpc_status": _int(ab.get("grpc_status")) if "grpc_status" in ab else None,
                        "header": "header_abort" in ab}
    dl = _d(cfg.get("delay"))
    if dl:
        out["delay"] = {"percent": 100.0 * _fraction(dl.get("percentage")),
                        "duration": _str(dl.get("fixed_delay")), "header": "header_delay" in dl}
    if not out:
        return None
    if _l(cfg.get("headers")):
        out["headers"] = _l(cfg.get("headers"))
    if _str(cfg.get("upstream_cluster")):
        out["upstream_cluster"] = _str(cfg["upstream_cluster"])
    if _l(cfg.get("downstream_nodes")):
        out["downstream_nodes"] = _strs(cfg.get("downstream_nodes"))
    return out


# ---------------------------------------------------------------- listener filters (§3)
_INSPECTORS = {"tls": ("envoy.filters.listener.tls_inspector", "envoy.listener.tls_inspector", "tls_inspector",
                       "TlsInspector"),
               "http": ("envoy.filters.listener.http_inspector", "envoy.listener.http_inspector", "http_inspector",
                        "HttpInspector")}


def _inspectors(lst: dict[str, Any]) -> list[list[Any]]:
    """The listener filters that set what the filter-chain match sees: [[kind, filter_disabled], …]
    (kind ``tls`` or ``http``), known by name or by config type."""
    out: list[list[Any]] = []
    for f in _l(lst.get("listener_filters")):
        f = _d(f)
        name = _str(f.get("name"))
        tc = _d(f.get("typed_config"))
        t = _str(tc.get("@type")) + _str(tc.get("type_url"))
        for kind, names in _INSPECTORS.items():
            if name in names[:3] or t.endswith(names[3]):
                dis = f.get("filter_disabled")
                out.append([kind, dis if isinstance(dis, dict) else None])
    return out


# ---------------------------------------------------------------- route resilience
def _retry_policy(rp: dict[str, Any], where: str) -> dict[str, Any]:
    """The fields of an Envoy RetryPolicy that decide what is retried and how often (absent
    ones left out: the queries apply Envoy's defaults)."""
    out: dict[str, Any] = {"from": where, "retry_on": _str(rp.get("retry_on"))}
    if "num_retries" in rp:
        out["num_retries"] = _int(rp.get("num_retries"))
    for k in ("per_try_timeout", "per_try_idle_timeout"):
        if k in rp:
            out[k] = _duration(rp[k])
    if "retriable_status_codes" in rp:
        out["retriable_status_codes"] = [_int(c) for c in _l(rp.get("retriable_status_codes"))]
    if "retriable_headers" in rp:
        out["retriable_headers"] = [_str(_d(h).get("name")) for h in _l(rp.get("retriable_headers"))]
    preds = [_str(_d(p).get("name")) for p in _l(rp.get("retry_host_predicate"))]
    if preds:
        out["host_predicates"] = preds
    if "host_selection_retry_max_attempts" in rp:
        out["host_selection_retry_max_attempts"] = _int(rp.get("host_selection_retry_max_attempts"))
    if "retry_priority" in rp:
        out["retry_priority"] = _str(_d(rp.get("retry_priority")).get("name"))
    return out


# ---------------------------------------------------------------- route match types
# The queries evaluate the stored RouteMatch (topo.queries.envoy.route_matches). Envoy
# refuses a route config whose match has a field of the wrong type, so such a route is kept
# (and shown) as one that never matches, with a note, rather than read as "match all".
def _regex_ok(v: Any) -> bool:
    return isinstance(v, dict) and isinstance(v.get("regex", ""), str)


def _string_match_ok(sm: Any) -> bool:
    return (isinstance(sm, dict) and (_regex_ok(sm["safe_regex"]) if "safe_regex" in sm else True)
            and all(isinstance(sm[k], str) for k in ("exact", "prefix", "suffix", "contains") if k in sm))


def _header_ok(hm: Any) -> bool:
    if not isinstance(hm, dict) or not isinstance(hm.get("name", ""), str):
        return False
    if "string_match" in hm and not _string_match_ok(hm["string_match"]):
        return False
    if "safe_regex_match" in hm and not _regex_ok(hm["safe_regex_match"]):
        return False
    if "range_match" in hm and not (isinstance(hm["range_match"], dict) and all(
            isinstance(hm["range_match"].get(k, 0), int | str) for k in ("start", "end"))):
        return False
    return all(isinstance(hm[k], str) for k in ("exact_match", "prefix_match", "suffix_match", "contains_match",
                                                "regex_match") if k in hm)


def _query_ok(qm: Any) -> bool:
    return (isinstance(qm, dict) and isinstance(qm.get("name", ""), str)
            and (_string_match_ok(qm["string_match"]) if "string_match" in qm else True))


def clean_match(rt: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """A route's match, and the fields of it that have the wrong type (then it never matches)."""
    m = rt.get("match", {})
    if not isinstance(m, dict):
        bad = ["match"]
    else:
        bad = [k for k in ("prefix", "path", "path_separated_prefix", "regex") if k in m and not isinstance(m[k], str)]
        if "safe_regex" in m and not _regex_ok(m["safe_regex"]):
            bad.append("safe_regex")
        if "headers" in m and not (isinstance(m["headers"], list) and all(_header_ok(h) for h in m["headers"])):
            bad.append("headers")
        qp = m.get("query_parameters")
        if "query_parameters" in m and not (isinstance(qp, list) and all(_query_ok(q) for q in qp)):
            bad.append("query_parameters")
        if not bad:
            return m, []
    return {"path": f"<invalid match: {', '.join(bad)}>"}, bad


# ---------------------------------------------------------------- route match summary (istioctl style)
def match_text(match: dict[str, Any]) -> str:
    if "prefix" in match:
        p = _str(match["prefix"])
        s = p + "*" if p.endswith("/") else p + "*"
    elif "path" in match:
        s = _str(match["path"])
    elif "safe_regex" in match:
        s = _str(_d(match["safe_regex"]).get("regex"))
    elif "regex" in match:
        s = _str(match["regex"])
    elif "path_separated_prefix" in match:
        s = _str(match["path_separated_prefix"]) + "/*"
    else:
        s = "/*"
    return s


# ---------------------------------------------------------------- the transform
Effect = tuple[Any, ...]


class _Builder:
    """Builds one dump's rows. With a shared ``cache`` (one per ingest), a resource already
    built from an earlier dump is not built again: only its by-name effects (names, keys,
    references) are replayed, since its rows are in the ingest's result already."""

    def __init__(self, dump: Dump, source: str, clusters_status: Any,
                 cache: dict[str, Any] | None = None) -> None:
        self.cache = cache
        self.chunks = _chunks(cache)
        # by-name relationships an earlier dump of this ingest emitted already
        self.emitted: set[tuple[str, str, str]] = cache.get(EDGES, set()) if cache is not None else set()
        self.new_edges: list[tuple[str, str, str]] = []
        self.new_cache: dict[str, list[Effect]] = {}  # committed to `cache` only if the dump succeeds
        self._recording: list[Effect] | None = None
        self.listener_info: dict[str, tuple[bool, int]] = {}
        self.eds_used: set[str] = set()
        self.cluster_type: dict[str, str] = {}
        self.dump = dump
        self.source = source
        self.rows = Rows()
        self.summary = Summary()
        self.notes = list(dump.notes)
        self.clusters_status = clusters_status
        self.config_edges: list[tuple[str, str, Any, dict[str, Any]]] = []  # (type, src, name ref, props)
        self.listener_keys: list[str] = []
        self.rc_keys: list[str] = []
        self.cluster_keys: list[str] = []
        self.rc_by_name: dict[str, str] = {}
        self.active_cluster_by_name: dict[str, str] = {}
        self.active_listeners: list[str] = []
        self.part_of: dict[str, str] = {}
        self._rc_seen: set[str] = set()
        self._cluster_seen: set[str] = set()
        self.resolvable: dict[tuple[str, str], list[str]] = {}  # (kind, name) → keys a name could resolve to

    def _key(self, kind: str, state: str, error: str, obj: dict[str, Any], source: Any = None) -> str:
        """``content_key`` of a resource; remembered by object identity when the object is one
        the ingest keeps alive (a resource parse_chunked shares between dumps)."""
        ch = self.chunks
        parts = (kind, state, error, obj) if source is None else (kind, state, error, obj, source)
        if source is None or source[0] == "none":
            src = source
        elif source[0] == "cla" and ch is not None and id(source[1]) in ch.ids:
            src = ("cla", id(source[1]))
        else:
            return content_key(*parts)
        if ch is None or id(obj) not in ch.ids:
            return content_key(*parts)
        mk = (kind, state, error, id(obj), src)
        got = ch.keys.get(mk)
        if got is None:
            got = ch.keys[mk] = content_key(*parts)
        return got

    # ---- by-name effects, recorded for the cache
    def _effect(self, *e: Any) -> None:
        if self._recording is not None:
            self._recording.append(e)
        self._apply(e)

    def _apply(self, e: Effect) -> None:
        op = e[0]
        if op == "edge":
            self.config_edges.append((e[1], e[2], e[3], e[4]))
        elif op == "listener":
            _, key, state, odst, port, part = e
            self.part_of[key] = part
            self.listener_keys.append(key)
            self.listener_info[key] = (odst, port)
            if state in ("static", "active"):
                self.active_listeners.append(key)
        elif op == "rc":
            _, key, name, state, inline = e
            self.part_of["r" + key] = resource_part("route_config", name, state)
            if key not in self._rc_seen:
                self._rc_seen.add(key)
                self.rc_keys.append(key)
                if name and not inline:
                    self.resolvable.setdefault(("route_config", name), []).append(key)
            # An inline route config is its chain's own ("#KEY"), never what an RDS name resolves
            # to: its name (an HCM's inline config may well carry one, and Envoy lists it again
            # under static_route_configs) must not make the by-name resolution ambiguous.
            if name and not inline and (name not in self.rc_by_name or state == "active"):
                self.rc_by_name[name] = key
        elif op == "cluster":
            _, key, name, state, error, ctype = e
            self.part_of["c" + key] = resource_part("cluster", name, state)
            if key not in self._cluster_seen:
                self._cluster_seen.add(key)
                if state in ("static", "active"):
                    self.resolvable.setdefault(("cluster", name), []).append(key)
            self.cluster_keys.append(key)
            # Only static and dynamic_active clusters carry traffic (§1); an entry with an
            # error_state still holds the previous good version, which stays in place.
            if state in ("static", "active") and (not error or name not in self.active_cluster_by_name):
                self.active_cluster_by_name[name] = key
                self.cluster_type[name] = ctype

    def _memo(self, key: str, build: Any) -> bool:
        """Run ``build`` unless this ingest built ``key`` already; then replay its effects.
        Returns True when it was built."""
        # (without an ingest cache, a resource seen twice in one dump is still built once)
        hit = self.cache.get(key) if self.cache is not None else None
        if hit is None:
            hit = self.new_cache.get(key)
        if hit is not None:
            for e in hit:
                self._effect(*e)
            return False
        outer, self._recording = self._recording, []
        try:
            build()
            mine = self._recording
        finally:
            self._recording = outer
        if outer is not None:
            outer.extend(mine)
        self.new_cache[key] = mine
        return True

    # ---- clusters and endpoints
    def clusters(self) -> None:
        eds: dict[str, dict[str, Any]] = {}
        for e in self.dump.get("EndpointsConfigDump"):
            for arr in ("static_endpoint_configs", "dynamic_endpoint_configs"):
                for item in _l(e.get(arr)):
                    cla = _d(_d(item).get("endpoint_config"))
                    self.summary.endpoint_configs += 1
                    n = sum(len(_l(_d(x).get("lb_endpoints"))) for x in _l(cla.get("endpoints")))
                    self.summary.lb_endpoints += n
                    eds[_str(cla.get("cluster_name"))] = cla
        status: dict[str, dict[str, Any]] = {}
        if self.clusters_status is not None:
            for cs in _l(_d(self.clusters_status).get("cluster_statuses")):
                status[_str(_d(cs).get("name"))] = _d(cs)
        have_eds = bool(self.dump.get("EndpointsConfigDump"))
        for c in self.dump.get("ClustersConfigDump"):
            for arr, state in (
                ("static_clusters", "static"),
                ("dynamic_active_clusters", "active"),
                ("dynamic_warming_clusters", "warming"),
            ):
                for item in _l(c.get(arr)):
                    item = _d(item)
                    cl = _d(item.get("cluster"))
                    if not cl:
                        continue
                    self.summary.clusters += 1
                    if state == "warming":
                        self.summary.warming += 1
                    err = _d(item.get("error_state"))
                    self._cluster(cl, state, _details(err), eds, status, have_eds)
        # Load assignments with no cluster in CDS (an endpoints-only dump, or an EDS entry
        # whose cluster is gone) are kept as clusters in state `eds_only`: they carry no
        # traffic, but `topo show endpoints` lists them as istioctl does.
        for cname in sorted(set(eds) - self.eds_used):
            stub = {"name": cname, "type": "EDS", "eds_cluster_config": {"service_name": cname}}
            self._cluster(stub, "eds_only", "", eds, {}, True)

    def _cluster(self, cl: dict[str, Any], state: str, error: str, eds: dict[str, Any],
                 status: dict[str, Any], have_eds: bool) -> None:
        name = _str(cl.get("name"))
        ctype = _str(cl.get("type")) or _str(_d(cl.get("cluster_type")).get("name")) or "STATIC"
        svc_name = _str(_d(cl.get("eds_cluster_config")).get("service_name")) or name
        # Where endpoints come from (§7 "Types"): the EDS dump, else the inline load
        # assignment, else /clusters?format=json host statuses.
        source: tuple[str, Any]
        if svc_name in eds or name in eds:
            source = ("cla", eds.get(svc_name) or eds[name])
        elif _d(cl.get("load_assignment")) or _l(cl.get("hosts")):
            source = ("inline", _d(cl.get("load_assignment")) or _v2_hosts_cla(cl))
        elif name in status:
            source = ("status", status[name])
        else:
            source = ("none", have_eds or ctype == "STATIC")
        if source[0] == "cla":
            self.eds_used.add(svc_name if svc_name in eds else name)
        key = self._key("C", state, error, cl, source)

        def build() -> None:
            covered = True
            if source[0] in ("cla", "inline"):
                eps, opf = _endpoint_rows(_d(source[1]))
            elif source[0] == "status":
                eps, opf = _status_endpoint_rows(_d(source[1])), 140
            else:
                eps, opf, covered = [], 140, bool(source[1])
            clb = _d(cl.get("common_lb_config"))
            pt = clb.get("healthy_panic_threshold")
            panic = (float(_d(pt).get("value", 0.0)) if isinstance(pt, dict)
                     else (float(pt) if isinstance(pt, int | float) else None))
            parts = parse_cluster_name(name)
            ep_keys = []
            for ep in eps:
                ep["key"] = content_key("E", ep)
                ep_keys.append(self.rows.add_node("Endpoint", ep))
            self.rows.add_node("Cluster", {
                "key": key,
                "name": name,
                "type": ctype,
                "lb_policy": _str(cl.get("lb_policy")) or "ROUND_ROBIN",
                "state": "error" if error and state != "static" else state,
                "error": error,
                **parts,
                "eds_service_name": svc_name if ctype == "EDS" else "",
                "panic_threshold": panic,
                "locality_weighted": "locality_weighted_lb_config" in clb,
                "weighted_priority_health": _bool(_d(cl.get("load_balancing_policy")).get("weighted_priority_health"), False),
                "overprovisioning_factor": opf,
                "has_endpoints_info": covered,
                "endpoint_source": {"cla": "eds", "inline": "inline", "status": "status"}.get(source[0], ""),
                "istio_config": istio_config(cl.get("metadata")),
                "istio_services": _istio_services(cl.get("metadata")),
                "connect_timeout": _duration(cl.get("connect_timeout")),
                "circuit_breakers": _json_or_none(_l(_d(cl.get("circuit_breakers")).get("thresholds"))),
                "outlier_detection": _json_or_none(_d(cl.get("outlier_detection")), keep_empty="outlier_detection" in cl),
                "raw": jdump(scrub(cl)),
            })
            for i, ek in enumerate(ep_keys):
                self.rows.add_rel("HAS_ENDPOINT", key, ek, position=i)
            fqdn = parts["fqdn"]
            if fqdn and parts["direction"] == "outbound":
                self._service(fqdn, port=parts["port"])
                self.rows.add_rel("FOR_SERVICE", key, fqdn)
            self._effect("cluster", key, name, state, error, ctype)

        self._memo(key, build)

    def _service(self, fqdn: str, port: int = 0, vip: str = "") -> None:
        labels = fqdn.split(".")
        k8s = len(labels) >= 3 and labels[2] == "svc"
        self.rows.add_node("Service", {
            "fqdn": fqdn,
            "name": labels[0],
            "namespace": labels[1] if k8s else "",
            "vips": [vip] if vip else [],
            "ports": [port] if port else [],
            "headless": None,
            "kind": "kubernetes" if k8s else "external",
        })

    # ---- routes
    def route_configs(self) -> None:
        for r in self.dump.get("RoutesConfigDump"):
            for item in _l(r.get("static_route_configs")):
                rc = _d(_d(item).get("route_config"))
                self.summary.route_configs += 1
                self._route_config(rc, "static", "")
            for item in _l(r.get("dynamic_route_configs")):
                item = _d(item)
                rc = _d(item.get("route_config"))
                self.summary.route_configs += 1
                err = _details(_d(item.get("error_state")))
                self._route_config(rc, "active", err)

    def _route_config(self, rc: dict[str, Any], state: str, error: str, inline: bool = False) -> str:
        # An inline route config is its HCM's own node (it also appears under static_route_configs,
        # §4, as a node of its own), so that `inline` is a property of the node, not of the order
        # in which the dumps of an ingest arrive.
        key = self._key("R", "inline" if inline else state, error, rc)
        self._memo(key, lambda: self._build_route_config(key, rc, state, error, inline))
        return key

    def _build_route_config(self, key: str, rc: dict[str, Any], state: str, error: str, inline: bool) -> None:
        name = _str(rc.get("name"))
        self.rows.add_node("RouteConfig", {
            "key": key,
            "name": name,
            "state": state,
            "error": error,
            "inline": inline,
            "ignore_port_in_host_matching": _bool(rc.get("ignore_port_in_host_matching"), False),
            "validate_clusters": _bool(rc.get("validate_clusters"), False),
            "raw": jdump(scrub(rc)),
        })
        self._effect("rc", key, name, state, inline)
        for vi, vh in enumerate(_l(rc.get("virtual_hosts"))):
            vh = _d(vh)
            vkey = f"{key}/{vi}"
            routes = [_d(rt) for rt in _l(vh.get("routes"))]
            # Istio records the VirtualService on each route, not on the vhost (§6 "Labels for edges")
            configs = {istio_config(vh.get("metadata"))} | {istio_config(rt.get("metadata")) for rt in routes}
            self.rows.add_node("VirtualHost", {
                "key": vkey,
                "name": _str(vh.get("name")),
                "index": vi,
                # Domains are lower-cased when loaded (§5).
                "domains": [d.lower() for d in _strs(vh.get("domains"))],
                "istio_configs": sorted(c for c in configs if c),
            })
            self.rows.add_rel("HAS_VHOST", key, vkey)
            self._vhost_vips(vh)
            # the most specific per-filter config wins: route, then vhost, then route config
            outer = _fault(vh.get("typed_per_filter_config")) or _fault(rc.get("typed_per_filter_config"))
            vh_retry = _d(vh.get("retry_policy")) if "retry_policy" in vh else None
            for ri, rt in enumerate(routes):
                self._route(rt, vkey, ri, outer, vh_retry)

    def _vhost_vips(self, vh: dict[str, Any]) -> None:
        """Istio names outbound vhosts ``<fqdn>:<port>`` and lists the service VIPs among
        their domains (§5): learn the VIPs from there."""
        fqdn, _, port = _str(vh.get("name")).rpartition(":")
        if not port.isdigit() or "." not in fqdn or _is_ip(fqdn):
            return
        for d in _strs(vh.get("domains")):
            host = d.rsplit(":", 1)[0] if d.count(":") == 1 else d
            if _is_ip(host):
                self._service(fqdn.lower(), port=int(port), vip=host)

    def _route(self, rt: dict[str, Any], vkey: str, ri: int, outer_fault: Any = None,
               vh_retry: dict[str, Any] | None = None) -> None:
        rkey = f"{vkey}/{ri}"
        match, bad = clean_match(rt)
        if bad:
            self.notes.append(f"route {_str(rt.get('name')) or '#' + str(ri)} ({rkey}): {', '.join(bad)} of the "
                              "wrong type in its match; Envoy would refuse it, topo keeps it as never matching")
        action, clusters, header, status = "", [], "", 0
        mirrors: list[list[Any]] = []
        timeout, retry = "", None
        if "route" in rt:
            action = "route"
            ra = _d(rt["route"])
            # §6 "Metadata only": they change what a failing request costs, not where it goes.
            timeout = _duration(ra["timeout"]) if "timeout" in ra else ""
            # A route's retry_policy replaces its vhost's (Envoy's RouteAction.retry_policy).
            if "retry_policy" in ra:
                retry = _retry_policy(_d(ra["retry_policy"]), "route")
            elif vh_retry is not None:
                retry = _retry_policy(vh_retry, "virtual_host")
            if "cluster" in ra:
                clusters = [[_str(ra["cluster"]), 1]]
            elif "weighted_clusters" in ra:
                # total_weight is ignored; weights are relative to their sum (§6 "Weighted selection").
                clusters = [[_str(_d(w).get("name")), max(_int(_d(w).get("weight")), 0)]
                            for w in _l(_d(ra["weighted_clusters"]).get("clusters"))]
            elif "cluster_header" in ra:
                header = _str(ra["cluster_header"])
            # §6 "Mirrors": a copy of runtime_fraction's default of the requests (all when unset)
            policies = [_d(m) for m in _l(ra.get("request_mirror_policies"))]
            if "request_mirror_policy" in ra:  # the v2 field
                policies.append(_d(ra["request_mirror_policy"]))
            mirrors = [[_str(m.get("cluster")), _fraction(_d(m.get("runtime_fraction")).get("default_value"), 1.0)
                        if "runtime_fraction" in m else 1.0] for m in policies if _str(m.get("cluster"))]
            refused = _weights_refused(clusters)
            if refused:
                self.notes.append(f"route {_str(rt.get('name')) or '#' + str(ri)} ({rkey}): {refused}; Envoy would "
                                  "refuse it, topo keeps it as never matching")
                match, clusters = {"path": "<invalid weights: their sum is past 4294967295>"}, []
        elif "redirect" in rt:
            action = "redirect"
        elif "direct_response" in rt:
            action = "direct_response"
            status = _int(_d(rt["direct_response"]).get("status"))
        elif "filter_action" in rt:
            action = "filter_action"
        elif "non_forwarding_action" in rt:
            action = "non_forwarding"
        ic = istio_config(rt.get("metadata"))
        self.rows.add_node("Route", {
            "key": rkey,
            "name": _str(rt.get("name")),
            "index": ri,
            "match": jdump(smatch := scrub(match)),
            "match_text": match_text(smatch),
            "action": action,
            "clusters": jdump(clusters),
            "cluster_header": header,
            "direct_status": status,
            "mirrors": jdump(mirrors) if mirrors else None,
            "fault": jdump(scrub(fault)) if (fault := _fault(rt.get("typed_per_filter_config")) or outer_fault) else None,
            "istio_config": ic,
            "timeout": timeout,
            "retry_policy": jdump(retry) if retry is not None else None,
        })
        self.rows.add_rel("HAS_ROUTE", vkey, rkey)
        for cname, w in _summed(clusters).items():
            self._effect("edge", "ROUTES_TO", rkey, cname, {"weight": w})
        for cname in dict.fromkeys(m[0] for m in mirrors):
            self._effect("edge", "MIRRORS_TO", rkey, cname, {})

    # ---- listeners
    def listeners(self) -> None:
        for e in self.dump.get("ListenersConfigDump"):
            for item in _l(e.get("static_listeners")):
                self.summary.listeners += 1
                self._listener(_d(_d(item).get("listener")), "static", "")
            for item in _l(e.get("dynamic_listeners")):
                item = _d(item)
                self.summary.listeners += 1
                err = _details(_d(item.get("error_state")))
                if err:
                    self.summary.errors += 1
                wrote = False
                for st, state in (("active_state", "active"), ("warming_state", "warming"),
                                  ("draining_state", "draining")):
                    lst = _d(_d(item.get(st)).get("listener"))
                    if lst:
                        if state == "warming":
                            self.summary.warming += 1
                        self._listener(lst, state, err if state == "active" else "")
                        wrote = True
                if err and not wrote:
                    # A rejected push with nothing in place: record it as an error listener.
                    failed = _d(_d(item.get("error_state")).get("failed_configuration"))
                    stub = {"name": _str(item.get("name")) or _str(failed.get("name"))}
                    self._listener(stub, "error", err)

    def _listener(self, lst: dict[str, Any], state: str, error: str) -> None:
        if not lst:
            return
        key = self._key("L", state, error, lst)
        self._memo(key, lambda: self._build_listener(key, lst, state, error))

    def _build_listener(self, key: str, lst: dict[str, Any], state: str, error: str) -> None:
        address, port = socket_addr(lst.get("address"))
        # Istio ≤1.11 wrote deprecated_v1.bind_to_port; treat it the same (§2 "Older field").
        btp = lst.get("bind_to_port", _d(lst.get("deprecated_v1")).get("bind_to_port", True))
        matcher = lst.get("filter_chain_matcher")
        self.rows.add_node("Listener", {
            "key": key,
            "name": _str(lst.get("name")),
            "address": address,
            "port": port,
            "bind_to_port": _bool(btp, True),
            "use_original_dst": _bool(lst.get("use_original_dst"), False),
            "direction": _str(lst.get("traffic_direction")),
            "state": state,
            "error": error,
            "listener_filters": [_str(_d(f).get("name")) for f in _l(lst.get("listener_filters"))],
            "inspectors": jdump(ins) if (ins := _inspectors(lst)) else None,
            "has_matcher": bool(matcher),
            "matcher": jdump(scrub(matcher)) if matcher else None,
            "raw": jdump(scrub(lst)),
        })
        use_odst = _bool(lst.get("use_original_dst"), False)
        part = resource_part("listener", _str(lst.get("name")), state, _str(lst.get("traffic_direction")))
        self._effect("listener", key, state, use_odst, port, part)
        chains = [(i, _d(fc)) for i, fc in enumerate(_l(lst.get("filter_chains")))]
        if lst.get("default_filter_chain"):
            chains.append((-1, _d(lst["default_filter_chain"])))
        vip = address if (_is_ip(address) and address not in ("0.0.0.0", "::")
                          and _str(lst.get("traffic_direction")) != "INBOUND") else ""
        for i, fc in chains:
            self._chain(fc, key, i, vip, port)

    def _chain(self, fc: dict[str, Any], lkey: str, index: int, vip: str = "", port: int = 0) -> None:
        ckey = f"{lkey}/{index}"
        m = _d(fc.get("filter_chain_match"))
        ranges = []
        for pr in _l(m.get("prefix_ranges")):
            pr = _d(pr)
            # CidrRange.prefix_len defaults to 0 when unset
            ranges.append(f"{_str(pr.get('address_prefix'))}/{_int(pr.get('prefix_len'), 0)}")
        src = {k: m[k] for k in ("source_type", "source_prefix_ranges", "direct_source_prefix_ranges", "source_ports") if k in m}
        terminal, rds, inline, unsupported = "other", "", "", ""
        tcp: list[list[Any]] = []
        http_filters: list[str] = []
        foreign: list[str] = []
        filters = [_d(f) for f in _l(fc.get("filters"))]
        for f in filters:
            kind, cfg = _typed(f)
            foreign += _foreign(f, ISTIO_NETWORK_FILTERS)
            if kind == "http":
                terminal = "http"
                http_filters = [filter_label(_d(h)) for h in _l(cfg.get("http_filters"))]
                for hf in _l(cfg.get("http_filters")):
                    foreign += _foreign(_d(hf), ISTIO_HTTP_FILTERS)
                if "rds" in cfg:
                    rds = _str(_d(cfg["rds"]).get("route_config_name"))
                elif "route_config" in cfg:
                    # An inline route config also appears under static_route_configs (§4).
                    rc = _d(cfg["route_config"])
                    inline = _str(rc.get("name"))
                    rckey = self._route_config(rc, "static", "", inline=True)
                    self._effect("edge", "USES_ROUTE_CONFIG", ckey, "#" + rckey, {})
                elif "scoped_routes" in cfg:
                    unsupported = "scoped_routes (of the HTTP connection manager)"
            elif kind == "tcp":
                terminal = "tcp"
                v1 = _d(cfg.get("value")) if cfg.get("deprecated_v1") is True else {}
                if v1:
                    # Envoy v1's tcp_proxy (Istio ≤0.8): a route table; one route is the cluster
                    v1_routes = [_d(r) for r in _l(_d(v1.get("route_config")).get("routes"))]
                    if len(v1_routes) == 1 and _str(v1_routes[0].get("cluster")):
                        tcp = [[_str(v1_routes[0]["cluster"]), 1]]
                elif "cluster" in cfg:
                    tcp = [[_str(cfg["cluster"]), 1]]
                elif "weighted_clusters" in cfg:
                    tcp = [[_str(_d(w).get("name")), max(_int(_d(w).get("weight")), 0)]
                           for w in _l(_d(cfg["weighted_clusters"]).get("clusters"))]
                    refused = _weights_refused(tcp)
                    if refused:
                        self.notes.append(f"tcp_proxy of chain {ckey}: {refused}; Envoy would refuse it, topo "
                                          "routes it nowhere")
                        tcp = []
        self.rows.add_node("FilterChain", {
            "key": ckey,
            "name": _str(fc.get("name")),
            "index": index,
            "is_default": index == -1,
            "destination_port": _int(_d(m).get("destination_port")) if "destination_port" in m else None,
            "prefix_ranges": ranges,
            "server_names": _strs(m.get("server_names")),
            "transport_protocol": _str(m.get("transport_protocol")),
            "application_protocols": _strs(m.get("application_protocols")),
            "source_match": jdump(scrub(src)) if src else None,
            "terminal": terminal,
            "filters": [filter_label(f) for f in filters],
            # §4: the terminal filter decides; one topo does not follow is named, never read as NR
            "unsupported": unsupported or (filter_label(filters[-1]) if terminal == "other" and filters else ""),
            "http_filters": http_filters,
            "rds_name": rds,
            "inline_route": inline,
            "tcp_clusters": jdump(tcp),
            "istio_config": istio_config(fc.get("metadata")),
            "foreign_filters": sorted(set(foreign)),
        })
        self.rows.add_rel("HAS_CHAIN", lkey, ckey)
        if rds:
            self._effect("edge", "USES_ROUTE_CONFIG", ckey, rds, {})
        for cname, w in _summed(tcp).items():
            self._effect("edge", "TCP_TO", ckey, cname, {"weight": w})
            parts = parse_cluster_name(str(cname))
            # A TCP or sniffed service gets a listener on its VIP (§2); headless services get
            # one per pod IP, to ORIGINAL_DST clusters, and those IPs are not VIPs.
            if (vip and parts["fqdn"] and parts["port"] == port and parts["direction"] == "outbound"
                    and self.cluster_type.get(cname, "ORIGINAL_DST") != "ORIGINAL_DST"):
                self._service(parts["fqdn"], port=port, vip=vip)

    # ---- the proxy config and its by-name references
    def finish(self, pod: PodInfo) -> str:
        # Only dynamic_active and static resources carry traffic (§1); every state is a member.
        sets: list[list[Any]] = []
        members_of = {"listener": ("", self.listener_keys), "route_config": ("r", self.rc_keys),
                      "cluster": ("c", self.cluster_keys)}
        for kind, member_rel in SCHEMA.set_kinds.items():
            rel = member_rel.type
            prefix, keys = members_of[kind]
            by_part: dict[str, list[tuple[int, str]]] = {}
            for pos, k in enumerate(dict.fromkeys(keys)):
                by_part.setdefault(self.part_of[prefix + k], []).append((pos, k))
            for part in ("static", "inbound", "outbound"):
                if part in by_part:
                    members = [k for _p, k in by_part[part]]
                    skey = content_key("S", kind, part, members)
                    self._memo(skey, lambda skey=skey, kind=kind, part=part, rel=rel, members=members:
                               self._set(skey, kind, part, rel, members))
                    sets.append([skey, runs([p for p, _k in by_part[part]])])
        # Names several resolvable resources carry: which one this proxy uses (topo.model.schema).
        by_name = {"route_config": self.rc_by_name, "cluster": self.active_cluster_by_name}
        picks: dict[str, dict[str, str]] = {}
        for (kind, name), keys in sorted(self.resolvable.items()):
            if len(keys) > 1:
                chosen = by_name[kind].get(name)
                if chosen:
                    picks.setdefault(kind, {})[name] = chosen
        ckey = content_key("P", sets, picks)
        self.rows.add_node("ProxyConfig", {
            "key": ckey,
            "listeners": len(set(self.listener_keys)),
            "route_configs": len(set(self.rc_keys)),
            "clusters": len(set(self.cluster_keys)),
            "endpoints": self.summary.lb_endpoints,
            "picks": jdump(picks) if picks else None,
        })
        for skey, rn in sets:
            self.rows.add_rel("HAS_SET", ckey, skey, runs=rn)
        # By-name references, resolved in this config, stored once per (source, target).
        done: set[tuple[str, str, str]] = set()
        for type_, src, ref, props in self.config_edges:
            kind = SCHEMA.rel(type_).by_name
            # "#KEY": the chain's own inline route config, not a name to resolve
            dst = ref[1:] if kind == "route_config" and ref.startswith("#") else by_name[kind].get(ref)
            if dst and (type_, src, dst) not in done:
                done.add((type_, src, dst))
                if (type_, src, dst) not in self.emitted:
                    self.new_edges.append((type_, src, dst))
                    self.rows.add_rel(type_, src, dst, **props)
        # virtualOutbound's hand-off to the listener of the original destination (§2):
        # any active listener may receive it; the walk picks exact ip:port, then 0.0.0.0:port.
        info = self.listener_info
        targets = [k for k in self.active_listeners if info[k][1]]
        for k in self.active_listeners:
            if info[k][0]:
                hkey = content_key("H", k, targets)
                self._memo(hkey, lambda k=k: self._hands_off(k, targets))
        return ckey

    def _hands_off(self, vo: str, targets: list[str]) -> None:
        for o in targets:
            if o != vo:
                self.rows.add_rel("HANDS_OFF", vo, o)

    def _set(self, skey: str, kind: str, part: str, rel: str, members: list[str]) -> None:
        self.rows.add_node("ResourceSet", {"key": skey, "kind": kind, "part": part, "size": len(members)})
        for i, k in enumerate(members):
            self.rows.add_rel(rel, skey, k, position=i)


def transform_dump(doc: Any, source: str, clusters_status: Any = None,
                   cache: dict[str, Any] | None = None) -> DumpResult:
    """One parsed config dump → rows. Raises :class:`DumpError` for anything that is not one.

    ``cache`` (one dict per ingest) lets later dumps skip resources an earlier dump of the
    same ingest already turned into rows: their rows are then left out of this result, so
    pass a cache only when every result is merged into one set of rows."""
    token = _WRONG.set([])
    try:
        return _transform_dump(doc, source, clusters_status, cache)
    finally:
        _WRONG.reset(token)


def _transform_dump(doc: Any, source: str, clusters_status: Any, cache: dict[str, Any] | None) -> DumpResult:
    dump = normalize(doc)
    if clusters_status is not None and not is_clusters_status(clusters_status):
        raise DumpError("the companion .clusters.json is not /clusters?format=json output")
    if clusters_status is not None:
        # jsonpb output may mix casings at any depth (istioctl's fixture: hostStatuses inside)
        clusters_status = to_snake(clusters_status)
    b = _Builder(dump, source, clusters_status, cache)
    b.clusters()
    b.route_configs()
    b.listeners()
    boots = dump.get("BootstrapConfigDump")
    bootstrap = _d(boots[0].get("bootstrap")) if boots else {}
    pod = pod_identity(bootstrap, fallback_name(source))
    if not (b.listener_keys or b.rc_keys or b.cluster_keys) and not dump.get("EndpointsConfigDump"):
        raise DumpError("a config dump with no listeners, routes, clusters or endpoints")
    ckey = b.finish(pod)
    b.rows.add_node("Pod", {
        "id": pod.id,
        "name": pod.name,
        "namespace": pod.namespace,
        "ip": pod.ips[0] if pod.ips else "",
        "ips": pod.ips,
        "labels": jdump(pod.labels),
        "workload": pod.workload,
        "app": pod.labels.get("app", ""),
        "version": pod.labels.get("version", ""),
        "proxy_type": pod.proxy_type,
        "istio_version": pod.istio_version,
        "istio_proxy_sha": pod.istio_proxy_sha,
        "envoy_version": pod.envoy_version,
        # istioctl's secret summary counts dynamic active and warming secrets; none is stored
        "secrets": (sum(len(_l(e.get("dynamic_active_secrets"))) + len(_l(e.get("dynamic_warming_secrets")))
                        for e in dump.get("SecretsConfigDump")) if dump.get("SecretsConfigDump") else None),
        "node_name": pod.node_name,
        "service_account": pod.service_account,
        "cluster_domain": pod.cluster_domain,
        "locality": pod.locality,
        "source": source,
        "config": ckey,
    })
    b.rows.add_rel("USES_CONFIG", pod.id, ckey)
    wrong = _WRONG.get() or []
    if wrong:
        n = f"{len(wrong)}{'+' if len(wrong) >= 100 else ''}"
        b.notes.append(f"{n} value{'' if n == '1' else 's'} of the wrong type, read as empty, zero or the default "
                       f"(the first: {wrong[0]})")
    if cache is not None:
        cache.update(b.new_cache)
        cache.setdefault(EDGES, set()).update(b.new_edges)
    return DumpResult(rows=b.rows, pod_id=pod.id, summary=b.summary, api=dump.api, notes=b.notes)


CHUNKS = "\x00chunks"  # the ingest cache's entry for parsed resources (topo.ingest.dump.Chunks)
EDGES = "\x00edges"  # … and for the by-name relationships already emitted


def _chunks(cache: dict[str, Any] | None) -> Chunks | None:
    if cache is None:
        return None
    got = cache.get(CHUNKS)
    if got is None:
        got = cache[CHUNKS] = Chunks()
    return got


def transform_bytes(data: bytes, source: str, clusters_status: bytes | None = None,
                    cache: dict[str, Any] | None = None) -> DumpResult:
    """Bytes of one dump (and optionally of its ``/clusters?format=json``) → rows."""
    chunks = _chunks(cache)
    doc = parse_chunked(data, chunks) if chunks is not None else None
    if doc is None:
        doc = parse_json(data)
    try:
        cs = parse_json(clusters_status) if clusters_status is not None else None
    except DumpError as e:
        raise DumpError(f"its companion .clusters.json: {e}") from None
    try:
        return transform_dump(doc, source, cs, cache)
    except RecursionError:
        raise DumpError("JSON nested too deeply to read") from None
    except orjson.JSONEncodeError as e:  # past orjson's 255 levels when a resource is hashed
        raise DumpError(f"JSON nested too deeply to store ({e})") from None
