"""Live source: read every sidecar's config dump through the user's ``kubectl``.

``kubectl`` is run with argument lists (never a shell), so the user's kubeconfig, contexts,
auth plugins and proxies apply exactly as on their command line. Per target:

1. ``kubectl get pods -o json -n NS`` (or ``--all-namespaces``; ``-l SELECTOR`` passed through
   as one argument). Pods with an ``istio-proxy`` container (a regular container, or a native
   sidecar: an init container with ``restartPolicy: Always``) that are Running with condition
   Ready=True are read; every other pod is reported as failed with its reason.
2. ``kubectl get svc -o json`` for the same namespace(s) (no selector: it selects pods), so
   service VIPs map to names.
3. Per pod, in parallel, with a timeout::

       kubectl exec POD -n NS -c istio-proxy -- pilot-agent request GET config_dump?include_eds=true

How the dump is fetched, and why exec. Two ways are in use (checked against the sources):

* ``pilot-agent request GET <path>`` through ``kubectl exec`` into ``istio-proxy``: what istioctl's
  ``EnvoyDo`` did until Istio 1.6 (istio/istio ``istioctl/pkg/kubernetes/client.go``, replaced by
  port-forwarding in PR #23556, May 2020). ``pilot-agent request`` still ships in every proxy image,
  distroless ones included (pilot-agent is the container's entry point), and still defaults to
  Envoy's admin port 15000 (``pilot/cmd/pilot-agent/app/request.go``). Must-gather style tools
  that use it sometimes leave a status line (``200``) before the JSON, which Kiali's offline
  reader skips (kiali/kiali ``kubernetes/offline/offline.go`` ``parseConfigDump``); we strip it too.
* a port-forward to 15000 plus an HTTP GET: what istioctl does today (istio/istio ``pkg/kube/client.go``
  ``EnvoyDoWithPort`` → ``portForwardRequest``, used by ``istioctl/pkg/proxyconfig/proxyconfig.go``
  ``extractConfigDump`` and by ``istioctl bug-report``) and what Kiali does (``kubernetes/kubernetes.go``
  ``ForwardGetRequest(ns, pod, 15000, "/config_dump")``). Both are Go programs holding client-go's
  port-forwarder in process.

We shell out to ``kubectl``, so we use exec: one short-lived ``kubectl`` per pod whose stdout *is*
the dump and whose exit status and stderr say what went wrong (Forbidden, container not found,
pilot-agent's own error); a timeout is a plain subprocess timeout. ``kubectl port-forward`` would
instead mean a long-running child per pod, parsing its "Forwarding from 127.0.0.1:PORT" line to learn
a local port, an HTTP client, and killing the child afterwards; it also opens local ports that other
local users can reach while it runs. The RBAC needed is ``create pods/exec`` instead of
``create pods/portforward`` (plus ``list pods`` and ``list services`` either way). The cost of exec:
clusters that grant port-forward but not exec cannot be read, and pilot-agent's request client gives up
after 60 s on its own.

Everything returned is raw bytes (a :class:`~topo.ingest.sources.Bundle`); parsing stays in the
transform. Failures per pod go to ``bundle.refused`` as ``("kubectl:NS/POD", reason)``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import orjson

from topo.errors import TopoError
from topo.ingest.sources import CLUSTERS_SUFFIX, MAX_FILE, PODS, SERVICES, Bundle, RawDump
from topo.ingest.transform import REDACTED, scrub, scrub_message, scrub_text
from topo.util import atomic_write

KUBECTL = "kubectl"
PROXY_CONTAINER = "istio-proxy"
DUMP_PATH = "config_dump?include_eds=true"
DUMP_COMMAND = ("pilot-agent", "request", "GET", DUMP_PATH)
DEFAULT_CONCURRENCY = 8
DEFAULT_TIMEOUT = 60.0

EXIT_USAGE = 2

_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# kubeconfig context names are not Kubernetes object names: GKE writes gke_PROJECT_ZONE_NAME,
# EKS an ARN (arn:aws:eks:REGION:ACCOUNT:cluster/NAME), OpenShift NS/HOST:PORT/USER.
# Allow those characters, refuse anything that could read as a flag or carry whitespace.
_CONTEXT = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:/@+=-]*$")
_KLOG = re.compile(r"^[IWEF]\d{4} \d")


def is_label(name: str) -> bool:
    """RFC 1123 label (a namespace name): lower-case alphanumerics and '-', at most 63."""
    return len(name) <= 63 and bool(_LABEL.match(name))


def is_subdomain(name: str) -> bool:
    """RFC 1123 subdomain (a pod name): labels joined by '.', at most 253."""
    return len(name) <= 253 and bool(_SUBDOMAIN.match(name))


@dataclass(frozen=True)
class Target:
    """What to read and how to reach it; every field is passed to kubectl as given."""

    namespace: str | None = None
    all_namespaces: bool = False
    selector: str | None = None
    context: str | None = None
    kubeconfig: str | None = None

    def validate(self) -> None:
        """Refuse bad names before any kubectl call (TopoError, exit 2)."""
        if self.all_namespaces and self.namespace:
            raise TopoError("give -n NAMESPACE or -A (--all-namespaces), not both", EXIT_USAGE)
        if not self.all_namespaces and not self.namespace:
            raise TopoError("give -n NAMESPACE or -A (--all-namespaces)", EXIT_USAGE)
        if self.namespace is not None and not is_label(self.namespace):
            raise TopoError(f"invalid namespace {self.namespace!r}: not an RFC 1123 label "
                            "(lower-case letters, digits and '-', at most 63)", EXIT_USAGE)
        if self.context is not None and (len(self.context) > 253 or not _CONTEXT.match(self.context)):
            raise TopoError(f"invalid context name {self.context!r}", EXIT_USAGE)
        if self.selector is not None and (not self.selector.strip() or _has_control(self.selector)
                                          or self.selector.startswith("-")):
            raise TopoError(f"invalid label selector {self.selector!r}", EXIT_USAGE)
        if self.kubeconfig is not None:
            if not self.kubeconfig or _has_control(self.kubeconfig):
                raise TopoError(f"invalid kubeconfig path {self.kubeconfig!r}", EXIT_USAGE)
            if not os.path.isfile(self.kubeconfig):
                raise TopoError(f"--kubeconfig {self.kubeconfig}: no such file", EXIT_USAGE)

    def global_args(self) -> list[str]:
        """kubectl's global flags, each one argv element (``--flag=value``)."""
        out = []
        if self.context:
            out.append(f"--context={self.context}")
        if self.kubeconfig:
            out.append(f"--kubeconfig={self.kubeconfig}")
        return out

    def scope_args(self) -> list[str]:
        return ["--all-namespaces"] if self.all_namespaces else ["-n", self.namespace or ""]

    def describe(self) -> str:
        return f"kubectl:{self.context or '(current context)'}/{'*' if self.all_namespaces else self.namespace}"


def _has_control(s: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in s)


def find_kubectl() -> str:
    path = shutil.which(KUBECTL)
    if path is None:
        raise TopoError("kubectl not found on PATH: install it, or collect dumps elsewhere and use --from DIR")
    return path


def get_argv(kubectl: str, t: Target, resource: str) -> list[str]:
    argv = [kubectl, *t.global_args(), "get", resource, "-o", "json", *t.scope_args()]
    if resource == "pods" and t.selector:
        argv += ["-l", t.selector]
    return argv


def exec_argv(kubectl: str, t: Target, namespace: str, pod: str) -> list[str]:
    return [kubectl, *t.global_args(), "exec", pod, "-n", namespace, "-c", PROXY_CONTAINER, "--", *DUMP_COMMAND]


def kubectl_message(stderr: bytes, limit: int = 300) -> str:
    """kubectl's error, one line: its ``error:`` line, else its last line that is not a klog line."""
    lines = [ln.strip() for ln in stderr.decode("utf-8", "replace").splitlines() if ln.strip()]
    pick = next((ln for ln in lines if ln.lower().startswith("error")), None)
    if pick is None:
        plain = [ln for ln in lines if not _KLOG.match(ln)]
        pick = (plain or lines or ["(no message)"])[-1]
    pick = scrub_message(pick)
    return pick if len(pick) <= limit else pick[: limit - 1] + "…"


STDERR_KEEP = 64 * 1024  # the last bytes of kubectl's stderr kept for its message


class OutputTooLarge(Exception):
    """A command wrote more than the bound to stdout; it was killed at the bound."""

    def __init__(self, limit: int) -> None:
        super().__init__(limit)
        self.limit = limit


def _run(argv: list[str], timeout: float, limit: int | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``argv`` with its stdout bounded while it is read: past ``limit`` bytes the process is
    killed and OutputTooLarge raised (an exec that streams forever is never buffered without end);
    stderr keeps its last STDERR_KEEP bytes. Past ``timeout`` seconds the process is killed and
    subprocess.TimeoutExpired raised, as subprocess.run does."""
    import selectors
    import time

    limit = MAX_FILE if limit is None else limit
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    out: list[bytes] = []
    nout = 0
    err = bytearray()
    deadline = time.monotonic() + timeout
    sel = selectors.DefaultSelector()
    try:
        sel.register(proc.stdout, selectors.EVENT_READ, "out")
        sel.register(proc.stderr, selectors.EVENT_READ, "err")
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise subprocess.TimeoutExpired(argv, timeout)
            for key, _ in sel.select(min(left, 1.0)):
                chunk = os.read(key.fd, 1 << 20)
                if not chunk:
                    sel.unregister(key.fileobj)
                elif key.data == "out":
                    nout += len(chunk)
                    if nout > limit:
                        raise OutputTooLarge(limit)
                    out.append(chunk)
                else:
                    err += chunk
                    del err[:-STDERR_KEEP]
        left = max(deadline - time.monotonic(), 0.0)
        try:
            rc = proc.wait(left)
        except subprocess.TimeoutExpired:
            raise subprocess.TimeoutExpired(argv, timeout) from None
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
    return subprocess.CompletedProcess(argv, rc, b"".join(out), bytes(err))


def kubectl_get(kubectl: str, t: Target, resource: str, timeout: float) -> bytes:
    """``kubectl get RESOURCE -o json`` → its stdout, exactly. Raises TopoError (exit 1)."""
    argv = get_argv(kubectl, t, resource)
    try:
        p = _run(argv, timeout)
    except subprocess.TimeoutExpired:
        raise TopoError(f"kubectl get {resource}: timed out after {timeout:g}s") from None
    except OutputTooLarge as e:
        raise TopoError(f"kubectl get {resource}: more than the {e.limit} byte limit (stopped there)") from None
    except OSError as e:
        raise TopoError(f"cannot run {kubectl}: {e.strerror or e}") from None
    if p.returncode != 0:
        raise TopoError(f"kubectl get {resource}: {kubectl_message(p.stderr)}")
    return p.stdout


# ---------------------------------------------------------------------------- pods


@dataclass(frozen=True)
class PodRef:
    namespace: str
    name: str

    @property
    def source(self) -> str:
        return f"kubectl:{self.namespace}/{self.name}"


def _has_sidecar(spec: dict[str, Any]) -> bool:
    for c in spec.get("containers") or []:
        if isinstance(c, dict) and c.get("name") == PROXY_CONTAINER:
            return True
    for c in spec.get("initContainers") or []:  # native sidecar (Kubernetes 1.28+, Istio 1.27 default)
        if isinstance(c, dict) and c.get("name") == PROXY_CONTAINER and c.get("restartPolicy") == "Always":
            return True
    return False


def _not_ready_reason(status: dict[str, Any]) -> str | None:
    phase = status.get("phase") or "Unknown"
    if phase != "Running":
        return f"not ready (phase {phase})"
    for c in status.get("conditions") or []:
        if isinstance(c, dict) and c.get("type") == "Ready":
            if c.get("status") == "True":
                return None
            why = c.get("reason") or ""
            return f"not ready (condition Ready={c.get('status')}{', ' + why if why else ''})"
    return "not ready (no Ready condition)"


def select_pods(pods_json: bytes) -> tuple[list[PodRef], list[tuple[str, str]]]:
    """Pods to read, and the others as (source, reason). ``pods_json`` is kubectl's list output."""
    try:
        doc = orjson.loads(pods_json)
    except orjson.JSONDecodeError as e:
        raise TopoError(f"kubectl get pods: output is not JSON ({e.msg})") from None
    items = doc.get("items") if isinstance(doc, dict) else None
    if not isinstance(items, list):
        raise TopoError("kubectl get pods: output has no `items` list")
    ok: list[PodRef] = []
    failed: list[tuple[str, str]] = []
    for item in items:
        if not isinstance(item, dict):
            continue
        meta = item.get("metadata") or {}
        name, ns = meta.get("name"), meta.get("namespace")
        if not isinstance(name, str) or not isinstance(ns, str):
            continue
        ref = PodRef(ns, name)
        if not is_subdomain(name) or not is_label(ns):
            failed.append((ref.source, "invalid pod or namespace name"))
        elif not _has_sidecar(item.get("spec") or {}):
            failed.append((ref.source, f"no sidecar (no {PROXY_CONTAINER} container)"))
        elif (why := _not_ready_reason(item.get("status") or {})) is not None:
            failed.append((ref.source, why))
        else:
            ok.append(ref)
    ok.sort(key=lambda r: (r.namespace, r.name))
    return ok, failed


# ---------------------------------------------------------------------------- one dump


def strip_status_line(data: bytes) -> bytes:
    """Drop up to three short non-JSON lines (``200``, a log line) before the dump's ``{``."""
    pos = 0
    for _ in range(4):
        i = pos
        while i < len(data) and data[i] in b" \t\r\n":
            i += 1
        if data[i : i + 1] in (b"{", b"["):
            return data[i:] if pos else data
        nl = data.find(b"\n", i)
        if nl < 0 or nl - i > 200:
            return data
        pos = nl + 1
    return data


def check_dump(data: bytes, *, parse: bool = False) -> str | None:
    """Why these bytes are not a whole JSON object (None when they look like one).

    Cheap by default (first and last byte); ``parse=True`` decodes it (``topo collect`` writes
    only what would read back).
    """
    body = data.strip()
    if not body:
        return "empty output"
    if not body.startswith(b"{"):
        first = body.splitlines()[0][:60].decode("utf-8", "replace")
        return f"not JSON output: starts with {scrub_text(first)!r}"
    if not body.endswith(b"}"):
        return f"truncated output ({len(data)} bytes, the JSON object is not closed)"
    if parse:
        try:
            orjson.loads(body)
        except orjson.JSONDecodeError as e:
            return f"invalid or truncated JSON ({e.msg} at byte {e.pos})"
    return None


@dataclass
class Fetched:
    pod: PodRef
    data: bytes | None
    reason: str = ""


def fetch_dump(kubectl: str, t: Target, pod: PodRef, timeout: float, *, parse: bool = False) -> Fetched:
    argv = exec_argv(kubectl, t, pod.namespace, pod.name)
    try:
        p = _run(argv, timeout)
    except subprocess.TimeoutExpired:
        return Fetched(pod, None, f"timed out after {timeout:g}s")
    except OutputTooLarge as e:
        return Fetched(pod, None, f"more than the {e.limit} byte limit (the exec was stopped there)")
    except OSError as e:
        return Fetched(pod, None, f"cannot run {kubectl}: {e.strerror or e}")
    if p.returncode != 0:
        return Fetched(pod, None, f"exec failed (exit {p.returncode}): {kubectl_message(p.stderr)}")
    data = strip_status_line(p.stdout)
    why = check_dump(data, parse=parse)
    if why:
        return Fetched(pod, None, why)
    return Fetched(pod, data)


class Progress(Protocol):
    def done(self, source: str, ok: bool, nbytes: int) -> None: ...


def fetch_all(kubectl: str, t: Target, pods: list[PodRef], *, concurrency: int = DEFAULT_CONCURRENCY,
              timeout: float = DEFAULT_TIMEOUT, parse: bool = False,
              progress: Progress | None = None) -> Iterator[Fetched]:
    """Fetch in parallel; yield in ``pods`` order (deterministic graphs) as each is ready."""
    if not pods:
        return

    def one(pod: PodRef) -> Fetched:
        f = fetch_dump(kubectl, t, pod, timeout, parse=parse)
        if progress is not None:
            progress.done(pod.source, f.data is not None, len(f.data or b""))
        return f

    pool = ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(pods))), thread_name_prefix="kubectl")
    try:
        futures: list[Future[Fetched]] = [pool.submit(one, p) for p in pods]
        for fut in futures:
            yield fut.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


# ---------------------------------------------------------------------------- sources


@dataclass
class Plan:
    kubectl: str
    target: Target
    pods_json: bytes
    services_json: bytes | None
    pods: list[PodRef]
    refused: list[tuple[str, str]] = field(default_factory=list)


def plan(t: Target, *, timeout: float = DEFAULT_TIMEOUT) -> Plan:
    """Validate, find kubectl, list pods and services. Raises TopoError for the whole source."""
    t.validate()
    kubectl = find_kubectl()
    pods_json = kubectl_get(kubectl, t, "pods", timeout)
    pods, refused = select_pods(pods_json)
    if not pods and not refused:
        where = "in any namespace" if t.all_namespaces else f"in namespace {t.namespace}"
        raise TopoError(f"no pods {where}" + (f" match -l {t.selector!r}" if t.selector else "")
                        + f" ({t.describe()})")
    services_json: bytes | None
    try:
        services_json = kubectl_get(kubectl, t, "svc", timeout)
    except TopoError as e:  # without services the graph still stands; VIPs stay unnamed
        services_json = None
        refused.append(("kubectl get svc", str(e).removeprefix("kubectl get svc: ")))
    return Plan(kubectl, t, pods_json, services_json, pods, refused)


def from_kubectl(t: Target, *, concurrency: int = DEFAULT_CONCURRENCY, timeout: float = DEFAULT_TIMEOUT,
                 progress: Progress | None = None, on_plan: Callable[[Plan], None] | None = None) -> Bundle:
    """A :class:`Bundle` read live. Dumps stream as they arrive; failures land in ``bundle.refused``."""
    p = plan(t, timeout=timeout)
    if on_plan is not None:
        on_plan(p)
    bundle = Bundle(dumps=iter(()), total=len(p.pods), pods_json=p.pods_json, services_json=p.services_json,
                    refused=list(p.refused), origin=t.describe())

    def gen() -> Iterator[RawDump]:
        for f in fetch_all(p.kubectl, t, p.pods, concurrency=concurrency, timeout=timeout, progress=progress):
            if f.data is None:
                bundle.refused.append((f.pod.source, f.reason))
            else:
                yield RawDump(source=f.pod.source, data=f.data)

    bundle.dumps = gen()
    return bundle


def dump_relpath(pod: PodRef, all_namespaces: bool) -> str:
    """Where ``topo collect`` writes a pod's dump, so that ``sources.from_path`` reads it back.

    ``<pod>.json``, or ``<ns>/<pod>.json`` with ``-A``. A pod whose file name ``from_path`` would
    skip (``pods.json``, ``services.json``, ``*.clusters.json``) gets ``<pod>.config_dump.json``:
    the transform still names such a pod after the file, without the suffixes.
    """
    name = pod.name
    fname = f"{name}.json"
    if fname in (PODS, SERVICES) or fname.endswith(CLUSTERS_SUFFIX):
        fname = f"{name}.config_dump.json"
    return f"{pod.namespace}/{fname}" if all_namespaces else fname


@dataclass
class CollectResult:
    out: str
    written: list[tuple[str, str, int]] = field(default_factory=list)  # (source, relative path, bytes)
    refused: list[tuple[str, str]] = field(default_factory=list)
    services: bool = False  # services.json written

    @property
    def exit_code(self) -> int:
        from topo.ingest.pipeline import EXIT_NOTHING, EXIT_OK, EXIT_PARTIAL

        if not self.written:
            return EXIT_NOTHING
        return EXIT_PARTIAL if self.refused else EXIT_OK


# ---------------------------------------------------------------------------- what collect writes
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"  # the whole object again, env values too


def _scrub_object(item: dict[str, Any]) -> None:
    """A pod or service as `topo collect` writes it: every container's environment values and
    the last-applied annotation redacted, other annotations and container arguments scrubbed as
    free text (secret-named assignments, tokens, key material), then the general scrub."""
    meta = item.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        meta["annotations"] = {k: REDACTED if k == LAST_APPLIED else scrub_message(v) if isinstance(v, str) else v
                               for k, v in meta["annotations"].items()}
    spec = item.get("spec")
    if not isinstance(spec, dict):
        return
    for group in ("containers", "initContainers", "ephemeralContainers"):
        for c in spec.get(group) or []:
            if not isinstance(c, dict):
                continue
            for e in c.get("env") or []:
                if isinstance(e, dict) and "value" in e:
                    e["value"] = REDACTED
            for k in ("args", "command"):
                if isinstance(c.get(k), list):
                    c[k] = [scrub_message(a) if isinstance(a, str) else a for a in c[k]]


def scrubbed_list(data: bytes) -> bytes:
    """kubectl's ``get pods|svc -o json`` output without environment values, credentials in
    annotations and arguments, or anything else :func:`~topo.ingest.transform.scrub` removes."""
    try:
        doc = orjson.loads(data)
    except orjson.JSONDecodeError:
        return data  # (select_pods has read it already; not reached)
    if isinstance(doc, dict):
        for item in doc.get("items") or []:
            if isinstance(item, dict):
                _scrub_object(item)
    return orjson.dumps(scrub(doc), option=orjson.OPT_INDENT_2)


def scrubbed_dump(data: bytes) -> bytes:
    """A config dump without the credentials :func:`~topo.ingest.transform.scrub` removes (private
    keys, tokens, sensitive header values: exact matchers keep a hash, so the dump reads back to
    the same answers)."""
    return orjson.dumps(scrub(orjson.loads(data)))


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, data, durable=False)


def check_out_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise TopoError(f"--out {out}: exists and is not a directory", EXIT_USAGE)
    if out.is_dir() and any(out.iterdir()):
        raise TopoError(f"--out {out}: directory is not empty (old dumps would be read back with the new ones)",
                        EXIT_USAGE)


def collect(t: Target, out: Path, *, concurrency: int = DEFAULT_CONCURRENCY, timeout: float = DEFAULT_TIMEOUT,
            progress: Progress | None = None, on_plan: Callable[[Plan], None] | None = None) -> CollectResult:
    """Write what a live ingest reads as a directory ``topo ingest --from`` reads back.

    ``pods.json`` and ``services.json`` are kubectl's output, each dump the exec's stdout without
    a leading status line, checked to be whole JSON; all three scrubbed of secrets as an ingest
    stores them (:func:`scrubbed_list`, :func:`scrubbed_dump`), so a bundle can go into a bug
    report.
    """
    check_out_dir(out)
    p = plan(t, timeout=timeout)
    if on_plan is not None:
        on_plan(p)
    res = CollectResult(out=str(out), refused=list(p.refused))
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TopoError(f"--out {out}: cannot create: {e.strerror}") from None
    _write_atomic(out / PODS, scrubbed_list(p.pods_json))
    if p.services_json is not None:
        _write_atomic(out / SERVICES, scrubbed_list(p.services_json))
        res.services = True
    for f in fetch_all(p.kubectl, t, p.pods, concurrency=concurrency, timeout=timeout, parse=True,
                       progress=progress):
        if f.data is None:
            res.refused.append((f.pod.source, f.reason))
            continue
        rel = dump_relpath(f.pod, t.all_namespaces)
        data = scrubbed_dump(f.data)
        _write_atomic(out / rel, data)
        res.written.append((f.pod.source, rel, len(data)))
    return res
