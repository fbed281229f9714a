#!/usr/bin/env python3
"""Write the input/ folder (k8s.yaml, istio.yaml, mesh.yaml, proxies.json) of every conformance
scenario, with istiod-gen's k8s.py (consistent Pods, Services, EndpointSlices, Nodes, proxies).

    ISTIOD_GEN=../shared/istiod-gen python3 tests/conformance/tools/make_inputs.py [NAME ...]

The inputs are committed; this script is only how they were written (run it again after editing a
scenario below, then tests/conformance/regenerate.sh). Names are deterministic (k8s.py hashes
them), so expected.json stays valid as long as a pod's app/version/ip do not change.

Conventions: namespace demo; pods 10.244.0.x, Services 10.96.0.x; nodes node-a r1/z1,
node-b r1/z2, node-c r2/z3 (k8s.py's NODES). A pod made with sidecar=False has no istio-proxy,
no injection labels/annotation and no proxies.json entry: it is a plain, un-meshed pod.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CONF = HERE.parent
REPO = CONF.parent.parent
GEN = Path(os.environ.get("ISTIOD_GEN", REPO / ".." / "shared" / "istiod-gen"))
if not GEN.is_absolute():
    GEN = (REPO / GEN).resolve()
sys.path.insert(0, str(GEN))

import re  # noqa: E402

import k8s  # noqa: E402
import yaml  # noqa: E402


class _Dumper(yaml.SafeDumper):
    pass


def _str(dumper, s):
    # quote strings a YAML 1.1 / Go reader could take for a number or a bool (a pod-template-hash
    # like 029326066 would otherwise come back as a float and break the Pod's labels)
    if re.fullmatch(r"[-+]?[0-9._]+([eE][-+]?[0-9]+)?|0x[0-9a-fA-F]+", s) or \
            s.lower() in {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~", ""}:
        return dumper.represent_scalar("tag:yaml.org,2002:str", s, style="'")
    return dumper.represent_scalar("tag:yaml.org,2002:str", s)


_Dumper.add_representer(str, _str)
from k8s import PodSpec, SvcPort, SvcSpec, deployment_pod  # noqa: E402

SCENARIOS = {}


def scenario(fn):
    SCENARIOS[fn.__name__.replace("_", "-")] = fn
    return fn


def pod(app, version, ip, node="node-a", ns="demo", sa=None, ready=True, ports=(8080,), sidecar=True,
        extra_labels=None, suffix=""):
    p = deployment_pod(app, version, ns, ip, node=node, sa=sa, ready=ready, ports=list(ports),
                       extra_labels=extra_labels, suffix=suffix)
    p.sidecar = sidecar
    if not sidecar:
        for k in ("security.istio.io/tlsMode", "service.istio.io/canonical-name",
                  "service.istio.io/canonical-revision"):
            p.labels.pop(k, None)
    return p


def sts_pod(app, ordinal, ip, node="node-a", ns="demo", ports=(5432, 8080)):
    name = f"{app}-{ordinal}"
    labels = {"app": app, "statefulset.kubernetes.io/pod-name": name, "controller-revision-hash": f"{app}-7d4b9c8f6d",
              "security.istio.io/tlsMode": "istio", "service.istio.io/canonical-name": app,
              "service.istio.io/canonical-revision": "latest"}
    p = PodSpec(name=name, ns=ns, ip=ip, labels=labels, node=node, owner_kind="StatefulSet", owner_name=app,
                sa=app, hostname=name, subdomain=app, ports=list(ports))
    p.sidecar = True
    return p


def svc(name, vip, ports, selector=None, ns="demo"):
    return SvcSpec(name, ns, vip, [SvcPort(*p) for p in ports], selector if selector is not None else {"app": name})


def write(name, pods, svcs, istio="", mesh="", out=CONF):
    d = Path(out) / name / "input"
    d.mkdir(parents=True, exist_ok=True)
    nss = {p.ns for p in pods} | {s.ns for s in svcs} | {"istio-system"}
    objs = [k8s.ns_obj(n) for n in sorted(nss)]
    objs += [k8s.node_obj(n) for n in sorted(k8s.NODES)]
    objs += [k8s.svc_obj(s) for s in svcs]
    objs += [k8s.slice_obj(s, pods) for s in svcs if s.selector]
    for p in pods:
        o = k8s.pod_obj(p)
        if not p.sidecar:
            o["metadata"]["annotations"].pop("sidecar.istio.io/status", None)
            o["spec"]["containers"] = [c for c in o["spec"]["containers"] if c["name"] != "istio-proxy"]
        objs.append(o)
    docs = [yaml.dump(o, Dumper=_Dumper, sort_keys=False).rstrip("\n") for o in objs]
    (d / "k8s.yaml").write_text("\n---\n".join(docs) + "\n")
    istio = istio.strip()
    (d / "istio.yaml").write_text(istio + "\n" if istio else "")
    mesh = mesh.strip()
    (d / "mesh.yaml").write_text(mesh + "\n" if mesh else "")
    entries = []
    for p in pods:
        if not p.sidecar:
            continue
        e = k8s.proxy_entry(p)
        e["type"] = p.proxy_type
        entries.append(e)
    (d / "proxies.json").write_text(json.dumps(entries, indent=1) + "\n")


WEB = lambda: svc("web", "10.96.0.20", [("http", 80, 8080)])  # noqa: E731
CLIENT = lambda **kw: pod("client", None, "10.244.0.10", **kw)  # noqa: E731

DR_V1_V2 = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web, namespace: demo}
spec:
  host: web
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
"""

# ----------------------------------------------------------------------------- routing


@scenario
def canary_split():
    pods = [CLIENT()]
    pods += [pod("web", "v1", ip) for ip in ("10.244.0.11", "10.244.0.12", "10.244.0.13")]
    pods += [pod("web", "v2", ip, node="node-b") for ip in ("10.244.0.14", "10.244.0.15")]
    istio = DR_V1_V2 + """---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: demo}
spec:
  hosts: [web]
  http:
  - name: canary
    route:
    - destination: {host: web, subset: v1}
      weight: 90
    - destination: {host: web, subset: v2}
      weight: 10
"""
    write("canary-split", pods, [WEB()], istio)


@scenario
def header_path_match():
    pods = [CLIENT(), pod("web", "v1", "10.244.0.11"), pod("web", "v2", "10.244.0.12"), pod("api", None, "10.244.0.13")]
    istio = DR_V1_V2 + """---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: demo}
spec:
  hosts: [web]
  http:
  - name: alice
    match:
    - headers:
        x-user: {exact: alice}
    route:
    - destination: {host: web, subset: v2}
  - name: login
    match:
    - uri: {exact: /login}
    route:
    - destination: {host: web, subset: v2}
  - name: api
    match:
    - uri: {prefix: /api}
    route:
    - destination: {host: api}
  - name: default
    route:
    - destination: {host: web, subset: v1}
"""
    write("header-path-match", pods, [WEB(), svc("api", "10.96.0.21", [("http", 80, 8080)])], istio)


@scenario
def subset_missing_nc():
    pods = [CLIENT(), pod("web", "v1", "10.244.0.11"), pod("web", "v2", "10.244.0.12")]
    istio = DR_V1_V2 + """---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: demo}
spec:
  hosts: [web]
  http:
  - name: split
    route:
    - destination: {host: web, subset: v1}
      weight: 80
    - destination: {host: web, subset: v3}
      weight: 20
"""
    write("subset-missing-nc", pods, [WEB()], istio)


@scenario
def subset_no_pods_uh():
    pods = [CLIENT(), pod("web", "v1", "10.244.0.11"), pod("web", "v1", "10.244.0.12"),
            pod("idle", None, "10.244.0.13", ready=False)]
    istio = DR_V1_V2 + """---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: demo}
spec:
  hosts: [web]
  http:
  - name: split
    route:
    - destination: {host: web, subset: v1}
      weight: 70
    - destination: {host: web, subset: v2}
      weight: 30
"""
    write("subset-no-pods-uh", pods, [WEB(), svc("idle", "10.96.0.22", [("http", 80, 8080)])], istio)


@scenario
def registry_only_egress():
    pods = [CLIENT(), pod("web", None, "10.244.0.11")]
    istio = """
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: httpbin-ext, namespace: demo}
spec:
  hosts: [httpbin.example.com]
  location: MESH_EXTERNAL
  ports:
  - {number: 80, name: http, protocol: HTTP}
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: secure-ext, namespace: demo}
spec:
  hosts: [api.secure.example]
  location: MESH_EXTERNAL
  ports:
  - {number: 443, name: https, protocol: TLS}
  resolution: DNS
"""
    mesh = "outboundTrafficPolicy:\n  mode: REGISTRY_ONLY\n"
    write("registry-only-egress", pods, [WEB()], istio, mesh)


@scenario
def headless_statefulset():
    pods = [CLIENT(), sts_pod("db", 0, "10.244.0.21"), sts_pod("db", 1, "10.244.0.22", node="node-b")]
    write("headless-statefulset", pods, [svc("db", None, [("tcp-pg", 5432, 5432), ("http-admin", 8080, 8080)])])


@scenario
def locality_failover():
    pods = [pod("client", None, "10.244.0.10", node="node-a"),
            pod("client", None, "10.244.0.30", node="node-c"),
            pod("web", None, "10.244.0.11", node="node-a", ready=False),
            pod("web", None, "10.244.0.21", node="node-b"),
            pod("web", None, "10.244.0.31", node="node-c"),
            pod("web", None, "10.244.0.32", node="node-c")]
    istio = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web-failover, namespace: demo}
spec:
  host: web
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        enabled: true
        failover:
        - {from: r1, to: r2}
    outlierDetection:
      consecutive5xxErrors: 5
      interval: 10s
      baseEjectionTime: 30s
"""
    write("locality-failover", pods, [WEB()], istio)


@scenario
def locality_distribute():
    pods = [pod("client", None, "10.244.0.10", node="node-a"),
            pod("client", None, "10.244.0.20", node="node-b"),
            pod("web", None, "10.244.0.11", node="node-a"),
            pod("web", None, "10.244.0.12", node="node-a"),
            pod("web", None, "10.244.0.21", node="node-b"),
            pod("web", None, "10.244.0.31", node="node-c")]
    istio = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web-distribute, namespace: demo}
spec:
  host: web
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBIN
      localityLbSetting:
        enabled: true
        distribute:
        - from: r1/z1/*
          to:
            "r1/z1/*": 60
            "r2/z3/*": 40
"""
    write("locality-distribute", pods, [WEB()], istio)


@scenario
def tcp_service():
    # http-metrics: every proxy needs one HTTP route config, else `istioctl proxy-config all` fails
    # ("Error: no routes found") and build.sh stops
    pods = [CLIENT(), pod("db", "v1", "10.244.0.31", ports=[5432, 9102]), pod("db", "v2", "10.244.0.32", ports=[5432, 9102])]
    istio = """
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: db, namespace: demo}
spec:
  host: db
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: db, namespace: demo}
spec:
  hosts: [db]
  tcp:
  - match:
    - port: 5432
    route:
    - destination: {host: db, subset: v1}
      weight: 75
    - destination: {host: db, subset: v2}
      weight: 25
"""
    write("tcp-service", pods, [svc("db", "10.96.0.30", [("tcp-db", 5432, 5432), ("http-metrics", 9102, 9102)])], istio)


@scenario
def multi_port():
    pods = [CLIENT(), pod("app", None, "10.244.0.41", ports=[8080, 9000, 7070]),
            pod("app", None, "10.244.0.42", node="node-b", ports=[8080, 9000, 7070])]
    write("multi-port", pods, [svc("app", "10.96.0.40", [("http", 80, 8080), ("tcp-stream", 9000, 9000),
                                                         ("legacy", 7070, 7070)])])


@scenario
def sidecar_egress():
    pods = [CLIENT(), pod("web", None, "10.244.0.11"), pod("other", None, "10.244.0.12")]
    istio = """
apiVersion: networking.istio.io/v1
kind: Sidecar
metadata: {name: client-egress, namespace: demo}
spec:
  workloadSelector:
    labels: {app: client}
  egress:
  - hosts: ["./web.demo.svc.cluster.local"]
"""
    write("sidecar-egress", pods, [WEB(), svc("other", "10.96.0.50", [("http", 80, 8080)])], istio)


@scenario
def mirror():
    pods = [CLIENT(), pod("web", None, "10.244.0.11"), pod("web-shadow", None, "10.244.0.12")]
    istio = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: demo}
spec:
  hosts: [web]
  http:
  - name: primary
    route:
    - destination: {host: web}
    mirror: {host: web-shadow}
    mirrorPercentage: {value: 50.0}
"""
    write("mirror", pods, [WEB(), svc("web-shadow", "10.96.0.21", [("http", 80, 8080)])], istio)


@scenario
def fault_injection():
    pods = [CLIENT(), pod("web", None, "10.244.0.11"), pod("web", None, "10.244.0.12", node="node-b")]
    istio = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: demo}
spec:
  hosts: [web]
  http:
  - name: flaky
    fault:
      abort:
        percentage: {value: 30.0}
        httpStatus: 503
      delay:
        percentage: {value: 100.0}
        fixedDelay: 2s
    route:
    - destination: {host: web}
"""
    write("fault-injection", pods, [WEB()], istio)


@scenario
def ingress_gateway():
    gw = pod("istio-ingressgateway", None, "10.244.0.100", ns="istio-system", sa="istio-ingressgateway-service-account",
             ports=[8080], extra_labels={"istio": "ingressgateway"})
    gw.proxy_type = "router"
    pods = [gw, pod("web", None, "10.244.0.11"), pod("web", None, "10.244.0.12", node="node-b")]
    svcs = [svc("istio-ingressgateway", "10.96.0.100", [("http2", 80, 8080)], {"istio": "ingressgateway"},
                ns="istio-system"), WEB()]
    istio = """
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: shop-gw, namespace: demo}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: [shop.example.com]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: demo}
spec:
  hosts: [shop.example.com]
  gateways: [shop-gw]
  http:
  - name: shop
    match:
    - uri: {prefix: /}
    route:
    - destination: {host: web, port: {number: 80}}
"""
    write("ingress-gateway", pods, svcs, istio)


@scenario
def port80_ghost():
    pods = [CLIENT(), pod("web", None, "10.244.0.11"), pod("api", None, "10.244.0.12")]
    istio = """
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api, namespace: demo}
spec:
  hosts: [api]
  http:
  - name: api-default
    route:
    - destination: {host: api}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: legacy, namespace: demo}
spec:
  hosts: [legacy.internal]
  http:
  - name: legacy-to-web
    route:
    - destination: {host: web}
"""
    write("port80-ghost", pods, [WEB(), svc("api", "10.96.0.60", [("http-api", 8080, 8080)])], istio)


@scenario
def no_catch_all():
    pods = [CLIENT(), pod("web", "v1", "10.244.0.11"), pod("web", "v2", "10.244.0.12")]
    istio = DR_V1_V2 + """---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: demo}
spec:
  hosts: [web]
  http:
  - name: beta
    match:
    - headers:
        x-beta: {exact: "1"}
    route:
    - destination: {host: web, subset: v2}
  - name: v1-path
    match:
    - uri: {prefix: /v1/}
    route:
    - destination: {host: web, subset: v1}
"""
    write("no-catch-all", pods, [WEB()], istio)


@scenario
def shadowed_route():
    pods = [CLIENT(), pod("web", "v1", "10.244.0.11"), pod("web", "v2", "10.244.0.12")]
    istio = DR_V1_V2 + """---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: demo}
spec:
  hosts: [web]
  http:
  - name: api
    match:
    - uri: {prefix: /api}
    route:
    - destination: {host: web, subset: v1}
  - name: api-v2
    match:
    - uri: {prefix: /api/v2}
    route:
    - destination: {host: web, subset: v2}
  - name: default
    route:
    - destination: {host: web, subset: v1}
  - name: after-catch-all
    match:
    - uri: {prefix: /zzz}
    route:
    - destination: {host: web, subset: v2}
"""
    write("shadowed-route", pods, [WEB()], istio)


# ----------------------------------------------------------------------------- security

def web_and_client(*more):
    return [CLIENT(), pod("web", None, "10.244.0.11")] + list(more)


@scenario
def authz_allow_principal():
    pods = web_and_client(pod("other", None, "10.244.0.12"))
    istio = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-client, namespace: demo}
spec:
  selector:
    matchLabels: {app: web}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/demo/sa/client"]
    to:
    - operation:
        methods: ["GET"]
        paths: ["/api/*"]
  - from:
    - source:
        principals: ["cluster.local/ns/demo/sa/other"]
    to:
    - operation:
        methods: ["GET", "HEAD"]
        paths: ["/public"]
"""
    write("authz-allow-principal", pods, [WEB()], istio)


@scenario
def authz_deny_path():
    pods = web_and_client()
    istio = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: deny-admin, namespace: demo}
spec:
  selector:
    matchLabels: {app: web}
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/admin", "/admin/*"]
"""
    write("authz-deny-path", pods, [WEB()], istio)


@scenario
def authz_default_deny():
    pods = web_and_client()
    istio = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-frontend, namespace: demo}
spec:
  selector:
    matchLabels: {app: web}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/demo/sa/frontend"]
"""
    write("authz-default-deny", pods, [WEB()], istio)


@scenario
def authz_allow_nothing():
    pods = web_and_client()
    istio = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-nothing, namespace: demo}
spec: {}
"""
    write("authz-allow-nothing", pods, [WEB()], istio)


@scenario
def authz_namespaces():
    pods = web_and_client(pod("fe", None, "10.244.0.20", ns="frontend"))
    istio = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: allow-frontend-ns, namespace: demo}
spec:
  selector:
    matchLabels: {app: web}
  action: ALLOW
  rules:
  - from:
    - source:
        namespaces: ["frontend"]
"""
    write("authz-namespaces", pods, [WEB()], istio)


@scenario
def authz_dry_run():
    pods = web_and_client()
    istio = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: deny-admin-dry
  namespace: demo
  annotations:
    istio.io/dry-run: "true"
spec:
  selector:
    matchLabels: {app: web}
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["/admin", "/admin/*"]
"""
    write("authz-dry-run", pods, [WEB()], istio)


@scenario
def authz_custom():
    pods = web_and_client(pod("ext-authz", None, "10.244.0.80", ns="authz", ports=[8000]))
    istio = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ext-authz, namespace: demo}
spec:
  selector:
    matchLabels: {app: web}
  action: CUSTOM
  provider:
    name: ext-authz-http
  rules:
  - to:
    - operation:
        paths: ["/secure/*"]
"""
    mesh = """
extensionProviders:
- name: ext-authz-http
  envoyExtAuthzHttp:
    service: ext-authz.authz.svc.cluster.local
    port: 8000
    includeRequestHeadersInCheck: [authorization]
"""
    write("authz-custom", pods, [WEB(), svc("ext-authz", "10.96.0.80", [("http", 8000, 8000)], ns="authz")], istio, mesh)


@scenario
def authz_tcp_http_fields():
    # the same policy on db's HTTP port 9102 keeps rule 0 (and is what gives istioctl a route config)
    pods = [CLIENT(), pod("admin", None, "10.244.0.12"), pod("db", None, "10.244.0.31", ports=[5432, 9102])]
    istio = """
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: db-allow, namespace: demo}
spec:
  selector:
    matchLabels: {app: db}
  action: ALLOW
  rules:
  - from:
    - source:
        principals: ["cluster.local/ns/demo/sa/client"]
    to:
    - operation:
        methods: ["GET"]
  - from:
    - source:
        principals: ["cluster.local/ns/demo/sa/admin"]
"""
    write("authz-tcp-http-fields", pods, [svc("db", "10.96.0.30", [("tcp-db", 5432, 5432), ("http-metrics", 9102, 9102)])],
          istio)


@scenario
def mtls_strict_port_exception():
    pods = web_and_client(pod("legacy", None, "10.244.0.50", sidecar=False))
    pods[1].ports = [8080, 8081]
    istio = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: web-strict, namespace: demo}
spec:
  selector:
    matchLabels: {app: web}
  mtls: {mode: STRICT}
  portLevelMtls:
    8081: {mode: PERMISSIVE}
"""
    write("mtls-strict-port-exception", pods,
          [svc("web", "10.96.0.20", [("http", 80, 8080), ("http-legacy", 81, 8081)])], istio)


@scenario
def mtls_no_sidecar_client():
    pods = web_and_client(pod("legacy", None, "10.244.0.50", sidecar=False))
    istio = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: demo}
spec:
  mtls: {mode: STRICT}
"""
    write("mtls-no-sidecar-client", pods, [WEB()], istio)


@scenario
def mtls_dr_disable():
    pods = web_and_client()
    istio = """
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: demo}
spec:
  mtls: {mode: STRICT}
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: web-plaintext, namespace: demo}
spec:
  host: web
  trafficPolicy:
    tls: {mode: DISABLE}
"""
    write("mtls-dr-disable", pods, [WEB()], istio)


if __name__ == "__main__":
    names = sys.argv[1:] or list(SCENARIOS)
    for n in names:
        SCENARIOS[n]()
        print("wrote", CONF / n / "input")
