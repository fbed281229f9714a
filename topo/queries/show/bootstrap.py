"""``istioctl proxy-config all POD``'s first and fifth sections: PrintBootstrapSummary and
PrintSecretSummary (configdump/configdump.go), from the pod's properties.

topo stores no secret (not even their certificates): for a dump with SDS secrets the secret
section says how many there are and where to look, instead of istioctl's certificate table."""

from __future__ import annotations

from topo.queries.show.common import Cell, ShowTable, resolve_pod
from topo.stores.hops import MeshGraph, Props


def _pod(g: MeshGraph, pod: str, namespace: str | None) -> tuple[list[str], Props]:
    grp = resolve_pod(g, pod, namespace)
    props = next(p for p in g.pods() if p["id"] == grp.pods[0])
    return grp.pods, props


def bootstrap_table(g: MeshGraph, pod: str, *, namespace: str | None = None) -> ShowTable:
    """``Istio Version:``, ``Istio Proxy Version:``, ``Envoy Version:`` (tabwriter padding 1; a
    line only when its value is known, as istioctl prints them). No rows: the dump had no bootstrap."""
    pods, p = _pod(g, pod, namespace)
    rows: list[list[Cell]] = []
    if p["envoy_version"]:  # istioctl always prints it once the bootstrap exists ("0.0.0" at least)
        rows = [[k, v] for k, v in (("Istio Version:", p["istio_version"]), ("Istio Proxy Version:", p["istio_proxy_sha"]),
                                    ("Envoy Version:", p["envoy_version"])) if v]
    resources = {"istio_version": p["istio_version"], "istio_proxy_sha": p["istio_proxy_sha"],
                 "envoy_version": p["envoy_version"]}
    return ShowTable("bootstrap", pods, [], rows, 1, [resources])


def secret_table(g: MeshGraph, pod: str, *, namespace: str | None = None) -> ShowTable:
    """istioctl's ``No active or warming secrets found.``; otherwise a count (no secret is stored)."""
    pods, p = _pod(g, pod, namespace)
    n = p["secrets"]
    if not n:
        line = "No active or warming secrets found."
    else:
        line = (f"{n} active or warming secret{'s' if n != 1 else ''} (topo stores no secret: "
                "`istioctl proxy-config secret` shows them)")
    return ShowTable("secrets", pods, [], [[line]] if n is not None else [], 1, [{"secrets": n}])
