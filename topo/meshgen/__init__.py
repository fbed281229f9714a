"""Deterministic generator of Istio-1.22-shaped sidecar config dumps (``/config_dump?include_eds=true``).

* :mod:`.model` — dataclasses describing a mesh (services, workloads, pods, DestinationRules, VirtualServices);
* :mod:`.envoy` — ``render_dump(mesh, pod)``: the dump of one sidecar;
* :mod:`.demo` — the istio-demo mesh of the seed article; :mod:`.random` — ``random_mesh(...)`` for benchmarks;
* :mod:`.writer` — ``write_bundle(mesh, out_dir)``: one ``<pod>.json`` per pod plus pods.json / services.json.

``python -m topo.meshgen demo|random ... --out DIR`` runs it. Standard library only.
"""

from .demo import demo_mesh
from .envoy import Renderer, render_dump, render_dump_json
from .model import Mesh
from .random import random_mesh
from .writer import write_bundle

__all__ = ["Mesh", "Renderer", "demo_mesh", "random_mesh", "render_dump", "render_dump_json", "write_bundle"]
