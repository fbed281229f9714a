"""`topo check` on empty route configs, the port-80 ghost host and Sidecar scopes (issue 14,
item 6), and `show endpoints` on clusters with inline load assignments (item 7), on small dumps."""

from __future__ import annotations

import json

from builders import (
    cla,
    cluster,
    dump,
    hcm_chain,
    http_listener,
    listener,
    route,
    route_config,
    static_cluster,
    vhost,
    virtual_outbound,
)
from typer.testing import CliRunner

from topo.cli import app
from topo.queries.check import check

runner = CliRunner()
API = "api.demo.svc.cluster.local"
WEB = "web.demo.svc.cluster.local"


def _findings(g, kind):
    return [f for f in check(g).findings if f.kind == kind]


def test_a_route_config_without_virtual_hosts_is_an_error(graph_of):
    d = dump(pod="client-1", ns="demo", listeners=[virtual_outbound(), http_listener(9090)],
             route_configs=[route_config("9090", [])])
    (f,) = _findings(graph_of(d), "no_virtual_hosts")
    assert (f.severity, f.flag, f.response) == ("error", "NR", "404")
    assert "0.0.0.0_9090" in f.message and "route config 9090" in f.message and "404 NR" in f.message


def _ghost(subset: str = "") -> dict:
    """Istio's port-80 ghost: VS `api` (hosts [api]) rendered into route config 80 although the
    service `api` has only port 8080; the ghost vhost names `outbound|80|<subset>|api…`, which does
    not exist, while the DestinationRule's subset exists on 8080."""
    sub = subset
    ghost = f"outbound|80|{sub}|{API}"
    real = f"outbound|8080|{sub}|{API}"
    vs = {"filter_metadata": {"istio": {"config": "/apis/networking.istio.io/v1/namespaces/demo/virtual-service/api"}}}
    r80 = route(cluster=ghost, name="api-default")
    r80["metadata"] = vs
    r8080 = route(cluster=real, name="api-default")
    r8080["metadata"] = vs
    return dump(pod="client-1", ns="demo", listeners=[virtual_outbound(), http_listener(80), http_listener(8080)],
                route_configs=[route_config("80", [vhost(f"{API}:80", [API], [r80]),
                                                   vhost(f"{WEB}:80", [WEB, "web"], [route(cluster=f"outbound|80||{WEB}")])]),
                               route_config("8080", [vhost(f"{API}:8080", [API, "api"], [r8080])])],
                clusters=[cluster(real), cluster(f"outbound|8080||{API}"), cluster(f"outbound|80||{WEB}")],
                endpoints=[cla(real, [{"ip": "10.244.0.12", "port": 8080}]),
                           cla(f"outbound|8080||{API}", [{"ip": "10.244.0.12", "port": 8080}]),
                           cla(f"outbound|80||{WEB}", [{"ip": "10.244.0.11", "port": 8080}])])


def test_the_port80_ghost_host_is_named_for_what_it_is(graph_of):
    g = graph_of(_ghost())
    (m,) = _findings(g, "missing_cluster")
    assert f"outbound|80||{API}" in m.message
    assert m.details == [f"service {API} has no port 80 (its ports: 8080), while its cluster exists on port 8080; "
                         "Istio renders every VirtualService into route config 80 and names the destination with the "
                         "listener's port 80 (the port-80 ghost host)"]
    (gh,) = _findings(g, "port80_ghost_vhost")
    assert (gh.severity, gh.flag, gh.objects) == ("warning", "NC", {"route_config": "80", "vhost": f"{API}:80"})
    assert "VirtualService demo/api" in gh.message and "no port 80 (its ports: 8080)" in gh.message


def test_a_ghost_subset_is_not_blamed_on_the_destination_rule(graph_of):
    (m,) = _findings(graph_of(_ghost("v1")), "missing_cluster")
    assert "no DestinationRule" not in " ".join(m.details)
    assert m.details[0].startswith(f"service {API} has no port 80 (its ports: 8080), while subset 'v1' exists on "
                                   "port 8080")
    # a subset that no DestinationRule defines on any port still says so
    d = _ghost("v1")
    rc80 = next(c for c in d["configs"] if c["@type"].endswith("RoutesConfigDump"))["dynamic_route_configs"][0]
    rc80["route_config"]["virtual_hosts"][1]["routes"][0]["route"]["cluster"] = f"outbound|80|v9|{WEB}"
    f = next(f for f in _findings(graph_of(d), "missing_cluster") if "v9" in f.message)
    assert "no DestinationRule for web.demo defines that subset" in f.details[0]


def test_a_service_outside_a_sidecars_egress_scope(graph_of):
    other = "other.demo.svc.cluster.local"

    def sidecar(pod: str, ip: str, services: list[str]) -> dict:
        return dump(pod=pod, ns="demo", ip=ip, listeners=[virtual_outbound(), http_listener(80)],
                    route_configs=[route_config("80", [vhost(f"{s}:80", [s], [route(cluster=f"outbound|80||{s}")])
                                                       for s in services])],
                    clusters=[cluster(f"outbound|80||{s}") for s in services],
                    endpoints=[cla(f"outbound|80||{s}", [{"ip": "10.244.1.1", "port": 8080}]) for s in services])

    g = graph_of(sidecar("client-1", "10.0.0.1", [WEB]), sidecar("web-1", "10.0.0.2", [WEB, other]))
    (f,) = _findings(g, "service_not_in_scope")
    assert f.pods == ["demo/client-1"] and f.objects == {"service": other, "namespace": "demo"}
    assert f.severity == "info" and "in scope for: demo/web-1" in f.details


def test_show_endpoints_lists_only_the_endpoint_section(tmp_path, cli_graph):
    """istioctl's EDS table prints the EndpointsConfigDump; a STATIC or DNS cluster's inline
    load_assignment that the section leaves out is not a row."""
    fq = "svc.demo.svc.cluster.local"
    d = dump(pod="client-1", ns="demo", listeners=[virtual_outbound()],
             clusters=[cluster(f"outbound|80||{fq}"), static_cluster("agent", ["127.0.0.1"], 15020),
                       static_cluster("outbound|443||ext.example.com", ["ext.example.com"], 443)],
             endpoints=[cla(f"outbound|80||{fq}", [{"ip": "10.1.0.1", "port": 8080}])])
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "client-1.json").write_text(json.dumps(d))
    graph = cli_graph(tmp_path / "d")
    out = runner.invoke(app, ["show", "endpoints", "client-1", *graph])
    assert out.exit_code == 0, out.output
    assert out.stdout == ("NAME              STATUS      LOCALITY     CLUSTER\n"
                          f"10.1.0.1:8080     HEALTHY     r1/z1        outbound|80||{fq}\n")
    # the /clusters view (--outlier) lists every cluster's hosts, as Envoy's /clusters does
    outlier = runner.invoke(app, ["show", "endpoints", "client-1", "--outlier", *graph]).stdout
    assert "127.0.0.1:15020" in outlier and "ext.example.com:443" in outlier


def test_show_all_prints_istioctls_bootstrap_and_secret_sections(tmp_path, cli_graph):
    d = dump(pod="client-1", ns="demo", listeners=[virtual_outbound(), listener("l", "0.0.0.0", 80, [hcm_chain("80")])],
             route_configs=[route_config("80", [])], istio_version="1.24.1")
    boot = next(c for c in d["configs"] if c["@type"].endswith("BootstrapConfigDump"))
    boot["bootstrap"]["node"]["metadata"]["ISTIO_PROXY_SHA"] = "istio-proxy:a1b2c3"
    boot["bootstrap"]["node"]["user_agent_build_version"] = {
        "version": {"major_number": 1, "minor_number": 32, "patch": 2},
        "metadata": {"revision.status": "Clean", "build.type": "RELEASE", "ssl.version": "BoringSSL"}}
    d["configs"].append({"@type": "type.googleapis.com/envoy.admin.v3.SecretsConfigDump", "dynamic_active_secrets": [
        {"name": "default", "secret": {"name": "default", "tls_certificate": {"private_key": {"inline_bytes": "c2VjcmV0"}}}},
        {"name": "ROOTCA", "secret": {"name": "ROOTCA"}}]})
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "client-1.json").write_text(json.dumps(d))
    out = runner.invoke(app, ["show", "all", "client-1", *cli_graph(tmp_path / "d")])
    assert out.exit_code == 0, out.output
    assert out.stdout.startswith("Istio Version:       1.24.1\nIstio Proxy Version: a1b2c3\n"
                                 "Envoy Version:       1.32.2/Clean/RELEASE/BoringSSL\n\n")
    assert "\n2 active or warming secrets (topo stores no secret" in out.stdout
    assert "c2VjcmV0" not in out.stdout
