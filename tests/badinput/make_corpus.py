#!/usr/bin/env python3
"""Write the bad-input corpus (tests/badinput/corpus/) from the smallest example dump.

    .venv/bin/python tests/badinput/make_corpus.py          # rewrite the corpus
    .venv/bin/python tests/badinput/make_corpus.py --check  # exit 1 if the files drift

Every file is made from ``examples/istio-demo/mysql-*.json`` (cut to the resources that
route, and stripped of TLS and HTTP-filter bulk to keep the corpus small), then broken one
way. ``MANIFEST.json`` (beside the corpus) says, for each file, what was done and what topo must do:
``refused`` (one line naming the file), ``ingested`` (read, maybe with notes), or
``either`` (a wrong type that topo may read around or refuse, but never crash on).

Each readable file is its own pod (``m-<file stem>``), so tests can query what ingested.
Deterministic: no clock, no randomness; tests/test_hardening.py runs ``--check``.
"""

from __future__ import annotations

import copy
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import orjson

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
SOURCE = ROOT / "examples" / "istio-demo" / "mysql-bccnp7tz2l-qnqr8.json"
OUT = HERE / "corpus"
MANIFEST = HERE / "MANIFEST.json"

# Fields topo's reader uses (topo/ingest/dump.py, transform.py, pipeline.py): each gets a
# "wrongtype-<field>.json" where every occurrence holds a value of the wrong type.
READER_KEYS = sorted({
    "@type", "configs", "bootstrap", "node", "id", "metadata", "NAME", "NAMESPACE", "LABELS", "INSTANCE_IPS",
    "WORKLOAD_NAME", "ISTIO_VERSION", "NODE_NAME", "SERVICE_ACCOUNT", "OWNER",
    "static_clusters", "dynamic_active_clusters", "cluster", "name", "type", "eds_cluster_config", "service_name",
    "load_assignment", "lb_policy", "common_lb_config", "filter_metadata", "istio", "config",
    "static_endpoint_configs", "dynamic_endpoint_configs", "endpoint_config", "cluster_name", "endpoints",
    "locality", "region", "zone", "priority", "load_balancing_weight", "lb_endpoints", "endpoint", "address",
    "socket_address", "port_value", "health_status", "policy", "overprovisioning_factor",
    "static_listeners", "dynamic_listeners", "active_state", "listener", "filter_chains", "filter_chain_match",
    "destination_port", "transport_protocol", "application_protocols", "filters", "typed_config", "rds",
    "route_config_name", "bind_to_port", "use_original_dst", "traffic_direction", "listener_filters",
    "default_filter_chain",
    "static_route_configs", "dynamic_route_configs", "route_config", "virtual_hosts", "domains", "routes",
    "match", "prefix", "path", "headers", "route", "weighted_clusters", "clusters", "weight", "cluster_header",
    "direct_response", "status", "ignore_port_in_host_matching", "validate_clusters",
    "request_mirror_policies", "case_sensitive", "safe_regex", "regex", "string_match", "exact",
    "query_parameters", "present_match",
})

# Wrong values, cycled per occurrence (and offset per field, so every field meets several).
WRONG: list[Any] = ["not-a-list", None, ["x", 1], {"x": {"y": 1}}, -1, 0, 2**32 + 1, 2**63, True, 1.5, "", []]


def _walk(obj: Any, fn: Any) -> Any:
    """Apply fn(key, value) -> value to every dict entry, depth first (values first)."""
    if isinstance(obj, dict):
        return {k: fn(k, _walk(v, fn)) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_walk(v, fn) for v in obj]
    return obj


_BULK = {"transport_socket", "transport_socket_matches", "http_filters", "access_log", "circuit_breakers",
         "typed_extension_protocol_options", "retry_policy", "tracing", "upgrade_configs", "ANNOTATIONS",
         "PROXY_CONFIG", "user_agent_build_version", "decorator", "max_grpc_timeout", "version_info",
         "last_updated", "POD_PORTS", "ISTIO_PROXY_SHA", "PILOT_SAN", "config_source", "eds_config",
         "request_id_extension", "stat_prefix", "use_remote_address", "stream_idle_timeout", "normalize_path",
         "path_with_escaped_slashes_action", "listener_filters_timeout", "continue_on_listener_filters_timeout",
         "services", "connect_timeout", "APP_CONTAINERS", "CLUSTER_ID", "ENVOY_PROMETHEUS_PORT",
         "ENVOY_STATUS_PORT", "INTERCEPTION_MODE", "MESH_ID", "user_agent_name", "dns_lookup_family",
         "per_connection_buffer_limit_bytes", "max_requests_per_connection", "timeout", "idle_timeout",
         "health_check_config", "envoy.transport_socket_match"}


def _drop_bulk(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _drop_bulk(v) for k, v in obj.items() if k not in _BULK}
    if isinstance(obj, list):
        return [_drop_bulk(v) for v in obj]
    return obj


KEEP_CLUSTERS = {"BlackHoleCluster", "PassthroughCluster", "inbound|3306||",
                 "outbound|3306||mysql.istio-demo.svc.cluster.local",
                 "outbound|9000|v1|publictest.istio-demo.svc.cluster.local",
                 "outbound|9000|v2|publictest.istio-demo.svc.cluster.local"}
KEEP_LISTENERS = {"virtualOutbound", "10.1.200.9_3306", "10.1.122.241_9000"}
RDS = "publictest.istio-demo.svc.cluster.local:9000"


def base() -> dict[str, Any]:
    """The mysql sidecar's dump, cut to the resources that route (and still real)."""
    doc = orjson.loads(SOURCE.read_bytes())
    out = []
    for c in doc["configs"]:
        t = c["@type"].rsplit(".", 1)[-1]
        c = dict(c)
        if t == "BootstrapConfigDump":
            c["bootstrap"] = {"node": c["bootstrap"]["node"]}
        elif t == "ClustersConfigDump":
            c["static_clusters"] = c["static_clusters"][:1]
            c["dynamic_active_clusters"] = [x for x in c["dynamic_active_clusters"]
                                            if x["cluster"]["name"] in KEEP_CLUSTERS]
        elif t == "EndpointsConfigDump":
            c["static_endpoint_configs"] = c["static_endpoint_configs"][:1]
            c["dynamic_endpoint_configs"] = [x for x in c["dynamic_endpoint_configs"]
                                             if x["endpoint_config"]["cluster_name"] in KEEP_CLUSTERS]
            for x in c["dynamic_endpoint_configs"]:  # the demo's kind cluster has no zones: add some
                for loc in x["endpoint_config"].get("endpoints", []):
                    loc["locality"] = {"region": "eu-west1", "zone": "eu-west1-b"}
                    loc["priority"] = 0
        elif t == "ListenersConfigDump":
            c["static_listeners"] = c["static_listeners"][:1]
            c["dynamic_listeners"] = [x for x in c["dynamic_listeners"] if x["name"] in KEEP_LISTENERS]
        elif t == "RoutesConfigDump":
            c["static_route_configs"] = c["static_route_configs"][:1]
            c["dynamic_route_configs"] = [x for x in c["dynamic_route_configs"]
                                          if x["route_config"]["name"] == RDS]
            # more route shapes for the wrong-type files to break: header and query
            # matches, a cluster_header route, a mirror, a direct response
            vh = c["dynamic_route_configs"][0]["route_config"]["virtual_hosts"][0]
            first = vh["routes"][0]
            vh["routes"] = [
                {"name": "by-header", "match": {"prefix": "/h", "case_sensitive": False, "headers": [
                    {"name": "x-user", "string_match": {"exact": "jason"}}, {"name": "x-dbg", "present_match": True}],
                    "query_parameters": [{"name": "v", "string_match": {"prefix": "2"}}]},
                 "route": {"cluster": "outbound|9000|v2|publictest.istio-demo.svc.cluster.local",
                           "request_mirror_policies": [
                               {"cluster": "outbound|9000|v1|publictest.istio-demo.svc.cluster.local"}]}},
                {"name": "by-cluster-header", "match": {"safe_regex": {"regex": "^/ch/.*"}},
                 "route": {"cluster_header": "x-cluster"}},
                {"name": "teapot", "match": {"path": "/teapot"}, "direct_response": {"status": 418}},
                first,
            ]
        out.append(c)
    return _drop_bulk({"configs": out})


def renamed(doc: dict[str, Any], pod: str) -> dict[str, Any]:
    """A deep copy whose proxy is pod ``pod`` (so each corpus file is its own pod)."""
    d = copy.deepcopy(doc)
    node = d["configs"][0]["bootstrap"]["node"]
    node["id"] = f"sidecar~10.244.0.70~{pod}.istio-demo~istio-demo.svc.cluster.local"
    node["metadata"]["NAME"] = pod
    return d


def _has_key(obj: Any, key: str) -> bool:
    if isinstance(obj, dict):
        return key in obj or any(_has_key(v, key) for v in obj.values())
    if isinstance(obj, list):
        return any(_has_key(v, key) for v in obj)
    return False


def wrong_types(doc: dict[str, Any], key: str, offset: int) -> dict[str, Any]:
    """Every ``key`` gets a wrong value; configs entries without ``key`` are left out (size)."""
    n = [offset]
    boot, *rest = doc["configs"]
    keep = [c for c in rest if _has_key(c, key)]
    if not keep:  # a bootstrap field: keep the route configs, so the dump still routes something
        keep = [c for c in rest if "dynamic_route_configs" in c]
    doc = {"configs": [boot] + keep}

    def fn(k: str, v: Any) -> Any:
        if k != key:
            return v
        w = WRONG[n[0] % len(WRONG)]
        n[0] += 1
        return copy.deepcopy(w)

    return _walk(doc, fn)


def set_all(doc: dict[str, Any], keys: set[str], value: Any) -> dict[str, Any]:
    return _walk(doc, lambda k, v: value if k in keys else v)


def b(doc: Any) -> bytes:
    try:
        return orjson.dumps(doc)
    except TypeError:  # integers beyond 64 bits: the stdlib writes them
        return json.dumps(doc, separators=(",", ":")).encode()


def files() -> dict[str, tuple[bytes | None, str, str]]:
    """name -> (bytes, or None for a directory; expectation; what it is)."""
    good = base()
    raw = b(renamed(good, "m-truncated"))
    out: dict[str, tuple[bytes | None, str, str]] = {}

    def add(name: str, data: bytes | None, expect: str, what: str) -> None:
        out[name] = (data, expect, what)

    def pod(name: str) -> dict[str, Any]:
        return renamed(good, "m-" + name.rsplit(".", 1)[0])

    # -- truncations: the first N bytes, at many offsets (every cut is invalid JSON)
    offsets = sorted({1, 2, 3, 10, 64, 500, len(raw) - 1, len(raw) - 2}
                     | {len(raw) * i // 16 for i in range(1, 16)})
    for off in offsets:
        add(f"truncated-{off:06d}.json", raw[:off], "refused", f"the base dump cut after {off} of {len(raw)} bytes")

    # -- wrong types in every field the reader uses
    for i, key in enumerate(READER_KEYS):
        safe = key.replace("@", "at-")
        name = f"wrongtype-{safe}.json"
        add(name, b(wrong_types(pod(name), key, i)), "either",
            f"every `{key}` replaced by wrong-type values, cycling through {len(WRONG)} kinds from #{i % len(WRONG)}")

    # -- numbers out of range
    add("port-negative.json", b(set_all(pod("port-negative.json"), {"port_value", "destination_port"}, -1)),
        "either", "every port_value and destination_port is -1")
    add("port-huge.json", b(set_all(pod("port-huge.json"), {"port_value"}, 2**63)), "either",
        "every port_value is 2^63 (beyond a signed 64-bit integer)")
    add("weight-zero.json", b(set_all(pod("weight-zero.json"), {"weight", "load_balancing_weight"}, 0)),
        "ingested", "every weight and load_balancing_weight is 0")
    add("weight-2p32.json", b(set_all(pod("weight-2p32.json"), {"weight", "load_balancing_weight"}, 2**32 + 7)),
        "ingested", "every weight is 2^32+7 (above uint32)")
    add("weight-2p64.json", b(set_all(pod("weight-2p64.json"), {"weight", "load_balancing_weight",
                                                                  "priority", "overprovisioning_factor"}, 2**64 + 1)),
        "either", "every weight, priority and overprovisioning factor is 2^64+1 (read back as a float)")
    add("weight-1e300.json", b(set_all(pod("weight-1e300.json"), {"weight", "port_value", "status"}, 1e300)),
        "either", "weights, ports and statuses of 1e300")

    # -- the document's shape
    d = pod("missing-configs.json")
    add("missing-configs.json", b({"config": d["configs"]}), "refused", "`configs` renamed to `config`")
    add("configs-string.json", b'{"configs": "ListenersConfigDump"}', "refused", "`configs` is a string")
    add("configs-null.json", b'{"configs": null}', "refused", "`configs` is null")
    add("configs-object.json", b({"configs": {str(i): c for i, c in enumerate(d["configs"])}}), "refused",
        "`configs` is an object, not a list")
    add("configs-junk-entries.json", b({"configs": [None, 1, "x", [], {}] + pod("configs-junk-entries.json")["configs"]}),
        "ingested", "`configs` with null, number, string, list and empty-object entries before the real ones")
    add("configs-empty.json", b'{"configs": []}', "refused", "an empty `configs`")
    d = pod("unknown-types.json")
    for i, c in enumerate(d["configs"]):
        c["@type"] = f"type.googleapis.com/envoy.admin.v9.Mystery{i}ConfigDump"
    add("unknown-types.json", b(d), "refused", "every `configs` entry has an unknown @type")
    d = pod("unknown-type-extra.json")
    d["configs"].insert(1, {"@type": "type.googleapis.com/envoy.admin.v3.FutureConfigDump", "things": [1, 2]})
    d["configs"].insert(2, {"@type": 42})
    add("unknown-type-extra.json", b(d), "ingested", "an unknown @type and a numeric @type beside the known ones")
    add("only-secrets.json", b({"configs": [pod("x")["configs"][0], pod("x")["configs"][-1]]}), "refused",
        "a bootstrap and secrets, nothing that routes")
    for nm, doc in (("top-null.json", b"null"), ("top-number.json", b"42"), ("top-string.json", b'"configs"'),
                    ("top-array.json", b"[1, 2, 3]"), ("top-empty-array.json", b"[]")):
        add(nm, doc, "refused", f"a JSON document that is {doc.decode()}")

    # -- duplicate names: the same cluster, listener and route config twice, with different bodies
    d = pod("duplicate-names.json")
    for c in d["configs"]:
        for arr in ("dynamic_active_clusters", "dynamic_listeners", "dynamic_route_configs", "dynamic_endpoint_configs"):
            if arr in c:
                twins = copy.deepcopy(c[arr])
                for t in twins:
                    inner = t.get("cluster") or t.get("route_config") or t.get("endpoint_config") \
                        or t.get("active_state", {}).get("listener") or {}
                    inner["x_twin"] = True
                    for w in inner.get("virtual_hosts", []):
                        for r in w.get("routes", []):
                            for wc in r.get("route", {}).get("weighted_clusters", {}).get("clusters", []):
                                wc["weight"] = 50
                c[arr] = c[arr] + twins
    add("duplicate-names.json", b(d), "ingested", "every cluster, listener, route config and CLA twice, bodies differ")
    add("duplicate-pod-a.json", b(pod("duplicate-pod.json")), "ingested", "one pod in two files (a)")
    add("duplicate-pod-b.json", b(pod("duplicate-pod.json")), "ingested", "one pod in two files (b): later wins")

    # -- a route that points at itself: cluster_header naming a cluster whose endpoint is
    # this proxy's own listener, and a cluster named like the route config
    d = pod("cluster-header-self.json")
    for c in d["configs"]:
        if "dynamic_route_configs" in c:
            rc = c["dynamic_route_configs"][0]["route_config"]
            for r in rc["virtual_hosts"][0]["routes"]:
                r["match"] = {"prefix": "/"}
                r["route"] = {"cluster_header": ":authority"}
                r.pop("direct_response", None)
        if "dynamic_active_clusters" in c:
            c["dynamic_active_clusters"].append({"cluster": {
                "name": RDS, "type": "STATIC", "load_assignment": {"cluster_name": RDS, "endpoints": [{"lb_endpoints": [
                    {"endpoint": {"address": {"socket_address": {"address": "10.1.122.241", "port_value": 9000}}}}]}]}}})
    add("cluster-header-self.json", b(d), "ingested",
        "every route picks its cluster by :authority, and a cluster of that name leads back to the listener")

    # -- 1 MB strings
    d = pod("string-1mb.json")
    big = "a" * 1_000_000
    for c in d["configs"]:
        if "dynamic_route_configs" in c:
            c["dynamic_route_configs"][0]["route_config"]["virtual_hosts"][0]["domains"].insert(0, big)
    add("string-1mb.json", b(d), "ingested", "a vhost domain of 1,000,000 bytes")

    # -- deep nesting
    add("deep-arrays-100k.json", b"[" * 100_000 + b"]" * 100_000, "refused", "100,000 nested arrays")
    add("deep-objects-2k.json", b'{"configs":' + b'{"":' * 2_000 + b"1" + b"}" * 2_001, "refused",
        "2,000 nested objects under `configs`")
    for depth in (300, 500):
        d = pod(f"deep-in-listener-{depth}.json")
        d["configs"] = [c for c in d["configs"] if "dynamic_listeners" in c or "bootstrap" in c]
        for c in d["configs"]:
            if "dynamic_listeners" in c:
                c["dynamic_listeners"][1]["active_state"]["listener"]["metadata"] = {"deep": "@DEEP@"}
        nest = b'{"nestedKey":[' * depth + b'"bottom"' + b"]}" * depth  # too deep for the encoders
        add(f"deep-in-listener-{depth}.json", b(d).replace(b'"@DEEP@"', nest), "either",
            f"a listener's metadata nested {2 * depth} levels deep (orjson reads up to 1024)")

    # -- encodings
    add("invalid-utf8.json", raw.replace(b'"m-truncated"', b'"m-\xff\xfe-bad"', 1), "refused",
        "a pod name holding the bytes FF FE (not UTF-8)")
    add("lone-surrogate.json", raw.replace(b'"m-truncated"', b'"m-\\ud800"', 1), "refused",
        "a pod name holding an unpaired \\ud800 escape")
    add("utf16.json", b({"configs": pod("utf16.json")["configs"][:2]}).decode().encode("utf-16"), "refused", "the dump in UTF-16")
    add("binary.json", bytes(range(256)) * 4, "refused", "binary bytes")
    add("nan.json", raw.replace(b'"weight":90', b'"weight":NaN', 1), "refused", "a NaN literal")
    add("inf.json", raw.replace(b'"weight":90', b'"weight":1e999', 1), "refused", "a number that overflows a double")

    # -- empty things
    add("empty.json", b"", "refused", "an empty file")
    add("whitespace.json", b"  \n\t\r\n", "refused", "only whitespace")
    add("bom-only.json", b"\xef\xbb\xbf", "refused", "only a UTF-8 BOM")
    add("a-directory.json", None, "refused", "a directory whose name looks like a dump")

    # -- a companion /clusters?format=json that is garbage
    add("companion.json", b(pod("companion.json")), "refused", "a good dump whose companion .clusters.json is garbage")
    add("companion.clusters.json", b'{"cluster_statuses": ', "companion", "the garbage companion (never a dump)")
    return out


# pods.json / services.json (`kubectl get -o json`) with wrong types in every field enrich() reads
def kube_lists() -> dict[str, bytes]:
    pods = {"kind": "List", "items": [
        None, 1, "pod", [],
        {"metadata": "m"}, {"metadata": None, "spec": "s", "status": 7},
        {"metadata": {"name": ["m-weight-zero"], "namespace": 5}},
        {"metadata": {"name": "m-weight-zero", "namespace": "istio-demo", "labels": ["app"],
                      "ownerReferences": "rs"}, "spec": [], "status": "Running"},
        {"metadata": {"name": "m-weight-2p32", "namespace": "istio-demo", "labels": {"app": None, "7": 7},
                      "ownerReferences": [None, {"kind": "ReplicaSet", "name": 5}, {"kind": "ReplicaSet", "name": "mysql-abcde"}]},
         "spec": {"nodeName": ["n"], "serviceAccountName": {"x": 1}},
         "status": {"podIPs": "10.244.0.70", "podIP": ["10.244.0.70"]}},
        {"metadata": {"name": "m-duplicate-names", "namespace": "istio-demo"},
         "status": {"podIPs": [{"ip": 7}, {"ip": None}, "10.1.1.1"]}},
    ]}
    services = {"kind": "List", "items": [
        None, "svc", {"metadata": []}, {"metadata": {"name": 5}},
        {"metadata": {"name": "mysql", "namespace": ["istio-demo"]},
         "spec": {"clusterIPs": "10.1.200.9", "clusterIP": 7, "ports": "3306"}},
        {"metadata": {"name": "publictest", "namespace": "istio-demo"},
         "spec": {"clusterIPs": [None, 5, "10.1.122.241"], "ports": [None, {"port": "9000"}, {"port": 9000}]}},
        {"metadata": {"name": "headless", "namespace": "istio-demo"}, "spec": "None"},
    ]}
    return {"pods.json": orjson.dumps(pods), "services.json": orjson.dumps(services)}


def write(out: Path) -> dict[str, Any]:
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    manifest: dict[str, Any] = {}
    for name, (data, expect, what) in files().items():
        p = out / name
        if data is None:
            p.mkdir()
            (p / ".gitkeep").write_bytes(b"")
        else:
            p.write_bytes(data)
        manifest[name] = {"expect": expect, "what": what}
    for name, data in kube_lists().items():
        (out / name).write_bytes(data)
        manifest[name] = {"expect": "kube", "what": "kubectl list with wrong types in every field topo reads"}
    return manifest


def manifest_text(manifest: dict[str, Any]) -> str:
    return json.dumps(manifest, indent=1, sort_keys=True) + "\n"


def _tree(d: Path) -> dict[str, bytes]:
    return {str(p.relative_to(d)): (p.read_bytes() if p.is_file() else b"<dir>") for p in sorted(d.rglob("*"))}


def main(argv: list[str]) -> int:
    if "--check" in argv:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            m = write(Path(tmp) / "c")
            want, have = _tree(Path(tmp) / "c"), _tree(OUT) if OUT.is_dir() else {}
        if want != have or not MANIFEST.is_file() or MANIFEST.read_text() != manifest_text(m):
            diff = sorted(set(want) ^ set(have)) or sorted(k for k in want if want[k] != have.get(k))
            print(f"tests/badinput/corpus drifted from make_corpus.py: {diff[:5]}; rerun it", file=sys.stderr)
            return 1
        return 0
    m = write(OUT)
    MANIFEST.write_text(manifest_text(m))
    size = sum(p.stat().st_size for p in OUT.rglob("*") if p.is_file())
    print(f"wrote {len(m)} entries, {size} bytes, to {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
