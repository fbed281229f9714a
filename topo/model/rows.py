"""Rows: the backend-neutral form of graph data that ingest produces and stores load.

Nodes are keyed per label by their schema key; relationships by (src, dst, *identity).
Adding the same node twice keeps one row; that is how content-addressed resources dedup.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from topo.model.schema import SCHEMA

RelKey = tuple[str, str, str]  # src key, dst key, identity ("" when the type has none)

# Properties that hold lists to be unioned when the same node comes from several dumps (Prop.merge).
_UNION = {(nt.label, p.name) for nt in SCHEMA.nodes for p in nt.props if p.merge == "union"}


def content_key(*parts: Any) -> str:
    """A short, stable hash of JSON-able parts (sorted keys)."""
    return hashlib.blake2b(orjson.dumps(parts, option=orjson.OPT_SORT_KEYS), digest_size=12).hexdigest()


def jdump(value: Any) -> str:
    """Serialise a structured property as JSON text, keys sorted (stable across runs)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def jload(s: Any) -> Any:
    """A ``json`` property's value (see :func:`jdump`); None for an empty one."""
    if s is None or s == "":
        return None
    return orjson.loads(s) if isinstance(s, str | bytes) else s


@dataclass
class Rows:
    nodes: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    rels: dict[str, dict[RelKey, dict[str, Any]]] = field(default_factory=dict)
    _dropped: list[tuple[str, str]] = field(default_factory=list, repr=False, compare=False)

    def add_node(self, label: str, props: dict[str, Any]) -> str:
        nt = SCHEMA.node(label)
        key = props[nt.key]
        bucket = self.nodes.setdefault(label, {})
        old = bucket.get(key)
        if old is None:
            bucket[key] = props
        elif old is not props:
            for k, v in props.items():
                if (label, k) in _UNION and isinstance(v, list):
                    merged = sorted(set(old.get(k) or []) | set(v))
                    old[k] = merged
                elif v is not None and v != "" and v != []:
                    old[k] = v
                elif k not in old:
                    old[k] = v
        return key

    def add_rel(self, type_: str, src: str, dst: str, **props: Any) -> None:
        rt = SCHEMA.rel(type_)
        ident = "|".join(str(props.get(i, "")) for i in rt.identity)
        bucket = self.rels.setdefault(type_, {})
        k = (src, dst, ident)
        if k in bucket and rt.additive in props:
            # two weighted entries naming one cluster add up (Envoy walks both intervals)
            bucket[k][rt.additive] = bucket[k].get(rt.additive, 0) + props[rt.additive]
        else:
            bucket[k] = props

    def merge(self, other: Rows) -> None:
        for label, bucket in other.nodes.items():
            for props in bucket.values():
                self.add_node(label, props)
        for type_, rb in other.rels.items():
            mine = self.rels.setdefault(type_, {})
            for k, props in rb.items():
                if k not in mine:
                    mine[k] = props

    def drop_rel(self, type_: str, key: RelKey) -> None:
        """Remove one relationship; what it alone held goes at the next :meth:`prune`."""
        if self.rels.get(type_, {}).pop(key, None) is not None:
            self._dropped.append((SCHEMA.rel(type_).dst, key[1]))

    def prune(self) -> int:
        """Remove the nodes that only dropped relationships held (schema ``holds`` / ``owned``),
        and what only those held in turn, with every relationship of theirs. Nodes that nothing
        ever held (a Service from services.json) stay. Returns how many nodes went."""
        if not self._dropped:
            return 0
        todo = list(self._dropped)
        self._dropped.clear()
        holders: dict[tuple[str, str], list[tuple[str, str]]] = {}
        parts: dict[tuple[str, str], list[tuple[str, str]]] = {}
        for r in SCHEMA.rels:
            if r.holds or r.owned:
                for src, dst, _i in self.rels.get(r.type, {}):
                    holders.setdefault((r.dst, dst), []).append((r.src, src))
                    parts.setdefault((r.src, src), []).append((r.dst, dst))
        gone: set[tuple[str, str]] = set()
        while todo:
            node = todo.pop()
            if node in gone or node[1] not in self.nodes.get(node[0], {}):
                continue
            if any(h not in gone and h[1] in self.nodes.get(h[0], {}) for h in holders.get(node, ())):
                continue
            gone.add(node)
            del self.nodes[node[0]][node[1]]
            todo += parts.get(node, ())
        if gone:
            for r in SCHEMA.rels:
                bucket = self.rels.get(r.type)
                if bucket:
                    for k in [k for k in bucket if (r.src, k[0]) in gone or (r.dst, k[1]) in gone]:
                        del bucket[k]
        return len(gone)

    def count(self) -> tuple[int, int]:
        return (
            sum(len(b) for b in self.nodes.values()),
            sum(len(b) for b in self.rels.values()),
        )

    def node_rows(self, label: str) -> list[dict[str, Any]]:
        """Rows of one label with every schema property present (None when unknown), sorted by key."""
        nt = SCHEMA.node(label)
        names = nt.prop_names
        return [
            {n: props.get(n) for n in names}
            for _, props in sorted(self.nodes.get(label, {}).items())
        ]

    def rel_rows(self, type_: str) -> list[dict[str, Any]]:
        rt = SCHEMA.rel(type_)
        out = []
        for (src, dst, _ident), props in sorted(self.rels.get(type_, {}).items()):
            row: dict[str, Any] = {"src": src, "dst": dst}
            for n in rt.prop_names:
                row[n] = props.get(n)
            out.append(row)
        return out
