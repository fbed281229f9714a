"""The hops a question walks, on either backend.

:class:`MeshGraph` is what the question modules (path, reach, blast) call. Each method
is one anchored hop of the schema: ``listeners(config)`` follows ProxyConfig -HAS_LISTENER->,
``route_config(chain, config)`` follows FilterChain -USES_ROUTE_CONFIG {config}->, and so
on. :class:`NxGraph` answers from the networkx graph; ``topo.stores.neo4jgraph.CypherGraph``
answers the same calls with parameterised Cypher. Both return plain property dicts with
every schema property present, so the Envoy logic in :mod:`topo.queries.envoy` sees the
same input on both.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol

from topo.schema import SCHEMA
from topo.stores.snapshot import Snapshot

Props = dict[str, Any]


def complete(label: str, props: dict[str, Any]) -> Props:
    """Every schema property present (Neo4j drops nulls); list props never None."""
    nt = SCHEMA.node(label)
    out = {}
    for p in nt.props:
        v = props.get(p.name)
        if v is None and p.type.startswith("list"):
            v = []
        out[p.name] = v
    return out


class MeshGraph(Protocol):
    backend: str

    def pods(self) -> list[Props]: ...
    def services(self) -> list[Props]: ...
    def listeners(self, config: str) -> list[Props]: ...
    def chains(self, listener_key: str) -> list[Props]: ...
    def route_config(self, chain_key: str, config: str) -> Props | None: ...
    def vhosts(self, rc_key: str) -> list[Props]: ...
    def routes(self, vhost_key: str) -> list[Props]: ...
    def targets(self, rel: str, src_key: str, config: str) -> dict[str, Props]: ...
    def endpoints(self, cluster_key: str) -> list[Props]: ...
    def endpoint_pods(self, endpoint_keys: Iterable[str]) -> dict[str, list[str]]: ...
    def config_clusters(self, config: str) -> list[Props]: ...
    def route_configs(self, config: str) -> list[Props]: ...
    def raw(self, label: str, key: str) -> Any: ...
    def configs_using_clusters(self, cluster_keys: Iterable[str]) -> set[str]: ...
    def clusters_of_endpoints(self, endpoint_keys: Iterable[str]) -> set[str]: ...
    def find_endpoints(self, *, ips: Iterable[str] = (), pod_ids: Iterable[str] = ()) -> list[Props]: ...
    def find_clusters(self, *, names: Iterable[str] = (), fqdn: str = "") -> list[Props]: ...


class NxGraph:
    """The embedded backend's hops over a networkx MultiDiGraph that a
    :class:`~topo.stores.nxstore.LazyGraph` fills from the snapshot as the hops reach it."""

    backend = "networkx"

    def __init__(self, snap: Snapshot) -> None:
        from topo.stores.nxstore import LazyGraph

        self.lg = LazyGraph(snap)
        self.g = self.lg.g
        self._eps_by_ip: dict[str, list[str]] | None = None
        self._heavy: dict[str, dict[str, dict[str, Any]]] | None = None
        self._chains: dict[str, list[Props]] = {}

    def _props(self, node: tuple[str, str]) -> Props:
        d = self.g.nodes[node]
        return complete(d["label"], d)

    def _out(self, label: str, key: str, rel: str, config: str | None = None) -> list[tuple[Props, dict[str, Any]]]:
        if config is not None:
            dst_label = SCHEMA.rel(rel).dst
            out = []
            for dst, props in self.lg.out_in_config(rel, key, config):
                node = self.lg.node(dst_label, dst)
                if node is not None:
                    out.append((self._props(node), {"type": rel, **props}))
            return out
        self.lg.out(rel, key)
        node = self.lg.node(label, key)
        if node is None:
            return []
        out = []
        for _, v, data in self.g.out_edges(node, data=True):
            if data["type"] == rel and (config is None or data.get("config") == config):
                out.append((self._props(v), data))
        return out

    def _all(self, label: str, sort_key: str) -> list[Props]:
        rows = self.lg.rows(label)
        return [complete(label, rows[k]) for k in sorted(rows, key=lambda k: rows[k][sort_key])]

    def pods(self) -> list[Props]:
        return self._all("Pod", "id")

    def services(self) -> list[Props]:
        return self._all("Service", "fqdn")

    def _in_order(self, label: str, key: str, rel: str) -> list[Props]:
        """Targets of a positioned relationship, in the dump's order."""
        hits = self._out(label, key, rel)
        return [p for p, _ in sorted(hits, key=lambda h: (h[1].get("position") or 0, h[0]["key"]))]

    def listeners(self, config: str) -> list[Props]:
        return self._in_order("ProxyConfig", config, "HAS_LISTENER")

    def chains(self, listener_key: str) -> list[Props]:
        # A listener is content-addressed, so its chains are the same in every config that holds
        # it: questions that walk many configs ask for them again and again (CypherGraph memoises
        # every hop the same way).
        got = self._chains.get(listener_key)
        if got is None:
            got = sorted((p for p, _ in self._out("Listener", listener_key, "HAS_CHAIN")), key=lambda p: p["index"])
            self._chains[listener_key] = got
        return got

    def route_config(self, chain_key: str, config: str) -> Props | None:
        hits = self._out("FilterChain", chain_key, "USES_ROUTE_CONFIG", config)
        return hits[0][0] if hits else None

    def vhosts(self, rc_key: str) -> list[Props]:
        return sorted((p for p, _ in self._out("RouteConfig", rc_key, "HAS_VHOST")), key=lambda p: p["index"])

    def routes(self, vhost_key: str) -> list[Props]:
        return sorted((p for p, _ in self._out("VirtualHost", vhost_key, "HAS_ROUTE")), key=lambda p: p["index"])

    def targets(self, rel: str, src_key: str, config: str) -> dict[str, Props]:
        label = "Route" if rel == "ROUTES_TO" else "FilterChain"
        return {p["name"]: p for p, _ in self._out(label, src_key, rel, config)}

    def endpoints(self, cluster_key: str) -> list[Props]:
        return self._in_order("Cluster", cluster_key, "HAS_ENDPOINT")

    def endpoint_pods(self, endpoint_keys: Iterable[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for k in endpoint_keys:
            pods = sorted(p["id"] for p, _ in self._out("Endpoint", k, "ON_POD"))
            if pods:
                out[k] = pods
        return out

    def config_clusters(self, config: str) -> list[Props]:
        return self._in_order("ProxyConfig", config, "HAS_CLUSTER")

    def route_configs(self, config: str) -> list[Props]:
        return self._in_order("ProxyConfig", config, "HAS_ROUTE_CONFIG")

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

    def configs_using_clusters(self, cluster_keys: Iterable[str]) -> set[str]:
        out: set[str] = set()
        for k in cluster_keys:
            for rel in ("ROUTES_TO", "TCP_TO"):
                out.update(data["config"] for _u, data in self._in("Cluster", k, rel))
        return out

    def clusters_of_endpoints(self, endpoint_keys: Iterable[str]) -> set[str]:
        return {u[1] for k in endpoint_keys for u, _data in self._in("Endpoint", k, "HAS_ENDPOINT")}

    def find_endpoints(self, *, ips: Iterable[str] = (), pod_ids: Iterable[str] = ()) -> list[Props]:
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
        return [out[k] for k in sorted(out)]

    def find_clusters(self, *, names: Iterable[str] = (), fqdn: str = "") -> list[Props]:
        nameset = set(names)
        out = [complete("Cluster", r) for r in self.lg.rows("Cluster").values()
               if r.get("name") in nameset or (fqdn and r.get("fqdn") == fqdn)]
        return sorted(out, key=lambda p: (p["name"], p["key"]))


def open_graph(*, store: Any = None, snapshot: str | None = None, neo4j: str | None = None,
               database: str = "neo4j") -> MeshGraph:
    """The backend a query runs on: Neo4j when a Bolt URI is given, else the embedded snapshot."""
    if neo4j:
        from topo.stores.neo4jgraph import CypherGraph

        return CypherGraph(neo4j, database=database)
    from topo.stores.snapshot import SnapshotStore

    return NxGraph(SnapshotStore(store).load(snapshot))
