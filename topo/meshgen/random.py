"""Random (but seed-deterministic) meshes for benchmarks: ``random_mesh(services=S, pods=P, workloads=W, seed=N)``.

What a mesh contains:

* ``services`` Kubernetes Services spread over a few namespaces, each with 1–3 ports mixing HTTP-named
  (``http``, ``http-web``, ``grpc`` ...), TCP-named (``tcp-mysql``, ``mongo`` ...) and unnamed or
  unknown-named (auto-detected) ports; about ``headless_ratio`` of them headless (TCP / auto ports only);
* ``service_entries`` ServiceEntry hosts with DNS resolution (TLS 443 and HTTP 80, no address);
* ``workloads`` Deployments. With W >= S every service gets its own ``<svc>-v1`` and the W - S extra
  workloads become ``v2``, ``v3`` ... versions of random services; with W < S a workload backs several
  services of its namespace (and one extra version still exists, so there is always a split to route);
* ``pods`` pods over the workloads (at least one each), ``unhealthy_ratio`` of them UNHEALTHY in EDS
  (at least one), in ``localities`` region/zone pairs. With ``zonal_workloads`` (default) every pod of
  a workload sits in one zone, so pods of one workload get identical config; versions of one service
  sit in different zones, which gives Istio locality-failover priorities 1 and 2;
* DestinationRules with ``version`` subsets (and outlier detection, which turns failover on) for every
  multi-version service, plus some plain ones (``dr_ratio``); VirtualServices (``vs_ratio``) with
  header-match, exact-path and prefix routes and weighted splits (sometimes with a weight-0 leg), and
  weighted TCP routes for TCP-only multi-version services.

Service 0 is always an HTTP service with two versions, a DestinationRule with outlier detection and a
VirtualService with a header match and a weighted default route, so every mesh (with >= 2 workloads
and >= 2 localities) has a weighted route, a header match and a priority > 0 somewhere.

O(services + pods + workloads). Standard library only.
"""

from __future__ import annotations

import math
import random as _random

from .model import (
    AUTO,
    HTTP,
    SERVICE_ENTRY,
    TCP,
    UNHEALTHY,
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
    TCPRoute,
    VirtualService,
    Workload,
    k8s_suffix,
)

NS_WORDS = ["shop", "payments", "catalog", "orders", "identity", "search", "media", "billing", "shipping",
            "analytics", "inventory", "reviews", "social", "notify", "ledger", "auth", "cart", "profile",
            "ads", "reports"]
SVC_WORDS = ["frontend", "checkout", "cart", "catalog", "pricing", "currency", "email", "recommend", "ads",
             "shipping", "payment", "inventory", "search", "user", "profile", "session", "auth", "token",
             "ledger", "invoice", "billing", "review", "rating", "details", "media", "thumbnail", "upload",
             "notify", "sms", "push", "geo", "rate", "reserve", "timeline", "graph", "compose", "url",
             "mention", "text", "uid", "order", "basket", "promo", "coupon", "loyalty", "report", "export",
             "audit", "config", "flags", "gateway", "router", "cache", "queue", "worker", "scheduler"]
LOCALITIES = [("us-east1", "us-east1-b"), ("us-east1", "us-east1-c"), ("us-west1", "us-west1-a"),
              ("europe-west1", "europe-west1-b"), ("europe-west1", "europe-west1-d"), ("asia-east1", "asia-east1-a")]
HTTP_PORTS = [(80, "http"), (8080, "http-web"), (9080, "http"), (8000, "http-api"), (5000, "grpc"),
              (8081, "http2-admin")]
TCP_PORTS = [(3306, "tcp-mysql"), (5432, "tcp-postgres"), (6379, "tcp-redis"), (27017, "mongo"),
             (9092, "tcp-kafka"), (11211, "tcp-memcached")]
AUTO_PORTS = [(9000, ""), (7000, ""), (8443, ""), (3000, ""), (9090, "metrics")]  # "metrics": unknown → auto
HEADER_USERS = ["jason", "alice", "qa-bot", "canary-tester"]


def _ip(base_a: int, base_b: int, span_24s: int, n: int, mult: int) -> str:
    """A bijective spread of index ``n`` over ``span_24s`` /24s, host part 1..254."""
    k = (n * mult + 7) % (span_24s * 254)
    third, last = divmod(k, 254)
    return f"{base_a}.{base_b + third // 256}.{third % 256}.{last + 1}"


def _split(rng: _random.Random, n: int, allow_zero: bool) -> list[int]:
    """n weights summing to 100; with ``allow_zero`` one leg may get 0 (Istio drops it)."""
    if n == 1:
        return [100]
    cuts = sorted(rng.sample(range(1, 100), n - 1))
    ws = [b - a for a, b in zip([0, *cuts], [*cuts, 100], strict=True)]
    if allow_zero and n >= 3:
        i = rng.randrange(1, n)
        ws[0] += ws[i]
        ws[i] = 0
    return ws


def random_mesh(services: int = 50, pods: int = 150, workloads: int | None = None, seed: int = 0, *,
                namespaces: int | None = None, localities: int = 3, unhealthy_ratio: float = 0.05,
                headless_ratio: float = 0.05, service_entries: int = 2, dr_ratio: float = 0.3,
                vs_ratio: float = 0.6, zonal_workloads: bool = True, max_ports: int = 3) -> Mesh:
    """A seed-deterministic mesh; see the module docstring for what it contains."""
    S = services
    if S < 1 or pods < 1:
        raise ValueError("need at least one service and one pod")
    W = workloads if workloads is not None else min(pods, math.ceil(S * 1.25))
    if not 1 <= W <= pods:
        raise ValueError(f"workloads must be between 1 and pods ({pods}), got {W}")
    if not 1 <= localities <= len(LOCALITIES):
        raise ValueError(f"localities must be between 1 and {len(LOCALITIES)}")
    rng = _random.Random(seed)

    n_ns = namespaces if namespaces is not None else max(1, min(20, round(S / 25)))
    ns_names = [NS_WORDS[i % len(NS_WORDS)] + (f"-{i // len(NS_WORDS)}" if i >= len(NS_WORDS) else "")
                for i in range(n_ns)]
    locs = [Locality(r, z) for r, z in LOCALITIES[:localities]]

    # ---- which workload backs which service ------------------------------------------------------
    if W >= S:
        n_primary = S
    else:
        n_primary = W - 1 if W >= 2 else 1
    n_extra = W - n_primary
    group_of = [j if W >= S else j % n_primary for j in range(S)]
    group_ns = [ns_names[g] if g < n_ns else ns_names[rng.randrange(n_ns)] for g in range(n_primary)]

    # ---- services ---------------------------------------------------------------------------------
    n_headless = max(1, round(S * headless_ratio)) if S >= 3 and headless_ratio > 0 else 0
    headless = set(rng.sample(range(1, S), n_headless)) if n_headless else set()
    used_names: dict[str, int] = {}
    svc_list: list[Service] = []
    for j in range(S):
        word = SVC_WORDS[j % len(SVC_WORDS)] if j < len(SVC_WORDS) else rng.choice(SVC_WORDS)
        k = used_names.get(word, 0)
        used_names[word] = k + 1
        name = word if k == 0 else f"{word}-{k}"
        if j in headless:
            kinds = [rng.choice([TCP, AUTO])]
        elif j == 0:
            kinds = [HTTP]
        else:
            kinds = [rng.choices([HTTP, AUTO, TCP], weights=[50, 25, 25])[0]]
        n_ports = min(max_ports, 1 + (rng.random() < 0.45) + (rng.random() < 0.2))
        for _ in range(n_ports - 1):
            kinds.append(rng.choice([TCP, AUTO]) if j in headless else rng.choice([HTTP, TCP, AUTO]))
        ports: list[ServicePort] = []
        for kind in kinds:
            pool = {HTTP: HTTP_PORTS, TCP: TCP_PORTS, AUTO: AUTO_PORTS}[kind]
            free = [pp for pp in pool if all(pp[0] != sp.port for sp in ports)]
            if not free:
                continue
            num, pname = rng.choice(free)
            target = 8080 if num == 80 and rng.random() < 0.5 else num
            ports.append(ServicePort(num, pname, target_port=target))
        vip = None if j in headless else _ip(10, 96, 4096, j, 7919)
        svc_list.append(Service(name, group_ns[group_of[j]], ports, vip=vip))

    # ---- workloads and pods ------------------------------------------------------------------------
    primaries: list[Workload] = []
    for g in range(n_primary):
        members = [svc_list[j].name for j in range(S) if group_of[j] == g] if W < S else [svc_list[g].name]
        primaries.append(Workload(f"{members[0]}-v1", group_ns[g], app=members[0], version="v1",
                                  services=members, service_account=members[0]))
    versions_of: dict[int, list[Workload]] = {g: [primaries[g]] for g in range(n_primary)}
    extra_ok = [g for g in range(n_primary)
                if not any(svc_list[j].headless for j in range(S) if group_of[j] == g)] or [0]
    for e in range(n_extra):
        g = 0 if e == 0 else rng.choice(extra_ok)
        base = primaries[g]
        v = f"v{len(versions_of[g]) + 1}"
        wl = Workload(f"{base.app}-{v}", base.namespace, app=base.app, version=v, services=list(base.services),
                      service_account=base.service_account)
        versions_of[g].append(wl)
    all_wl = [wl for g in range(n_primary) for wl in versions_of[g]]
    loc_of: dict[str, Locality] = {}
    for g in range(n_primary):
        start = rng.randrange(len(locs))
        for vi, wl in enumerate(versions_of[g]):
            loc_of[wl.name] = locs[(start + vi) % len(locs)]

    counts = [1] * len(all_wl)
    if pods > len(all_wl):
        skew = [0.5 + rng.random() * 3 for _ in all_wl]
        for i in rng.choices(range(len(all_wl)), weights=skew, k=pods - len(all_wl)):
            counts[i] += 1
    nodes_per_zone = max(1, pods // (25 * len(locs)))
    pod_names: set[str] = set()
    n_pod = 0
    for wl, cnt in zip(all_wl, counts, strict=True):
        wl.replicaset_hash = k8s_suffix(f"rs:{seed}:{wl.namespace}:{wl.name}", 10)
        for i in range(cnt):
            salt = 0
            while True:
                pname = f"{wl.name}-{wl.replicaset_hash}-{k8s_suffix(f'pod:{seed}:{wl.name}:{i}:{salt}', 5)}"
                if pname not in pod_names:
                    break
                salt += 1
            pod_names.add(pname)
            loc = loc_of[wl.name] if zonal_workloads else locs[rng.randrange(len(locs))]
            node = f"node-{loc.zone}-{rng.randrange(nodes_per_zone)}"
            health = UNHEALTHY if rng.random() < unhealthy_ratio else "HEALTHY"
            wl.pods.append(Pod(pname, _ip(10, 244, 1024, n_pod, 104729), node=node, locality=loc, health=health))
            n_pod += 1
    if unhealthy_ratio > 0 and pods >= 2 and not any(p.health == UNHEALTHY for wl in all_wl for p in wl.pods):
        cands = [wl for wl in all_wl if len(wl.pods) >= 2] or all_wl
        rng.choice(cands).pods[-1].health = UNHEALTHY

    # ---- DestinationRules and VirtualServices ---------------------------------------------------------
    drs: list[DestinationRule] = []
    vss: list[VirtualService] = []
    for j, svc in enumerate(svc_list):
        if svc.headless:
            continue
        vers = [wl.version for wl in versions_of[group_of[j]]]
        fqdn = svc.fqdn()
        multi = len(vers) > 1
        protos = {sp.proto for sp in svc.ports}
        if multi or rng.random() < dr_ratio:
            lb = rng.choice([None, None, None, None, "ROUND_ROBIN", "RANDOM"])
            drs.append(DestinationRule(svc.name, svc.namespace, fqdn,
                                       subsets=[Subset(v, {"version": v}) for v in vers],
                                       lb_policy=None if j == 0 else lb,
                                       outlier_detection=j == 0 or (multi and rng.random() < 0.8)
                                       or (not multi and rng.random() < 0.3)))
        http_capable = bool(protos & {HTTP, AUTO})
        if multi and http_capable and (j == 0 or rng.random() < vs_ratio):
            routes: list[HTTPRoute] = []
            if j == 0 or rng.random() < 0.6:
                routes.append(HTTPRoute(f"{svc.name}-canary-user", match=[HTTPMatch(
                    prefix="/", headers={"end-user": rng.choice(HEADER_USERS)})],
                    route=[Destination(subset=vers[-1])]))
            if rng.random() < 0.4:
                routes.append(HTTPRoute(f"{svc.name}-health", match=[HTTPMatch(exact="/healthz")],
                                        route=[Destination(subset=vers[0])]))
            if rng.random() < 0.5:
                ws = _split(rng, len(vers), allow_zero=False)
                routes.append(HTTPRoute(f"{svc.name}-api", match=[HTTPMatch(prefix="/api/", name="api")],
                                        route=[Destination(subset=v, weight=w) for v, w in zip(vers, ws, strict=True)]))
            ws = [80, 20] + [0] * (len(vers) - 2) if j == 0 else _split(rng, len(vers), rng.random() < 0.15)
            routes.append(HTTPRoute(None if (j and rng.random() < 0.2) else f"{svc.name}-default",
                                    route=[Destination(subset=v, weight=w) for v, w in zip(vers, ws, strict=True)]))
            vss.append(VirtualService(svc.name, svc.namespace, [fqdn], http=routes))
        elif multi and not http_capable and rng.random() < vs_ratio:
            ws = _split(rng, len(vers), allow_zero=False)
            vss.append(VirtualService(svc.name, svc.namespace, [fqdn], tcp=[TCPRoute(
                route=[Destination(subset=v, weight=w) for v, w in zip(vers, ws, strict=True)])]))
        elif not multi and http_capable and rng.random() < vs_ratio * 0.3:
            vss.append(VirtualService(svc.name, svc.namespace, [fqdn], http=[
                HTTPRoute(f"{svc.name}-legacy", match=[HTTPMatch(prefix="/legacy/")], route=[Destination()]),
                HTTPRoute(f"{svc.name}-default", route=[Destination()])]))

    # ---- ServiceEntries ------------------------------------------------------------------------------
    for k in range(service_entries):
        if k == 0:
            host, sp = "api.external.example.com", ServicePort(443, "tls")
        elif k == 1:
            host, sp = "httpbin.example.org", ServicePort(80, "http")
        else:
            host = f"ext-{k}.example.net"
            sp = ServicePort(443, "tls") if k % 2 == 0 else ServicePort(80, "http")
        svc_list.append(Service(host, ns_names[0], [sp], vip=None, kind=SERVICE_ENTRY, resolution="DNS"))

    return Mesh(f"random-s{S}-p{pods}-w{W}-seed{seed}", services=svc_list, workloads=all_wl,
                destination_rules=drs, virtual_services=vss, seed=seed)
