"""The Neo4j backend's hops: the :class:`~topo.stores.hops.MeshGraph` calls in Cypher.

Every query is anchored on a key (a ProxyConfig, a Listener, a Route …), bounded to one
or two hops, and takes its values as parameters. Results are memoised for the life of the
object: a question reads a graph that does not change under it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from topo.model.schema import SCHEMA
from topo.stores.cypher import ident, projection
from topo.stores.hops import KIND_REL, Props, SetHops, Upstream, complete
from topo.stores.neo4jstore import connect

P = projection

Q_PODS = f"MATCH (n:Pod) RETURN {P('Pod')} AS n ORDER BY n.id"
Q_SERVICES = f"MATCH (n:Service) RETURN {P('Service')} AS n ORDER BY n.fqdn"
Q_CONFIG = "MATCH (n:ProxyConfig {key: $k}) RETURN n.picks AS picks"
Q_CONFIG_SETS = ("MATCH (:ProxyConfig {key: $k})-[h:HAS_SET]->(s:ResourceSet) "
                 "RETURN s.key AS key, s.kind AS kind, h.runs AS runs ORDER BY key")
Q_SET_MEMBERS = {
    kind: (f"MATCH (:ResourceSet {{key: $k}})-[r:{ident(rel)}]->(n:{ident(label)}) "
           f"RETURN r.position AS position, {P(label)} AS n ORDER BY position, n.key")
    for kind, (rel, label) in KIND_REL.items()
}
# A by-name reference's targets in any config; the ones that hold in a config are its members (topo.model.schema).
Q_NAMED = {
    r.type: f"MATCH (:{ident(r.src)} {{key: $k}})-[:{ident(r.type)}]->(n:{ident(r.dst)}) RETURN {P(r.dst)} AS n ORDER BY n.key"
    for r in SCHEMA.by_name
}
Q_CHAINS = f"MATCH (:Listener {{key: $k}})-[:HAS_CHAIN]->(n:FilterChain) RETURN {P('FilterChain')} AS n ORDER BY n.index"
Q_VHOSTS = f"MATCH (:RouteConfig {{key: $k}})-[:HAS_VHOST]->(n:VirtualHost) RETURN {P('VirtualHost')} AS n ORDER BY n.index"
Q_ROUTES = f"MATCH (:VirtualHost {{key: $k}})-[:HAS_ROUTE]->(n:Route) RETURN {P('Route')} AS n ORDER BY n.index"
Q_ENDPOINTS = (f"MATCH (:Cluster {{key: $k}})-[r:HAS_ENDPOINT]->(n:Endpoint) "
               f"RETURN {P('Endpoint')} AS n ORDER BY r.position, n.key")
Q_ENDPOINT_PODS = ("UNWIND $keys AS k MATCH (:Endpoint {key: k})-[:ON_POD]->(p:Pod) "
                   "RETURN k, p.id AS pod ORDER BY k, pod")
Q_RAW = {label: f"MATCH (n:{label} {{key: $k}}) RETURN n.raw AS raw" for label in ("Listener", "RouteConfig", "Cluster")}
# upstream(): each step back from the clusters, one anchored query each
Q_UP = {
    "routes": "UNWIND $keys AS k MATCH (:Cluster {key: k})<-[:ROUTES_TO]-(n:Route) RETURN DISTINCT n.key AS key",
    "tcp": "UNWIND $keys AS k MATCH (:Cluster {key: k})<-[:TCP_TO]-(n:FilterChain) RETURN DISTINCT n.key AS key",
    "tcp_of": ("UNWIND $keys AS k MATCH (:Listener {key: k})-[:HAS_CHAIN]->(n:FilterChain {terminal: 'tcp'}) "
               "RETURN DISTINCT n.key AS key"),
    "rcs": ("UNWIND $keys AS k MATCH (:Route {key: k})<-[:HAS_ROUTE]-(:VirtualHost)<-[:HAS_VHOST]-(n:RouteConfig) "
            "RETURN DISTINCT n.key AS key"),
    "chains": ("UNWIND $keys AS k MATCH (:RouteConfig {key: k})<-[:USES_ROUTE_CONFIG]-(n:FilterChain) "
               "RETURN DISTINCT n.key AS key"),
    "listeners": ("UNWIND $keys AS k MATCH (:FilterChain {key: k})<-[:HAS_CHAIN]-(n:Listener) "
                  "RETURN DISTINCT n.key AS key"),
    "configs": ("UNWIND $keys AS k MATCH (:Listener {key: k})<-[:HAS_LISTENER]-(:ResourceSet)<-[:HAS_SET]-(n:ProxyConfig) "
                "RETURN DISTINCT n.key AS key"),
}
Q_LISTENERS_AT = "MATCH (n:Listener) WHERE n.address IN $addresses RETURN n.key AS key ORDER BY key"
Q_CLUSTERS_OF_EPS = ("UNWIND $keys AS k MATCH (:Endpoint {key: k})<-[:HAS_ENDPOINT]-(c:Cluster) "
                     "RETURN DISTINCT c.key AS key")
Q_EPS_BY_IP = f"MATCH (n:Endpoint) WHERE n.ip IN $ips RETURN {P('Endpoint')} AS n"
Q_EPS_BY_POD = f"UNWIND $pods AS pid MATCH (n:Endpoint)-[:ON_POD]->(:Pod {{id: pid}}) RETURN {P('Endpoint')} AS n"
Q_EPS_AT = f"MATCH (n:Endpoint) WHERE n.locality IN $localities RETURN {P('Endpoint')} AS n"
Q_LOCALITIES = "MATCH (n:Endpoint) WHERE n.locality <> '' RETURN DISTINCT n.locality AS locality ORDER BY locality"
Q_FIND_CLUSTERS = (f"MATCH (n:Cluster) WHERE n.name IN $names OR ($fqdn <> '' AND n.fqdn = $fqdn) "
                   f"RETURN {P('Cluster')} AS n ORDER BY n.name, n.key")


class CypherGraph(SetHops):
    backend = "neo4j"

    def __init__(self, uri: str, database: str = "neo4j", driver: Any = None) -> None:
        """A driver given is shared (its owner closes it); without one, the graph connects and owns it."""
        self.database = database
        self._own = driver is None
        self.driver = driver or connect(uri)
        self._memo: dict[tuple[Any, ...], Any] = {}
        self._done: dict[tuple[Any, ...], Any] = {}  # results built from those rows

    def close(self) -> None:
        if self._own:
            self.driver.close()

    def _rows(self, query: str, **params: Any) -> list[dict[str, Any]]:
        memo_key = (query, tuple(sorted((k, tuple(v) if isinstance(v, list) else v) for k, v in params.items())))
        hit = self._memo.get(memo_key)
        if hit is None:
            import neo4j

            records, _, _ = self.driver.execute_query(query, parameters_=params, database_=self.database,
                                                      routing_=neo4j.RoutingControl.READ)
            hit = [r.data() for r in records]
            self._memo[memo_key] = hit
        return hit

    def _nodes(self, label: str, query: str, **params: Any) -> list[Props]:
        return [complete(label, r["n"]) for r in self._rows(query, **params)]

    def pods(self) -> list[Props]:
        return self._nodes("Pod", Q_PODS)

    def services(self) -> list[Props]:
        return self._nodes("Service", Q_SERVICES)

    # ---- SetHops' reads
    def _config_sets(self, config: str) -> list[tuple[str, str, list[int] | None]]:
        return [(r["key"], r["kind"], r["runs"]) for r in self._rows(Q_CONFIG_SETS, k=config)]

    def _set_members(self, skey: str, kind: str) -> list[tuple[int, Props]]:
        """A set's members, read once and shared by every config that holds the set."""
        label = KIND_REL[kind][1]
        return self.memo(("set", skey, kind), lambda: [
            (r["position"] or 0, complete(label, r["n"])) for r in self._rows(Q_SET_MEMBERS[kind], k=skey)])

    def _set_keys(self, skey: str, kind: str) -> frozenset[str]:
        return self.memo(("keys", skey, kind),
                         lambda: frozenset(p["key"] for _pos, p in self._set_members(skey, kind)))

    def _named(self, rel: str, src: str) -> list[Props]:
        return self.memo(("named", rel, src), lambda: self._nodes(SCHEMA.rel(rel).dst, Q_NAMED[rel], k=src))

    def _config_props(self, config: str) -> Props | None:
        rows = self._rows(Q_CONFIG, k=config)
        return rows[0] if rows else None

    def chains(self, listener_key: str) -> list[Props]:
        return self._nodes("FilterChain", Q_CHAINS, k=listener_key)

    def vhosts(self, rc_key: str) -> list[Props]:
        return self._nodes("VirtualHost", Q_VHOSTS, k=rc_key)

    def routes(self, vhost_key: str) -> list[Props]:
        return self._nodes("Route", Q_ROUTES, k=vhost_key)

    def endpoints(self, cluster_key: str) -> list[Props]:
        return self._nodes("Endpoint", Q_ENDPOINTS, k=cluster_key)

    def endpoint_pods(self, endpoint_keys: Iterable[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self._rows(Q_ENDPOINT_PODS, keys=sorted(endpoint_keys)):
            out.setdefault(r["k"], []).append(r["pod"])
        return out

    def raw(self, label: str, key: str) -> Any:
        rows = self._rows(Q_RAW[ident(label)], k=key)
        return rows[0]["raw"] if rows else None

    def _up(self, step: str, keys: Iterable[str]) -> set[str]:
        return {r["key"] for r in self._rows(Q_UP[step], keys=sorted(keys))} if keys else set()

    def upstream(self, cluster_keys: Iterable[str], listener_keys: Iterable[str] = ()) -> Upstream:
        cluster_keys, extra = set(cluster_keys), set(listener_keys)
        routes = self._up("routes", cluster_keys)
        tcp = self._up("tcp", cluster_keys) | self._up("tcp_of", extra)
        rcs = self._up("rcs", routes)
        chains = self._up("chains", rcs) | tcp
        listeners = self._up("listeners", chains) | extra
        configs = self._up("configs", listeners)
        return Upstream(frozenset(routes), frozenset(tcp), frozenset(rcs), frozenset(chains),
                        frozenset(listeners), frozenset(configs))

    def find_listeners(self, addresses: Iterable[str]) -> list[str]:
        return [r["key"] for r in self._rows(Q_LISTENERS_AT, addresses=sorted(set(addresses)))]

    def clusters_of_endpoints(self, endpoint_keys: Iterable[str]) -> set[str]:
        return {r["key"] for r in self._rows(Q_CLUSTERS_OF_EPS, keys=sorted(endpoint_keys))}

    def find_endpoints(self, *, ips: Iterable[str] = (), pod_ids: Iterable[str] = (),
                       localities: Iterable[str] = ()) -> list[Props]:
        out = {e["key"]: e for e in self._nodes("Endpoint", Q_EPS_BY_IP, ips=sorted(ips))}
        out.update({e["key"]: e for e in self._nodes("Endpoint", Q_EPS_BY_POD, pods=sorted(pod_ids))})
        locs = sorted(set(localities))
        if locs:
            out.update({e["key"]: e for e in self._nodes("Endpoint", Q_EPS_AT, localities=locs)})
        return [out[k] for k in sorted(out)]

    def endpoint_localities(self) -> list[str]:
        return [r["locality"] for r in self._rows(Q_LOCALITIES)]

    def find_clusters(self, *, names: Iterable[str] = (), fqdn: str = "") -> list[Props]:
        return self._nodes("Cluster", Q_FIND_CLUSTERS, names=sorted(names), fqdn=fqdn)
