"""Cypher generated from :data:`topo.model.schema.SCHEMA`.

Labels, relationship types and property *names* come from the schema declaration (and
are checked to be plain identifiers); every *value* travels as a query parameter. No
statement here is ever built from user input.
"""

from __future__ import annotations

import re
from functools import cache

from topo.model.schema import SCHEMA, NodeType, RelType

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


def indexes() -> list[str]:
    """An index on every property the schema marks ``index``, and on the run tag of namespaced labels
    (the last complete run is found by it)."""
    out = []
    for nt in SCHEMA.nodes:
        props = [p.name for p in nt.props if p.index] + ([SCHEMA.tag] if nt.cleanup == "namespaced" else [])
        for p in props:
            out.append(
                f"CREATE INDEX topo_{ident(nt.label).lower()}_{ident(p)} IF NOT EXISTS FOR (n:{nt.label}) ON (n.{p})"
            )
    return out


@cache
def merge_nodes(label: str) -> str:
    nt: NodeType = SCHEMA.node(label)
    return (
        f"UNWIND $rows AS row MERGE (n:{ident(nt.label)} {{{ident(nt.key)}: row.{nt.key}}}) "
        f"SET n += row, n.{ident(SCHEMA.tag)} = $tag"
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
        f"MERGE (a)-{pattern}->(b) SET r += row.props, r.{ident(SCHEMA.tag)} = $tag"
    )


@cache
def projection(label: str, var: str = "n") -> str:
    """``n {.a, .b, …}``: every light property of the label (heavy ones are left out)."""
    nt = SCHEMA.node(label)
    props = ", ".join(f".{ident(p.name)}" for p in nt.props if not p.heavy)
    return f"{ident(var)} {{{props}}}"


# Links that only the whole graph knows: an endpoint's IP belongs to an ingested pod.
_T = ident(SCHEMA.tag)
LINK_ENDPOINTS_TO_NEW_PODS = (
    f"MATCH (p:Pod) WHERE p.{_T} = $tag UNWIND p.ips AS ip "
    f"MATCH (e:Endpoint {{ip: ip}}) MERGE (e)-[r:ON_POD]->(p) SET r.{_T} = $tag"
)
LINK_NEW_ENDPOINTS_TO_PODS = (
    f"MATCH (e:Endpoint) WHERE e.{_T} = $tag AND e.ip <> '' "
    f"MATCH (p:Pod) WHERE e.ip IN p.ips MERGE (e)-[r:ON_POD]->(p) SET r.{_T} = $tag"
)

# The tag of the last complete run (Pods are written last; their tag is indexed).
LAST_TAG = f"MATCH (p:Pod) RETURN max(p.{_T}) AS t"

# Cleanup, as cartography's update tags do: within the namespaces this run ingested, remove
# what older runs left and this run did not touch (a run that died midway left only
# unreferenced resources, or Pods that this run rewrites or removes); then resources no proxy
# config holds any more. Nodes touched by this run (tag = $tag) are never removed, nor those
# of a run that started later (a greater tag) and may still be loading. Every statement comes
# from the schema's declarations (NodeType.cleanup, RelType.holds, .owned and .by_name).
def _up(label: str, var: str) -> str:
    """``(var)<-[:HAS_CHAIN]-(:Listener)<-[:HAS_LISTENER]-(:ResourceSet)<-[:HAS_SET]-``: up to a config."""
    out = f"({var})"
    for r in SCHEMA.set_path(label):
        out += f"<-[:{ident(r.type)}]-(:{ident(r.src)})"
    return out + f"<-[:{ident(SCHEMA.holders('ResourceSet')[0].type)}]-"


def _down(label: str, var: str) -> str:
    """The way back down from a config: ``-[:HAS_SET]->(:ResourceSet)-[:HAS_LISTENER]->…(var)``."""
    out = f"-[:{ident(SCHEMA.holders('ResourceSet')[0].type)}]->"
    for r in reversed(SCHEMA.set_path(label)):
        out += f"(:{ident(r.src)})-[:{ident(r.type)}]->"
    return out + f"({var})"


def _parts(label: str) -> list[tuple[str, RelType, str]]:
    """The owned parts of a node, recursively: [(parent variable, relationship, child variable), …]."""
    out: list[tuple[str, RelType, str]] = []

    def walk(lbl: str, var: str) -> None:
        for r in SCHEMA.owned_by(lbl):
            child = f"p{len(out)}"
            out.append((var, r, child))
            walk(r.dst, child)

    walk(label, "n")
    return out


def cleanup() -> list[str]:
    t = ident(SCHEMA.tag)
    config = ident(SCHEMA.holders("ResourceSet")[0].src)
    out: list[str] = []
    for nt in SCHEMA.nodes:
        if nt.cleanup != "namespaced":
            continue
        lb, ns = ident(nt.label), ident(nt.namespace_prop)
        out.append(f"MATCH (p:{lb}) WHERE p.{ns} IN $namespaces AND p.{t} < $tag DETACH DELETE p")
        # the relationships a run writes from or to such a node go with its namespace
        for r in SCHEMA.rels:
            if nt.label in (r.src, r.dst):
                pat = f"(p:{lb})-[r:{ident(r.type)}]->()" if r.src == nt.label else f"()-[r:{ident(r.type)}]->(p:{lb})"
                out.append(f"MATCH {pat} WHERE p.{ns} IN $namespaces AND r.{t} < $tag DELETE r")
    members = {r.dst for r in SCHEMA.rels if r.member_of}
    by_name_done = False
    for nt in sorted((n for n in SCHEMA.nodes if n.cleanup == "held"), key=lambda n: SCHEMA.depth(n.label)):
        if nt.label in members and not by_name_done:
            # a by-name reference that no config holding both its ends made any more (the others
            # remain: some config still resolves them), before the resources they point at
            by_name_done = True
            for r in SCHEMA.by_name:
                out.append(f"MATCH (a:{ident(r.src)})-[r:{ident(r.type)}]->(b:{ident(r.dst)}) WHERE r.{t} < $tag "
                           f"AND NOT EXISTS {{ MATCH {_up(r.src, 'a')}(c:{config}){_down(r.dst, 'b')} }} DELETE r")
        held = " AND ".join(f"NOT (n)<-[:{ident(r.type)}]-()" for r in SCHEMA.holders(nt.label))
        scope = ""
        if nt.namespace_prop:
            ns = ident(nt.namespace_prop)
            scope = f" AND (n.{ns} IN $namespaces OR n.{ns} = '' OR n.{ns} IS NULL)"
        parts = _parts(nt.label)
        optional = "".join(f" OPTIONAL MATCH ({a})-[:{ident(r.type)}]->({b}:{ident(r.dst)})" for a, r, b in parts)
        gone = ", ".join(["n", *(b for _a, _r, b in parts)])
        out.append(f"MATCH (n:{ident(nt.label)}) WHERE n.{t} < $tag AND {held}{scope}{optional} DETACH DELETE {gone}")
    return out


CLEANUP = cleanup()
