"""The embedded backend: a snapshot read into a networkx MultiDiGraph, and its hops.

The loader is generic: labels, keys and relationship types come from
:data:`topo.model.schema.SCHEMA`. Node ids are ``(label, key)`` tuples; every node carries
``label`` plus its properties; relationships are keyed ``"TYPE|<identity>"`` (types
without identity properties allow one relationship per pair of nodes).

:class:`LazyGraph` fills the MultiDiGraph only with what a question walks: a node's
out-relationships of one type are added the first time a hop asks for them, and the
reverse index of a type is built the first time a question walks it backwards. A cold
``topo path`` on a large mesh therefore parses the snapshot but builds a few hundred
graph elements, not millions.
:class:`NxGraph` answers the :class:`~topo.stores.hops.MeshGraph` hops from it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import networkx as nx

from topo.model.schema import SCHEMA
from topo.stores.hops import KIND_REL, NAMED_SRC, Props, SetHops, Upstream, complete
from topo.stores.snapshot import Snapshot

Node = tuple[str, str]


class LazyGraph:
    def __init__(self, snap: Snapshot) -> None:
        self.snap = snap
        self.g = nx.MultiDiGraph(name=snap.name)
        self._done: set[tuple[str, str, str]] = set()  # (type, direction, key) already added
        self._rev: dict[str, dict[str, list[str]]] = {}

    def rows(self, label: str) -> dict[str, dict[str, Any]]:
        """All rows of a label, by key."""
        return self.snap.rows(label)

    def node(self, label: str, key: str) -> Node | None:
        n = (label, key)
        if n not in self.g:
            row = self.snap.row(label, key)
            if row is None:
                return None
            self.g.add_node(n, label=label, **row)
        return n

    def _add(self, rt_type: str, src: str, dst: str, props: dict[str, Any] | None) -> None:
        rt = SCHEMA.rel(rt_type)
        a, b = self.node(rt.src, src), self.node(rt.dst, dst)
        if a is None or b is None:
            return
        p = props or {}
        ekey = rt.type + "|" + "|".join(str(p.get(i) or "") for i in rt.identity)
        self.g.add_edge(a, b, key=ekey, type=rt.type, **p)

    def out(self, rel: str, key: str) -> None:
        """Make sure ``key``'s outgoing ``rel`` relationships are in the graph."""
        mark = (rel, "out", key)
        if mark in self._done:
            return
        self._done.add(mark)
        for dst, props in self.snap.out(rel, key):
            self._add(rel, key, dst, props)

    def into(self, rel: str, key: str) -> None:
        """Make sure ``key``'s incoming ``rel`` relationships are in the graph."""
        mark = (rel, "in", key)
        if mark in self._done:
            return
        self._done.add(mark)
        rev = self._rev.get(rel)
        if rev is None:
            rev = {}
            for src, out in self.snap.rel_sources(rel).items():
                for dst, _props in out:
                    rev.setdefault(dst, []).append(src)
            self._rev[rel] = rev
        for src in rev.get(key, ()):
            self.out(rel, src)


class NxGraph(SetHops):
    """The embedded backend's hops over a networkx MultiDiGraph that a
    :class:`LazyGraph` fills from the snapshot as the hops reach it.

    Props dicts are built once per node and shared by every hop that returns the node;
    callers treat them as read-only."""

    backend = "networkx"

    def __init__(self, snap: Snapshot) -> None:
        self.lg = LazyGraph(snap)
        self.g = self.lg.g
        self._eps_by_ip: dict[str, list[str]] | None = None
        self._heavy: dict[str, dict[str, dict[str, Any]]] | None = None
        self._done: dict[tuple[Any, ...], Any] = {}
        self._props_of: dict[tuple[str, str], Props] = {}

    def close(self) -> None:
        """Release the snapshot's files (held open from the start so no prune can swap them)."""
        self.lg.snap.close()

    def _props(self, node: tuple[str, str]) -> Props:
        got = self._props_of.get(node)
        if got is None:
            d = self.g.nodes[node]
            got = self._props_of[node] = complete(d["label"], d)
        return got

    def _out(self, label: str, key: str, rel: str) -> list[tuple[Props, dict[str, Any]]]:
        memo_key = ("out", label, key, rel)
        got = self._done.get(memo_key)
        if got is None:
            self.lg.out(rel, key)
            node = self.lg.node(label, key)
            got = [] if node is None else [(self._props(v), data) for _, v, data in self.g.out_edges(node, data=True)
                                           if data["type"] == rel]
            self._done[memo_key] = got
        return got

    def _all(self, label: str, sort_key: str) -> list[Props]:
        rows = self.lg.rows(label)
        return [complete(label, rows[k]) for k in sorted(rows, key=lambda k: rows[k][sort_key])]

    def pods(self) -> list[Props]:
        return self.memo(("pods",), lambda: self._all("Pod", "id"))

    def services(self) -> list[Props]:
        return self.memo(("services",), lambda: self._all("Service", "fqdn"))

    # ---- SetHops' reads: ProxyConfig -HAS_SET-> ResourceSet -HAS_*-> resource
    def _config_sets(self, config: str) -> list[tuple[str, str, list[int] | None]]:
        def make() -> list[tuple[str, str, list[int] | None]]:
            out = []
            for skey, props in self.lg.snap.out("HAS_SET", config):
                row = self.lg.snap.row("ResourceSet", skey)
                if row:
                    out.append((skey, row["kind"], (props or {}).get("runs")))
            return out
        return self.memo(("sets", config), make)

    def _set_members(self, skey: str, kind: str) -> list[tuple[int, Props]]:
        return [(hm.get("position") or 0, props) for props, hm in self._out("ResourceSet", skey, KIND_REL[kind][0])]

    def _set_keys(self, skey: str, kind: str) -> frozenset[str]:
        # from the relationships alone: membership without reading the members' rows
        return self.memo(("set_keys", skey), lambda: frozenset(
            dst for dst, _p in self.lg.snap.out(KIND_REL[kind][0], skey)))

    def _named(self, rel: str, src: str) -> list[Props]:
        return [p for p, _ in self._out(NAMED_SRC[rel], src, rel)]

    def _config_props(self, config: str) -> Props | None:
        node = self.lg.node("ProxyConfig", config)
        return self._props(node) if node else None

    def chains(self, listener_key: str) -> list[Props]:
        # A listener is content-addressed, so its chains are the same in every config that holds it.
        return self.memo(("chains", listener_key), lambda: sorted(
            (p for p, _ in self._out("Listener", listener_key, "HAS_CHAIN")), key=lambda p: p["index"]))

    def vhosts(self, rc_key: str) -> list[Props]:
        return self.memo(("vhosts", rc_key), lambda: sorted(
            (p for p, _ in self._out("RouteConfig", rc_key, "HAS_VHOST")), key=lambda p: p["index"]))

    def routes(self, vhost_key: str) -> list[Props]:
        return self.memo(("routes", vhost_key), lambda: sorted(
            (p for p, _ in self._out("VirtualHost", vhost_key, "HAS_ROUTE")), key=lambda p: p["index"]))

    def endpoints(self, cluster_key: str) -> list[Props]:
        def make() -> list[Props]:
            hits = self._out("Cluster", cluster_key, "HAS_ENDPOINT")
            return [p for p, _ in sorted(hits, key=lambda h: (h[1].get("position") or 0, h[0]["key"]))]
        return self.memo(("endpoints", cluster_key), make)

    def endpoint_pods(self, endpoint_keys: Iterable[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for k in endpoint_keys:
            pods = self.memo(("on_pod", k), lambda k=k: sorted(p["id"] for p, _ in self._out("Endpoint", k, "ON_POD")))
            if pods:
                out[k] = pods
        return out

    def raw(self, label: str, key: str) -> Any:
        """A heavy property: the resource's scrubbed JSON text, read from the snapshot on first use."""
        if self._heavy is None:
            self._heavy = self.lg.snap.heavy()
        return self._heavy.get(label, {}).get(key, {}).get("raw")

    # ---- reverse traversals
    def _in(self, label: str, key: str, rel: str) -> list[tuple[tuple[str, str], dict[str, Any]]]:
        self.lg.into(rel, key)
        node = self.lg.node(label, key)
        if node is None:
            return []
        return [(u, data) for u, _v, data in self.g.in_edges(node, data=True) if data["type"] == rel]

    def _sources(self, label: str, keys: Iterable[str], rel: str) -> set[str]:
        return {u[1] for k in keys for u, _data in self._in(label, k, rel)}

    def upstream(self, cluster_keys: Iterable[str], listener_keys: Iterable[str] = ()) -> Upstream:
        cluster_keys = list(cluster_keys)
        routes = self._sources("Cluster", cluster_keys, "ROUTES_TO")
        tcp = self._sources("Cluster", cluster_keys, "TCP_TO")
        extra = set(listener_keys)
        tcp |= {c["key"] for lk in extra for c in self.chains(lk) if c["terminal"] == "tcp"}
        vhosts = self._sources("Route", routes, "HAS_ROUTE")
        rcs = self._sources("VirtualHost", vhosts, "HAS_VHOST")
        chains = self._sources("RouteConfig", rcs, "USES_ROUTE_CONFIG") | tcp
        listeners = self._sources("FilterChain", chains, "HAS_CHAIN") | extra
        sets = self._sources("Listener", listeners, "HAS_LISTENER")
        configs = self._sources("ResourceSet", sets, "HAS_SET")
        return Upstream(frozenset(routes), frozenset(tcp), frozenset(rcs), frozenset(chains),
                        frozenset(listeners), frozenset(configs))

    def clusters_of_endpoints(self, endpoint_keys: Iterable[str]) -> set[str]:
        return self._sources("Endpoint", endpoint_keys, "HAS_ENDPOINT")

    def endpoint_localities(self) -> list[str]:
        return sorted({r.get("locality") or "" for r in self.lg.rows("Endpoint").values()} - {""})

    def find_endpoints(self, *, ips: Iterable[str] = (), pod_ids: Iterable[str] = (),
                       localities: Iterable[str] = ()) -> list[Props]:
        if self._eps_by_ip is None:
            idx: dict[str, list[str]] = {}
            for k, r in self.lg.rows("Endpoint").items():
                idx.setdefault(r.get("ip") or "", []).append(k)
            self._eps_by_ip = idx
        rows = self.lg.rows("Endpoint")
        out = {k: complete("Endpoint", rows[k]) for ip in set(ips) for k in self._eps_by_ip.get(ip, ())}
        for pid in set(pod_ids):
            for u, _data in self._in("Pod", pid, "ON_POD"):
                out[u[1]] = self._props(u)
        locs = set(localities)
        if locs:
            out.update({k: complete("Endpoint", r) for k, r in rows.items() if r.get("locality") in locs})
        return [out[k] for k in sorted(out)]

    def find_clusters(self, *, names: Iterable[str] = (), fqdn: str = "") -> list[Props]:
        nameset = set(names)
        out = [complete("Cluster", r) for r in self.lg.rows("Cluster").values()
               if r.get("name") in nameset or (fqdn and r.get("fqdn") == fqdn)]
        return sorted(out, key=lambda p: (p["name"], p["key"]))

    def find_listeners(self, addresses: Iterable[str]) -> list[str]:
        want = set(addresses)
        return sorted(k for k, r in self.lg.rows("Listener").items() if r.get("address") in want)
