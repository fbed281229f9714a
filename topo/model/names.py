"""Istio's and Envoy's naming rules: what a name says, as pure functions of the name.

Cluster names (``outbound|9000|v1|publictest.ns.svc.cluster.local``, ENVOY-SEMANTICS.md §7
"Names"), istioctl's subset keys, the Istio config path that ``filter_metadata.istio.config``
holds, the workload a pod belongs to, the dump positions of a config's set members as runs.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# ---------------------------------------------------------------- cluster names (§7)
_UNDERSCORED = re.compile(r"^(outbound|inbound)_\.(\d+)_\.([^_]*)_\.(.+)$")


def _port(s: str) -> int:
    try:
        n = int(s)
    except ValueError:
        return 0
    return n if -(2**63) <= n < 2**63 else 0


def parse_cluster_name(name: str) -> dict[str, Any]:
    """Istio cluster-name parts (§7 "Names"): direction, port, subset, FQDN; empty for other names.

    >>> parse_cluster_name("outbound|9000|v1|publictest.istio-demo.svc.cluster.local")["subset"]
    'v1'
    >>> parse_cluster_name("outbound_.9080_._.reviews.default.svc.cluster.local")["port"]
    9080
    """
    if "|" in name:
        parts = name.split("|")
        if len(parts) == 4:
            d, port, subset, fqdn = parts
            return {"direction": d, "port": _port(port), "subset": subset, "fqdn": fqdn}
    m = _UNDERSCORED.match(name)
    if m:
        return {"direction": m[1], "port": int(m[2]), "subset": m[3], "fqdn": m[4]}
    return {"direction": "", "port": 0, "subset": "", "fqdn": ""}


def subset_of(cluster: str) -> str:
    """The subset part of an Istio cluster name ("" for none)."""
    return str(parse_cluster_name(cluster)["subset"] or "")


def short_service(fqdn: str) -> str:
    """``name.ns.svc.cluster.local`` → ``name.ns``; other hosts unchanged.

    >>> short_service("publictest.istio-demo.svc.cluster.local")
    'publictest.istio-demo'
    """
    parts = fqdn.split(".")
    if len(parts) >= 3 and parts[2] == "svc":
        return f"{parts[0]}.{parts[1]}"
    return fqdn


def service_namespace(fqdn: str) -> str:
    """The namespace a Kubernetes service FQDN names ("" for other hosts)."""
    parts = fqdn.split(".")
    return parts[1] if len(parts) >= 4 and parts[2] == "svc" else ""


# ---------------------------------------------------------------- istioctl's subset keys
_INT64 = re.compile(r"^[+-]?[0-9]+$")


def go_atoi(s: str) -> int | None:
    """strconv.Atoi: optional sign and decimal digits, 64-bit range; ``None`` where Go errors."""
    if not _INT64.match(s):
        return None
    v = int(s)
    return v if -(1 << 63) <= v < (1 << 63) else None


def parse_subset_key(name: str) -> tuple[str, str, str, int]:
    """Istio's model.ParseSubsetKey: (direction, subset, hostname, port) of ``dir|port|subset|host``."""
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
    """istioctl's SafelyParseSubsetKey: other names are a hostname alone."""
    if len(name.split("|")) > 3:
        return parse_subset_key(name)
    return "", "", name, 0


# ---------------------------------------------------------------- Istio config paths
def istio_config(metadata: Any) -> str:
    """``metadata.filter_metadata.istio.config`` of a resource (the Istio object behind it), or ""."""
    v: Any = metadata
    for k in ("filter_metadata", "istio", "config"):
        v = v.get(k) if isinstance(v, dict) else None
    return v if isinstance(v, str) else ""


_ISTIO_PATH = re.compile(r"^/apis/(?P<group>[^/]+)/(?P<ver>[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<kind>[^/]+)/(?P<name>[^/]+)/?$")


def istio_object(path: str | None) -> str:
    """``/apis/networking.istio.io/v1/namespaces/ns/virtual-service/name`` → ``VirtualService ns/name``.

    Any API group and version (1.4-era dumps say ``/apis/networking/v1alpha3/…``).

    >>> istio_object("/apis/networking.istio.io/v1/namespaces/demo/destination-rule/web")
    'DestinationRule demo/web'
    """
    if not path:
        return ""
    m = _ISTIO_PATH.match(path)
    if not m:
        return path
    kind = "".join(p[:1].upper() + p[1:] for p in m["kind"].split("-"))
    return f"{kind} {m['ns']}/{m['name']}"


def service_objects(istio_services: Any) -> list[str]:
    """The Service or ServiceEntry objects a cluster's ``istio.services`` metadata names (§7
    "Service and subset"): ``Service ns/name`` for a Kubernetes service, ``ServiceEntry ns host H``
    for a ServiceEntry (Istio records the entry's host there, not its name).

    >>> service_objects({"services": [{"host": "web.demo.svc.cluster.local", "name": "web", "namespace": "demo"}]})
    ['Service demo/web']
    >>> service_objects({"services": [{"host": "x.example", "name": "x.example", "namespace": "demo"}], "external": True})
    ['ServiceEntry demo host x.example']
    """
    if not isinstance(istio_services, dict):
        return []
    out = []
    for s in istio_services.get("services") or []:
        if not isinstance(s, dict):
            continue
        host, name, ns = (str(s.get(k) or "") for k in ("host", "name", "namespace"))
        parts = host.split(".")
        k8s = len(parts) >= 4 and parts[2] == "svc" and parts[0] == name and parts[1] == ns
        if k8s and not istio_services.get("external"):
            out.append(f"Service {ns}/{name}")
        else:
            out.append(f"ServiceEntry {ns} host {host or name}" if ns else f"ServiceEntry host {host or name}")
    return out


def render_config(path: str) -> str:
    """istioctl's describeManagement: ``/apis/networking.istio.io/v1/namespaces/NS/virtual-service/NAME`` → ``NAME.NS``."""
    if not path:
        return ""
    if path.startswith("/apis/networking.istio.io/"):
        pieces = path.split("/")
        return f"{pieces[7]}.{pieces[5]}" if len(pieces) == 8 else ""
    return "<unknown>"


# ---------------------------------------------------------------- workloads
_RS_HASH = re.compile(r"-[a-z0-9]{5,10}$")


def owner_workload(owner_references: Iterable[Any]) -> str:
    """The workload named by a pod's ``ownerReferences`` (a ReplicaSet's name without its hash)."""
    for o in owner_references:
        if isinstance(o, dict) and isinstance(o.get("name"), str):
            name = o["name"]
            if o.get("kind") == "ReplicaSet":
                name = _RS_HASH.sub("", name)
            return name
    return ""


def proxy_workload(workload_name: str, owner: str, labels: Mapping[str, str], pod_name: str) -> str:
    """A proxy's workload from its bootstrap metadata: WORKLOAD_NAME, else the last part of OWNER,
    else the ``app`` label, else the pod's name."""
    if workload_name:
        return workload_name
    from_owner = owner.rsplit("/", 1)[-1] if owner else ""
    return from_owner or labels.get("app", "") or pod_name


def workload_name(pod: Mapping[str, Any]) -> str:
    """The workload of a Pod node: its workload, else its app label, else its name."""
    return str(pod["workload"] or pod["app"] or pod["name"])


def workload_key(pod: Mapping[str, Any]) -> str:
    """``namespace/workload`` of a Pod node (see :func:`workload_name`)."""
    wl = workload_name(pod)
    return f"{pod['namespace']}/{wl}" if pod["namespace"] else wl


# ---------------------------------------------------------------- positions as runs
def runs(positions: Iterable[int]) -> list[int]:
    """Increasing positions as flat ``[start, length, …]`` runs.

    >>> runs([0, 1, 2, 7])
    [0, 3, 7, 1]
    """
    out: list[int] = []
    for p in positions:
        if out and out[-2] + out[-1] == p:
            out[-1] += 1
        else:
            out += [p, 1]
    return out


def expand_runs(flat: list[int] | None) -> list[int]:
    """The inverse of :func:`runs`.

    >>> expand_runs([0, 3, 7, 1])
    [0, 1, 2, 7]
    """
    flat = flat or []
    return [p for i in range(0, len(flat) - 1, 2) for p in range(flat[i], flat[i] + flat[i + 1])]


# ---------------------------------------------------------------- Istio's layout of a sidecar's config
def resource_part(kind: str, name: str, state: str, direction: str = "") -> str:
    """Which ResourceSet of its config a resource goes to: ``inbound``, ``static`` or ``outbound``.

    Not an Envoy rule but Istio's layout: a sidecar's inbound side (``virtualInbound``,
    INBOUND listeners, ``inbound|…`` clusters and route configs) is its workload's own,
    bootstrap (static) resources are the same in every pod, and the outbound side is the
    same for every sidecar that sees the same services. Splitting on that line lets
    configs share their sets, whatever the workload (topo.model.schema)."""
    if name.startswith("inbound|") or (kind == "listener" and (direction == "INBOUND" or name == "virtualInbound")):
        return "inbound"
    return "static" if state == "static" else "outbound"
