"""The hops a question walks, on either backend.

:class:`MeshGraph` is what the question modules (path, reach, blast) call. Each method
is one anchored hop of the schema: ``listeners(config)`` follows ProxyConfig -HAS_SET->
ResourceSet -HAS_LISTENER->, ``route_config(chain, config)`` follows FilterChain
-USES_ROUTE_CONFIG-> to the route config that is a member of the config, and so on. :class:`NxGraph` answers from the networkx graph; ``topo.stores.neo4jgraph.CypherGraph``
answers the same calls with parameterised Cypher. Both return plain property dicts with
every schema property present, so the Envoy logic in :mod:`topo.queries.envoy` sees the
same input on both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from topo.queries.envoy import jload
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


@dataclass(frozen=True)
class Upstream:
    """Everything that can lead to some clusters, found by walking the graph backwards:
    the routes and tcp chains that name them, the route configs, chains and listeners
    above those, and the configs that hold such a listener."""

    routes: frozenset[str]
    tcp_chains: frozenset[str]
    route_configs: frozenset[str]
    chains: frozenset[str]
    listeners: frozenset[str]
    configs: frozenset[str]


def pick(cands: Iterable[Props], picks: dict[str, str]) -> dict[str, Props]:
    """By-name resolution inside one config (topo.schema): ``cands`` are the targets of a
    by-name relationship that are members of the config; names are unique among a config's
    active resources, and where they are not, the config's ``picks`` name the one it uses."""
    by_name: dict[str, list[Props]] = {}
    for c in sorted(cands, key=lambda c: c["key"]):
        by_name.setdefault(c["name"], []).append(c)
    out: dict[str, Props] = {}
    for name, cs in by_name.items():
        want = picks.get(name)
        chosen = next((c for c in cs if c["key"] == want), None) if want else cs[0]
        if chosen is not None:
            out[name] = chosen
    return out


def in_dump_order(members: Iterable[tuple[list[int] | None, int, Props]]) -> list[Props]:
    """Members of a config's sets, each given as (the set's HAS_SET runs, its position in
    the set, props), in the dump's own order."""
    from topo.ingest.transform import expand_runs

    expanded: dict[int, list[int]] = {}
    keyed = []
    for rn, pos, props in members:
        pl = expanded.get(id(rn))
        if pl is None:
            pl = expanded[id(rn)] = expand_runs(rn)
        keyed.append((pl[pos] if pos < len(pl) else len(pl) + pos, props["key"], props))
    keyed.sort(key=lambda t: (t[0], t[1]))
    return [p for _g, _k, p in keyed]


def parse_picks(config_props: Props | None) -> dict[str, dict[str, str]]:
    raw = (config_props or {}).get("picks")
    if not raw:
        return {}
    got = jload(raw)
    return got if isinstance(got, dict) else {}


class MeshGraph(Protocol):
    backend: str

    def memo(self, key: tuple[Any, ...], make: Any) -> Any:
        """Data derived from the graph, built once per graph object (indexes for the questions)."""

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
    def upstream(self, cluster_keys: Iterable[str], listener_keys: Iterable[str] = ()) -> Upstream: ...
    def clusters_of_endpoints(self, endpoint_keys: Iterable[str]) -> set[str]: ...
    def find_endpoints(self, *, ips: Iterable[str] = (), pod_ids: Iterable[str] = ()) -> list[Props]: ...
    def find_clusters(self, *, names: Iterable[str] = (), fqdn: str = "") -> list[Props]: ...
    def find_listeners(self, addresses: Iterable[str]) -> list[str]: ...


KIND_REL = {"listener": ("HAS_LISTENER", "Listener"), "route_config": ("HAS_ROUTE_CONFIG", "RouteConfig"),
            "cluster": ("HAS_CLUSTER", "Cluster")}


NAMED_SRC = {"USES_ROUTE_CONFIG": "FilterChain", "ROUTES_TO": "Route", "TCP_TO": "FilterChain"}
NAMED_KIND = {"USES_ROUTE_CONFIG": "route_config", "ROUTES_TO": "cluster", "TCP_TO": "cluster"}


class SetHops:
    """The hops that go through a config's ResourceSets, written once for both backends.

    A backend supplies five reads: a config's sets, a set's members, a set's member keys, the
    targets of a by-name relationship in any config, and a config's own properties. The rule
    that a by-name relationship holds in a config when its target is a member (topo.schema)
    is applied here."""

    _done: dict[tuple[Any, ...], Any]

    def memo(self, memo_key: tuple[Any, ...], make: Any) -> Any:
        got = self._done.get(memo_key)
        if got is None:
            got = self._done[memo_key] = make()
        return got

    # ---- what a backend supplies
    def _config_sets(self, config: str) -> list[tuple[str, str, list[int] | None]]:
        """(set key, kind, HAS_SET runs) of each of the config's sets."""
        raise NotImplementedError

    def _set_members(self, skey: str, kind: str) -> list[tuple[int, Props]]:
        """(position, props) of each member of a set."""
        raise NotImplementedError

    def _set_keys(self, skey: str, kind: str) -> frozenset[str]:
        """The member keys of a set."""
        raise NotImplementedError

    def _named(self, rel: str, src: str) -> list[Props]:
        """The targets of ``src``'s by-name relationships ``rel``, whatever config made them."""
        raise NotImplementedError

    def _config_props(self, config: str) -> Props | None:
        raise NotImplementedError

    # ---- the hops
    def _members(self, config: str, kind: str) -> list[Props]:
        return self.memo(("members", config, kind), lambda: in_dump_order(
            (runs, pos, props) for skey, k, runs in self._config_sets(config) if k == kind
            for pos, props in self._set_members(skey, kind)))

    def _picks(self, config: str, kind: str) -> dict[str, str]:
        return self.memo(("picks", config, kind), lambda: parse_picks(self._config_props(config)).get(kind, {}))

    def _in_config(self, rel: str, src: str, config: str) -> dict[str, Props]:
        kind = NAMED_KIND[rel]
        sets = [self._set_keys(skey, kind) for skey, k, _runs in self._config_sets(config) if k == kind]
        return pick((p for p in self._named(rel, src) if any(p["key"] in st for st in sets)), self._picks(config, kind))

    def listeners(self, config: str) -> list[Props]:
        return self._members(config, "listener")

    def config_clusters(self, config: str) -> list[Props]:
        return self._members(config, "cluster")

    def route_configs(self, config: str) -> list[Props]:
        return self._members(config, "route_config")

    def route_config(self, chain_key: str, config: str) -> Props | None:
        return next(iter(self._in_config("USES_ROUTE_CONFIG", chain_key, config).values()), None)

    def targets(self, rel: str, src_key: str, config: str) -> dict[str, Props]:
        return self._in_config(rel, src_key, config)


class NxGraph(SetHops):
    """The embedded backend's hops over a networkx MultiDiGraph that a
    :class:`~topo.stores.nxstore.LazyGraph` fills from the snapshot as the hops reach it.

    Props dicts are built once per node and shared by every hop that returns the node;
    callers treat them as read-only."""

    backend = "networkx"

    def __init__(self, snap: Snapshot) -> None:
        from topo.stores.nxstore import LazyGraph

        self.lg = LazyGraph(snap)
        self.g = self.lg.g
        self._eps_by_ip: dict[str, list[str]] | None = None
        self._heavy: dict[str, dict[str, dict[str, Any]]] | None = None
        self._done: dict[tuple[Any, ...], Any] = {}
        self._props_of: dict[tuple[str, str], Props] = {}

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

    def find_listeners(self, addresses: Iterable[str]) -> list[str]:
        want = set(addresses)
        return sorted(k for k, r in self.lg.rows("Listener").items() if r.get("address") in want)


def open_graph(*, store: Any = None, snapshot: str | None = None, neo4j: str | None = None,
               database: str = "neo4j") -> MeshGraph:
    """The backend a query runs on: Neo4j when a Bolt URI is given, else the embedded snapshot."""
    if neo4j:
        from topo.stores.neo4jgraph import CypherGraph

        return CypherGraph(neo4j, database=database)
    from topo.stores.snapshot import SnapshotStore

    return NxGraph(SnapshotStore(store).load(snapshot))
