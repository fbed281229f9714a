"""The filter-chain sieve whole (issue 14, item 1; ENVOY-SEMANTICS.md §3): TLS requests match SNI
chains, on Istio's TLS ports and on a plain Envoy / Cilium gateway listener whose tls_inspector
Envoy injects itself; `--sni`, `--tls`, `https://` and `tcp://`; path and reach agree. The unit
tests drive :func:`topo.queries.envoy.select_chain` through its :class:`Connection`, the interface
the server side reuses for inbound chains."""

from __future__ import annotations

import json

import pytest
from builders import (
    cla,
    cluster,
    dump,
    http_listener,
    listener,
    route,
    route_config,
    static_cluster,
    tcp_chain,
    vhost,
    virtual_outbound,
)
from typer.testing import CliRunner

from topo.cli import app
from topo.model.rows import jdump
from topo.queries import envoy
from topo.queries.envoy import Connection, observe, select_chain
from topo.queries.path import path
from topo.queries.reach import reach, reach_to
from topo.stores.hops import complete

runner = CliRunner()
TLS_INSPECTOR = {"name": "envoy.filters.listener.tls_inspector",
                 "typed_config": {"@type": "type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3."
                                           "TlsInspector"}}
API = "outbound|443||api.example.com"
WILD = "outbound|443||wild.example.com"


def _tls_mesh(*, registry_only: bool = False) -> dict:
    """Istio's shape for a ServiceEntry with a TLS port 443 (DNS resolution): listener
    0.0.0.0_443 with a tls_inspector, one `server_names` chain per host, and PassthroughFilterChain
    (BlackHoleCluster under REGISTRY_ONLY) as the default chain (§2 "TCP-family port")."""
    catch = "BlackHoleCluster" if registry_only else "PassthroughCluster"
    l443 = listener("0.0.0.0_443", "0.0.0.0", 443, [
        tcp_chain(API, match={"server_names": ["api.example.com"]}),
        tcp_chain(WILD, match={"server_names": ["*.example.com"]}),
    ], default=tcp_chain(catch, name="PassthroughFilterChain"), http_inspector=False)
    l443["listener_filters"] = [TLS_INSPECTOR]
    return dump(pod="client-1", listeners=[virtual_outbound(), l443],
                clusters=[_dns(API, "api.example.com"), _dns(WILD, "wild.example.com")])


def _dns(name: str, host: str) -> dict:
    """A ServiceEntry's DNS cluster: STRICT_DNS with the host inline (§7)."""
    c = cluster(name, type_="STRICT_DNS")
    c["load_assignment"] = cla(name, [{"ip": host, "port": 443}])
    return c


def _one(res):
    (a,) = res.answers
    return a


def _chain_hop(a) -> str:
    return next(h.name for h in a.hops if h.kind == "filter_chain")


@pytest.mark.parametrize(("dst", "kw", "cluster"), [
    ("https://api.example.com", {}, API),  # https: TLS, the SNI is the host
    ("203.0.113.7:443", {"sni": "api.example.com"}, API),  # --sni
    ("203.0.113.7:443", {"sni": "API.Example.COM"}, API),  # SNI is matched without case
    ("203.0.113.7:443", {"sni": "www.example.com"}, WILD),  # the wildcard suffix
    ("203.0.113.7:443", {"sni": "a.b.example.com"}, WILD),  # *.example.com covers any depth
])
def test_tls_requests_match_their_server_names_chain(graph_of, dst, kw, cluster):
    g = graph_of(_tls_mesh())
    a = _one(path(g, "client-1", dst, **kw))
    assert a.outcome == "ok" and not a.dead_ends
    assert [c.name for c in a.clusters] == [cluster]
    assert a.endpoints[0].share == pytest.approx(1.0)
    assert a.request["tls"] is True


@pytest.mark.parametrize(("kw", "flag"), [
    ({}, "PassthroughCluster"),  # plain TCP: no SNI, the default chain
    ({"tls": True}, "PassthroughCluster"),  # TLS to an IP: no SNI either
    ({"sni": "other.org"}, "PassthroughCluster"),  # an SNI no chain names
    ({"sni": "example.com"}, "PassthroughCluster"),  # `*.example.com` needs a label before the suffix
])
def test_tls_without_a_matching_name_takes_the_default_chain(graph_of, kw, flag):
    g = graph_of(_tls_mesh())
    a = _one(path(g, "client-1", "203.0.113.7:443", tcp=True, **kw))
    assert _chain_hop(a) == "PassthroughFilterChain"
    assert [d.flag for d in a.dead_ends] == [flag]


def test_registry_only_tls_to_an_unknown_host_is_blackholed(graph_of):
    g = graph_of(_tls_mesh(registry_only=True))
    assert [d.flag for d in _one(path(g, "client-1", "203.0.113.7:443", sni="other.org")).dead_ends] == ["BlackHole"]
    assert not _one(path(g, "client-1", "203.0.113.7:443", sni="api.example.com")).dead_ends


def test_path_and_reach_agree_on_sni_destinations(graph_of):
    g = graph_of(_tls_mesh())
    dests = {(e.destination, e.cluster) for e in reach(g, "client-1").answers[0].entries}
    assert ("api.example.com:443", API) in dests and ("wild.example.com:443", WILD) in dests
    rows = reach_to(g, "api.example.com").rows
    assert [(r.cluster, r.endpoint) for r in rows] == [(API, "api.example.com:443")]
    assert [c.name for c in _one(path(g, "client-1", "https://api.example.com")).clusters] == [API]


def _gateway() -> dict:
    """A Cilium / plain Envoy TLS passthrough gateway: SNI chains, no listener filters at all
    (Envoy injects the tls_inspector, §3), no default chain, a node id outside Istio."""
    gw = listener("tls-passthrough", "0.0.0.0", 8443, [
        tcp_chain("shop", match={"server_names": ["shop.example.com"]}),
        tcp_chain("blog", match={"server_names": ["blog.example.com"], "transport_protocol": "tls"}),
    ], bind=True, http_inspector=False)
    gw.pop("traffic_direction")
    d = dump(pod="gw", listeners=[gw], clusters=[static_cluster("shop", ["10.0.1.1"], 8443),
                                                  static_cluster("blog", ["10.0.1.2"], 8443)])
    next(c for c in d["configs"] if c["@type"].endswith("BootstrapConfigDump"))["bootstrap"]["node"] = {
        "id": "cilium-envoy-x7k2", "cluster": "ingress"}
    return d


def test_gateway_sni_chains_with_an_injected_tls_inspector(graph_of):
    g = graph_of(_gateway())
    shop = _one(path(g, "cilium-envoy-x7k2", "10.96.5.5:8443", sni="shop.example.com"))
    assert [e.address for e in shop.endpoints] == ["10.0.1.1:8443"] and shop.outcome == "ok"
    blog = _one(path(g, "cilium-envoy-x7k2", "10.96.5.5:8443", sni="blog.example.com"))
    assert [e.address for e in blog.endpoints] == ["10.0.1.2:8443"]
    # no chain for other names and no default chain: Envoy closes the connection (§3, §9 NR L4)
    other = _one(path(g, "cilium-envoy-x7k2", "10.96.5.5:8443", sni="x.example.com"))
    assert [(d.flag, d.share) for d in other.dead_ends] == [("NR", 1.0)]
    assert "filter_chain_not_found" in other.dead_ends[0].reason
    # plaintext: no SNI, nothing matches either
    assert [d.flag for d in _one(path(g, "cilium-envoy-x7k2", "10.96.5.5:8443", tcp=True)).dead_ends] == ["NR"]


def test_cli_sni_tls_and_schemes(tmp_path, cli_graph):
    d = tmp_path / "d"
    d.mkdir()
    (d / "client-1.json").write_text(json.dumps(_tls_mesh()))
    graph = cli_graph(d)
    r = runner.invoke(app, ["path", "client-1", "https://api.example.com", *graph, "-o", "json"])
    assert r.exit_code == 0, r.output
    a = json.loads(r.stdout)["answers"][0]
    assert a["request"]["sni"] == "api.example.com" and a["request"]["tls"] is True
    assert [c["name"] for c in a["clusters"]] == [API]
    r = runner.invoke(app, ["path", "client-1", "203.0.113.7:443", "--sni", "www.example.com", *graph])
    assert r.exit_code == 0 and WILD in r.stdout and "tls sni=www.example.com" in r.stdout
    # --tls takes the SNI from the host dialled; tcp:// stays raw (no SNI: the default chain)
    r = runner.invoke(app, ["path", "client-1", "tcp://203.0.113.7:443", *graph])
    assert r.exit_code == 4 and "PassthroughFilterChain" in r.stdout
    r = runner.invoke(app, ["path", "client-1", "gopher://203.0.113.7:443", *graph])
    assert r.exit_code == 2 and "unknown scheme" in r.stderr


# ---------------------------------------------------------------- the sieve, on chain properties
def _chain(i: int, *, port=None, ranges=(), names=(), transport="", alpn=(), source=None, default=False):
    return complete("FilterChain", {"key": f"c{i}", "name": f"c{i}", "index": -1 if default else i,
                                    "is_default": default, "destination_port": port, "prefix_ranges": list(ranges),
                                    "server_names": list(names), "transport_protocol": transport,
                                    "application_protocols": list(alpn), "source_match": jdump(source) if source else None})


def _listener(inspectors=None, names=()):
    return complete("Listener", {"key": "l", "name": "l", "listener_filters": list(names),
                                 "inspectors": jdump(inspectors) if inspectors is not None else None})


def _pick(chains, conn, lst=None):
    got = select_chain(chains, conn, lst or _listener([["tls", None], ["http", None]]))
    return got["name"] if got else None


def test_sieve_destination_port_first_and_no_backtracking():
    chains = [_chain(0, port=8080, transport="tls"), _chain(1), _chain(2, default=True)]
    # the port bucket wins; its chain wants TLS; Envoy does not fall back to the portless chain
    assert _pick(chains, Connection("10.0.0.1", 8080)) == "c2"
    assert _pick(chains, Connection("10.0.0.1", 9090)) == "c1"
    assert _pick(chains[:2], Connection("10.0.0.1", 8080)) is None


def test_sieve_destination_ip_longest_prefix_before_server_names():
    chains = [_chain(0, ranges=["10.0.0.0/8"]), _chain(1, ranges=["10.1.0.0/16"], names=["a.com"]),
              _chain(2, names=["a.com"])]
    tls = dict(transport_protocol="tls", server_name="a.com")
    assert _pick(chains, Connection("10.1.2.3", 443, **tls)) == "c1"
    assert _pick(chains, Connection("10.2.0.1", 443, **tls)) == "c0"  # /8 beats no ranges; no backtrack
    assert _pick(chains, Connection("192.168.0.1", 443, **tls)) == "c2"
    # an IPv6 range never holds an IPv4 address, not even ::/0
    assert _pick([_chain(0, ranges=["::/0"]), _chain(1)], Connection("10.0.0.1", 1)) == "c1"


def test_sieve_transport_then_alpn_in_the_clients_order():
    chains = [_chain(0, transport="tls", alpn=["istio-peer-exchange", "istio"]),
              _chain(1, transport="tls", alpn=["istio-http/1.1", "istio-h2"]),
              _chain(2, transport="tls"), _chain(3, transport="raw_buffer", alpn=["http/1.1", "h2c"]),
              _chain(4, transport="raw_buffer")]
    tls = dict(transport_protocol="tls")
    assert _pick(chains, Connection(None, 1, application_protocols=("istio-http/1.1", "istio"), **tls)) == "c1"
    assert _pick(chains, Connection(None, 1, application_protocols=("istio", "istio-http/1.1"), **tls)) == "c0"
    assert _pick(chains, Connection(None, 1, application_protocols=("h2",), **tls)) == "c2"
    assert _pick(chains, Connection(None, 1, application_protocols=("http/1.1",))) == "c3"
    assert _pick(chains, Connection(None, 1)) == "c4"


def test_what_the_listener_filters_let_the_match_see():
    c = Connection("10.0.0.1", 8080, "a.com", "tls", ("h2",))
    chains = [_chain(0, names=["a.com"])]
    # no tls_inspector but a chain that needs one: Envoy injects it
    assert observe(c, _listener([]), chains).transport_protocol == "tls"
    # a listener that has no chain needing it: no inspector, TLS bytes are raw_buffer, no SNI
    seen = observe(c, _listener([]), [_chain(0)])
    assert (seen.transport_protocol, seen.server_name, seen.application_protocols) == ("raw_buffer", "", ())
    # filter_disabled for the destination port (Istio's virtualInbound disables inspectors per port)
    off = {"or_match": {"rules": [{"destination_port_range": {"start": 8080, "end": 8081}}]}}
    assert observe(c, _listener([["tls", off]]), chains).transport_protocol == "raw_buffer"
    assert observe(Connection("10.0.0.1", 8081, "a.com", "tls"), _listener([["tls", off]]), chains).tls_inspector
    plain = Connection("10.0.0.1", 8080, application_protocols=("http/1.1",))
    assert observe(plain, _listener([["http", None]]), []).application_protocols == ("http/1.1",)
    assert observe(plain, _listener([["http", off]]), []).application_protocols == ()
    assert observe(plain, _listener([["http", {"not_match": off}]]), []).application_protocols == ("http/1.1",)
    # graphs without stored inspectors fall back to the filter names
    assert observe(plain, _listener(None, ["envoy.filters.listener.http_inspector"]), []).http_inspector


def test_sieve_source_fields():
    chains = [_chain(0, source={"source_prefix_ranges": [{"address_prefix": "10.0.0.0", "prefix_len": 8}]}),
              _chain(1, source={"source_type": "SAME_IP_OR_LOOPBACK"}), _chain(2)]
    assert _pick(chains, Connection(None, 1, source_ip="10.9.9.9")) == "c0"
    assert _pick(chains, Connection(None, 1, source_ip="127.0.0.1", local=True)) == "c1"
    assert _pick(chains, Connection(None, 1, source_ip="192.168.1.1")) == "c2"


def test_request_becomes_its_connection():
    assert envoy.Request("1.2.3.4", 443, "h", tls=True, sni="h", alpn=("h2",)).connection() == Connection(
        "1.2.3.4", 443, "h", "tls", ("h2",))
    assert envoy.Request("1.2.3.4", 80, "h").connection() == Connection("1.2.3.4", 80, application_protocols=("http/1.1",))
    assert envoy.Request("1.2.3.4", 80, "h", http=False).connection() == Connection("1.2.3.4", 80)


def test_http_port_listener_still_routes_plain_http(graph_of):
    fq = "web.default.svc.cluster.local"
    g = graph_of(dump(pod="client-1", listeners=[virtual_outbound(), http_listener(80)],
                      route_configs=[route_config("80", [vhost(f"{fq}:80", [fq, "web"], [route(cluster=f"outbound|80||{fq}")])])],
                      clusters=[cluster(f"outbound|80||{fq}")],
                      endpoints=[cla(f"outbound|80||{fq}", [{"ip": "10.1.0.1", "port": 8080}])]))
    a = _one(path(g, "client-1", "10.96.0.5:80", host="web"))
    assert a.outcome == "ok" and _chain_hop(a) == "#0"
    # TLS to an HTTP port: http_inspector reads nothing, the default chain takes it
    assert _chain_hop(_one(path(g, "client-1", "10.96.0.5:80", tls=True, host="web"))) == "PassthroughFilterChain"
