"""Read one file's bytes into a normalised Envoy config dump (pure, no I/O).

Accepts (ENVOY-SEMANTICS.md §1):
* the admin ``/config_dump`` output, with or without ``include_eds`` (snake_case, ``configs``);
* the same in lowerCamelCase (Go jsonpb), or mixed (Envoy Gateway's EndpointsConfigDump);
* CRLF line endings, a UTF-8 BOM, and ``pilot-agent request`` status lines before the JSON;
* v2-era dumps: ``envoy.admin.v2alpha`` wrappers with untyped resources and
  ``dynamic_active_listeners``; v3 wrappers around ``envoy.api.v2.*`` resources.

Everything else gets a :class:`DumpError` whose message says, in one line, what was found.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import orjson


class DumpError(ValueError):
    """A file that is not a config dump topo can read. The message is one line."""


_CAMEL = re.compile(r"^[a-z][a-z0-9]*(?:[A-Z][a-z0-9]*)+$")
_UPPER = re.compile(r"([A-Z])")
# Values under these keys are user data (labels, metadata), never proto field names.
_FREEFORM = frozenset(
    {"filter_metadata", "typed_filter_metadata", "filterMetadata", "typedFilterMetadata",
     "LABELS", "ANNOTATIONS", "labels", "annotations", "PLATFORM_METADATA", "fields"}
)
_snake_cache: dict[str, str] = {}


def _snake(key: str) -> str:
    s = _snake_cache.get(key)
    if s is None:
        s = _UPPER.sub(r"_\1", key).lower() if _CAMEL.match(key) else key
        _snake_cache[key] = s
    return s


def to_snake(obj: Any) -> Any:
    """Convert lowerCamelCase proto field names to snake_case, leaving user data alone."""
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            nk = _snake(k)
            out[nk] = v if nk in _FREEFORM else to_snake(v)
        return out
    if isinstance(obj, list):
        return [to_snake(v) for v in obj]
    return obj


def _has_camel(d: dict[str, Any]) -> bool:
    return any(_CAMEL.match(k) for k in d)


class Chunks:
    """One ingest's parsed resources, by their bytes (see :func:`parse_chunked`).

    ``ids`` holds the ``id()`` of every object kept here: they stay alive for the ingest, so
    a content key computed from one of them can be remembered by identity (``keys``)."""

    def __init__(self) -> None:
        self.by_bytes: dict[bytes, Any] = {}
        self.ids: set[int] = set()
        self.keys: dict[tuple[Any, ...], str] = {}


# A resource object in a pretty-printed dump (Envoy's admin output, istioctl, kubectl exec):
# `<indent>"cluster": {` at the end of a line, closed by the first later line that is
# `<indent>}`; JSON strings hold no raw newline, so the lines are exact.
_CHUNK = re.compile(rb'\n( +)"(cluster|listener|route_config|endpoint_config|routeConfig|endpointConfig)": \{\n')
_MARK = "\x00topo-chunk:"


def parse_chunked(data: bytes, chunks: Chunks) -> Any:
    """Parse a pretty-printed dump, reusing the objects of resources an earlier dump of the
    same ingest already held byte for byte: only new resources are parsed, and the same
    resource in many dumps is one object. Returns None when the layout is not recognised
    (compact JSON, a BOM, a status line, anything odd); the caller then parses normally."""
    if not data.startswith(b"{\n"):
        return None
    mv = memoryview(data)
    pieces: list[Any] = []
    subs: list[Any] = []
    last = 0
    while True:
        m = _CHUNK.search(data, last)  # from the end of the last resource: never inside one
        if m is None:
            break
        start = m.end() - 2
        indent = m.group(1)
        close = data.find(b"\n" + indent + b"}", m.end() - 1)
        if close < 0:
            return None
        end = close + len(indent) + 2
        raw = data[start:end]
        obj = chunks.by_bytes.get(raw)  # the bytes themselves are the key: no hash collision to fear
        if obj is None:
            try:
                obj = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return None
            if not isinstance(obj, dict):
                return None
            chunks.by_bytes[raw] = obj
            chunks.ids.add(id(obj))
        pieces += [mv[last:start], b'"\\u0000topo-chunk:%d"' % len(subs)]
        subs.append(obj)
        last = end
    if not subs:
        return None
    pieces.append(mv[last:])
    try:
        doc = orjson.loads(b"".join(pieces))
    except orjson.JSONDecodeError:
        return None
    try:
        return doc if _put_back(doc, subs) == len(subs) else None
    except RecursionError:
        return None


def _put_back(node: Any, subs: list[Any]) -> int:
    """Replace the placeholders of :func:`parse_chunked` by their objects; returns how many."""
    n = 0
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for k, v in items:
        if type(v) is str:
            if v.startswith(_MARK):
                i = v[len(_MARK):]
                if not i.isdigit() or int(i) >= len(subs):
                    return -1
                node[k] = subs[int(i)]
                n += 1
        elif type(v) is dict or type(v) is list:
            got = _put_back(v, subs)
            if got < 0:
                return -1
            n += got
    return n


def parse_json(data: bytes) -> Any:
    """Decode bytes as JSON; tolerate a BOM and a leading status line (``pilot-agent request``)."""
    if not data[:4096].strip() and not data.strip():  # (a cheap look first: dumps are megabytes)
        raise DumpError("empty file")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
        if not data.strip():
            raise DumpError("empty file (only a UTF-8 byte-order mark)")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DumpError("UTF-16 text; topo reads UTF-8 (convert it, e.g. with iconv -f UTF-16 -t UTF-8)")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as e:
        # Some pilot-agent versions print a status line before the body.
        start = min((i for i in (data.find(b"{"), data.find(b"[")) if i >= 0), default=-1)
        if start > 0 and not data[:start].strip().startswith((b"{", b"[")):
            try:
                return orjson.loads(data[start:])
            except orjson.JSONDecodeError:
                pass
        head = data[:64]
        if b"\x00" in head or sum(c < 9 for c in head) > 2:
            raise DumpError("binary data, not JSON") from None
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            raise DumpError("not UTF-8 text, so not a JSON config dump") from None
        text = data.lstrip()[:1]
        if text not in (b"{", b"["):
            # Said without quoting the file: it may be anything (a link to a credentials file).
            first = data.strip().splitlines()[0][:60].decode("utf-8", "replace")
            if re.match(r"^[A-Z][A-Z ]+\s{2,}[A-Z]", first):
                raise DumpError("a text table (istioctl output?), not JSON") from None
            kind = "a letter" if first[:1].isalpha() else "a digit" if first[:1].isdigit() else repr(first[:1])
            raise DumpError(f"not JSON: starts with {kind}, not {{ or [") from None
        raise DumpError(f"invalid or truncated JSON ({e.msg} at byte {e.pos})") from None


def type_name(entry: dict[str, Any]) -> str:
    """The proto message name of an Any, e.g. ``ListenersConfigDump``."""
    t = entry.get("@type", "")
    return t.rsplit(".", 1)[-1] if isinstance(t, str) else ""


def api_of(entry: dict[str, Any]) -> str:
    t = entry.get("@type", "")
    if not isinstance(t, str):
        return ""
    if ".v2alpha." in t or ".api.v2." in t:
        return "v2"
    return "v3" if ".v3." in t else ""


_DUMP_TYPES = {
    "BootstrapConfigDump", "ClustersConfigDump", "ListenersConfigDump", "RoutesConfigDump",
    "ScopedRoutesConfigDump", "SecretsConfigDump", "EndpointsConfigDump", "EcdsConfigDump",
}
_BARE = {
    "Listener": "listeners", "Cluster": "clusters", "RouteConfiguration": "route configs",
    "ClusterLoadAssignment": "endpoint configs",
}


@dataclass
class Dump:
    """A normalised config dump: one entry per ``configs`` kind, snake_case, v3 shapes."""

    configs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    api: str = "v3"
    notes: list[str] = field(default_factory=list)

    def get(self, kind: str) -> list[dict[str, Any]]:
        return self.configs.get(kind, [])


def _v2_listeners(entry: dict[str, Any]) -> dict[str, Any]:
    """``dynamic_active_listeners`` etc. (pre-``active_state`` shape) → ``dynamic_listeners``."""
    if "dynamic_listeners" in entry or not any(
        k in entry for k in ("dynamic_active_listeners", "dynamic_warming_listeners", "dynamic_draining_listeners")
    ):
        return entry
    by_name: dict[str, dict[str, Any]] = {}
    order: list[str] = []
    for arr, state in (
        ("dynamic_active_listeners", "active_state"),
        ("dynamic_warming_listeners", "warming_state"),
        ("dynamic_draining_listeners", "draining_state"),
    ):
        for item in entry.get(arr) or []:
            if not isinstance(item, dict):
                continue
            lst = item.get("listener") or {}
            name = lst.get("name", "") if isinstance(lst, dict) else ""
            key = f"{name}\x00{state}" if name in by_name and state in by_name[name] else name
            if key not in by_name:
                by_name[key] = {"name": name}
                order.append(key)
            by_name[key][state] = item
    out = {k: v for k, v in entry.items() if not k.startswith("dynamic_")}
    out["dynamic_listeners"] = [by_name[k] for k in order]
    return out


def describe_non_dump(doc: Any) -> str:
    """One line saying what a JSON document is, when it is not a config dump."""
    if isinstance(doc, list):
        if not doc:
            return "an empty JSON array, not a config dump"
        first = doc[0] if isinstance(doc[0], dict) else {}
        keys = set(first)
        if "host_statuses" in keys or "hostStatuses" in keys:
            return (f"a bare JSON array of {len(doc)} cluster host statuses, as old `istioctl proxy-config "
                    "endpoint -o json` prints; topo needs the whole dump (`istioctl proxy-config all POD -o json`)")
        kind = type_name(first) or (
            "Listener" if "filter_chains" in keys or "filterChains" in keys or "address" in keys
            else "RouteConfiguration" if "virtual_hosts" in keys or "virtualHosts" in keys
            else "ClusterLoadAssignment" if "cluster_name" in keys or "clusterName" in keys
            else "Cluster" if "connect_timeout" in keys or "connectTimeout" in keys or "type" in keys
            else ""
        )
        what = _BARE.get(kind, "resources")
        return (f"a bare JSON array of {len(doc)} {what}, as `istioctl proxy-config <type> -o json` prints; "
                "topo needs the whole dump (`istioctl proxy-config all POD -o json`)")
    if isinstance(doc, dict):
        if "cluster_statuses" in doc or "clusterStatuses" in doc:
            return "Envoy /clusters?format=json output (an endpoint source, not a config dump)"
        vals = list(doc.values())
        if vals and all(isinstance(v, dict) for v in vals) and all(
            isinstance(x, dict) and ("@type" in x or "configs" in x) for v in vals for x in v.values()
        ):
            return "egctl output (namespace → pod → partial dump), not a config dump"
        if doc.get("kind") in ("List", "PodList", "ServiceList"):
            return f"a Kubernetes {doc.get('kind')}, not a config dump"
        names = ", ".join(sorted(doc)[:5])
        return f"a JSON object without `configs` (keys: {names}), not a config dump"
    return f"{_json_kind(doc)}, not a config dump"


def _json_kind(v: Any) -> str:
    if v is None:
        return "JSON null"
    if isinstance(v, bool):
        return "a JSON boolean"
    if isinstance(v, int | float):
        return "a JSON number"
    if isinstance(v, str):
        return "a JSON string"
    return "a JSON array" if isinstance(v, list) else "a JSON object"


def normalize(doc: Any) -> Dump:
    """Turn a parsed document into a :class:`Dump`, or raise :class:`DumpError`."""
    if isinstance(doc, dict) and "configs" in doc and not isinstance(doc["configs"], list):
        raise DumpError(f"a JSON object without `configs` as a list (it is {_json_kind(doc['configs'])}), "
                        "not a config dump")
    if not isinstance(doc, dict) or not isinstance(doc.get("configs"), list):
        raise DumpError(describe_non_dump(doc))
    dump = Dump()
    apis: set[str] = set()
    unknown: dict[str, int] = {}
    for entry in doc["configs"]:
        if not isinstance(entry, dict):
            dump.notes.append(f"skipped a `configs` entry that is {_json_kind(entry)}")
            continue
        kind = type_name(entry)
        if kind not in _DUMP_TYPES:
            unknown[str(entry.get("@type"))] = unknown.get(str(entry.get("@type")), 0) + 1
            continue
        if _has_camel(entry):
            entry = to_snake(entry)
        a = api_of(entry)
        if a:
            apis.add(a)
        if kind == "ListenersConfigDump":
            entry = _v2_listeners(entry)
        dump.configs.setdefault(kind, []).append(entry)
    # one note per unknown type (Cilium's NetworkPolicy dumps, a control plane's own sections…)
    for t, n in sorted(unknown.items()):
        dump.notes.append(f"skipped unknown @type {t!r}" + (f" ({n} entries)" if n > 1 else ""))
    if not dump.configs:
        raise DumpError("a `configs` array with no Envoy config dump entries")
    dump.api = "v2" if "v2" in apis else "v3"
    return dump


def is_clusters_status(doc: Any) -> bool:
    return isinstance(doc, dict) and ("cluster_statuses" in doc or "clusterStatuses" in doc)
