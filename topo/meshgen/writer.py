"""Write a mesh as a bundle directory: one ``<pod>.json`` config dump per pod, ``pods.json`` and
``services.json`` (the shapes of ``kubectl get pods|svc -o json``).

The bytes depend only on the mesh (and its seed): no wall-clock time, no ordering from hash seeds.
Standard library only.
"""

from __future__ import annotations

import json
from pathlib import Path

from .envoy import DETAIL_FULL, Clock, Renderer, _iso
from .model import K8S, Mesh, Pod, Workload, k8s_suffix, stable_hash

PROXY_IMAGE = "docker.io/istio/proxyv2"


def _uid(text: str) -> str:
    h = f"{stable_hash('uid:' + text):016x}{stable_hash('uid2:' + text):016x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:32]}"


def _rs_hash(w: Workload) -> str:
    return w.replicaset_hash or k8s_suffix("rs:" + w.name, 10)


def _host_ip(node: str) -> str:
    h = stable_hash("node:" + node)
    return f"172.18.{(h >> 8) % 250}.{2 + h % 250}"


def pod_item(mesh: Mesh, w: Workload, p: Pod, clock: Clock) -> dict:
    ix = mesh.index
    rs = _rs_hash(w)
    created = _iso(clock.base_ms - 3600_000 + stable_hash("created:" + p.name) % 600_000, with_ms=False)
    ports: list[int] = []
    for sname in w.services:
        svc = ix.by_fqdn.get(f"{sname}.{w.namespace}.svc.{mesh.domain}")
        for sp in svc.ports if svc else []:
            if sp.target not in ports:
                ports.append(sp.target)
    image_tag = f"{PROXY_IMAGE}:{mesh.istio_version}"
    app_image = w.image or f"registry.example.com/{w.namespace}/{w.app}:{w.version}"
    cond = [{"lastProbeTime": None, "lastTransitionTime": created, "status": "True", "type": t}
            for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "annotations": {
                "istio.io/rev": "default",
                "kubectl.kubernetes.io/default-container": w.app,
                "kubectl.kubernetes.io/default-logs-container": w.app,
                "prometheus.io/path": "/stats/prometheus",
                "prometheus.io/port": "15020",
                "prometheus.io/scrape": "true",
                "sidecar.istio.io/status": json.dumps({
                    "initContainers": ["istio-init"], "containers": ["istio-proxy"],
                    "volumes": ["workload-socket", "credential-socket", "workload-certs", "istio-envoy",
                                "istio-data", "istio-podinfo", "istio-token", "istiod-ca-cert"],
                    "imagePullSecrets": None, "revision": "default"}, separators=(",", ":")),
            },
            "creationTimestamp": created,
            "generateName": f"{w.name}-{rs}-",
            "labels": {
                "app": w.app,
                "pod-template-hash": rs,
                "security.istio.io/tlsMode": "istio",
                "service.istio.io/canonical-name": w.app,
                "service.istio.io/canonical-revision": w.version,
                "version": w.version,
            },
            "name": p.name,
            "namespace": w.namespace,
            "ownerReferences": [{
                "apiVersion": "apps/v1", "blockOwnerDeletion": True, "controller": True, "kind": "ReplicaSet",
                "name": f"{w.name}-{rs}", "uid": _uid(f"rs/{w.namespace}/{w.name}-{rs}")}],
            "resourceVersion": str(1000 + stable_hash("rv:" + p.name) % 900000),
            "uid": _uid(f"pod/{w.namespace}/{p.name}"),
        },
        "spec": {
            "containers": [
                {"image": app_image, "imagePullPolicy": "IfNotPresent", "name": w.app,
                 "ports": [{"containerPort": tp, "protocol": "TCP"} for tp in ports]},
                {"args": ["proxy", "sidecar", "--domain", "$(POD_NAMESPACE).svc." + mesh.domain,
                          "--proxyLogLevel=warning", "--proxyComponentLogLevel=misc:error", "--log_output_level=default:info"],
                 "image": image_tag, "imagePullPolicy": "IfNotPresent", "name": "istio-proxy",
                 "ports": [{"containerPort": 15090, "name": "http-envoy-prom", "protocol": "TCP"}]},
            ],
            "initContainers": [{"image": image_tag, "imagePullPolicy": "IfNotPresent", "name": "istio-init"}],
            "nodeName": p.node,
            "serviceAccount": w.sa,
            "serviceAccountName": w.sa,
        },
        "status": {
            "conditions": cond,
            "containerStatuses": [
                {"image": img, "name": name, "ready": True, "restartCount": 0, "started": True,
                 "state": {"running": {"startedAt": created}}}
                for name, img in ((w.app, app_image), ("istio-proxy", image_tag))],
            "hostIP": _host_ip(p.node),
            "phase": "Running",
            "podIP": p.ip,
            "podIPs": [{"ip": p.ip}],
            "qosClass": "Burstable",
            "startTime": created,
        },
    }


def service_items(mesh: Mesh, clock: Clock) -> list[dict]:
    ix = mesh.index
    out = []
    for svc in mesh.services:
        if svc.kind != K8S:
            continue
        ports = []
        for sp in svc.ports:
            port: dict = {"port": sp.port, "protocol": "UDP" if sp.proto == "udp" else "TCP",
                          "targetPort": sp.target}
            if sp.name:  # kubectl leaves the key out for an unnamed port
                port["name"] = sp.name
            ports.append(port)
        cip = svc.vip or "None"
        created = _iso(clock.base_ms - 7200_000 + stable_hash("svc:" + svc.name) % 600_000, with_ms=False)
        out.append({
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"creationTimestamp": created, "labels": {"app": svc.name}, "name": svc.name,
                         "namespace": svc.namespace,
                         "resourceVersion": str(1000 + stable_hash(f"rv:svc:{svc.namespace}/{svc.name}") % 900000),
                         "uid": _uid(f"svc/{svc.namespace}/{svc.name}")},
            "spec": {"clusterIP": cip, "clusterIPs": [cip], "internalTrafficPolicy": "Cluster",
                     "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack", "ports": ports,
                     "selector": ix.selector(svc), "sessionAffinity": "None", "type": "ClusterIP"},
            "status": {"loadBalancer": {}},
        })
    return out


def _kubectl_list(items: list[dict]) -> str:
    return json.dumps({"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}},
                      indent=4, sort_keys=True) + "\n"


def write_bundle(mesh: Mesh, out_dir: str | Path, detail: str = DETAIL_FULL, dumps: str = "all") -> dict:
    """Write ``<pod>.json`` per pod (Envoy's ``indent=1`` formatting), ``pods.json`` and ``services.json``.

    ``dumps="per-group"`` writes one dump per (workload, locality) group instead of one per pod: the
    others would be identical apart from the bootstrap node. Returns ``{"dumps": n, "bytes": total,
    "files": [names...]}``.
    """
    if dumps not in ("all", "per-group"):
        raise ValueError("dumps must be 'all' or 'per-group'")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    r = Renderer(mesh, detail)
    names: set[str] = set()
    files: list[str] = []
    total = 0
    seen_groups: set = set()
    # group the pods so that the renderer's per-group cache is reused
    order = sorted(mesh.pods(), key=lambda wp: (wp[0].namespace, wp[0].name, wp[1].locality.region,
                                                wp[1].locality.zone, wp[1].name))
    for w, p in order:
        if p.name in names:
            raise ValueError(f"two pods are named {p.name!r}; dump files are named after pods")
        names.add(p.name)
        g = r.group_key(w, p)
        if dumps == "per-group":
            if g in seen_groups:
                continue
            seen_groups.add(g)
        data = (r.render_json(p) + "\n").encode()
        (out / f"{p.name}.json").write_bytes(data)
        files.append(f"{p.name}.json")
        total += len(data)
    for fname, items in (("pods.json", [pod_item(mesh, w, p, r.clock) for w, p in order]),
                         ("services.json", service_items(mesh, r.clock))):
        data = _kubectl_list(items).encode()
        (out / fname).write_bytes(data)
        files.append(fname)
        total += len(data)
    return {"dumps": len(files) - 2, "bytes": total, "files": files}
