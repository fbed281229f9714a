"""`topo show`: istioctl's ``proxy-config`` tables, drawn from the graph.

Each table function mirrors one istioctl writer (``istioctl/pkg/writer/envoy/configdump`` and
``…/envoy/clusters``): the same columns, the same filters, the same sort, and
:func:`render_text` lays the rows out with a port of Go's ``text/tabwriter`` so the text is
byte-for-byte what istioctl prints for the same config.

istioctl sorts with Go's ``sort.Slice`` (pattern-defeating quicksort, not stable), and some of
its comparators leave ties (listener matches with one destination) or are not even orders
(route configs: only numeric names compare). Its output then depends on the order of the
input, so :func:`go_sort_slice` replays Go's algorithm step by step on the input istioctl
would have seen: dynamic resources first, then static ones.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson

from topo.errors import TopoError
from topo.queries.graphapi import MeshGraph, Props
from topo.queries.resolve import SourceGroup, resolve_source
from topo.util import as_dict, as_list, as_str

T = TypeVar("T")
Cell = str | int

HCM = "envoy.filters.network.http_connection_manager"
TCP_PROXY = "envoy.filters.network.tcp_proxy"
BLACKHOLE = "BlackHoleCluster"
PASSTHROUGH = "PassthroughCluster"
# core.v3 Cluster.DiscoveryType; a cluster_type extension leaves ``type`` at STATIC (0).
DISCOVERY_TYPES = ("STATIC", "STRICT_DNS", "LOGICAL_DNS", "EDS", "ORIGINAL_DST")


@dataclass
class ShowTable:
    """One istioctl table: typed rows plus what :func:`render_text` needs to lay them out."""

    kind: str  # listeners, routes, clusters, endpoints, endpoint-status
    pods: list[str]
    header: list[str]
    rows: list[list[Cell]]
    padding: int  # tabwriter padding istioctl uses for this table (1 for listeners, else 5)
    resources: list[Any] = field(default_factory=list)  # what -o json/yaml prints


# ---------------------------------------------------------------- Go text/tabwriter
def tabwrite(text: str, *, minwidth: int = 0, padding: int = 1) -> str:
    """Go ``text/tabwriter`` (padchar ' ', flags 0) applied to ``text``.

    Cells are tab-terminated; the text after a line's last tab is not part of any column and is
    never padded. A column block is a run of consecutive lines that have that cell; its width
    is the widest cell in the block plus ``padding`` (at least ``minwidth``), counted in runes.
    """
    lines = [ln.split("\t") for ln in text.split("\n")]
    if lines[-1][-1] == "":  # at Flush, an empty unterminated last cell is not a cell
        lines[-1].pop()
    out: list[str] = []

    def write_lines(widths: list[int], line0: int, line1: int) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            for j, c in enumerate(cells):
                out.append(c)
                if j < len(widths):
                    out.append(" " * (widths[j] - len(c)))
            if i + 1 < len(lines):
                out.append("\n")

    def fmt(widths: list[int], line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(widths, line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            fmt([*widths, width], line0, this)
            line0 = this
        write_lines(widths, line0, line1)

    fmt([], 0, len(lines))
    return "".join(out)


def render_text(t: ShowTable) -> str:
    """The table exactly as istioctl prints it."""
    rows: list[Sequence[Cell]] = [t.header, *t.rows]
    text = "".join("\t".join(str(c) for c in row) + "\n" for row in rows)
    return tabwrite(text, padding=t.padding)


# ---------------------------------------------------------------- Go sort.Slice
def go_sort_slice(data: list[T], less: Callable[[T, T], bool]) -> None:
    """Go's ``sort.Slice`` (pdqsort, Go ≥ 1.19), in place, with the same comparisons and swaps.

    Needed because istioctl's sorts are unstable and some of its comparators are not orders.
    """
    n = len(data)
    if n > 1:
        _pdqsort(data, less, 0, n, n.bit_length())


def _insertion_sort(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int) -> None:
    for i in range(a + 1, b):
        j = i
        while j > a and less(d[j], d[j - 1]):
            d[j], d[j - 1] = d[j - 1], d[j]
            j -= 1


def _sift_down(d: list[Any], less: Callable[[Any, Any], bool], lo: int, hi: int, first: int) -> None:
    root = lo
    while True:
        child = 2 * root + 1
        if child >= hi:
            return
        if child + 1 < hi and less(d[first + child], d[first + child + 1]):
            child += 1
        if not less(d[first + root], d[first + child]):
            return
        d[first + root], d[first + child] = d[first + child], d[first + root]
        root = child


def _heap_sort(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int) -> None:
    first, lo, hi = a, 0, b - a
    for i in range((hi - 1) // 2, -1, -1):
        _sift_down(d, less, i, hi, first)
    for i in range(hi - 1, -1, -1):
        d[first], d[first + i] = d[first + i], d[first]
        _sift_down(d, less, lo, i, first)


_UNKNOWN_HINT, _INCREASING_HINT, _DECREASING_HINT = 0, 1, 2
_MASK64 = (1 << 64) - 1


def _pdqsort(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int, limit: int) -> None:
    max_insertion = 12
    was_balanced = was_partitioned = True
    while True:
        length = b - a
        if length <= max_insertion:
            _insertion_sort(d, less, a, b)
            return
        if limit == 0:
            _heap_sort(d, less, a, b)
            return
        if not was_balanced:
            _break_patterns(d, a, b)
            limit -= 1
        pivot, hint = _choose_pivot(d, less, a, b)
        if hint == _DECREASING_HINT:
            _reverse_range(d, a, b)
            pivot = (b - 1) - (pivot - a)
            hint = _INCREASING_HINT
        if was_balanced and was_partitioned and hint == _INCREASING_HINT:
            if _partial_insertion_sort(d, less, a, b):
                return
        if a > 0 and not less(d[a - 1], d[pivot]):
            a = _partition_equal(d, less, a, b, pivot)
            continue
        mid, already = _partition(d, less, a, b, pivot)
        was_partitioned = already
        left, right = mid - a, b - mid
        threshold = length // 8
        if left < right:
            was_balanced = left >= threshold
            _pdqsort(d, less, a, mid, limit)
            a = mid + 1
        else:
            was_balanced = right >= threshold
            _pdqsort(d, less, mid + 1, b, limit)
            b = mid


def _partition(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int, pivot: int) -> tuple[int, bool]:
    d[a], d[pivot] = d[pivot], d[a]
    i, j = a + 1, b - 1
    while i <= j and less(d[i], d[a]):
        i += 1
    while i <= j and not less(d[j], d[a]):
        j -= 1
    if i > j:
        d[j], d[a] = d[a], d[j]
        return j, True
    d[i], d[j] = d[j], d[i]
    i += 1
    j -= 1
    while True:
        while i <= j and less(d[i], d[a]):
            i += 1
        while i <= j and not less(d[j], d[a]):
            j -= 1
        if i > j:
            break
        d[i], d[j] = d[j], d[i]
        i += 1
        j -= 1
    d[j], d[a] = d[a], d[j]
    return j, False


def _partition_equal(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int, pivot: int) -> int:
    d[a], d[pivot] = d[pivot], d[a]
    i, j = a + 1, b - 1
    while True:
        while i <= j and not less(d[a], d[i]):
            i += 1
        while i <= j and less(d[a], d[j]):
            j -= 1
        if i > j:
            break
        d[i], d[j] = d[j], d[i]
        i += 1
        j -= 1
    return i


def _partial_insertion_sort(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int) -> bool:
    max_steps, shortest_shifting = 5, 50
    i = a + 1
    for _ in range(max_steps):
        while i < b and not less(d[i], d[i - 1]):
            i += 1
        if i == b:
            return True
        if b - a < shortest_shifting:
            return False
        d[i], d[i - 1] = d[i - 1], d[i]
        if i - a >= 2:
            j = i - 1
            while j >= 1:
                if not less(d[j], d[j - 1]):
                    break
                d[j], d[j - 1] = d[j - 1], d[j]
                j -= 1
        if b - i >= 2:
            j = i + 1
            while j < b:
                if not less(d[j], d[j - 1]):
                    break
                d[j], d[j - 1] = d[j - 1], d[j]
                j += 1
    return False


def _break_patterns(d: list[Any], a: int, b: int) -> None:
    length = b - a
    if length >= 8:
        rnd = length
        modulus = 1 << length.bit_length()
        idx = a + (length // 4) * 2 - 1
        while idx <= a + (length // 4) * 2 + 1:
            rnd ^= (rnd << 13) & _MASK64
            rnd ^= rnd >> 7
            rnd ^= (rnd << 17) & _MASK64
            other = rnd & (modulus - 1)
            if other >= length:
                other -= length
            d[idx], d[a + other] = d[a + other], d[idx]
            idx += 1


def _choose_pivot(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int) -> tuple[int, int]:
    shortest_ninther, max_swaps = 50, 4 * 3
    n = b - a
    swaps = [0]
    i, j, k = a + n // 4 * 1, a + n // 4 * 2, a + n // 4 * 3
    if n >= 8:
        if n >= shortest_ninther:
            i = _median(d, less, i - 1, i, i + 1, swaps)
            j = _median(d, less, j - 1, j, j + 1, swaps)
            k = _median(d, less, k - 1, k, k + 1, swaps)
        j = _median(d, less, i, j, k, swaps)
    if swaps[0] == 0:
        return j, _INCREASING_HINT
    if swaps[0] == max_swaps:
        return j, _DECREASING_HINT
    return j, _UNKNOWN_HINT


def _median(d: list[Any], less: Callable[[Any, Any], bool], a: int, b: int, c: int, swaps: list[int]) -> int:
    def order2(x: int, y: int) -> tuple[int, int]:
        if less(d[y], d[x]):
            swaps[0] += 1
            return y, x
        return x, y

    a, b = order2(a, b)
    b, c = order2(b, c)
    a, b = order2(a, b)
    return b


def _reverse_range(d: list[Any], a: int, b: int) -> None:
    i, j = a, b - 1
    while i < j:
        d[i], d[j] = d[j], d[i]
        i += 1
        j -= 1


# ---------------------------------------------------------------- graph access
class RawReader:
    """The ``raw`` property (the scrubbed resource JSON) of Listener/RouteConfig/Cluster nodes."""

    def __init__(self, g: MeshGraph, store: Path | str | None = None, snapshot: str | None = None) -> None:
        self.g = g

    def get(self, label: str, key: str) -> dict[str, Any] | None:
        v = self.g.raw(label, key)
        if isinstance(v, str | bytes):
            v = orjson.loads(v)
        return v if isinstance(v, dict) else None


def _route_configs(g: MeshGraph, config: str) -> list[Props]:
    return g.route_configs(config)


def resolve_pod(g: MeshGraph, pod: str, namespace: str | None = None) -> SourceGroup:
    """POD as istioctl takes it (``name``, ``name.namespace``) or as topo does (``ns/name``, prefix, workload)."""
    try:
        groups = resolve_source(g, pod, namespace)
    except TopoError:
        if "." not in pod or "/" in pod or namespace:
            raise
        name, ns = pod.rsplit(".", 1)
        groups = resolve_source(g, name, ns)
    if len(groups) > 1:
        pods = ", ".join(p for grp in groups for p in grp.pods[:2])
        raise TopoError(f"{pod!r} matches pods with {len(groups)} different proxy configs ({pods}…): name one pod", 2)
    return groups[0]


def _strip_any(raw: dict[str, Any]) -> dict[str, Any]:
    """The resource as istioctl marshals it: without the ``@type`` of the dump's Any wrapper."""
    return {k: v for k, v in raw.items() if k != "@type"}


def _jl(v: Any) -> Any:
    return orjson.loads(v) if isinstance(v, str) and v else v


_INT64 = re.compile(r"^[+-]?[0-9]+$")


def go_atoi(s: str) -> int | None:
    """strconv.Atoi: optional sign and decimal digits, 64-bit range; ``None`` where Go errors."""
    if not _INT64.match(s):
        return None
    v = int(s)
    return v if -(1 << 63) <= v < (1 << 63) else None


# ---------------------------------------------------------------- istio naming helpers
def parse_subset_key(name: str) -> tuple[str, str, str, int]:
    """model.ParseSubsetKey: (direction, subset, hostname, port) of ``dir|port|subset|host``."""
    sep = "_." if name.startswith(("outbound_", "inbound_")) else "|"
    direction = subset = host = ""
    port = 0
    dir_, ok, rest = name.partition(sep)
    if not ok:
        return direction, subset, host, port
    direction = dir_
    p, ok, rest = rest.partition(sep)
    if not ok:
        return direction, subset, host, port
    port = go_atoi(p) or 0
    ss, ok, rest = rest.partition(sep)
    if not ok:
        return direction, subset, host, port
    subset = ss
    if sep in rest:
        return direction, subset, host, port
    return direction, subset, rest, port


def safely_parse_subset_key(name: str) -> tuple[str, str, str, int]:
    if len(name.split("|")) > 3:
        return parse_subset_key(name)
    return "", "", name, 0


def _subset_key_less(name_of: Callable[[Any], str]) -> Callable[[Any, Any], bool]:
    """istioctl's cluster / load-assignment order: host, then subset, port, direction."""

    def less(a: Any, b: Any) -> bool:
        ad, asub, an, ap = safely_parse_subset_key(name_of(a))
        bd, bsub, bn, bp = safely_parse_subset_key(name_of(b))
        if an == bn:
            if asub == bsub:
                if ap == bp:
                    return ad < bd
                return ap < bp
            return asub < bsub
        return an < bn

    return less


def render_config(path: str) -> str:
    """describeManagement: ``/apis/networking.istio.io/v1/namespaces/NS/virtual-service/NAME`` → NAME.NS."""
    if not path:
        return ""
    if path.startswith("/apis/networking.istio.io/"):
        pieces = path.split("/")
        return f"{pieces[7]}.{pieces[5]}" if len(pieces) == 8 else ""
    return "<unknown>"


def _dynamic_first(items: list[Props]) -> list[Props]:
    """istioctl reads dynamic resources first, then static ones."""
    return [p for p in items if p["state"] != "static"] + [p for p in items if p["state"] == "static"]


# ---------------------------------------------------------------- listeners
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


def _filter_config(f: dict[str, Any]) -> dict[str, Any]:
    return as_dict(f.get("typed_config"))


def describe_filters(filters: list[dict[str, Any]]) -> str:
    """getFilterType: the first HTTP connection manager or non-blackhole tcp_proxy decides."""
    for f in filters:
        name = as_str(f.get("name"))
        if name == HCM:
            cfg = _filter_config(f)
            if "route_config" in cfg:
                return _describe_route_config(as_dict(cfg["route_config"]))
            rds = as_str(as_dict(cfg.get("rds")).get("route_config_name"))
            return f"Route: {rds}" if rds else "HTTP"
        if name == TCP_PROXY:
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
            if name == HCM:
                n_http += 1
            elif name == TCP_PROXY and BLACKHOLE not in orjson.dumps(_filter_config(f)).decode():
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
        clusters = _jl(chain["tcp_clusters"]) or []
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
            rt: dict[str, Any] = {"match": _jl(r["match"]) or {}}
            cl = _jl(r["clusters"]) or []
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
    for lp in _dynamic_first([p for p in g.listeners(config) if p["state"] in ("static", "active")]):
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


def listener_table(g: MeshGraph, pod: str, *, namespace: str | None = None, address: str = "", port: int = 0,
                   type_: str = "", verbose: bool = True, raw: RawReader | None = None,
                   config_type: bool = False, require: bool = True) -> ShowTable:
    """``istioctl proxy-config listener POD`` (PrintListenerSummary; padding 1)."""
    grp = resolve_pod(g, pod, namespace)
    items = _listener_items(g, grp.config, raw or RawReader(g))
    if require and not items:
        raise TopoError(f"no listeners found for {grp.pods[0]}", 1)

    def verify(it: _Listener) -> bool:
        if address and not any(a.lower() == address.lower() for a in [*it.extra, it.addr]):
            return False
        if port and it.port != port:
            return False
        return not (type_ and it.type.lower() != type_.lower())

    items = [it for it in items if verify(it)]
    resources = [_strip_any(it.raw) if it.raw is not None else it.props for it in items]  # istioctl: unsorted

    def less(a: _Listener, b: _Listener) -> bool:
        if a.port != b.port:
            return a.port < b.port
        if a.addr != b.addr:
            return a.addr < b.addr
        return a.type < b.type

    go_sort_slice(items, less)
    header = ["ADDRESSES", "PORT", *(["MATCH", "DESTINATION"] if verbose else ["TYPE"])]
    if config_type:
        header.insert(0, "NAME")
    rows: list[list[Cell]] = []
    for it in items:
        addrs = ",".join([it.addr, *it.extra])
        lead: list[Cell] = [f"listener/{it.props['name']}"] if config_type else []
        if verbose:
            matches = list(it.matches)
            go_sort_slice(matches, lambda x, y: x[1] > y[1])
            rows += [[*lead, addrs, it.port, m, dst] for m, dst in matches]
        else:
            rows.append([*lead, addrs, it.port, it.type])
    return ShowTable("listeners", grp.pods, header, rows, 1, resources)


# ---------------------------------------------------------------- routes
def describe_route_domains(domains: Sequence[str]) -> str:
    """describeRouteDomains: one domain as is; else the shortest forms without ports, two at most."""
    if not domains:
        return ""
    if len(domains) == 1:
        return domains[0]
    without_port = [d for d in domains if ":" not in d or (d.count(":") > 2 and d.endswith("]"))]
    unique = set(without_port)
    delete = set()
    for h in without_port:
        for suffix in (".svc.cluster.local", ".svc"):
            stripped = h[: -len(suffix)] if h.endswith(suffix) else h
            if stripped != h and stripped in unique:
                delete.add(h)
    without_port = [h for h in without_port if h not in delete]
    if len(without_port) > 2:
        return f"{', '.join(without_port[:2])} + {len(without_port) - 2} more..."
    return ", ".join(without_port)


def _is_passthrough(r: Props) -> bool:
    cl = _jl(r["clusters"]) or []
    return r["action"] == "route" and len(cl) == 1 and cl[0][0] == PASSTHROUGH


def route_table(g: MeshGraph, pod: str, *, namespace: str | None = None, name: str = "", verbose: bool = True,
                raw: RawReader | None = None, config_type: bool = False, require: bool = True) -> ShowTable:
    """``istioctl proxy-config route POD`` (PrintRouteSummary; padding 5).

    Lists the route configs of the RoutesConfigDump (RDS and static), not configs that only
    exist inline in a listener's HTTP connection manager.
    """
    grp = resolve_pod(g, pod, namespace)
    raw = raw or RawReader(g)
    rcs = _dynamic_first([rc for rc in _route_configs(g, grp.config) if not rc["inline"]])
    if require and not rcs:
        raise TopoError(f"no routes found for {grp.pods[0]}", 1)

    def less(a: Props, b: Props) -> bool:
        ia, ib = go_atoi(a["name"] or ""), go_atoi(b["name"] or "")
        return ia is not None and ib is not None and ia < ib

    go_sort_slice(rcs, less)
    rcs = [rc for rc in rcs if not name or rc["name"] == name]
    header = ["NAME", "VHOST NAME", "DOMAINS", "MATCH", "VIRTUAL SERVICE"] if verbose else ["NAME", "VIRTUAL HOSTS"]
    rows: list[list[Cell]] = []
    for rc in rcs:
        rname = f"route/{rc['name']}" if config_type else rc["name"]
        vhosts = g.vhosts(rc["key"])
        if not verbose:
            rows.append([rname, len(vhosts)])
            continue
        for vh in vhosts:
            domains = describe_route_domains(vh["domains"])
            routes = g.routes(vh["key"])
            rows += [[rname, vh["name"], domains, describe_match(_jl(r["match"]) or {}), render_config(r["istio_config"] or "")]
                     for r in routes if not _is_passthrough(r)]
            if not routes:
                rows.append([rname, vh["name"], domains, "/*", "404"])
    resources = [_strip_any(r) if (r := raw.get("RouteConfig", rc["key"])) is not None else rc for rc in rcs]
    return ShowTable("routes", grp.pods, header, rows, 5, resources)


# ---------------------------------------------------------------- clusters
def cluster_table(g: MeshGraph, pod: str, *, namespace: str | None = None, fqdn: str = "", port: int = 0,
                  subset: str = "", direction: str = "", raw: RawReader | None = None,
                  config_type: bool = False, require: bool = True) -> ShowTable:
    """``istioctl proxy-config cluster POD`` (PrintClusterSummary; padding 5)."""
    grp = resolve_pod(g, pod, namespace)
    raw = raw or RawReader(g)
    cls = _dynamic_first([c for c in g.config_clusters(grp.config) if c["state"] in ("static", "active", "error")])
    if require and not cls:
        raise TopoError(f"no clusters found for {grp.pods[0]}", 1)
    go_sort_slice(cls, _subset_key_less(lambda c: c["name"]))

    def verify(name: str) -> bool:
        if fqdn and fqdn not in name:
            return False
        if direction and direction not in name:
            return False
        if subset and subset not in name:
            return False
        return not (port and f"|{port}|" not in name)

    cls = [c for c in cls if verify(c["name"])]
    header = ["SERVICE FQDN", "PORT", "SUBSET", "DIRECTION", "TYPE", "DESTINATION RULE"]
    if config_type:
        header.insert(0, "NAME")
    rows: list[list[Cell]] = []
    for c in cls:
        name = c["name"]
        ctype = c["type"] if c["type"] in DISCOVERY_TYPES else "STATIC"
        dr = render_config(c["istio_config"] or "")
        if len(name.split("|")) > 3:
            d, sub, host, p = parse_subset_key(name)
            lead: list[Cell] = [f"cluster/{name}"] if config_type else []
            rows.append([*lead, host, p, sub or "-", d, ctype, dr])
        elif config_type and name:
            rows.append([f"cluster/{name}", f"cluster/{name}", "-", "-", "-", ctype, dr])
        else:
            rows.append([name, "-", "-", "-", ctype, dr])
    resources = [_strip_any(r) if (r := raw.get("Cluster", c["key"])) is not None else c for c in cls]
    return ShowTable("clusters", grp.pods, header, rows, 5, resources)


# ---------------------------------------------------------------- endpoints
def endpoint_address(ep: Props, *, clusters_view: bool = False) -> str:
    """How istioctl names an endpoint: ``IP:PORT``, a pipe path, or ``envoy://LISTENER/ID``.

    The EDS view always prints ``IP:PORT``; the /clusters view drops a zero port and prefixes
    pipes with ``unix://``.
    """
    ip = ep["ip"] or ""
    if ip.startswith("unix:"):
        path = ip[len("unix:"):]
        return "unix://" + path if clusters_view else path
    if ip.startswith("internal:"):
        # endpoint_id is not in the schema yet (asked of the lead): envoy://LISTENER/ until then
        return f"envoy://{ip[len('internal:'):]}/{ep.get('endpoint_id') or ''}"
    if not ip and not ep["port"]:
        return "unknown"
    if clusters_view:
        return ip
    return f"{ip}:{ep['port'] or 0}"


@dataclass
class _Cla:
    cluster: str
    endpoints: list[Props]


def _load_assignments(g: MeshGraph, config: str) -> list[_Cla]:
    """Each cluster's endpoints as one load assignment, in the order istioctl reads them."""
    out = []
    states = ("static", "active", "error", "eds_only")  # eds_only: a load assignment with no CDS cluster
    for c in _dynamic_first([c for c in g.config_clusters(config) if c["state"] in states]):
        eps = g.endpoints(c["key"])
        if eps:
            out.append(_Cla(c["eds_service_name"] or c["name"], eps))
    return out


def endpoint_table(g: MeshGraph, pod: str, *, namespace: str | None = None, address: str = "", port: int = 0,
                   cluster: str = "", status: str = "", config_type: bool = False) -> ShowTable:
    """The EDS endpoint table (configdump PrintEndpointsSummary, as in ``proxy-config all``; padding 5)."""
    grp = resolve_pod(g, pod, namespace)

    def verify(ep: Props, cname: str) -> bool:
        if address and endpoint_address(ep).lower() != address.lower():
            return False
        if port and (ep["port"] or 0) != port:
            return False
        if cluster and cname.lower() != cluster.lower():
            return False
        return not (status and (ep["health"] or "UNKNOWN").lower() != status.lower())

    clas = []
    for cla in _load_assignments(g, grp.config):
        eps = [e for e in cla.endpoints if verify(e, cla.cluster)]
        if eps:
            clas.append(_Cla(cla.cluster, eps))
    go_sort_slice(clas, _subset_key_less(lambda c: c.cluster))
    rows: list[list[Cell]] = []
    resources = []
    for cla in clas:
        for e in cla.endpoints:
            addr = endpoint_address(e)
            rows.append([f"endpoint/{addr}" if config_type else addr, e["health"] or "UNKNOWN", e["locality"] or "",
                         cla.cluster])
            resources.append({"cluster": cla.cluster, "address": addr, "status": e["health"] or "UNKNOWN",
                              "locality": e["locality"] or "", "weight": e["weight"], "priority": e["priority"]})
    return ShowTable("endpoints", grp.pods, ["NAME", "STATUS", "LOCALITY", "CLUSTER"], rows, 5, resources)


def endpoint_status_table(g: MeshGraph, pod: str, *, namespace: str | None = None, address: str = "",
                          port: int = 0, cluster: str = "", status: str = "") -> ShowTable:
    """istioctl's /clusters endpoint table (clusters PrintEndpointsSummary; padding 5).

    OUTLIER CHECK is FAILED only when the graph knows a host failed outlier detection; today the
    graph folds that into ``health`` (see the lead's note), so it reads OK.
    """
    grp = resolve_pod(g, pod, namespace)
    items = []
    for cla in _load_assignments(g, grp.config):
        for e in cla.endpoints:
            addr = endpoint_address(e, clusters_view=True)
            p = e["port"] or 0
            health = e["health"] or "UNKNOWN"
            if address and addr.lower() != address.lower():
                continue
            if port and p != port:
                continue
            if cluster and cla.cluster.lower() != cluster.lower():
                continue
            if status and health.lower() != status.lower():
                continue
            items.append((addr, p, cla.cluster, health, bool(e.get("outlier_failed"))))

    def less(a: tuple[str, int, str, str, bool], b: tuple[str, int, str, str, bool]) -> bool:
        if a[0] == b[0]:
            return a[2] < b[2] if a[1] == b[1] else a[1] < b[1]
        return a[0] < b[0]

    go_sort_slice(items, less)
    rows: list[list[Cell]] = [[f"{a}:{p}" if p else a, h, "FAILED" if o else "OK", c] for a, p, c, h, o in items]
    resources = [{"endpoint": r[0], "status": r[1], "outlier_check": r[2], "cluster": r[3]} for r in rows]
    return ShowTable("endpoint-status", grp.pods, ["ENDPOINT", "STATUS", "OUTLIER CHECK", "CLUSTER"], rows, 5,
                     resources)


def full_summary(tables: Sequence[ShowTable]) -> str:
    """``proxy-config all``'s tables (without its bootstrap and secret sections), blank-line separated."""
    return "\n".join(render_text(t) for t in tables)
