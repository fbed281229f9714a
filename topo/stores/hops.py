"""The hops a question walks, on either backend.

:class:`MeshGraph` is what the question modules (path, reach, blast, …) call. Each method
is one anchored hop of the schema: ``listeners(config)`` follows ProxyConfig -HAS_SET->
ResourceSet -HAS_LISTENER->, ``route_config(chain, config)`` follows FilterChain
-USES_ROUTE_CONFIG-> to the route config that is a member of the config, and so on.
:class:`~topo.stores.nxgraph.NxGraph` answers from the networkx graph and
:class:`~topo.stores.neo4jgraph.CypherGraph` with parameterised Cypher. Both return plain
property dicts with every schema property present, so the Envoy logic in
:mod:`topo.queries.envoy` sees the same input on both.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self

from topo.model.names import expand_runs
from topo.model.rows import jload
from topo.model.schema import SCHEMA

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
    """By-name resolution inside one config (topo.model.schema): ``cands`` are the targets of a
    by-name relationship that are members of the config; names are unique among a config's
    active resources, and where they are not, the config's ``picks`` name the one it uses."""
    by_name: dict[str, list[Props]] = {}
    for c in sorted(cands, key=lambda c: c["key"]):
        by_name.setdefault(c["name"], []).append(c)
    out: dict[str, Props] = {}
    for name, cs in by_name.items():
        own = [c for c in cs if c.get("inline")]
        if own:  # a chain's inline route config is its own, whatever other configs share its name
            out[name] = own[0]
            continue
        want = picks.get(name)
        chosen = next((c for c in cs if c["key"] == want), None) if want else cs[0]
        if chosen is not None:
            out[name] = chosen
    return out


def in_dump_order(members: Iterable[tuple[list[int] | None, int, Props]]) -> list[Props]:
    """Members of a config's sets, each given as (the set's HAS_SET runs, its position in
    the set, props), in the dump's own order."""
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

    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None: ...
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
    def find_endpoints(self, *, ips: Iterable[str] = (), pod_ids: Iterable[str] = (),
                       localities: Iterable[str] = ()) -> list[Props]: ...
    def endpoint_localities(self) -> list[str]:
        """Every distinct endpoint locality (``region/zone/sub_zone``) in the graph, sorted."""
    def find_clusters(self, *, names: Iterable[str] = (), fqdn: str = "") -> list[Props]: ...
    def find_listeners(self, addresses: Iterable[str]) -> list[str]: ...


# set kind → (membership relationship, member label), and each by-name relationship's source
# label and the set kind its targets must be members of: all from the schema
KIND_REL = {kind: (r.type, r.dst) for kind, r in SCHEMA.set_kinds.items()}
NAMED_SRC = {r.type: r.src for r in SCHEMA.by_name}
NAMED_KIND = {r.type: r.by_name for r in SCHEMA.by_name}


class SetHops:
    """The hops that go through a config's ResourceSets, written once for both backends.

    A backend supplies five reads: a config's sets, a set's members, a set's member keys, the
    targets of a by-name relationship in any config, and a config's own properties. The rule
    that a by-name relationship holds in a config when its target is a member (topo.model.schema)
    is applied here. A graph is a context manager: leaving the block closes it."""

    _done: dict[tuple[Any, ...], Any]

    def memo(self, memo_key: tuple[Any, ...], make: Any) -> Any:
        got = self._done.get(memo_key)
        if got is None:
            got = self._done[memo_key] = make()
        return got

    def close(self) -> None:
        """Release what the graph holds (the Neo4j driver; the snapshot's bytes)."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.close()

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
