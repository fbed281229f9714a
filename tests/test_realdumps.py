"""Every real dump in ../shared/realdumps ingests with MANIFEST.md's counts; non-dumps get one line."""

from __future__ import annotations

import shutil
import subprocess
import sys

import pytest

from topo.ingest import pipeline, sources
from topo.ingest.dump import DumpError
from topo.ingest.transform import transform_bytes

# (listeners, route configs, clusters, endpoint configs, lb_endpoints) as MANIFEST.md gives them
COUNTS = {
    "istio__istio/istioctl__pkg__proxyconfig__testdata__config_dump.json": (2, 1, 3, 2, 2),
    "istio__istio/istioctl__pkg__writer__envoy__configdump__testdata__endpoint__configdump.json": (0, 0, 0, 37, 36),
    "istio__istio/istioctl__pkg__writer__envoy__configdump__testdata__routes__istio-gateway-http-route-prefix__configdump.json": (0, 3, 0, 0, 0),
    "istio__istio/istioctl__pkg__writer__envoy__configdump__testdata__routes__k8s-gateway-http-route-path-prefix__configdump.json": (0, 3, 0, 0, 0),
    "istio__istio/istioctl__pkg__authz__testdata__configdump.yaml": (29, 0, 0, 0, 0),
    "istio__istio/istioctl__cmd__testdata__describe__productpage-v1-c7765c886-v99jb.json": (7, 6, 18, 0, 0),
    "istio__istio/istioctl__cmd__testdata__describe__istio-ingressgateway-5bf6c9887-vvvmj.json": (3, 2, 125, 0, 0),
    "istio__istio/istioctl__pkg__writer__envoy__configdump__testdata__configdump.json": (4, 2, 2, 0, 0),
    "envoyproxy__gateway/internal__cmd__egctl__testdata__config__in__in.all.json": (1, 1, 2, 1, 1),
    "openservicemesh__osm/pkg__cli__verifier__testdata__sample-envoy-config-dump-bookstore.json": (6, 6, 7, 7, 7),
    "openservicemesh__osm/pkg__cli__verifier__testdata__curl_egress.json": (1, 2, 4, 0, 0),
    "TZ-Zephrus__DeathStarBench/config_dump.json": (144, 92, 143, 143, 121),
    "hpcsc__bookinfo-envoy-config/envoy__config_dump__productpage-v1.json": (39, 31, 53, 0, 0),
}

# Files that are not config dumps, and the words their one-line refusal must contain.
NOT_DUMPS = {
    "txt": "text table",
    "egctl": "egctl output",
    "bare": "bare JSON array",
    "clusters": "/clusters?format=json",
}


def kind_of(name: str) -> str | None:
    if name.endswith(".txt"):
        return "txt"
    if "__out__out." in name:
        return "egctl"
    if name.startswith("hpcsc__istio-security-envoy-config/"):
        return "bare"
    if name.endswith("clusters__testdata__clusters.json") or name.endswith("envoy__clusters__productpage-v1.json"):
        return "clusters"
    return None


@pytest.mark.parametrize("name", sorted(COUNTS))
def test_counts_match_manifest(realdumps, name):
    r = transform_bytes((realdumps / name).read_bytes(), name)
    s = r.summary
    assert (s.listeners, s.route_configs, s.clusters, s.endpoint_configs, s.lb_endpoints) == COUNTS[name]


def test_every_file_is_either_counted_or_refused_in_one_line(realdumps):
    seen = set()
    for f in sorted(realdumps.rglob("*")):
        if not f.is_file() or f.name == "MANIFEST.md":
            continue
        name = str(f.relative_to(realdumps))
        seen.add(name)
        if name in COUNTS:
            continue
        kind = kind_of(name)
        assert kind, f"unclassified file {name}"
        with pytest.raises(DumpError) as e:
            transform_bytes(f.read_bytes(), name)
        msg = str(e.value)
        assert "\n" not in msg
        if kind == "txt":
            assert "text table" in msg or "not JSON" in msg
        else:
            assert NOT_DUMPS[kind] in msg, msg
    assert set(COUNTS) <= seen


def test_api_detection(realdumps):
    v2 = transform_bytes((realdumps / "hpcsc__bookinfo-envoy-config/envoy__config_dump__productpage-v1.json").read_bytes(), "x")
    assert v2.api == "v2" and v2.pod_id == "bookinfo/productpage-v1-596598f447-pw94h"
    dsb = transform_bytes((realdumps / "TZ-Zephrus__DeathStarBench/config_dump.json").read_bytes(), "x")
    assert dsb.api == "v3" and dsb.pod_id == "hr2/geo-5c54dcd5bd-z5ghf"


def test_clusters_json_companion_by_pod_name(realdumps, tmp_path):
    """`<pod>.clusters.json` beside `<pod>.json` is read as that pod's endpoint source."""
    src = realdumps / "hpcsc__bookinfo-envoy-config"
    shutil.copy(src / "envoy__config_dump__productpage-v1.json", tmp_path / "productpage-v1.json")
    shutil.copy(src / "envoy__clusters__productpage-v1.json", tmp_path / "productpage-v1.clusters.json")
    res = pipeline.transform_all(sources.from_path(tmp_path))
    assert res.refused == [] and len(res.files) == 1
    eps = res.rows.nodes["Endpoint"]
    assert len(eps) > 20
    details = [c for c in res.rows.nodes["Cluster"].values() if c["name"] == "outbound|9080||details.bookinfo.svc.cluster.local"]
    assert details and details[0]["has_endpoints_info"]


def test_ingest_whole_realdumps_dir_cli(realdumps, tmp_path):
    """One directory with dumps and non-dumps: partial (exit 3), every refusal one line, no traceback."""
    p = subprocess.run([sys.executable, "-m", "topo", "ingest", "--from", str(realdumps), "--store", str(tmp_path / "s")],
                       capture_output=True, text=True)
    assert p.returncode == 3, p.stderr
    assert "Traceback" not in p.stderr
    lines = [l for l in p.stderr.splitlines() if l.startswith("topo: ")]
    assert len(lines) == len(p.stderr.splitlines())
    refused = [l for l in lines if ": skipped: " not in l]
    skipped = [l for l in lines if ": skipped: " in l]
    # refused: 4 egctl goldens, 4 bare arrays, 2 /clusters outputs; skipped (one line each, not a
    # refusal): MANIFEST.md and the 10 istioctl text tables
    assert len(refused) == 10, refused
    assert len(skipped) == 11 and sum(".txt: skipped: " in l for l in skipped) == 10, skipped
    assert sum("a text table (istioctl output?)" in l for l in skipped) == 7  # the others begin with a title
    assert "Ingested" in p.stdout


def test_shared_parse_gives_the_same_rows(realdumps):
    """Ingest parses a pretty-printed dump resource by resource and shares what an earlier dump
    held byte for byte (topo.ingest.dump.parse_chunked); every real dump, read twice in one
    ingest and once compacted, must give exactly the rows of a plain parse."""
    import orjson

    from topo.model.rows import Rows

    names = [n for n in sorted(COUNTS) if n.endswith(".json")]
    plain, shared = Rows(), Rows()
    cache: dict = {}
    chunked = 0
    for n in names:
        data = (realdumps / n).read_bytes()
        plain.merge(transform_bytes(data, n).rows)
        compact = orjson.dumps(orjson.loads(data))
        for variant in (data, data, compact):
            shared.merge(transform_bytes(variant, n, None, cache).rows)
        chunked += data.startswith(b"{\n")
    assert chunked >= 5, "too few pretty-printed dumps to test the shared parse"
    assert len(cache["\x00chunks"].by_bytes) > 100
    assert shared.nodes == plain.nodes
    assert shared.rels == plain.rels
