"""The ``istio-demo`` mesh of the seed article (shared/seed/envoy-egress-walkthrough.zh.md).

The article follows ``GET /`` from pod ``integration-86924652-bfsfs`` to ``publictest:9000``: a
VirtualService splits it 90/10 between the DestinationRule subsets v1 and v2, and the v1 cluster's EDS
lists ``10.244.0.53:9000``. This module rebuilds that mesh and adds what the article leaves implicit.

Where this follows Istio 1.22 rather than the article:

* The article shows the port-9000 listener as ``184.29.159.225_9000`` and elsewhere mentions other
  VIPs (``10.111.219.247:9000``). Istio keys a sniffed (unnamed-port) listener by the service VIP, and
  the route config's own domains name the VIP 10.1.122.241, so the listener here is
  ``10.1.122.241_9000``.
* The article's ``publictest.istio-demo.svc.cluster.local:9000`` route config holds an ``allow_any``
  vhost plus a vhost with port-suffixed domains (``publictest:9000``, ``publictest:9999`` ...). Istio 1.22
  gives a sniffed port's ``<fqdn>:<port>`` route config ONE vhost, named ``<fqdn>:<port>``, whose domains
  are just ``["*"]``, and no catch-all (ENVOY-SEMANTICS §5 "Sniffed configs"); port-suffixed domains
  stopped in 1.16 (``ignore_port_in_host_matching``).
* The article's listener matches ALPN ``[http/1.0, http/1.1, h2c]`` without a transport protocol;
  Istio 1.22 matches ``transport_protocol: raw_buffer`` + ``[http/1.1, h2c]`` (``http/1.0`` only with
  PILOT_HTTP10).
* The article prints ``istioctl`` per-type output (camelCase, bare arrays); this is the admin
  ``/config_dump?include_eds=true`` document (snake_case, ``{"configs": [...]}``).

Added so that the other listener kinds are covered: service ``integration`` (port 8080 named ``http``:
shared ``0.0.0.0_8080`` listener, RDS ``"8080"``) backing the integration pod, and a TCP service
``mysql`` (3306 ``tcp-mysql``: ``10.1.200.9_3306`` with a lone tcp_proxy chain). Everything is healthy
and in one (unlabelled, as on a kind cluster) locality, so every EDS priority is 0.
"""

from __future__ import annotations

from .model import (
    Destination,
    DestinationRule,
    HTTPMatch,
    HTTPRoute,
    Locality,
    Mesh,
    Pod,
    Service,
    ServicePort,
    Subset,
    VirtualService,
    Workload,
    k8s_suffix,
)

NAMESPACE = "istio-demo"
CLIENT_POD = "integration-86924652-bfsfs"
PUBLICTEST_VIP = "10.1.122.241"
INTEGRATION_VIP = "10.1.45.17"
MYSQL_VIP = "10.1.200.9"
NODE = "istio-demo-worker"
LOCALITY = Locality()  # kind / minikube nodes carry no topology labels


def _pods(workload: str, ips: list[str]) -> tuple[str, list[Pod]]:
    rs = k8s_suffix("rs:" + workload, 10)
    return rs, [Pod(name=f"{workload}-{rs}-{k8s_suffix(f'pod:{workload}:{i}', 5)}", ip=ip, node=NODE,
                    locality=LOCALITY) for i, ip in enumerate(ips)]


def demo_mesh() -> Mesh:
    ns = NAMESPACE
    services = [
        Service("integration", ns, [ServicePort(8080, "http")], vip=INTEGRATION_VIP),
        Service("mysql", ns, [ServicePort(3306, "tcp-mysql")], vip=MYSQL_VIP),
        Service("publictest", ns, [ServicePort(9000, "")], vip=PUBLICTEST_VIP),  # unnamed port: auto-sniff
    ]
    v1_rs, v1_pods = _pods("publictest-v1", ["10.244.0.53", "10.244.0.54", "10.244.0.55"])
    v2_rs, v2_pods = _pods("publictest-v2", ["10.244.0.61"])
    my_rs, my_pods = _pods("mysql", ["10.244.0.70"])
    workloads = [
        Workload("integration", ns, app="integration", version="v1", services=["integration"],
                 pods=[Pod(CLIENT_POD, "10.244.0.47", node=NODE, locality=LOCALITY)],
                 service_account="integration", replicaset_hash="86924652"),
        Workload("publictest-v1", ns, app="publictest", version="v1", services=["publictest"], pods=v1_pods,
                 service_account="publictest", replicaset_hash=v1_rs),
        Workload("publictest-v2", ns, app="publictest", version="v2", services=["publictest"], pods=v2_pods,
                 service_account="publictest", replicaset_hash=v2_rs),
        Workload("mysql", ns, app="mysql", version="v1", services=["mysql"], pods=my_pods,
                 service_account="mysql", replicaset_hash=my_rs),
    ]
    drs = [DestinationRule("publictest", ns, "publictest.istio-demo.svc.cluster.local", subsets=[
        Subset("v1", {"version": "v1"}), Subset("v2", {"version": "v2"})])]
    vss = [VirtualService("publictest", ns, ["publictest.istio-demo.svc.cluster.local"], http=[
        HTTPRoute("publictest-route", match=[HTTPMatch(prefix="/")],
                  route=[Destination(subset="v1", weight=90), Destination(subset="v2", weight=10)])])]
    return Mesh("istio-demo", services=services, workloads=workloads, destination_rules=drs,
                virtual_services=vss, seed=0)
