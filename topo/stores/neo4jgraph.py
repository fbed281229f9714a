"""The Neo4j backend's hops: the :class:`~topo.queries.graphapi.MeshGraph` calls in Cypher.

Every query is anchored on a key (a ProxyConfig, a Listener, a Route …), bounded to one
or two hops, and takes its values as parameters. Results are memoised for the life of the
object: a question reads a graph that does not change under it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from topo.queries.graphapi import Props, complete
from topo.stores.cypher import ident, projection
from topo.stores.neo4jstore import connect

P = projection

Q_PODS = f"MATCH (n:Pod) RETURN {P('Pod')} AS n ORDER BY n.id"
Q_SERVICES = f"MATCH (n:Service) RETURN {P('Service')} AS n ORDER BY n.fqdn"
Q_LISTENERS = (f"MATCH (:ProxyConfig {{key: $k}})-[r:HAS_LISTENER]->(n:Listener) "
               f"RETURN {P('Listener')} AS n ORDER BY r.position, n.key")
Q_CHAINS = f"MATCH (:Listener {{key: $k}})-[:HAS_CHAIN]->(n:FilterChain) RETURN {P('FilterChain')} AS n ORDER BY n.index"
Q_ROUTE_CONFIG = (f"MATCH (:FilterChain {{key: $k}})-[:USES_ROUTE_CONFIG {{config: $config}}]->(n:RouteConfig) "
                  f"RETURN {P('RouteConfig')} AS n LIMIT 1")
Q_VHOSTS = f"MATCH (:RouteConfig {{key: $k}})-[:HAS_VHOST]->(n:VirtualHost) RETURN {P('VirtualHost')} AS n ORDER BY n.index"
Q_ROUTES = f"MATCH (:VirtualHost {{key: $k}})-[:HAS_ROUTE]->(n:Route) RETURN {P('Route')} AS n ORDER BY n.index"
Q_TARGETS = {
    "ROUTES_TO": f"MATCH (:Route {{key: $k}})-[:ROUTES_TO {{config: $config}}]->(n:Cluster) RETURN {P('Cluster')} AS n",
    "TCP_TO": f"MATCH (:FilterChain {{key: $k}})-[:TCP_TO {{config: $config}}]->(n:Cluster) RETURN {P('Cluster')} AS n",
}
Q_ENDPOINTS = (f"MATCH (:Cluster {{key: $k}})-[r:HAS_ENDPOINT]->(n:Endpoint) "
               f"RETURN {P('Endpoint')} AS n ORDER BY r.position, n.key")
Q_ENDPOINT_PODS = ("UNWIND $keys AS k MATCH (:Endpoint {key: k})-[:ON_POD]->(p:Pod) "
                   "RETURN k, p.id AS pod ORDER BY k, pod")
Q_CONFIG_CLUSTERS = (f"MATCH (:ProxyConfig {{key: $k}})-[r:HAS_CLUSTER]->(n:Cluster) "
                     f"RETURN {P('Cluster')} AS n ORDER BY r.position, n.key")
Q_ROUTE_CONFIGS = (f"MATCH (:ProxyConfig {{key: $k}})-[r:HAS_ROUTE_CONFIG]->(n:RouteConfig) "
                   f"RETURN {P('RouteConfig')} AS n ORDER BY r.position, n.key")
Q_RAW = {label: f"MATCH (n:{label} {{key: $k}}) RETURN n.raw AS raw" for label in ("Listener", "RouteConfig", "Cluster")}
Q_CONFIGS_USING = ("UNWIND $keys AS k MATCH (:Cluster {key: k})<-[r:ROUTES_TO|TCP_TO]-() "
                   "RETURN DISTINCT r.config AS config")
Q_CLUSTERS_OF_EPS = ("UNWIND $keys AS k MATCH (:Endpoint {key: k})<-[:HAS_ENDPOINT]-(c:Cluster) "
                     "RETURN DISTINCT c.key AS key")
Q_EPS_BY_IP = f"MATCH (n:Endpoint) WHERE n.ip IN $ips RETURN {P('Endpoint')} AS n"
Q_EPS_BY_POD = f"UNWIND $pods AS pid MATCH (n:Endpoint)-[:ON_POD]->(:Pod {{id: pid}}) RETURN {P('Endpoint')} AS n"
Q_FIND_CLUSTERS = (f"MATCH (n:Cluster) WHERE n.name IN $names OR ($fqdn <> '' AND n.fqdn = $fqdn) "
                   f"RETURN {P('Cluster')} AS n ORDER BY n.name, n.key")


class CypherGraph:
    backend = "neo4j"

    def __init__(self, uri: str, database: str = "neo4j", driver: Any = None) -> None:
        self.database = database
        self.driver = driver or connect(uri)
        self._memo: dict[tuple[Any, ...], Any] = {}

    def close(self) -> None:
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

    def listeners(self, config: str) -> list[Props]:
        return self._nodes("Listener", Q_LISTENERS, k=config)

    def chains(self, listener_key: str) -> list[Props]:
        return self._nodes("FilterChain", Q_CHAINS, k=listener_key)

    def route_config(self, chain_key: str, config: str) -> Props | None:
        got = self._nodes("RouteConfig", Q_ROUTE_CONFIG, k=chain_key, config=config)
        return got[0] if got else None

    def vhosts(self, rc_key: str) -> list[Props]:
        return self._nodes("VirtualHost", Q_VHOSTS, k=rc_key)

    def routes(self, vhost_key: str) -> list[Props]:
        return self._nodes("Route", Q_ROUTES, k=vhost_key)

    def targets(self, rel: str, src_key: str, config: str) -> dict[str, Props]:
        q = Q_TARGETS[ident(rel)]
        return {c["name"]: c for c in self._nodes("Cluster", q, k=src_key, config=config)}

    def endpoints(self, cluster_key: str) -> list[Props]:
        return self._nodes("Endpoint", Q_ENDPOINTS, k=cluster_key)

    def endpoint_pods(self, endpoint_keys: Iterable[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        for r in self._rows(Q_ENDPOINT_PODS, keys=sorted(endpoint_keys)):
            out.setdefault(r["k"], []).append(r["pod"])
        return out

    def config_clusters(self, config: str) -> list[Props]:
        return self._nodes("Cluster", Q_CONFIG_CLUSTERS, k=config)

    def route_configs(self, config: str) -> list[Props]:
        return self._nodes("RouteConfig", Q_ROUTE_CONFIGS, k=config)

    def raw(self, label: str, key: str) -> Any:
        rows = self._rows(Q_RAW[ident(label)], k=key)
        return rows[0]["raw"] if rows else None

    def configs_using_clusters(self, cluster_keys: Iterable[str]) -> set[str]:
        return {r["config"] for r in self._rows(Q_CONFIGS_USING, keys=sorted(cluster_keys))}

    def clusters_of_endpoints(self, endpoint_keys: Iterable[str]) -> set[str]:
        return {r["key"] for r in self._rows(Q_CLUSTERS_OF_EPS, keys=sorted(endpoint_keys))}

    def find_endpoints(self, *, ips: Iterable[str] = (), pod_ids: Iterable[str] = ()) -> list[Props]:
        out = {e["key"]: e for e in self._nodes("Endpoint", Q_EPS_BY_IP, ips=sorted(ips))}
        out.update({e["key"]: e for e in self._nodes("Endpoint", Q_EPS_BY_POD, pods=sorted(pod_ids))})
        return [out[k] for k in sorted(out)]

    def find_clusters(self, *, names: Iterable[str] = (), fqdn: str = "") -> list[Props]:
        return self._nodes("Cluster", Q_FIND_CLUSTERS, names=sorted(names), fqdn=fqdn)
