"""The transform on small dumps built here: shapes, dialects, identity, bad input."""

from __future__ import annotations

import copy

import orjson
import pytest
from builders import ADMIN, cla, cluster, dump, simple_mesh_dump, to_camel

from topo.ingest.dump import DumpError
from topo.ingest.transform import transform_bytes, transform_dump
from topo.model.names import parse_cluster_name


def rows_of(doc, name="x.json", clusters=None):
    return transform_bytes(orjson.dumps(doc), name, orjson.dumps(clusters) if clusters is not None else None)


def test_counts_and_identity():
    r = rows_of(simple_mesh_dump(pod="client-abc"))
    assert r.pod_id == "default/client-abc"
    s = r.summary
    assert (s.listeners, s.route_configs, s.clusters, s.endpoint_configs, s.lb_endpoints) == (2, 1, 5, 3, 6)
    pod = r.rows.nodes["Pod"]["default/client-abc"]
    assert pod["ip"] == "10.0.0.1" and pod["workload"] == "client" and pod["istio_version"] == "1.22.3"
    # one ProxyConfig, reached from the pod
    assert len(r.rows.nodes["ProxyConfig"]) == 1
    assert list(r.rows.rels["USES_CONFIG"])[0][0] == "default/client-abc"


def test_camel_case_and_crlf_give_the_same_rows():
    doc = simple_mesh_dump()
    a = rows_of(doc)
    b = rows_of(to_camel(doc))
    crlf = orjson.dumps(doc, option=orjson.OPT_INDENT_2).replace(b"\n", b"\r\n")
    c = transform_bytes(crlf, "x.json")
    assert a.rows.nodes == b.rows.nodes == c.rows.nodes
    assert a.rows.rels == b.rows.rels == c.rows.rels


def test_labels_survive_camel_conversion():
    doc = to_camel(dump(pod="p-1", labels={"app": "p", "myLabel": "x", "security.istio.io/tlsMode": "istio"}))
    r = rows_of(doc)
    labels = orjson.loads(r.rows.nodes["Pod"]["default/p-1"]["labels"])
    assert labels == {"app": "p", "myLabel": "x", "security.istio.io/tlsMode": "istio"}


def test_warming_draining_and_error_states_are_recorded():
    doc = simple_mesh_dump()
    lds = next(c for c in doc["configs"] if c["@type"].endswith("ListenersConfigDump"))
    warm = {"name": "0.0.0.0_9999", "address": {"socket_address": {"address": "0.0.0.0", "port_value": 9999}}}
    lds["dynamic_listeners"].append({"name": "0.0.0.0_9999", "warming_state": {"listener": warm}})
    lds["dynamic_listeners"].append({"name": "bad", "error_state": {"details": "rejected: overlapping chains",
                                                                     "failed_configuration": {"name": "bad"}}})
    cds = next(c for c in doc["configs"] if c["@type"].endswith("ClustersConfigDump"))
    cds["dynamic_warming_clusters"] = [{"cluster": cluster("outbound|1||warm.default.svc.cluster.local")}]
    r = rows_of(doc)
    states = {l["name"]: (l["state"], l["error"]) for l in r.rows.nodes["Listener"].values()}
    assert states["0.0.0.0_9999"] == ("warming", "")
    assert states["bad"] == ("error", "rejected: overlapping chains")
    cl = {c["name"]: c["state"] for c in r.rows.nodes["Cluster"].values()}
    assert cl["outbound|1||warm.default.svc.cluster.local"] == "warming"
    # a warming listener takes no hand-off
    handoff_dsts = {k[1] for k in r.rows.rels["HANDS_OFF"]}
    warm_key = next(k for k, l in r.rows.nodes["Listener"].items() if l["name"] == "0.0.0.0_9999")
    assert warm_key not in handoff_dsts


def test_unknown_type_is_skipped_with_a_note():
    doc = simple_mesh_dump()
    doc["configs"].append({"@type": "type.googleapis.com/acme.mesh.v1.Thing", "x": 1})
    r = rows_of(doc)
    assert any("acme.mesh.v1.Thing" in n for n in r.notes)


def test_v2alpha_dump_is_translated():
    doc = simple_mesh_dump()
    v2 = copy.deepcopy(doc)
    for c in v2["configs"]:
        c["@type"] = c["@type"].replace("envoy.admin.v3.", "envoy.admin.v2alpha.")
        if c["@type"].endswith("ListenersConfigDump"):
            dl = c.pop("dynamic_listeners")
            c["dynamic_active_listeners"] = [{"listener": d["active_state"]["listener"]} for d in dl]
            for item in c["dynamic_active_listeners"]:
                for fc in item["listener"]["filter_chains"] + [item["listener"].get("default_filter_chain", {"filters": []})]:
                    for f in fc["filters"]:
                        cfg = f.pop("typed_config")
                        cfg.pop("@type")
                        f["config"] = cfg
                        f["name"] = {"envoy.filters.network.http_connection_manager": "envoy.http_connection_manager",
                                     "envoy.filters.network.tcp_proxy": "envoy.tcp_proxy"}[f["name"]]
    a, b = rows_of(doc), rows_of(v2)
    assert b.api == "v2"
    assert b.summary.listeners == a.summary.listeners == 2
    # same chain terminals and references after translation
    term = lambda r: sorted((c["terminal"], c["rds_name"], c["tcp_clusters"]) for c in r.rows.nodes["FilterChain"].values())  # noqa: E731
    assert term(a) == term(b)
    assert len(b.rows.rels["USES_ROUTE_CONFIG"]) == len(a.rows.rels["USES_ROUTE_CONFIG"]) == 1


def test_clusters_json_is_an_endpoint_source_without_eds():
    doc = simple_mesh_dump()
    doc["configs"] = [c for c in doc["configs"] if not c["@type"].endswith("EndpointsConfigDump")]
    status = {"cluster_statuses": [{"name": "outbound|8080|v1|svc.default.svc.cluster.local", "host_statuses": [
        {"address": {"socket_address": {"address": "10.1.0.9", "port_value": 8080}},
         "health_status": {"eds_health_status": "HEALTHY"}, "weight": 1},
        {"address": {"socket_address": {"address": "10.1.0.8", "port_value": 8080}},
         "health_status": {"failed_outlier_check": True, "eds_health_status": "HEALTHY"}, "weight": 1},
    ]}]}
    r = rows_of(doc, clusters=status)
    eps = {e["address"]: e["health"] for e in r.rows.nodes["Endpoint"].values()}
    assert eps == {"10.1.0.9:8080": "HEALTHY", "10.1.0.8:8080": "UNHEALTHY"}
    noeds = [c for c in r.rows.nodes["Cluster"].values() if c["name"].startswith("outbound|8080|v2")]
    assert noeds and noeds[0]["has_endpoints_info"] is False


def test_node_without_identity_takes_the_file_name():
    doc = simple_mesh_dump()
    doc["configs"] = [c for c in doc["configs"] if not c["@type"].endswith("BootstrapConfigDump")]
    r = rows_of(doc, name="/tmp/bundle/reviews-v1-abc.json")
    assert r.pod_id == "reviews-v1-abc"


def test_content_addressing_is_independent_of_the_pod():
    a = rows_of(simple_mesh_dump(pod="a-1"))
    b = rows_of(simple_mesh_dump(pod="b-2"))
    for label in ("Listener", "RouteConfig", "Cluster", "Endpoint", "ProxyConfig"):
        assert set(a.rows.nodes[label]) == set(b.rows.nodes[label])


def test_endpoint_fields():
    doc = dump(clusters=[cluster("c")], endpoints=[cla("c", [
        {"ip": "10.0.0.5", "port": 80, "health": "UNHEALTHY", "weight": 3, "priority": 1, "zone": "z2"}])])
    r = rows_of(doc)
    (e,) = r.rows.nodes["Endpoint"].values()
    assert (e["address"], e["health"], e["weight"], e["priority"], e["locality"], e["locality_weight"]) == (
        "10.0.0.5:80", "UNHEALTHY", 3, 1, "r1/z2", 3)


def test_cluster_name_parts():
    assert parse_cluster_name("outbound|9000|v1|publictest.istio-demo.svc.cluster.local") == {
        "direction": "outbound", "port": 9000, "subset": "v1", "fqdn": "publictest.istio-demo.svc.cluster.local"}
    assert parse_cluster_name("outbound_.9080_.v2_.reviews.default.svc.cluster.local")["subset"] == "v2"
    assert parse_cluster_name("inbound|8080||")["direction"] == "inbound"
    assert parse_cluster_name("PassthroughCluster")["fqdn"] == ""


@pytest.mark.parametrize("data,what", [
    (b"", "empty file"),
    (b"   \n", "empty file"),
    (b'{"configs": [', "invalid or truncated JSON"),
    (b"\x00\x01\x02\x03binary", "binary data"),
    (b"{\"a\": \"\xff\xfe\"}", "not UTF-8"),
    (b"hello world", "not JSON"),
    (b'{"foo": 1}', "without `configs`"),
    (b"[]", "empty JSON array"),
    (b"42", "not a config dump"),
    (b'{"configs": []}', "no Envoy config dump entries"),
    (b'{"configs": [{"@type": "type.googleapis.com/acme.Thing"}]}', "no Envoy config dump entries"),
    (b'{"configs": "nope"}', "without `configs`"),
])
def test_bad_input_gets_one_line(data, what):
    with pytest.raises(DumpError) as e:
        transform_bytes(data, "bad.json")
    msg = str(e.value)
    assert what in msg and "\n" not in msg


def test_wrong_types_in_fields_do_not_crash():
    doc = simple_mesh_dump()
    for c in doc["configs"]:
        if c["@type"].endswith("ListenersConfigDump"):
            c["dynamic_listeners"].append({"name": "x", "active_state": {"listener": {
                "name": "x", "address": "not-a-dict", "filter_chains": "nope", "bind_to_port": "yes"}}})
            c["dynamic_listeners"].append(None)
        if c["@type"].endswith("ClustersConfigDump"):
            c["dynamic_active_clusters"].append({"cluster": {"name": 5, "type": ["EDS"]}})
    r = transform_dump(doc, "x.json")
    assert r.summary.listeners == 4


def test_admin_type_prefix_constant():
    assert ADMIN.endswith("envoy.admin.v3.")
