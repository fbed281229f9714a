"""Invariants of the dumps that topo.meshgen writes (no dependency on the rest of topo)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from topo.meshgen import Renderer, demo_mesh, random_mesh, render_dump, render_dump_json, write_bundle
from topo.meshgen.__main__ import main as meshgen_main

CLIENT = "integration-86924652-bfsfs"
PUBLICTEST = "publictest.istio-demo.svc.cluster.local"
EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "istio-demo"
ORDER = ["BootstrapConfigDump", "ClustersConfigDump", "EndpointsConfigDump", "ListenersConfigDump",
         "ScopedRoutesConfigDump", "RoutesConfigDump", "SecretsConfigDump"]


# ---------------------------------------------------------------------------------------------- helpers

def sections(dump: dict) -> dict[str, dict]:
    return {c["@type"].rsplit(".", 1)[-1]: c for c in dump["configs"]}


def listeners(dump: dict) -> dict[str, dict]:
    return {x["name"]: x["active_state"]["listener"] for x in sections(dump)["ListenersConfigDump"]["dynamic_listeners"]}


def route_configs(dump: dict) -> dict[str, dict]:
    return {x["route_config"]["name"]: x["route_config"]
            for x in sections(dump)["RoutesConfigDump"]["dynamic_route_configs"]}


def clusters(dump: dict) -> dict[str, dict]:
    c = sections(dump)["ClustersConfigDump"]
    return {x["cluster"]["name"]: x["cluster"] for x in c["static_clusters"] + c["dynamic_active_clusters"]}


def endpoint_configs(dump: dict) -> dict[str, dict]:
    e = sections(dump)["EndpointsConfigDump"]
    return {x["endpoint_config"]["cluster_name"]: x["endpoint_config"]
            for x in e["static_endpoint_configs"] + e["dynamic_endpoint_configs"]}


def walk(o):
    if isinstance(o, dict):
        yield o
        for v in o.values():
            yield from walk(v)
    elif isinstance(o, list):
        for v in o:
            yield from walk(v)


def action_clusters(action: dict) -> list[str]:
    if "cluster" in action:
        return [action["cluster"]]
    return [c["name"] for c in action.get("weighted_clusters", {}).get("clusters", [])]


def lb_endpoints(cla: dict) -> list[tuple[str, int, str, int]]:
    out = []
    for g in cla.get("endpoints", []):
        for e in g["lb_endpoints"]:
            sa = e["endpoint"]["address"].get("socket_address") or {"address": "", "port_value": 0}  # pipes
            out.append((sa["address"], sa["port_value"], e.get("health_status", ""), g.get("priority", 0)))
    return out


def dangling(dump: dict) -> list[tuple[str, str]]:
    """RDS names and cluster names that a listener or route refers to but the dump does not hold."""
    ls, rcs, cs = listeners(dump), route_configs(dump), clusters(dump)
    inline = [x["route_config"] for x in sections(dump)["RoutesConfigDump"]["static_route_configs"]]
    out = []
    for o in walk(list(ls.values())):
        if "route_config_name" in o and o["route_config_name"] not in rcs:
            out.append(("rds", o["route_config_name"]))
        if o.get("@type", "").endswith("TcpProxy"):
            out += [("tcp_proxy", n) for n in action_clusters(o) if n not in cs]
    for o in walk(list(rcs.values()) + inline + list(ls.values())):
        if "domains" in o and "routes" in o:
            for r in o["routes"]:
                out += [("route", n) for n in action_clusters(r.get("route", {})) if n not in cs]
    return out


@pytest.fixture(scope="module")
def demo():
    return demo_mesh()


@pytest.fixture(scope="module")
def demo_dump(demo):
    return render_dump(demo, CLIENT)


@pytest.fixture(scope="module")
def rnd():
    return random_mesh(services=30, pods=120, workloads=45, seed=1)


@pytest.fixture(scope="module")
def rnd_dumps(rnd):
    r = Renderer(rnd)
    return {p.name: r.render(p) for _w, p in rnd.pods()}


# ---------------------------------------------------------------------------------------------- determinism

def test_render_is_byte_identical_and_envoy_formatted(demo):
    a = render_dump_json(demo, CLIENT)
    b = render_dump_json(demo_mesh(), CLIENT)
    assert a == b
    assert a == json.dumps(json.loads(a), indent=1)  # Envoy's admin formatting, nothing else


def test_random_mesh_same_seed_same_bytes_other_seed_differs(tmp_path):
    m1 = random_mesh(services=12, pods=30, workloads=15, seed=7)
    m2 = random_mesh(services=12, pods=30, workloads=15, seed=7)
    m3 = random_mesh(services=12, pods=30, workloads=15, seed=8)
    write_bundle(m1, tmp_path / "a")
    write_bundle(m2, tmp_path / "b")
    write_bundle(m3, tmp_path / "c")
    files_a = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert files_a == sorted(p.name for p in (tmp_path / "b").iterdir())
    for name in files_a:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name
    files_c = sorted(p.name for p in (tmp_path / "c").iterdir())
    assert files_c != files_a or any((tmp_path / "a" / n).read_bytes() != (tmp_path / "c" / n).read_bytes()
                                     for n in files_a)


def test_cached_renderer_matches_fresh_render(rnd):
    r = Renderer(rnd)
    pods = [p for _w, p in rnd.pods()]
    for p in pods[:5] + pods[-3:]:
        assert r.render_json(p) == render_dump_json(rnd, p)


def test_example_bundle_is_what_the_generator_writes(tmp_path):
    assert EXAMPLE.is_dir(), "run: python -m topo.meshgen demo --out examples/istio-demo"
    write_bundle(demo_mesh(), tmp_path)
    fresh = sorted(p.name for p in tmp_path.iterdir())
    assert fresh == sorted(p.name for p in EXAMPLE.glob("*.json"))
    for name in fresh:
        assert (EXAMPLE / name).read_bytes() == (tmp_path / name).read_bytes(), f"examples/istio-demo/{name} is stale"
    assert sum((EXAMPLE / n).stat().st_size for n in fresh) < 1_000_000


# ---------------------------------------------------------------------------------------------- dump shape

def test_config_dump_layout(demo_dump):
    assert list(demo_dump) == ["configs"]
    assert [c["@type"].rsplit(".", 1)[-1] for c in demo_dump["configs"]] == ORDER
    for c in demo_dump["configs"]:
        assert c["@type"].startswith("type.googleapis.com/envoy.admin.v3.")
    s = sections(demo_dump)
    assert "version_info" not in s["RoutesConfigDump"]
    for x in s["ListenersConfigDump"]["dynamic_listeners"]:
        assert set(x) == {"name", "active_state"}
        assert set(x["active_state"]) == {"version_info", "listener", "last_updated"}
    for x in s["ClustersConfigDump"]["dynamic_active_clusters"]:
        assert x["cluster"]["@type"] == "type.googleapis.com/envoy.config.cluster.v3.Cluster"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", x["last_updated"])


def test_keys_are_snake_case(demo_dump):
    camel = re.compile(r"^[a-z]+[A-Z]")
    node_meta = sections(demo_dump)["BootstrapConfigDump"]["bootstrap"]["node"]["metadata"]
    skip = {id(o) for o in walk(node_meta)}
    bad = {k for o in walk(demo_dump) if id(o) not in skip for k in o if camel.match(k)}
    assert bad <= {"tlsMode"}  # a metadata (Struct) key that Istio itself spells so


def test_bootstrap_node(demo_dump):
    b = sections(demo_dump)["BootstrapConfigDump"]["bootstrap"]
    node = b["node"]
    assert node["id"] == f"sidecar~10.244.0.47~{CLIENT}.istio-demo~istio-demo.svc.cluster.local"
    md = node["metadata"]
    assert md["NAME"] == CLIENT and md["NAMESPACE"] == "istio-demo" and md["INSTANCE_IPS"] == "10.244.0.47"
    assert md["WORKLOAD_NAME"] == "integration" and md["ISTIO_VERSION"] == "1.22.3"
    assert md["CLUSTER_ID"] == "Kubernetes" and md["LABELS"]["app"] == "integration"
    assert {c["name"] for c in b["static_resources"]["clusters"]} >= {"prometheus_stats", "agent", "sds-grpc",
                                                                       "xds-grpc"}
    ports = {lst["address"]["socket_address"]["port_value"] for lst in b["static_resources"]["listeners"]}
    assert ports == {15090, 15021}


def test_no_key_material_anywhere(tmp_path):
    write_bundle(demo_mesh(), tmp_path / "demo")
    write_bundle(random_mesh(services=10, pods=20, seed=3), tmp_path / "rnd")
    for f in list((tmp_path / "demo").iterdir()) + list((tmp_path / "rnd").iterdir()):
        text = f.read_text()
        assert "PRIVATE KEY" not in text and "private_key" not in text, f.name


# ---------------------------------------------------------------------------------------------- the demo path

def test_demo_publictest_listener_is_sniffed_vip_listener(demo_dump):
    ls = listeners(demo_dump)
    lst = ls["10.1.122.241_9000"]
    assert lst["address"]["socket_address"] == {"address": "10.1.122.241", "port_value": 9000}
    assert lst["bind_to_port"] is False and lst["traffic_direction"] == "OUTBOUND"
    [chain] = lst["filter_chains"]
    assert chain["filter_chain_match"] == {"transport_protocol": "raw_buffer", "application_protocols": ["http/1.1", "h2c"]}
    hcm = chain["filters"][-1]["typed_config"]
    assert hcm["rds"]["route_config_name"] == f"{PUBLICTEST}:9000"
    tcp = lst["default_filter_chain"]["filters"][-1]["typed_config"]
    assert tcp["cluster"] == f"outbound|9000||{PUBLICTEST}"
    assert "0.0.0.0_9000" not in ls
    vo = ls["virtualOutbound"]
    assert vo["use_original_dst"] is True and vo["address"]["socket_address"]["port_value"] == 15001
    assert [c["name"] for c in vo["filter_chains"]] == ["virtualOutbound-blackhole", "virtualOutbound-catchall-tcp"]


def test_demo_sniffed_route_config_splits_90_10(demo_dump):
    rc = route_configs(demo_dump)[f"{PUBLICTEST}:9000"]
    [vh] = rc["virtual_hosts"]  # no allow_any in a sniffed config
    assert vh["name"] == f"{PUBLICTEST}:9000" and vh["domains"] == ["*"]
    [route] = vh["routes"]
    assert route["name"] == "publictest-route" and route["match"] == {"prefix": "/"}
    wc = route["route"]["weighted_clusters"]
    assert "total_weight" not in wc
    assert [(c["name"], c["weight"]) for c in wc["clusters"]] == [
        (f"outbound|9000|v1|{PUBLICTEST}", 90), (f"outbound|9000|v2|{PUBLICTEST}", 10)]
    assert route["metadata"]["filter_metadata"]["istio"]["config"] == \
        "/apis/networking.istio.io/v1/namespaces/istio-demo/virtual-service/publictest"


def test_demo_subset_endpoints(demo_dump):
    eps = endpoint_configs(demo_dump)
    v1 = lb_endpoints(eps[f"outbound|9000|v1|{PUBLICTEST}"])
    v2 = lb_endpoints(eps[f"outbound|9000|v2|{PUBLICTEST}"])
    assert len(v1) == 3 and ("10.244.0.53", 9000, "HEALTHY", 0) in v1
    assert len(v2) == 1 and v2[0][:3] == ("10.244.0.61", 9000, "HEALTHY")
    assert len(lb_endpoints(eps[f"outbound|9000||{PUBLICTEST}"])) == 4
    cs = clusters(demo_dump)
    v1c = cs[f"outbound|9000|v1|{PUBLICTEST}"]
    assert v1c["type"] == "EDS" and v1c["lb_policy"] == "LEAST_REQUEST"
    assert v1c["eds_cluster_config"]["service_name"] == v1c["name"]
    assert v1c["metadata"]["filter_metadata"]["istio"]["subset"] == "v1"
    assert "locality_weighted_lb_config" not in v1c["common_lb_config"]  # one locality
    for cla in eps.values():
        assert cla["policy"] == {"overprovisioning_factor": 140}


def test_demo_http_and_tcp_listeners(demo_dump):
    ls, rcs = listeners(demo_dump), route_configs(demo_dump)
    http = ls["0.0.0.0_8080"]
    assert http["default_filter_chain"]["name"] == "PassthroughFilterChain"
    assert http["filter_chains"][0]["filters"][-1]["typed_config"]["rds"]["route_config_name"] == "8080"
    assert any(f["name"] == "envoy.filters.listener.http_inspector" for f in http["listener_filters"])
    rc = rcs["8080"]
    assert rc["ignore_port_in_host_matching"] is True
    vh = rc["virtual_hosts"][0]
    assert vh["name"] == "integration.istio-demo.svc.cluster.local:8080"
    assert set(vh["domains"]) == {"integration.istio-demo.svc.cluster.local", "integration", "integration.istio-demo",
                                  "integration.istio-demo.svc", "10.1.45.17"}
    assert vh["routes"][0]["name"] == "default"
    assert rc["virtual_hosts"][-1]["name"] == "allow_any"
    assert rc["virtual_hosts"][-1]["routes"][0]["route"]["cluster"] == "PassthroughCluster"
    tcp = ls["10.1.200.9_3306"]
    [chain] = tcp["filter_chains"]
    assert "filter_chain_match" not in chain and "default_filter_chain" not in tcp
    assert chain["filters"][-1]["typed_config"]["cluster"] == "outbound|3306||mysql.istio-demo.svc.cluster.local"


def test_demo_inbound(demo_dump):
    vi = listeners(demo_dump)["virtualInbound"]
    assert vi["address"]["socket_address"]["port_value"] == 15006
    names = {c["name"] for c in vi["filter_chains"]}
    assert {"virtualInbound-blackhole", "virtualInbound", "virtualInbound-catchall-http", "0.0.0.0_8080"} <= names
    port_chains = [c for c in vi["filter_chains"] if c["name"] == "0.0.0.0_8080"]
    assert all(c["filter_chain_match"]["destination_port"] == 8080 for c in port_chains)
    rc = port_chains[0]["filters"][-1]["typed_config"]["route_config"]
    assert rc["name"] == "inbound|8080||" and rc["virtual_hosts"][0]["routes"][0]["route"]["cluster"] == "inbound|8080||"
    assert clusters(demo_dump)["inbound|8080||"]["type"] == "ORIGINAL_DST"


def test_demo_references_resolve(demo):
    for _w, p in demo.pods():
        assert dangling(render_dump(demo, p)) == [], p.name


def test_pods_of_one_workload_differ_only_in_bootstrap(demo, rnd, rnd_dumps):
    v1 = next(w for w in demo.workloads if w.name == "publictest-v1")
    dumps = [render_dump(demo, p) for p in v1.pods]
    assert len(dumps) == 3
    boots = {json.dumps(d["configs"][0]) for d in dumps}
    assert len(boots) == 3
    assert all(d["configs"][1:] == dumps[0]["configs"][1:] for d in dumps)
    for w in rnd.workloads:  # zonal workloads (the default): the same holds in random meshes
        rest = {json.dumps(rnd_dumps[p.name]["configs"][1:]) for p in w.pods}
        assert len(rest) == 1, w.name


# ---------------------------------------------------------------------------------------------- random meshes

def test_random_mesh_references_resolve(rnd, rnd_dumps):
    for name, d in list(rnd_dumps.items())[::7]:
        assert dangling(d) == [], name
        for rc in route_configs(d).values():
            doms = [x for vh in rc["virtual_hosts"] for x in vh["domains"]]
            assert len(doms) == len(set(doms)), rc["name"]  # Envoy would reject duplicates


def test_random_mesh_has_every_feature(rnd_dumps):
    unhealthy = priority = weighted = header = headless = sni = dns = False
    for d in rnd_dumps.values():
        for cla in endpoint_configs(d).values():
            for _ip, _port, health, prio in lb_endpoints(cla):
                unhealthy |= health == "UNHEALTHY"
                priority |= prio > 0
        for rc in route_configs(d).values():
            for vh in rc["virtual_hosts"]:
                for r in vh["routes"]:
                    wc = r.get("route", {}).get("weighted_clusters")
                    if wc:
                        weighted = True
                        assert "total_weight" not in wc and all(c["weight"] > 0 for c in wc["clusters"])
                    header |= any("string_match" in h for h in r["match"].get("headers", []))
        for name, c in clusters(d).items():
            if name.startswith("outbound|") and c.get("type") == "ORIGINAL_DST":
                headless = True
                assert c["lb_policy"] == "CLUSTER_PROVIDED"
            if c.get("type") == "STRICT_DNS":
                dns = "load_assignment" in c
        sni |= any("server_names" in fc.get("filter_chain_match", {})
                   for lst in listeners(d).values() for fc in lst["filter_chains"])
    assert unhealthy and priority and weighted and header and headless and sni and dns


def test_random_priorities_follow_locality(rnd, rnd_dumps):
    # the client's own zone is priority 0; failover clusters carry locality-weighted LB config
    for w in rnd.workloads[:10]:
        p = w.pods[0]
        d = rnd_dumps[p.name]
        for name, cla in endpoint_configs(d).items():
            groups = cla.get("endpoints", [])
            if any(g.get("priority") for g in groups):
                prios = {(g["locality"].get("region"), g["locality"].get("zone")): g.get("priority", 0) for g in groups}
                own = (p.locality.region, p.locality.zone)
                if own in prios:
                    assert prios[own] == 0
                assert sorted(set(prios.values())) == list(range(len(set(prios.values()))))
                assert "locality_weighted_lb_config" in clusters(d)[name]["common_lb_config"]
                for g in groups:
                    assert g["load_balancing_weight"] == len(g["lb_endpoints"])


def test_random_headless_gets_one_listener_per_pod(rnd, rnd_dumps):
    d = next(iter(rnd_dumps.values()))
    ls = listeners(d)
    for svc in rnd.services:
        if not svc.headless:
            continue
        pods = [p for w in rnd.workloads if w.namespace == svc.namespace and svc.name in w.services for p in w.pods]
        for sp in svc.ports:
            for p in pods:
                lst = ls[f"{p.ip}_{sp.port}"]
                assert lst["address"]["socket_address"]["address"] == p.ip


def test_lean_detail_keeps_topology(demo):
    lean = render_dump(demo, CLIENT, detail="lean")
    full = render_dump(demo, CLIENT)
    assert set(listeners(lean)) == set(listeners(full))
    assert set(clusters(lean)) == set(clusters(full))
    assert route_configs(lean)[f"{PUBLICTEST}:9000"]["virtual_hosts"][0]["routes"][0]["route"]["weighted_clusters"] == \
        route_configs(full)[f"{PUBLICTEST}:9000"]["virtual_hosts"][0]["routes"][0]["route"]["weighted_clusters"]
    assert dangling(lean) == []


# ---------------------------------------------------------------------------------------------- kubectl files and CLI

def test_kubectl_files(tmp_path):
    m = random_mesh(services=20, pods=40, seed=2)
    res = write_bundle(m, tmp_path)
    assert res["dumps"] == 40
    pods = json.loads((tmp_path / "pods.json").read_text())
    svcs = json.loads((tmp_path / "services.json").read_text())
    assert pods["kind"] == svcs["kind"] == "List" and pods["apiVersion"] == "v1"
    assert len(pods["items"]) == 40
    for it in pods["items"]:
        assert it["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet"
        assert re.fullmatch(r"[a-z0-9]{5,10}", it["metadata"]["ownerReferences"][0]["name"].rsplit("-", 1)[1])
        assert "istio-proxy" in [c["name"] for c in it["spec"]["containers"]]
        assert it["status"]["phase"] == "Running" and it["status"]["podIPs"] == [{"ip": it["status"]["podIP"]}]
        assert {"type": "Ready", "status": "True"}.items() <= next(
            c for c in it["status"]["conditions"] if c["type"] == "Ready").items()
        assert (tmp_path / f"{it['metadata']['name']}.json").is_file()
    by_name = {s["metadata"]["name"]: s for s in svcs["items"]}
    for svc in m.services:
        if svc.kind != "k8s":
            assert svc.name not in by_name
            continue
        spec = by_name[svc.name]["spec"]
        assert spec["clusterIP"] == (svc.vip or "None")
        for sp, port in zip(svc.ports, spec["ports"], strict=True):
            assert port["port"] == sp.port and port["targetPort"] == sp.target
            assert port.get("name") == (sp.name or None)


def test_cli(tmp_path, capsys):
    assert meshgen_main(["demo", "--out", str(tmp_path / "demo")]) == 0
    assert (tmp_path / "demo" / f"{CLIENT}.json").is_file()
    assert meshgen_main(["random", "--services", "8", "--pods", "12", "--workloads", "9", "--seed", "3",
                         "--out", str(tmp_path / "rnd")]) == 0
    assert len(list((tmp_path / "rnd").glob("*.json"))) == 14
    assert meshgen_main(["random", "--services", "8", "--pods", "2", "--workloads", "5", "--out",
                         str(tmp_path / "bad")]) == 2
    out = capsys.readouterr().out
    assert "wrote 6 dumps" in out and "wrote 12 dumps" in out


def test_weight_zero_leg_is_dropped_and_registry_only_blocks():
    m = demo_mesh()
    m.virtual_services[0].http[0].route[1].weight = 0  # v1 100 / v2 0
    m.virtual_services[0].http[0].route[0].weight = 100
    m.outbound_traffic_policy = "REGISTRY_ONLY"
    d = render_dump(m, CLIENT)
    [route] = route_configs(d)[f"{PUBLICTEST}:9000"]["virtual_hosts"][0]["routes"]
    assert route["route"]["cluster"] == f"outbound|9000|v1|{PUBLICTEST}" and "weighted_clusters" not in route["route"]
    assert route["decorator"]["operation"] == f"{PUBLICTEST}:9000/*"
    last = route_configs(d)["8080"]["virtual_hosts"][-1]
    assert last["name"] == "block_all" and last["routes"][0]["direct_response"] == {"status": 502}
    catchall = listeners(d)["virtualOutbound"]["filter_chains"][1]
    assert catchall["filters"][-1]["typed_config"]["cluster"] == "BlackHoleCluster"
