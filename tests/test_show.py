"""`topo show`: istioctl proxy-config's tables from the graph, byte for byte.

Goldens live in ../shared/realdumps (MANIFEST.md, "Dump ↔ golden pairs"); the conformance
suite's istioctl goldens are compared in tests/test_conformance.py. Where topo prints something
else on purpose (no secrets stored, deprecated filter names read), the test says so.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from typer.testing import CliRunner

from topo.cli import app
from topo.export.tabwriter import tabwrite
from topo.model.names import go_atoi, parse_subset_key, render_config, safely_parse_subset_key
from topo.queries.show.gosort import go_sort_slice
from topo.queries.show.routes import describe_route_domains

pytestmark = pytest.mark.realdumps

IST = "istio__istio/istioctl__pkg__"
ALL_DUMP = IST + "proxyconfig__testdata__config_dump.json"
ALL_GOLDEN = IST + "proxyconfig__testdata__config_dump_summary.txt"
EDS_DUMP = IST + "writer__envoy__configdump__testdata__endpoint__configdump.json"
EDS_POD = "istioctl__pkg__writer__envoy__configdump__testdata__endpoint"  # the file stem, by prefix
ROUTES = IST + "writer__envoy__configdump__testdata__routes__{}__"
ROUTE_CASES = ("istio-gateway-http-route-prefix", "k8s-gateway-http-route-path-prefix")
OLD_DUMP = IST + "writer__envoy__configdump__testdata__configdump.json"
OLD_CLUSTERS_STATUS = IST + "writer__envoy__clusters__testdata__clusters.json"
DSB = "TZ-Zephrus__DeathStarBench/config_dump.json"
DSB_POD = "geo-5c54dcd5bd-z5ghf"

runner = CliRunner()
_SORT = orjson.OPT_SORT_KEYS


# ---------------------------------------------------------------- helpers
@pytest.fixture
def ingest(realdumps: Path, cli_graph):
    """A realdumps file ingested on the backend under test; returns the graph options of `topo show`."""
    return lambda rel: cli_graph(realdumps / rel)


def show(graph: list[str], *args: str) -> str:
    res = runner.invoke(app, ["show", *args, *graph])
    assert res.exit_code == 0, res.output
    return res.stdout


def golden(realdumps: Path, rel: str) -> str:
    text = (realdumps / rel).read_text()
    return text if text.endswith("\n") else text + "\n"  # some goldens lack the last newline


def sections(text: str) -> list[str]:
    """`proxy-config all` output split into its blank-line separated tables."""
    return [s + "\n" for s in text.rstrip("\n").split("\n\n")]


def load(realdumps: Path, rel: str) -> dict[str, Any]:
    doc = json.loads((realdumps / rel).read_bytes())
    return {c["@type"].rsplit(".", 1)[-1]: c for c in doc["configs"]}


def locality(lo: dict[str, str]) -> str:
    """Istio's util.LocalityToString."""
    s = lo.get("region", "")
    if lo.get("zone"):
        s += "/" + lo["zone"]
        if lo.get("sub_zone"):
            s += "/" + lo["sub_zone"]
    return s


# ---------------------------------------------------------------- the Go ports
def test_tabwriter_is_go_text_tabwriter():
    # expected texts printed by Go 1.26 text/tabwriter with Init(w, 0, 8, padding, ' ', 0)
    assert tabwrite("NAME\tSTATUS\tLOCALITY\tCLUSTER\n1.2.3.4:80\tHEALTHY\t\tc1\n"
                      "longer-address:9080\tUNHEALTHY\tr/z\tc2\n", padding=5) == (
        "NAME                    STATUS        LOCALITY     CLUSTER\n"
        "1.2.3.4:80              HEALTHY                    c1\n"
        "longer-address:9080     UNHEALTHY     r/z          c2\n")
    # column blocks end at a line without that cell; the last cell of a line is never padded
    assert tabwrite("A\tB\tC\nxx\ty\nzzzz\n\tq\tw\n", padding=1) == "A  B C\nxx y\nzzzz\n q w\n"
    # an empty unterminated last cell is no cell at Flush
    assert tabwrite("é\t日本\t", padding=3) == "é   日本"


def test_go_sort_slice_replays_pdqsort():
    # permutations printed by Go 1.26 sort.Slice with the same comparators
    names = ["15010", "http.80", "9080", "", "80", "15014", "inbound|9080||x", "3000", "9090", "443",
             "http.8080", "20001", "8080", "15021", "9411", "7", "", "31400", "15004", "16685"]

    def route_less(a: int, b: int) -> bool:  # istioctl's route order: numeric names only
        x, y = go_atoi(names[a]), go_atoi(names[b])
        return x is not None and y is not None and x < y

    idx = list(range(len(names)))
    go_sort_slice(idx, route_less)
    assert idx == [10, 1, 2, 3, 4, 5, 6, 7, 9, 8, 12, 11, 0, 13, 14, 15, 16, 17, 18, 19]
    keys = [1, 1, 0, 2, 1, 0, 0, 2, 1, 1, 0, 2, 2, 1, 0, 1, 0, 0, 2, 1, 1, 0, 1, 2, 0, 1, 1, 0, 2, 1]
    idx = list(range(len(keys)))
    go_sort_slice(idx, lambda a, b: keys[a] > keys[b])
    assert idx == [7, 18, 23, 3, 12, 28, 11, 25, 8, 9, 20, 26, 4, 13, 0, 15, 29, 22, 1, 19, 14, 21, 17, 16, 24,
                   10, 6, 27, 5, 2]


def test_istio_name_helpers():
    assert parse_subset_key("outbound|9080|v1|reviews.default.svc.cluster.local") == (
        "outbound", "v1", "reviews.default.svc.cluster.local", 9080)
    assert parse_subset_key("outbound_.80_._.foo.bar") == ("outbound", "", "foo.bar", 80)
    assert describe_route_domains(["example.com", "example.com:8080", "www.example.com", "www.example.com:8080",
                                     "[fd00:10:96::7fc7]", "[fd00:10:96::7fc7]:8080"]) == (
        "example.com, www.example.com + 1 more...")
    assert render_config("/apis/networking.istio.io/v1/namespaces/default/virtual-service/httpbin") == "httpbin.default"
    assert go_atoi("+5") == 5 and go_atoi(" 5") is None and go_atoi("1_0") is None


# ---------------------------------------------------------------- proxy-config all (waypoint dump)
def test_all_summary_from_graph(realdumps, ingest):
    """Every section but the secret table, byte for byte: topo stores no secret, so it says how
    many there are instead of istioctl's certificate table. The endpoint table lists only the
    dump's endpoint section (not the agent cluster's inline load_assignment), and internal
    addresses as envoy://LISTENER/ENDPOINT_ID, as istioctl does."""
    gold = sections(golden(realdumps, ALL_GOLDEN))
    assert [s.split("\n", 1)[0].split()[0] for s in gold] == ["Istio", "NAME", "NAME", "NAME", "RESOURCE", "NAME"]
    out = sections(show(ingest(ALL_DUMP), "all", "httpbin-istio-waypoint"))
    assert out[:4] == gold[:4] and out[5] == gold[5]
    n = len(gold[4].splitlines()) - 1
    assert out[4] == f"{n} active or warming secrets (topo stores no secret: `istioctl proxy-config secret` shows them)\n"
    assert "envoy://connect_originate/" in out[5]


# ---------------------------------------------------------------- routes (gateway dumps)
@pytest.mark.parametrize("case", ROUTE_CASES)
def test_route_golden_rows(realdumps, ingest, case):
    gold = golden(realdumps, ROUTES.format(case) + "output.txt")
    out = show(ingest(ROUTES.format(case) + "configdump.json"), "routes", "istioctl__pkg")
    # same header, same rows, the RDS config first; the two static configs' order is the dump's,
    # which the graph does not keep yet (see the exact test below)
    assert out.split("\n")[:2] == gold.split("\n")[:2]
    assert sorted(out.split("\n")) == sorted(gold.split("\n"))


@pytest.mark.parametrize("case", ROUTE_CASES)
def test_route_golden_exact_from_graph(realdumps, ingest, case):
    out = show(ingest(ROUTES.format(case) + "configdump.json"), "routes", "istioctl__pkg")
    assert out == golden(realdumps, ROUTES.format(case) + "output.txt")


# ---------------------------------------------------------------- endpoints (EDS-only dump)
@pytest.mark.parametrize(("suffix", "args"), [("emptyfilter_output.txt", []), ("portfilter_output.txt", ["--port", "8080"])])
def test_endpoint_golden_from_graph(realdumps, ingest, suffix, args):
    out = show(ingest(EDS_DUMP), "endpoints", EDS_POD, *args)
    assert out == golden(realdumps, EDS_DUMP.replace("configdump.json", suffix))


# ---------------------------------------------------------------- 2019/2020 goldens, today's format
# Texts below are what istioctl at istio@86c9f01 (the goldens' commit) prints for the 2020 dump.
# That istioctl cannot parse the dump's envoy.api.v2 resources, so they were produced with the
# @type URLs relabelled to v3 (same fields). Today's istioctl recognises filters only by their
# current names, so it reads the 2020 dump's envoy.http_connection_manager / envoy.tcp_proxy as
# "Non-HTTP/Non-TCP" and TYPE UNKNOWN; topo reads the deprecated names and `config` (as `topo path`
# does), which gives back the 2020 golden's TYPE column (TCP, HTTP, HTTP, HTTP+TCP).
def old_listeners(realdumps: Path) -> str:
    """The verbose table, from the dump: 443 is a v1 tcp_proxy whose one route names galley's
    cluster; 8080 an HCM with an inline route config (one vhost, prefix /); 8081 a tcp_proxy to
    BlackHoleCluster (istioctl skips it) then an HCM without config; 8082 an HCM first."""
    d = load(realdumps, OLD_DUMP)["ListenersConfigDump"]
    lst = {x["activeState"]["listener"]["name"]: x["activeState"]["listener"] for x in d["dynamicListeners"]}
    hcm = lst["0.0.0.0_8080"]["filterChains"][0]["filters"][0]["config"]
    domains = "/".join(hcm["route_config"]["virtual_hosts"][0]["domains"])
    return ("ADDRESSES      PORT MATCH DESTINATION\n"
            "172.21.134.116 443  ALL   Cluster: outbound|443||istio-galley.istio-system.svc.cluster.local\n"
            f"0.0.0.0        8080 ALL   Inline Route: {domains} /*\n"
            "0.0.0.0        8081 ALL   HTTP\n"
            "0.0.0.0        8082 ALL   HTTP\n")


OLD_LISTENERS_SHORT = """\
ADDRESSES      PORT TYPE
172.21.134.116 443  TCP
0.0.0.0        8080 HTTP
0.0.0.0        8081 HTTP
0.0.0.0        8082 HTTP+TCP
"""
OLD_ROUTES = """\
NAME                                                    VHOST NAME                                               DOMAINS                                                                                MATCH     VIRTUAL SERVICE
15004                                                   istio-policy.istio-system.svc.cluster.local:15004        istio-policy.istio-system, istio-policy.istio-system.svc.cluster + 1 more...           /*        \n\
15004                                                   istio-telemetry.istio-system.svc.cluster.local:15004     istio-telemetry.istio-system, istio-telemetry.istio-system.svc.cluster + 1 more...     /*        \n\
inbound|9080||productpage.default.svc.cluster.local     inbound|http|9080                                        *                                                                                      /*        \n\
"""
OLD_ROUTES_SHORT = """\
NAME                                                    VIRTUAL HOSTS
15004                                                   2
inbound|9080||productpage.default.svc.cluster.local     1
"""
OLD_CLUSTERS = """\
SERVICE FQDN                                    PORT      SUBSET     DIRECTION     TYPE           DESTINATION RULE
istio-policy.istio-system.svc.cluster.local     15004     -          outbound      EDS            \n\
xds-grpc                                        -         -          -             STRICT_DNS     \n\
"""


def test_2020_listener_summary_in_todays_format(realdumps, ingest):
    graph = ingest(OLD_DUMP)
    assert show(graph, "listeners", "details-v1") == old_listeners(realdumps)
    short = show(graph, "listeners", "details-v1", "--no-verbose")
    assert short == OLD_LISTENERS_SHORT
    # the 2020 golden's rows are the same, cell for cell (its header said ADDRESS)
    old = [ln.split() for ln in golden(realdumps, IST + "writer__envoy__configdump__testdata__listenersummary.txt").splitlines()]
    assert [ln.split() for ln in short.splitlines()][1:] == old[1:]


def test_2020_route_summary_in_todays_format(realdumps, ingest):
    graph = ingest(OLD_DUMP)
    assert show(graph, "routes", "details-v1") == OLD_ROUTES
    short = show(graph, "routes", "details-v1", "--no-verbose")
    assert short == OLD_ROUTES_SHORT
    # the 2020 golden printed a NOTE line first; its NAME / VIRTUAL HOSTS rows are the same
    old = golden(realdumps, IST + "writer__envoy__configdump__testdata__routesummary.txt").splitlines()
    assert old[0].startswith("NOTE:")
    assert [ln.split() for ln in short.splitlines()] == [ln.split() for ln in old[1:]]


def test_2020_cluster_summary_in_todays_format(realdumps, ingest):
    out = show(ingest(OLD_DUMP), "clusters", "details-v1")
    assert out == OLD_CLUSTERS
    # today's table adds DESTINATION RULE; the 2019 golden's five columns are unchanged
    old = golden(realdumps, IST + "writer__envoy__configdump__testdata__clustersummary.txt").splitlines()
    assert [re.split(r"\s{2,}", ln.strip())[:5] for ln in out.splitlines()] == [re.split(r"\s{2,}", ln) for ln in old]


def _snake(o: Any) -> Any:
    if isinstance(o, dict):
        return {re.sub(r"(?<!^)([A-Z])", lambda m: "_" + m[1].lower(), k): _snake(v) for k, v in o.items()}
    return [_snake(x) for x in o] if isinstance(o, list) else o


@pytest.fixture
def status_store(realdumps: Path, tmp_path: Path, cli_graph) -> list[str]:
    """The 2019 /clusters?format=json beside a minimal dump naming its clusters (EDS, no endpoints)."""
    cs = json.loads((realdumps / OLD_CLUSTERS_STATUS).read_bytes())
    clusters = [{"cluster": {"@type": "type.googleapis.com/envoy.config.cluster.v3.Cluster", "name": c["name"],
                             "type": "EDS"}} for c in cs["cluster_statuses"]]
    src = tmp_path / "dumps"
    src.mkdir()
    (src / "reviews-v1.json").write_text(json.dumps({"configs": [
        {"@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump", "dynamic_active_clusters": clusters}]}))
    # the fixture mixes casings (cluster_statuses / hostStatuses); the transform reads one (see the lead's note)
    (src / "reviews-v1.clusters.json").write_text(json.dumps(_snake(cs)))
    return cli_graph(src)


def test_2019_endpoint_summary_outlier_view(realdumps, status_store):
    # istioctl's `proxy-config endpoint` still prints the 2019 format (checked with today's istioctl):
    # STATUS is the health EDS gave, OUTLIER CHECK FAILED for the host outlier detection ejected
    assert show(status_store, "endpoints", "reviews-v1", "--outlier") == golden(
        realdumps, IST + "writer__envoy__clusters__testdata__clustersummary.txt")


# ---------------------------------------------------------------- filters (DeathStarBench)
@pytest.fixture
def dsb(realdumps: Path, ingest) -> tuple[list[str], dict[str, Any]]:
    return ingest(DSB), load(realdumps, DSB)


def _clusters(d: dict[str, Any]) -> list[dict[str, Any]]:
    c = d["ClustersConfigDump"]
    return [x["cluster"] for x in c.get("dynamic_active_clusters", []) + c.get("static_clusters", [])]


def _listeners(d: dict[str, Any]) -> list[dict[str, Any]]:
    ld = d["ListenersConfigDump"]
    return [x["active_state"]["listener"] for x in ld.get("dynamic_listeners", []) if "active_state" in x] + [
        x["listener"] for x in ld.get("static_listeners", [])]


def _chains(lst: dict[str, Any]) -> int:
    return len(lst.get("filter_chains", [])) + ("default_filter_chain" in lst)


def _rows(out: str) -> list[list[str]]:
    """Table cells, cut at the header's column starts (tabwriter aligns every cell there)."""
    head, *lines = out.splitlines()
    starts = [m.start() for m in re.finditer(r"(?:^|(?<=\s\s))\S", head)]
    return [[ln[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)] for ln in lines]


@pytest.mark.parametrize(("flag", "value", "keep"), [
    ("--port", "9080", lambda n: "|9080|" in n),
    ("--fqdn", "reviews", lambda n: "reviews" in n),
    ("--direction", "inbound", lambda n: "inbound" in n),
    # istioctl's --subset is a substring test on the whole cluster name
    ("--subset", "social-network", lambda n: "social-network" in n),
    ("--subset", "v9", lambda n: "v9" in n),
])
def test_cluster_filters(dsb, flag, value, keep):
    graph, d = dsb
    names = [c["name"] for c in _clusters(d) if keep(c["name"])]
    out = show(graph, "clusters", DSB_POD, flag, value)
    rows = _rows(out)
    assert out.startswith("SERVICE FQDN ") and len(rows) == len(names)
    assert sorted(r[0] for r in rows) == sorted(safely_parse_subset_key(n)[2] for n in names)
    if flag == "--port":
        assert names and {r[1] for r in rows} == {"9080"}
        assert {r[0] for r in rows} == {f"{s}.default.svc.cluster.local" for s in
                                        ("details", "productpage", "ratings", "reviews")}


def test_cluster_table_lists_every_active_and_static_cluster(dsb):
    graph, d = dsb
    rows = _rows(show(graph, "clusters", DSB_POD))
    assert len(rows) == len(_clusters(d)) == 143
    assert ["reviews.default.svc.cluster.local", "9080", "-", "outbound", "EDS"] in [r[:5] for r in rows]


def test_listener_port_filter(dsb):
    graph, d = dsb
    want = [lst for lst in _listeners(d) if lst["address"]["socket_address"].get("port_value") == 9080]
    out = show(graph, "listeners", DSB_POD, "--port", "9080")
    assert out == ("ADDRESSES PORT MATCH                                DESTINATION\n"
                   "0.0.0.0   9080 Trans: raw_buffer; App: http/1.1,h2c Route: 9080\n"
                   "0.0.0.0   9080 ALL                                  PassthroughCluster\n")
    assert len(out.splitlines()) - 1 == sum(_chains(lst) for lst in want) == 2


def test_listener_address_and_type_filters(dsb):
    graph, d = dsb
    zero = [lst for lst in _listeners(d) if lst["address"]["socket_address"]["address"] == "0.0.0.0"]
    rows = [ln.split() for ln in show(graph, "listeners", DSB_POD, "--address", "0.0.0.0").splitlines()[1:]]
    assert len(rows) == sum(_chains(lst) for lst in zero) and {r[0] for r in rows} == {"0.0.0.0"}
    # 142: two of the 144 dynamic entries are rejected pushes (error_state only); istioctl skips them too
    short = show(graph, "listeners", DSB_POD, "--no-verbose").splitlines()
    assert len(short) - 1 == len(_listeners(d)) == 142
    tcp = show(graph, "listeners", DSB_POD, "--no-verbose", "--type", "tcp").splitlines()
    assert len(tcp) > 1 and {ln.split()[-1] for ln in tcp[1:]} == {"TCP"}


def test_listener_table_has_a_row_per_filter_chain(dsb):
    graph, d = dsb
    assert len(show(graph, "listeners", DSB_POD).splitlines()) - 1 == sum(_chains(lst) for lst in _listeners(d))


def test_endpoint_filters(dsb):
    graph, d = dsb
    eds = d["EndpointsConfigDump"]
    lbes = [(cla["cluster_name"], lbe) for arr in ("dynamic_endpoint_configs", "static_endpoint_configs")
            for cla in (x["endpoint_config"] for x in eds.get(arr, []))
            for loc in cla.get("endpoints", []) for lbe in loc.get("lb_endpoints", [])]
    port = [(c, e) for c, e in lbes if e["endpoint"]["address"].get("socket_address", {}).get("port_value") == 9080]
    rows = _rows(show(graph, "endpoints", DSB_POD, "--port", "9080"))
    assert len(rows) == len(port) == 4
    assert sorted(r[-1] for r in rows) == sorted(c for c, _ in port)
    assert len(_rows(show(graph, "endpoints", DSB_POD))) == len(lbes) == 121
    assert len(_rows(show(graph, "endpoints", DSB_POD, "--status", "healthy"))) == sum(
        e.get("health_status") == "HEALTHY" for _, e in lbes)
    assert _rows(show(graph, "endpoints", DSB_POD, "--status", "unhealthy")) == []
    addr = port[0][1]["endpoint"]["address"]["socket_address"]
    one = _rows(show(graph, "endpoints", DSB_POD, "--address", f"{addr['address']}:9080"))
    assert [r[0] for r in one] == [f"{addr['address']}:9080"]
    assert _rows(show(graph, "endpoints", DSB_POD, "--cluster", port[0][0].upper()))[0][-1] == port[0][0]


def test_route_name_filter(dsb):
    graph, d = dsb
    rc = next(x["route_config"] for x in d["RoutesConfigDump"]["dynamic_route_configs"]
              if x["route_config"]["name"] == "9080")
    want = [vh["name"] for vh in rc["virtual_hosts"] for r in vh["routes"]
            if r.get("route", {}).get("cluster") != "PassthroughCluster"]
    rows = _rows(show(graph, "routes", DSB_POD, "--name", "9080"))
    assert [r[1] for r in rows] == want and {r[0] for r in rows} == {"9080"}
    assert "reviews.default.svc.cluster.local:9080" in want
    assert show(graph, "routes", DSB_POD, "--name", "9080", "--no-verbose") == (
        f"NAME     VIRTUAL HOSTS\n9080     {len(rc['virtual_hosts'])}\n")


# ---------------------------------------------------------------- -o json / yaml, pods
def test_json_prints_the_raw_resources(dsb):
    graph, d = dsb
    lst = json.loads(show(graph, "listeners", DSB_POD, "-o", "json"))
    assert isinstance(lst, list) and sorted(x.get("name", "") for x in lst) == sorted(
        x.get("name", "") for x in _listeners(d))
    assert all("@type" not in x for x in lst)
    cls = json.loads(show(graph, "clusters", DSB_POD, "--fqdn", "reviews", "-o", "json"))
    assert [c["name"] for c in cls] == ["outbound|9080||reviews.default.svc.cluster.local"]
    assert cls[0]["type"] == "EDS" and "eds_cluster_config" in cls[0]
    rts = json.loads(show(graph, "routes", DSB_POD, "--name", "9080", "-o", "json"))
    dump_rc = next(x["route_config"] for x in d["RoutesConfigDump"]["dynamic_route_configs"]
                   if x["route_config"]["name"] == "9080")
    assert [r["name"] for r in rts] == ["9080"]
    assert [v["name"] for v in rts[0]["virtual_hosts"]] == [v["name"] for v in dump_rc["virtual_hosts"]]
    eps = json.loads(show(graph, "endpoints", DSB_POD, "--port", "9080", "-o", "json"))
    assert len(eps) == 4 and {e["status"] for e in eps} == {"HEALTHY"} and all(e["address"].endswith(":9080") for e in eps)
    import yaml

    assert yaml.safe_load(show(graph, "clusters", DSB_POD, "--fqdn", "reviews", "-o", "yaml")) == cls


def test_pod_forms_and_errors(dsb):
    graph, _ = dsb
    want = show(graph, "clusters", DSB_POD, "--port", "9080")
    assert show(graph, "clusters", "geo-5c54dcd5bd-z5ghf.hr2", "--port", "9080") == want  # istioctl's name.namespace
    assert show(graph, "clusters", "hr2/geo-5c54dcd5bd-z5ghf", "--port", "9080") == want
    res = runner.invoke(app, ["show", "clusters", "nope", *graph])
    assert res.exit_code == 2 and "nope" in res.output
