"""The graph schema, declared once.

Every node label, its key, its properties and every relationship type live here, and so do
the rules that the stores apply to them: which relationships are resolved by name and against
which set of a config, which properties are indexed, how rows of one node from several dumps
merge, and how a store removes what a newer ingest no longer holds. From this one declaration
topo generates:

* the networkx loader (:mod:`topo.stores.nxgraph`) and the hops both backends share
  (:mod:`topo.stores.hops`),
* the Neo4j ``UNWIND $rows … MERGE`` statements, constraints, indexes and cleanup
  (:mod:`topo.stores.cypher`),
* ``docs/schema.md`` (``python -m topo.model.schema``).

Property values are always Neo4j-storable: str, int, float, bool, None or a list
of one of those. Structured values (a route's match, a pod's labels) are
stored as JSON text (type ``json``) and decoded by :func:`topo.model.rows.jload`.

Resource nodes are *content-addressed*: a listener's key is a hash of its
JSON, so two pods with the same listener share one node. A proxy's resources
are grouped into ``ResourceSet`` nodes (one per kind and part: static, inbound,
outbound), themselves content-addressed, and a ``ProxyConfig`` is the list of its
sets. Sidecars of different workloads share their outbound sets, so membership
grows with distinct *sets*, not with configs × resources.

Relationships that Envoy resolves *by name* (an RDS name, a route's cluster name,
the virtualOutbound hand-off) are stored once per (source, target) pair that some
config resolved. Such a relationship holds in a config when its target is a member
of that config (names are unique among a config's active resources); where a config
holds several resolvable resources of one name, its ``picks`` property says which
one its proxy uses. :class:`topo.stores.hops.SetHops` applies that rule on both backends.
"""

from __future__ import annotations

from dataclasses import dataclass, field

PROP_TYPES = ("str", "int", "float", "bool", "json", "list[str]", "list[int]")
MERGES = ("set", "union")
# How a store removes nodes of a label that a newer ingest no longer holds (see Schema.cleanup_plan):
#   namespaced  within the namespaces an ingest read, the ones that ingest did not write;
#   held        when no relationship that holds them (Schema.holders) points at them any more;
#   owned       with the node that owns them (an owned relationship points at them).
CLEANUPS = ("namespaced", "held", "owned")


@dataclass(frozen=True)
class Prop:
    name: str
    type: str
    doc: str
    # Heavy properties (raw resources) are kept apart in the embedded snapshot and read
    # only by the commands that print them (``topo show -o json``).
    heavy: bool = False
    # Questions look nodes up by it: Neo4j gets an index (cartography's extra_index).
    index: bool = False
    # When one node comes from several dumps: "set" (a non-empty value replaces), "union" (lists).
    merge: str = "set"

    def __post_init__(self) -> None:
        if self.type not in PROP_TYPES:
            raise ValueError(f"unknown property type {self.type!r} for {self.name}")
        if self.merge not in MERGES or (self.merge == "union" and not self.type.startswith("list")):
            raise ValueError(f"bad merge rule {self.merge!r} for {self.name}")


@dataclass(frozen=True)
class NodeType:
    label: str
    key: str
    doc: str
    props: tuple[Prop, ...] = ()
    cleanup: str = "held"
    # cleanup "held": also only within the ingest's namespaces, read from this property ("" or
    # null counts as every namespace's)
    namespace_prop: str = ""

    def __post_init__(self) -> None:
        if self.cleanup not in CLEANUPS:
            raise ValueError(f"unknown cleanup {self.cleanup!r} for {self.label}")

    @property
    def prop_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.props)


@dataclass(frozen=True)
class RelType:
    type: str
    src: str
    dst: str
    doc: str
    props: tuple[Prop, ...] = ()
    # Properties that tell parallel relationships apart (part of the MERGE pattern).
    identity: tuple[str, ...] = ()
    # The ResourceSet kind whose members this relationship lists (HAS_LISTENER: "listener").
    member_of: str = ""
    # Resolved by name: it holds in a config when its target is a member of the config's sets of this kind.
    by_name: str = ""
    # The target is part of the source (a listener's chains): created and removed with it.
    owned: bool = False
    # The target node is kept alive by this relationship (cleanup "held").
    holds: bool = False
    # Weighted: two entries between one pair add their weights (Envoy walks both intervals).
    additive: str = ""

    @property
    def prop_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.props)


@dataclass(frozen=True)
class Schema:
    nodes: tuple[NodeType, ...]
    rels: tuple[RelType, ...]
    # Every node and relationship a Neo4j run writes carries the run's tag in this property.
    tag: str = "lastupdated"
    _by_label: dict[str, NodeType] = field(default_factory=dict, compare=False, repr=False)
    _by_type: dict[str, RelType] = field(default_factory=dict, compare=False, repr=False)

    def node(self, label: str) -> NodeType:
        if not self._by_label:
            self._by_label.update({n.label: n for n in self.nodes})
        return self._by_label[label]

    def rel(self, type_: str) -> RelType:
        if not self._by_type:
            self._by_type.update({r.type: r for r in self.rels})
        return self._by_type[type_]

    # ---- what the declarations imply
    @property
    def set_kinds(self) -> dict[str, RelType]:
        """ResourceSet kind → the relationship that lists its members (``listener``: HAS_LISTENER)."""
        return {r.member_of: r for r in self.rels if r.member_of}

    @property
    def by_name(self) -> tuple[RelType, ...]:
        return tuple(r for r in self.rels if r.by_name)

    def holders(self, label: str) -> tuple[RelType, ...]:
        """The relationships that keep a node of ``label`` alive."""
        return tuple(r for r in self.rels if r.dst == label and r.holds)

    def owned_by(self, label: str) -> tuple[RelType, ...]:
        """The owned relationships out of ``label`` (its parts)."""
        return tuple(r for r in self.rels if r.src == label and r.owned)

    def set_path(self, label: str) -> tuple[RelType, ...]:
        """From a node up to the ResourceSet it sits in, following owned relationships backwards
        and then the set membership: FilterChain → HAS_CHAIN → HAS_LISTENER."""
        path: list[RelType] = []
        cur = label
        while True:
            member = next((r for r in self.rels if r.member_of and r.dst == cur), None)
            if member is not None:
                return (*path, member)
            owner = next((r for r in self.rels if r.owned and r.dst == cur), None)
            if owner is None:
                raise KeyError(f"{label} is in no ResourceSet")
            path.append(owner)
            cur = owner.src

    def depth(self, label: str) -> int:
        """Holding relationships from a namespaced node down to ``label`` (Pod 0, ProxyConfig 1, …)."""
        nt = self.node(label)
        if nt.cleanup == "namespaced":
            return 0
        rels = self.holders(label) if nt.cleanup == "held" else tuple(r for r in self.rels if r.owned and r.dst == label)
        return 1 + min(self.depth(r.src) for r in rels)


def P(name: str, type_: str, doc: str, *, index: bool = False, merge: str = "set") -> Prop:
    return Prop(name, type_, doc, index=index, merge=merge)


RAW = Prop("raw", "json", "the resource as dumped, with secrets removed", heavy=True)


POSITION = P("position", "int", "index among the set's members, in the dump's order")

SCHEMA = Schema(
    nodes=(
        NodeType(
            "Pod",
            "id",
            "One proxy (sidecar or gateway): one config dump.",
            (
                P("id", "str", "`namespace/name`"),
                P("name", "str", "pod name", index=True),
                P("namespace", "str", "namespace", index=True),
                P("ip", "str", "first instance IP"),
                P("ips", "list[str]", "every instance IP"),
                P("labels", "json", "pod labels"),
                P("workload", "str", "WORKLOAD_NAME, else owner, else app label"),
                P("app", "str", "`app` label"),
                P("version", "str", "`version` label"),
                P("proxy_type", "str", "sidecar, router (gateway) or unknown"),
                P("istio_version", "str", "ISTIO_VERSION from the bootstrap"),
                P("istio_proxy_sha", "str", "ISTIO_PROXY_SHA from the bootstrap (its part after `:`)"),
                P("envoy_version", "str", "the bootstrap's user_agent_build_version, as istioctl prints it"),
                P("secrets", "int", "active and warming SDS secrets in the dump (none stored); null: no secrets section"),
                P("node_name", "str", "Kubernetes node"),
                P("service_account", "str", "service account"),
                P("cluster_domain", "str", "DNS domain from the node id, e.g. cluster.local"),
                P("locality", "str", "the proxy's own locality (bootstrap node.locality), `region/zone/sub_zone`"),
                P("source", "str", "file or kubectl source it came from"),
                P("config", "str", "key of its ProxyConfig"),
            ),
            cleanup="namespaced",
            namespace_prop="namespace",
        ),
        NodeType(
            "ProxyConfig",
            "key",
            "A distinct set of resources; pods with identical config share one.",
            (
                P("key", "str", "hash of its sets, their dump positions and its picks"),
                P("listeners", "int", "listener count"),
                P("route_configs", "int", "route config count"),
                P("clusters", "int", "cluster count"),
                P("endpoints", "int", "lb endpoint count"),
                P("picks", "json", "{kind: {name: key}} for names that several of its resources carry"),
            ),
        ),
        NodeType(
            "ResourceSet",
            "key",
            "Resources of one kind and part that sit together in proxy configs (shared by many).",
            (
                P("key", "str", "hash of kind, part and the ordered member keys"),
                P("kind", "str", "listener, route_config or cluster"),
                P("part", "str", "static (bootstrap), inbound or outbound (Istio's naming)"),
                P("size", "int", "member count"),
            ),
        ),
        NodeType(
            "Listener",
            "key",
            "An Envoy listener (static or dynamic, any state).",
            (
                P("key", "str", "content hash"),
                P("name", "str", "listener name, e.g. `0.0.0.0_9080`"),
                P("address", "str", "socket address"),
                P("port", "int", "port value"),
                P("bind_to_port", "bool", "false for Istio's per-port outbound listeners"),
                P("use_original_dst", "bool", "true on virtualOutbound"),
                P("direction", "str", "traffic_direction: OUTBOUND, INBOUND or empty"),
                P("state", "str", "static, active, warming, draining or error"),
                P("error", "str", "error_state details, if any"),
                P("listener_filters", "list[str]", "listener filter names"),
                P("inspectors", "json", "the listener filters that set what chains match on: [[kind, "
                  "filter_disabled predicate or null], …], kind tls (tls_inspector) or http (http_inspector)"),
                P("has_matcher", "bool", "uses filter_chain_matcher (waypoints)"),
                P("matcher", "json", "filter_chain_matcher, if any"),
                RAW,
            ),
        ),
        NodeType(
            "FilterChain",
            "key",
            "A filter chain of a listener, with its match and terminal filter.",
            (
                P("key", "str", "listener key + index"),
                P("name", "str", "chain name"),
                P("index", "int", "position; -1 for default_filter_chain"),
                P("is_default", "bool", "is the listener's default_filter_chain"),
                P("destination_port", "int", "filter_chain_match.destination_port"),
                P("prefix_ranges", "list[str]", "destination CIDRs"),
                P("server_names", "list[str]", "SNI names"),
                P("transport_protocol", "str", "raw_buffer, tls or empty"),
                P("application_protocols", "list[str]", "ALPN"),
                P("source_match", "json", "source_* match fields (unused by Istio)"),
                P("terminal", "str", "http, tcp or other"),
                P("filters", "list[str]", "network filter names, in order"),
                P("unsupported", "str", "the terminal filter topo does not follow (terminal other): its name or type"),
                P("http_filters", "list[str]", "the HTTP connection manager's HTTP filter names (http)"),
                P("rds_name", "str", "RDS route_config_name (http)"),
                P("inline_route", "str", "name of an inline route_config (http)"),
                P("tcp_clusters", "json", "tcp_proxy [[cluster, weight], …]"),
                P("istio_config", "str", "metadata istio.config (a VirtualService's tcp/tls route, a Sidecar's "
                  "ingress listener)"),
                P("foreign_filters", "list[str]", "network and HTTP filters Istio never generates itself: "
                  "an EnvoyFilter added them"),
            ),
            cleanup="owned",
        ),
        NodeType(
            "RouteConfig",
            "key",
            "An HTTP route configuration (RDS or inline).",
            (
                P("key", "str", "content hash"),
                P("name", "str", "route config name"),
                P("state", "str", "static, active or error"),
                P("error", "str", "error_state details"),
                P("inline", "bool", "inline in an HCM"),
                P("ignore_port_in_host_matching", "bool", "strip :port from Host first"),
                P("validate_clusters", "bool", "validate_clusters"),
                RAW,
            ),
        ),
        NodeType(
            "VirtualHost",
            "key",
            "A virtual host in a route config.",
            (
                P("key", "str", "route config key + index"),
                P("name", "str", "vhost name"),
                P("index", "int", "position"),
                P("domains", "list[str]", "domains"),
                P("istio_configs", "list[str]", "istio.config of the vhost and of its routes (the VirtualServices "
                  "behind it)"),
            ),
            cleanup="owned",
        ),
        NodeType(
            "Route",
            "key",
            "A route in a virtual host, with its match and action.",
            (
                P("key", "str", "vhost key + index"),
                P("name", "str", "route name"),
                P("index", "int", "position"),
                P("match", "json", "the RouteMatch"),
                P("match_text", "str", "istioctl-style match summary, e.g. `/*`"),
                P("action", "str", "route, redirect, direct_response, filter_action or non_forwarding"),
                P("clusters", "json", "[[cluster name, weight], …] of the action"),
                P("cluster_header", "str", "cluster_header, if the cluster comes from a header"),
                P("direct_status", "int", "direct_response status"),
                P("mirrors", "json", "request_mirror_policies: [[cluster, fraction of requests copied], …]"),
                P("fault", "json", "envoy.filters.http.fault per-filter config in force (route, else vhost, else "
                  "route config): {abort: {percent, http_status, grpc_status, header}, delay: {percent, duration, "
                  "header}, headers, upstream_cluster}"),
                P("istio_config", "str", "metadata istio.config (VirtualService path)"),
                P("timeout", "str", "route timeout as dumped (absent: Envoy's 15s; `0s`: none)"),
                P("retry_policy", "json", "the retry policy in force: the route's, else its vhost's "
                  "(`from` says which), with retry_on, num_retries, per_try_timeout, codes, predicates"),
            ),
            cleanup="owned",
        ),
        NodeType(
            "Cluster",
            "key",
            "An Envoy cluster with its load assignment.",
            (
                P("key", "str", "hash of the cluster and its endpoints"),
                P("name", "str", "cluster name", index=True),
                P("type", "str", "STATIC, STRICT_DNS, LOGICAL_DNS, EDS, ORIGINAL_DST or an extension"),
                P("lb_policy", "str", "load-balancing policy"),
                P("state", "str", "static, active, warming or error"),
                P("error", "str", "error_state details"),
                P("direction", "str", "Istio name part: outbound / inbound / inbound-vip"),
                P("port", "int", "Istio name part: port"),
                P("subset", "str", "Istio name part: subset"),
                P("fqdn", "str", "Istio name part: service FQDN", index=True),
                P("eds_service_name", "str", "eds_cluster_config.service_name"),
                P("panic_threshold", "float", "healthy_panic_threshold (absent: 50)"),
                P("locality_weighted", "bool", "locality_weighted_lb_config set"),
                P("weighted_priority_health", "bool", "weighted_priority_health set"),
                P("overprovisioning_factor", "int", "from the load assignment (default 140)"),
                P("has_endpoints_info", "bool", "an endpoint source covered this cluster"),
                P("endpoint_source", "str", "where its endpoints come from: eds (the dump's endpoint section), inline "
                  "(load_assignment or v2 hosts), status (/clusters?format=json), or empty"),
                P("istio_config", "str", "metadata istio.config (DestinationRule path)"),
                P("istio_services", "json", "metadata istio: {services: [{host, name, namespace}] of the Service or "
                  "ServiceEntry, external: true for a MESH_EXTERNAL entry}"),
                P("connect_timeout", "str", "connect_timeout as dumped (absent: Envoy's 5s)"),
                P("circuit_breakers", "json", "circuit_breakers.thresholds"),
                P("outlier_detection", "json", "outlier_detection"),
                RAW,
            ),
        ),
        NodeType(
            "Endpoint",
            "key",
            "An lb_endpoint as one cluster sees it.",
            (
                P("key", "str", "hash of the fields below"),
                P("address", "str", "`IP:port`, or a pipe/internal name"),
                P("ip", "str", "IP", index=True),
                P("port", "int", "port"),
                P("health", "str", "HEALTHY, UNHEALTHY, DEGRADED, DRAINING, TIMEOUT or UNKNOWN: what routing sees"),
                P("eds_health", "str", "the health EDS gives (a /clusters host failing a check is UNHEALTHY "
                  "above but may be HEALTHY here)"),
                P("outlier_failed", "bool", "/clusters: the host failed outlier detection"),
                P("weight", "int", "load_balancing_weight (default 1)"),
                P("priority", "int", "priority of its locality group"),
                P("locality", "str", "region/zone/sub_zone"),
                P("locality_weight", "int", "locality load_balancing_weight"),
                P("hostname", "str", "hostname"),
                P("endpoint_id", "str", "envoy_internal_address endpoint_id (internal listeners)"),
            ),
        ),
        NodeType(
            "Service",
            "fqdn",
            "A service host: a Kubernetes Service or a ServiceEntry host.",
            (
                P("fqdn", "str", "host name"),
                P("name", "str", "short name"),
                P("namespace", "str", "namespace, if a Kubernetes service", index=True),
                P("vips", "list[str]", "cluster IPs", merge="union"),
                P("ports", "list[int]", "ports", merge="union"),
                P("headless", "bool", "clusterIP None"),
                P("kind", "str", "kubernetes or external"),
            ),
            namespace_prop="namespace",
        ),
    ),
    rels=(
        RelType("USES_CONFIG", "Pod", "ProxyConfig", "The pod's proxy runs this config.", holds=True),
        RelType("HAS_SET", "ProxyConfig", "ResourceSet", "The config holds this set's resources.",
                (P("runs", "list[int]", "dump positions of the members, as [start, length, …] runs"),), holds=True),
        RelType("HAS_LISTENER", "ResourceSet", "Listener", "Listener in the set.", (POSITION,),
                member_of="listener", holds=True),
        RelType("HAS_ROUTE_CONFIG", "ResourceSet", "RouteConfig", "Route config in the set.", (POSITION,),
                member_of="route_config", holds=True),
        RelType("HAS_CLUSTER", "ResourceSet", "Cluster", "Cluster in the set.", (POSITION,),
                member_of="cluster", holds=True),
        RelType("HAS_CHAIN", "Listener", "FilterChain", "Filter chain of the listener.", owned=True),
        RelType(
            "HANDS_OFF",
            "Listener",
            "Listener",
            "virtualOutbound hands a connection to the listener of its original destination.",
            by_name="listener",
        ),
        RelType(
            "USES_ROUTE_CONFIG",
            "FilterChain",
            "RouteConfig",
            "The chain's HCM takes its routes from this config (RDS name or inline).",
            by_name="route_config",
        ),
        RelType(
            "TCP_TO",
            "FilterChain",
            "Cluster",
            "tcp_proxy sends connections to this cluster.",
            (P("weight", "int", "weighted_clusters weight (1 for a single cluster)"),),
            by_name="cluster",
            additive="weight",
        ),
        RelType("HAS_VHOST", "RouteConfig", "VirtualHost", "Virtual host of the route config.", owned=True),
        RelType("HAS_ROUTE", "VirtualHost", "Route", "Route of the virtual host.", owned=True),
        RelType(
            "ROUTES_TO",
            "Route",
            "Cluster",
            "The route's action sends requests to this cluster.",
            (P("weight", "int", "weighted_clusters weight (1 for a single cluster)"),),
            by_name="cluster",
            additive="weight",
        ),
        RelType(
            "MIRRORS_TO",
            "Route",
            "Cluster",
            "The route's request_mirror_policies copy requests to this cluster (fire and forget).",
            by_name="cluster",
        ),
        RelType("HAS_ENDPOINT", "Cluster", "Endpoint", "Endpoint in the cluster's load assignment.", (POSITION,),
                holds=True),
        RelType("FOR_SERVICE", "Cluster", "Service", "The cluster serves this service host.", holds=True),
        RelType("ON_POD", "Endpoint", "Pod", "The endpoint's IP belongs to this ingested pod."),
    ),
)


def markdown() -> str:
    """Render the schema as Markdown (``docs/schema.md``)."""
    by_name = ", ".join(f"`{r.type}`" for r in SCHEMA.by_name)
    out = [
        "# topo graph schema",
        "",
        "Generated from `topo/model/schema.py` by `python -m topo.model.schema > docs/schema.md`"
        " (`make docs`). Do not edit by hand.",
        "",
        f"Values of type `json` are JSON text. {by_name}",
        "are references Envoy resolves by name: one holds in a ProxyConfig when its target is a member",
        "of that config (through `HAS_SET` and the set's membership relationship of the kind named",
        "below), and where a config has several resolvable resources of one name, the config's",
        "`picks` says which one it uses.",
        "",
        f"Every node and relationship a Neo4j ingest writes carries that run's tag in `{SCHEMA.tag}`. After",
        "a complete run, what older runs left is removed, as the *cleanup* column says: *namespaced* nodes",
        "within the namespaces the run read; *held* nodes when no relationship that holds them points at",
        "them; *owned* nodes with their owner. A by-name relationship goes when no config holds both its ends.",
        "",
        "## Nodes",
        "",
    ]
    for n in SCHEMA.nodes:
        how = n.cleanup + (f" (by `{n.namespace_prop}`)" if n.namespace_prop else "")
        holders = ", ".join(f"`{r.type}`" for r in SCHEMA.holders(n.label))
        out += [f"### `{n.label}` (key `{n.key}`)", "", n.doc, "",
                f"Cleanup: {how}" + (f", held by {holders}." if holders and n.cleanup == "held" else "."), "",
                "| property | type | meaning |", "|---|---|---|"]
        for p in n.props:
            notes = [x for x in ("heavy" if p.heavy else "", "indexed" if p.index else "",
                                 "merged as a union" if p.merge == "union" else "") if x]
            out.append(f"| `{p.name}` | {p.type}{' (' + ', '.join(notes) + ')' if notes else ''} | {p.doc} |")
        out.append("")
    out += ["## Relationships", "", "| type | from | to | properties | kind | meaning |", "|---|---|---|---|---|---|"]
    for r in SCHEMA.rels:
        props = ", ".join(f"`{p.name}` ({p.type}{', added up' if r.additive == p.name else ''})" for p in r.props) or "–"
        kind = ", ".join(x for x in (f"members of a {r.member_of} set" if r.member_of else "",
                                     f"by name, within the config's {r.by_name} sets" if r.by_name else "",
                                     "owned" if r.owned else "", "holds its target" if r.holds else "") if x) or "–"
        out.append(f"| `{r.type}` | {r.src} | {r.dst} | {props} | {kind} | {r.doc} |")
    out.append("")
    return "\n".join(out)


if __name__ == "__main__":  # pragma: no cover
    print(markdown(), end="")
