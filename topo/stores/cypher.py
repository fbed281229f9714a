"""Cypher generated from :data:`topo.schema.SCHEMA`.

Labels, relationship types and property *names* come from the schema declaration (and
are checked to be plain identifiers); every *value* travels as a query parameter. No
statement here is ever built from user input.
"""

from __future__ import annotations

import re
from functools import cache

from topo.schema import SCHEMA, NodeType, RelType

_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def ident(name: str) -> str:
    """A schema identifier, refused if it is anything but letters, digits and underscores."""
    if not _IDENT.match(name):
        raise ValueError(f"not a schema identifier: {name!r}")
    return name


def constraints() -> list[str]:
    out = []
    for nt in SCHEMA.nodes:
        out.append(
            f"CREATE CONSTRAINT topo_{ident(nt.label).lower()}_{ident(nt.key)} IF NOT EXISTS "
            f"FOR (n:{nt.label}) REQUIRE n.{nt.key} IS UNIQUE"
        )
    return out


# Properties that questions look nodes up by (beyond the keys).
INDEXED = {
    "Pod": ("name", "namespace", "lastupdated"),
    "Endpoint": ("ip",),
    "Cluster": ("name", "fqdn"),
    "Service": ("namespace",),
}


def indexes() -> list[str]:
    out = []
    for label, props in INDEXED.items():
        SCHEMA.node(label)
        for p in props:
            out.append(
                f"CREATE INDEX topo_{ident(label).lower()}_{ident(p)} IF NOT EXISTS FOR (n:{label}) ON (n.{p})"
            )
    return out


@cache
def merge_nodes(label: str) -> str:
    nt: NodeType = SCHEMA.node(label)
    return (
        f"UNWIND $rows AS row MERGE (n:{ident(nt.label)} {{{ident(nt.key)}: row.{nt.key}}}) "
        "SET n += row, n.lastupdated = $tag"
    )


@cache
def merge_rels(type_: str) -> str:
    rt: RelType = SCHEMA.rel(type_)
    src, dst = SCHEMA.node(rt.src), SCHEMA.node(rt.dst)
    ident_props = ", ".join(f"{ident(i)}: row.props.{i}" for i in rt.identity)
    pattern = f"[r:{ident(rt.type)} {{{ident_props}}}]" if ident_props else f"[r:{ident(rt.type)}]"
    return (
        f"UNWIND $rows AS row "
        f"MATCH (a:{ident(src.label)} {{{ident(src.key)}: row.src}}) "
        f"MATCH (b:{ident(dst.label)} {{{ident(dst.key)}: row.dst}}) "
        f"MERGE (a)-{pattern}->(b) SET r += row.props, r.lastupdated = $tag"
    )


@cache
def projection(label: str, var: str = "n") -> str:
    """``n {.a, .b, …}``: every light property of the label (heavy ones are left out)."""
    nt = SCHEMA.node(label)
    props = ", ".join(f".{ident(p.name)}" for p in nt.props if not p.heavy)
    return f"{ident(var)} {{{props}}}"


# Links that only the whole graph knows: an endpoint's IP belongs to an ingested pod.
LINK_ENDPOINTS_TO_NEW_PODS = (
    "MATCH (p:Pod) WHERE p.lastupdated = $tag UNWIND p.ips AS ip "
    "MATCH (e:Endpoint {ip: ip}) MERGE (e)-[r:ON_POD]->(p) SET r.lastupdated = $tag"
)
LINK_NEW_ENDPOINTS_TO_PODS = (
    "MATCH (e:Endpoint) WHERE e.lastupdated = $tag AND e.ip <> '' "
    "MATCH (p:Pod) WHERE e.ip IN p.ips MERGE (e)-[r:ON_POD]->(p) SET r.lastupdated = $tag"
)

# The tag of the last complete run (Pods are written last; Pod.lastupdated is indexed).
LAST_TAG = "MATCH (p:Pod) RETURN max(p.lastupdated) AS t"

# Cleanup, as cartography's update tags do: within the namespaces this run ingested, remove
# what older runs left and this run did not touch (a run that died midway left only
# unreferenced resources, or Pods that this run rewrites or removes); then resources no proxy
# config holds any more. Nodes touched by this run (lastupdated = $tag) are never removed,
# nor those of a run that started later (a greater tag) and may still be loading.
CLEANUP = [
    "MATCH (p:Pod) WHERE p.namespace IN $namespaces AND p.lastupdated < $tag DETACH DELETE p",
    "MATCH (:Pod)-[r:USES_CONFIG]->() WHERE r.lastupdated < $tag AND startNode(r).namespace IN $namespaces DELETE r",
    "MATCH ()-[r:ON_POD]->(p:Pod) WHERE p.namespace IN $namespaces AND r.lastupdated < $tag DELETE r",
    "MATCH (c:ProxyConfig) WHERE c.lastupdated < $tag AND NOT (c)<-[:USES_CONFIG]-() DETACH DELETE c",
    "MATCH (s:ResourceSet) WHERE s.lastupdated < $tag AND NOT (s)<-[:HAS_SET]-() DETACH DELETE s",
    # A by-name reference that no config holding both its ends made any more (the others
    # remain: some config still resolves them).
    "MATCH (a)-[r:HANDS_OFF]->(b) WHERE r.lastupdated < $tag AND NOT EXISTS { "
    "MATCH (a)<-[:HAS_LISTENER]-(:ResourceSet)<-[:HAS_SET]-(c:ProxyConfig)-[:HAS_SET]->(:ResourceSet)-[:HAS_LISTENER]->(b) } "
    "DELETE r",
    "MATCH (a:FilterChain)-[r:USES_ROUTE_CONFIG]->(b) WHERE r.lastupdated < $tag AND NOT EXISTS { "
    "MATCH (a)<-[:HAS_CHAIN]-(:Listener)<-[:HAS_LISTENER]-(:ResourceSet)<-[:HAS_SET]-(c:ProxyConfig)"
    "-[:HAS_SET]->(:ResourceSet)-[:HAS_ROUTE_CONFIG]->(b) } DELETE r",
    "MATCH (a:FilterChain)-[r:TCP_TO]->(b) WHERE r.lastupdated < $tag AND NOT EXISTS { "
    "MATCH (a)<-[:HAS_CHAIN]-(:Listener)<-[:HAS_LISTENER]-(:ResourceSet)<-[:HAS_SET]-(c:ProxyConfig)"
    "-[:HAS_SET]->(:ResourceSet)-[:HAS_CLUSTER]->(b) } DELETE r",
    "MATCH (a:Route)-[r:ROUTES_TO]->(b) WHERE r.lastupdated < $tag AND NOT EXISTS { "
    "MATCH (a)<-[:HAS_ROUTE]-(:VirtualHost)<-[:HAS_VHOST]-(:RouteConfig)<-[:HAS_ROUTE_CONFIG]-(:ResourceSet)"
    "<-[:HAS_SET]-(c:ProxyConfig)-[:HAS_SET]->(:ResourceSet)-[:HAS_CLUSTER]->(b) } DELETE r",
    "MATCH (l:Listener) WHERE l.lastupdated < $tag AND NOT (l)<-[:HAS_LISTENER]-() "
    "OPTIONAL MATCH (l)-[:HAS_CHAIN]->(fc:FilterChain) DETACH DELETE l, fc",
    "MATCH (rc:RouteConfig) WHERE rc.lastupdated < $tag AND NOT (rc)<-[:HAS_ROUTE_CONFIG]-() "
    "OPTIONAL MATCH (rc)-[:HAS_VHOST]->(vh:VirtualHost) OPTIONAL MATCH (vh)-[:HAS_ROUTE]->(rt:Route) "
    "DETACH DELETE rc, vh, rt",
    "MATCH (c:Cluster) WHERE c.lastupdated < $tag AND NOT (c)<-[:HAS_CLUSTER]-() DETACH DELETE c",
    "MATCH (e:Endpoint) WHERE e.lastupdated < $tag AND NOT (e)<-[:HAS_ENDPOINT]-() DETACH DELETE e",
    "MATCH (s:Service) WHERE s.lastupdated < $tag AND NOT (s)<-[:FOR_SERVICE]-() "
    "AND (s.namespace IN $namespaces OR s.namespace = '' OR s.namespace IS NULL) DETACH DELETE s",
]
