"""The node agent (our kubelet): registers its Node, heartbeats, runs the pods bound to it, reports status.

Composition root of the node side: it builds the real cgroup driver, runtime and API client and starts the
loops; everything it drives is tested on its own.  It never imports the control plane: it talks HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import os
import platform
import random
import shutil
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import prometheus_client
import psutil
from aiohttp import web

from minikube_py import __version__, errors
from minikube_py.api import codec, qos, types
from minikube_py.api.quantity import Quantity
from minikube_py.node import backoff as backoff_mod
from minikube_py.node import kuberuntime
from minikube_py.node.apiclient import ApiClient, ApiRequestError
from minikube_py.node.cgroups.driver import KUBEPODS, CgroupResources, milli_cpu_to_quota
from minikube_py.node.cgroups.factory import CgroupConfig, new_driver
from minikube_py.node.eviction.manager import EvictionManager
from minikube_py.node.eviction.notifier import MemoryThresholdWatcher
from minikube_py.node.eviction.types import ContainerStats, EvictionConfig, FsStats, NodeStats, PodStats
from minikube_py.node.network import NetworkError, PodNetwork, peers_from_nodes
from minikube_py.node.podworker import PodEvent, PodWorker, rfc3339
from minikube_py.node.prober.runners import RuntimeProber
from minikube_py.node.runtime import logs
from minikube_py.node.runtime.runtime import Runtime
from minikube_py.node.signals import SignalReader
from minikube_py.util.clock import Clock, RealClock
from minikube_py.util.diskusage import disk_usage

log = logging.getLogger(__name__)

ANNOTATION_OOM = "minikube-py.io/oom-records"
ANNOTATION_SANDBOX = "minikube-py.io/sandbox"
ANNOTATION_EVICTION = "minikube-py.io/eviction"
# client-go's reflector: each watch asks the server to end it after 5 to 10 minutes (minWatchTimeout 5 min).
WATCH_MIN_TIMEOUT_SECONDS = 300
EXPLAINED_CANDIDATES = 10  # rows of the ranked candidate table kept on an evicted pod
KUBELET_VERSION = f"v1.30.0-minikube-py.{__version__}"


@dataclass(frozen=True)
class AgentConfig:
    server: str
    node_name: str
    data_dir: str = "/var/lib/minikube-py/agent"
    cgroup_parent: str | None = None
    node_dir: str = ""  # default: minikube_py-<node name>
    delegated_cgroup: bool = False  # the agent's cgroup is its own (systemd Delegate=yes): see CgroupConfig
    pod_network: bool = False  # pods get IPs from the node's pod CIDR (bridge + veths in the agent's netns)
    address: str = "127.0.0.1"  # advertised InternalIP; the control plane reaches the agent here
    listen: str = "127.0.0.1"
    port: int = 10250
    token: str = ""
    """The cluster's bearer token: presented to the API server, and required from whoever calls the agent's
    endpoint (only the control plane holds it besides admins); empty = no token either way."""
    cpu: str | None = None  # capacity overrides (default: what the machine and our cgroup allow)
    memory: str | None = None
    max_pods: int = 110
    heartbeat_interval: float = 10.0
    single_process_oom_kill: bool = False
    labels: dict[str, str] = field(default_factory=dict)
    eviction: EvictionConfig | None = None  # None: node-pressure eviction off


def machine_capacity(config: AgentConfig, *, own_memory_limit: int | None = None) -> dict[str, str]:
    """cpu from the machine, memory from the machine or the memory cgroup the agent lives under, whichever
    is smaller; either can be overridden."""
    cpu = config.cpu or str(len(os.sched_getaffinity(0)) or os.cpu_count() or 1)
    memory_bytes = psutil.virtual_memory().total
    if own_memory_limit is not None and 0 < own_memory_limit < memory_bytes:
        memory_bytes = own_memory_limit
    memory = config.memory or str(memory_bytes)
    return {"cpu": cpu, "memory": memory, "pods": str(config.max_pods)}


class Agent:
    def __init__(self, config: AgentConfig, *, runtime: Runtime | None = None, clock: Clock | None = None) -> None:
        self.config = config
        self.clock = clock or RealClock()
        if runtime is None:
            pause = shutil.which("catatonit")
            if pause is None:
                raise RuntimeError("catatonit is not installed (run `make install`)")
            driver = new_driver(
                CgroupConfig(
                    parent=config.cgroup_parent,
                    node_dir=config.node_dir or f"minikube_py-{config.node_name}",
                    delegated=config.delegated_cgroup,
                )
            )
            runtime = Runtime(
                driver,
                state_dir=os.path.join(config.data_dir, "runtime"),
                volume_root=os.path.join(config.data_dir, "pods"),
                pause_argv=(pause, "-P"),
            )
        self.runtime = runtime
        self.api = ApiClient(config.server, token=config.token)
        self.backoff = backoff_mod.Backoff(self.clock)
        self.workers: dict[str, PodWorker] = {}  # pod uid -> worker
        self._tasks: list[asyncio.Task[Any]] = []
        self._event_tasks: set[asyncio.Task[None]] = set()
        self._worker_tasks: dict[str, list[asyncio.Task[Any]]] = {}
        self._reported: dict[str, Any] = {}
        self._reported_digest: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {}
        self._report_wakeups: dict[str, asyncio.Event] = {}
        self._runner: web.AppRunner | None = None
        self._metrics: prometheus_client.CollectorRegistry | None = None
        own_limit = None
        with contextlib.suppress(Exception):
            own_limit = runtime.driver.parent_memory_limit()
        self.capacity = machine_capacity(config, own_memory_limit=own_limit)
        self.memory_capacity = Quantity.parse(self.capacity["memory"]).value()
        self.ready = asyncio.Event()
        self.eviction: EvictionManager | None = None
        self.memory_watcher: MemoryThresholdWatcher | None = None
        self.network: PodNetwork | None = None
        self.prober = RuntimeProber(self.runtime)  # one namespace thread for every pod's TCP/HTTP probes
        self._sandbox_annotations: dict[str, tuple[object, str]] = {}  # uid -> (instances key, JSON)
        self._stopping = asyncio.Event()
        self._node_status_changed = asyncio.Event()
        self._condition_since: dict[str, tuple[str, str | None]] = {}
        self.signals = SignalReader(self.runtime.driver, config.data_dir)

    # --- lifecycle

    async def start(self) -> None:
        os.makedirs(self.config.data_dir, exist_ok=True)
        try:
            await self.runtime.start()
            self._enforce_capacity()
            await self._serve_http()
            await self._register()
            if self.config.pod_network:
                await self._setup_pod_network()
        except BaseException:
            await self._abort()
            raise
        self._tasks = [
            asyncio.create_task(self._heartbeat_loop(), name="heartbeat"),
            asyncio.create_task(self._pod_loop(), name="pod-watch"),
        ]
        # Without eviction settings no threshold exists, but local-storage limits (emptyDir sizeLimit,
        # ephemeral-storage limits) are still enforced, as the kubelet does.
        self.eviction = EvictionManager(
            self.config.eviction or EvictionConfig(eviction_hard={}),
            clock=self.clock,
            stats=self._node_stats,
            active_pods=lambda: [w.pod for w in self.workers.values()],
            kill_pod=self._evict,
            pod_cleaned_up=lambda pod: pod.metadata.uid not in self.workers,
        )
        self.eviction.on_conditions_changed = self._node_status_changed.set
        self._tasks.append(asyncio.create_task(self.eviction.run(self._stopping), name="eviction"))
        if self.eviction.config.thresholds:
            # Beyond the housekeeping pace: a memory threshold crossing wakes the manager at once (v1 kernel
            # usage thresholds; v2 PSI/memory.events plus a 0.1 s sampler).
            self.memory_watcher = MemoryThresholdWatcher(
                self.runtime.driver,
                self.eviction.config.thresholds,
                self.eviction.wake,
                refresh_interval=self.eviction.config.housekeeping_interval,
            )
            self._tasks.append(
                asyncio.create_task(self.memory_watcher.run(self._stopping), name="memory-threshold-watcher")
            )

    async def _abort(self) -> None:
        """Start failed: release what start made.  The shim exits once no pod is left (it never abandons
        a running container), and the node's cgroups go if they hold nothing."""
        if self._runner is not None:
            await self._runner.cleanup()
        await self.runtime.close(shutdown_shim=True)
        if not self.runtime.sandboxes:
            with contextlib.suppress(Exception):
                self.runtime.driver.teardown_node()
        await self.api.close()

    async def stop(self, *, remove_pods: bool) -> None:
        """Stop the loops; with ``remove_pods`` every pod is terminated and the node's cgroups removed."""
        self._stopping.set()
        for task in [*self._tasks, *self._event_tasks]:
            task.cancel()
        for task in [*self._tasks, *self._event_tasks]:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if remove_pods:
            await asyncio.gather(*(self._terminate(uid, 0) for uid in list(self.workers)), return_exceptions=True)
            for sandbox in list(self.runtime.sandboxes.values()):
                with contextlib.suppress(Exception):
                    await self.runtime.remove_pod_sandbox(sandbox)
        for tasks in self._worker_tasks.values():
            for task in tasks:
                task.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
        await self.runtime.close(shutdown_shim=remove_pods)
        self.prober.close()
        if remove_pods:
            with contextlib.suppress(Exception):
                self.runtime.driver.teardown_node()
        if self.network is not None:
            with contextlib.suppress(Exception):
                await (self.network.teardown_node() if remove_pods else self.network.close())
        await self.api.close()

    def _enforce_capacity(self) -> None:
        """An overridden capacity is made real: the node's kubepods cgroup gets it as its limits
        (the kubelet's node allocatable enforcement), so several agents on one machine do not share."""
        if self.config.cpu is None and self.config.memory is None:
            return
        memory = Quantity.parse(self.config.memory).value() if self.config.memory else None
        quota = milli_cpu_to_quota(Quantity.parse(self.config.cpu).milli_value()) if self.config.cpu else None
        self.runtime.driver.update(KUBEPODS, CgroupResources(memory_limit=memory, cpu_quota_us=quota))

    # --- the Node object

    def node_object(self) -> dict[str, Any]:
        now = rfc3339(self.clock.now())
        labels = {
            "kubernetes.io/hostname": self.config.node_name,
            "kubernetes.io/os": "linux",
            "kubernetes.io/arch": {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine()),
            **self.config.labels,
        }
        return {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": self.config.node_name, "labels": labels},
            "spec": {},
            "status": {
                "capacity": dict(self.capacity),
                "allocatable": dict(self.capacity),
                "addresses": [
                    {"type": "InternalIP", "address": self.config.address},
                    {"type": "Hostname", "address": socket.gethostname()},
                ],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": self._port}},
                "nodeInfo": {
                    "operatingSystem": "linux",
                    "architecture": labels["kubernetes.io/arch"],
                    "kernelVersion": platform.release(),
                    "kubeletVersion": KUBELET_VERSION,
                    "containerRuntimeVersion": f"minikube-py://{__version__} ({self.runtime.driver.name})",
                },
                "conditions": self._conditions(now),
            },
        }

    def _conditions(self, now: str | None) -> list[dict[str, Any]]:
        conditions: list[dict[str, Any]] = []
        pressure = {str(c) for c in self.eviction.node_conditions()} if self.eviction is not None else set()
        for kind, (ok_reason, ok_message), (bad_reason, bad_message) in (
            ("MemoryPressure", ("KubeletHasSufficientMemory", "kubelet has sufficient memory available"),
             ("KubeletHasInsufficientMemory", "kubelet has insufficient memory available")),
            ("DiskPressure", ("KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
             ("KubeletHasDiskPressure", "kubelet has disk pressure")),
            ("PIDPressure", ("KubeletHasSufficientPID", "kubelet has sufficient PID available"),
             ("KubeletHasInsufficientPID", "kubelet has insufficient PID available")),
        ):  # fmt: skip
            under = kind in pressure
            conditions.append(
                {
                    "type": kind,
                    "status": "True" if under else "False",
                    "reason": bad_reason if under else ok_reason,
                    "message": bad_message if under else ok_message,
                    "lastHeartbeatTime": now,
                }
            )
        conditions.append(
            {
                "type": "Ready",
                "status": "True",
                "reason": "KubeletReady",
                "message": "kubelet is posting ready status",
                "lastHeartbeatTime": now,
            }
        )
        for condition in conditions:  # lastTransitionTime: when this status began
            kind, status = condition["type"], condition["status"]
            since = self._condition_since.get(kind)
            if since is None or since[0] != status:
                since = self._condition_since[kind] = (status, now)
            condition["lastTransitionTime"] = since[1]
        return conditions

    async def _register(self) -> None:
        node = self.node_object()
        try:
            await self.api.request("POST", "/api/v1/nodes", node)
        except ApiRequestError as err:
            if err.code != 409:
                raise
            current = await self.api.request("GET", f"/api/v1/nodes/{self.config.node_name}")
            current["status"] = node["status"]
            current["metadata"]["labels"] = {**current["metadata"].get("labels", {}), **node["metadata"]["labels"]}
            await self.api.request("PUT", f"/api/v1/nodes/{self.config.node_name}/status", current)

    # --- pod network

    async def _setup_pod_network(self) -> None:
        """The node's pod CIDR comes from the control plane's node IPAM right after registration; then the
        bridge, the re-adopted pods' addresses and the routes to the other nodes' pod CIDRs."""
        cidr = ""
        for _ in range(300):
            node = await self.api.request("GET", f"/api/v1/nodes/{self.config.node_name}")
            cidr = node.get("spec", {}).get("podCIDR", "")
            if cidr:
                break
            await asyncio.sleep(0.1)
        if not cidr:
            raise NetworkError(f"node {self.config.node_name} got no pod CIDR from the control plane in 30 s")
        network = PodNetwork(os.path.join(self.config.data_dir, "network"))
        await network.setup_node(cidr)
        await network.cleanup_stale(list(self.runtime.sandboxes))
        self.network = network
        self.runtime.network = network
        await self._sync_routes()

    async def _sync_routes(self) -> None:
        if self.network is None:
            return
        nodes = (await self.api.request("GET", "/api/v1/nodes")).get("items", [])
        peers = peers_from_nodes([codec.decode(types.Node, n) for n in nodes], self.config.node_name)
        result = await self.network.sync_routes(peers)
        for cidr, why in {**result.failed, **result.skipped}.items():
            log.warning("pod network: route to %s not set: %s", cidr, why)

    async def heartbeat_once(self) -> None:
        current = await self.api.request("GET", f"/api/v1/nodes/{self.config.node_name}")
        status = current.setdefault("status", {})
        status["conditions"] = self._conditions(rfc3339(self.clock.now()))
        status["daemonEndpoints"] = {"kubeletEndpoint": {"Port": self._port}}
        await self.api.request("PUT", f"/api/v1/nodes/{self.config.node_name}/status", current)

    async def _heartbeat_loop(self) -> None:
        """Every heartbeat interval, and at once when a pressure condition changes (the kubelet waits for its
        next 10 s node status update; we don't)."""
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._node_status_changed.wait(), self.config.heartbeat_interval)
            self._node_status_changed.clear()
            try:
                await self.heartbeat_once()
            except ApiRequestError as err:
                log.warning("heartbeat failed: %s", err)
            self.backoff.gc()  # crash-loop back-off entries of containers long quiet (or gone)
            try:
                await self._sync_routes()  # nodes come and go: keep a route to each one's pod CIDR
            except (ApiRequestError, NetworkError) as err:
                log.warning("pod network: route sync failed: %s", err)

    # --- pods bound to this node

    async def _pod_loop(self) -> None:
        selector = f"spec.nodeName={self.config.node_name}"
        path = "/api/v1/pods"
        while True:
            try:
                listing = await self.api.request("GET", path, fieldSelector=selector)
                seen = set()
                for pod in listing["items"]:
                    seen.add(pod["metadata"]["uid"])
                    await self._on_pod("ADDED", pod)
                for uid in [u for u in self.workers if u not in seen]:
                    await self._terminate(uid, 0)
                await self._adopt_orphans(seen)
                self.ready.set()
                await self._watch_pods(path, selector, str(listing["metadata"]["resourceVersion"]))
            except ApiRequestError as err:
                log.warning("pod watch: %s; re-listing", err)
                await asyncio.sleep(0.5 if err.code == 410 else 2.0)

    async def _watch_pods(self, path: str, selector: str, rv: str) -> None:
        """Follow pod events from ``rv``, as a reflector does: a stream the server ends (``timeoutSeconds``, 5 to
        10 min, spread so that nodes don't re-watch together) or one that fell silent is resumed from the last
        revision seen, bookmarks included; only an error sends the caller back to listing."""
        while True:
            timeout = str(random.randint(WATCH_MIN_TIMEOUT_SECONDS, 2 * WATCH_MIN_TIMEOUT_SECONDS))
            try:
                events = self.api.watch(path, fieldSelector=selector, resourceVersion=rv, timeoutSeconds=timeout)
                async for event in events:
                    rv = str(event["object"]["metadata"]["resourceVersion"])
                    if event["type"] != "BOOKMARK":
                        await self._on_pod(event["type"], event["object"])
            except ApiRequestError as err:
                if err.reason != "Timeout":
                    raise
                log.warning("pod watch: %s; resuming from resourceVersion %s", err, rv)

    async def _adopt_orphans(self, live: set[str]) -> None:
        """Sandboxes the runtime re-adopted whose pods no longer exist: remove them."""
        for uid, sandbox in list(self.runtime.sandboxes.items()):
            if uid not in live and uid not in self.workers:
                with contextlib.suppress(Exception):
                    await self.runtime.remove_pod_sandbox(sandbox)

    async def _on_pod(self, kind: str, raw: dict[str, Any]) -> None:
        uid = raw["metadata"]["uid"]
        if kind == "DELETED":
            if uid in self.workers:
                await self._terminate(uid, 0)
            return
        if raw["metadata"].get("deletionTimestamp"):
            if uid not in self._worker_tasks or not any(t.get_name() == "terminate" for t in self._worker_tasks[uid]):
                grace = int(raw["metadata"].get("deletionGracePeriodSeconds", 30))
                task = asyncio.create_task(self._delete_gracefully(raw, grace), name="terminate")
                self._worker_tasks.setdefault(uid, []).append(task)
            return
        if uid in self.workers:
            # Someone else changed what we reported (the node controller marks pods not Ready while the node is
            # unreachable): report ours again, as the kubelet's status manager does when it resyncs.
            if self._reported_digest.get(uid) not in (None, _status_digest(raw.get("status", {}))):
                self._reported.pop(uid, None)
                changed = self._report_wakeups.get(uid)
                if changed is not None:
                    changed.set()
            return
        if raw.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            return
        pod = codec.decode(types.Pod, raw)
        rejection = self._admit(pod)
        if rejection is not None:
            reason, message = rejection
            await self._put_status(raw, {"phase": "Failed", "reason": reason, "message": message})
            return
        worker = PodWorker(
            runtime=self.runtime,
            pod=pod,
            clock=self.clock,
            backoff=self.backoff,
            log_root=os.path.join(self.config.data_dir, "pods"),
            memory_capacity_bytes=self.memory_capacity,
            single_process_oom_kill=self.config.single_process_oom_kill,
            prober=self.prober,
        )
        sandbox = self.runtime.sandboxes.get(uid)
        if sandbox is not None:  # a previous agent started it: take it over
            counts = {
                s["name"]: int(s.get("restartCount", 0)) for s in raw.get("status", {}).get("containerStatuses", [])
            }
            worker.adopt(sandbox, counts)
        changed = asyncio.Event()
        self._report_wakeups[uid] = changed
        worker.on_synced = changed.set
        worker.on_event = lambda event, raw=raw: self._post_event(raw, event)
        self.workers[uid] = worker
        self._worker_tasks[uid] = [
            asyncio.create_task(self._run_worker(worker), name=f"pod-{uid}"),
            asyncio.create_task(self._report_loop(worker, changed), name=f"report-{uid}"),
        ]

    def _admit(self, pod: types.Pod) -> tuple[str, str] | None:
        """kubelet admission: the pod's requests must fit what this node has left (reason OutOf<resource>)."""
        unsupported = kuberuntime.unsupported_volumes(pod)
        if unsupported:
            return "UnsupportedVolume", (
                f"minikube_py nodes provide only emptyDir volumes; this pod also uses: {', '.join(unsupported)}"
            )
        if self.eviction is not None:
            admitted, reason, message = self.eviction.admit(pod)
            if not admitted:
                return reason, message
        requested = qos.pod_effective_requests(pod)
        if len(self.workers) + 1 > self.config.max_pods:
            return (
                "OutOfpods",
                "Node didn't have enough resource: pods, requested: 1, "
                f"used: {len(self.workers)}, capacity: {self.config.max_pods}",
            )
        for resource in ("cpu", "memory"):
            capacity = Quantity.parse(self.capacity[resource])
            used = sum(
                (qos.pod_effective_requests(w.pod).get(resource, Quantity.from_int(0)) for w in self.workers.values()),
                Quantity.from_int(0),
            )
            want = requested.get(resource, Quantity.from_int(0))
            if used + want > capacity:
                # The kubelet prints cpu in millicores and memory in bytes.
                want_n, used_n, cap_n = (
                    (q.milli_value() if resource == "cpu" else q.value()) for q in (want, used, capacity)
                )
                return f"OutOf{resource}", (
                    f"Node didn't have enough resource: {resource}, requested: {want_n}, "
                    f"used: {used_n}, capacity: {cap_n}"
                )
        return None

    async def _run_worker(self, worker: PodWorker) -> None:
        try:
            await worker.run()
        except Exception as err:
            log.exception("pod %s/%s failed", worker.pod.metadata.namespace, worker.pod.metadata.name)
            raw = {"metadata": {"name": worker.pod.metadata.name, "namespace": worker.pod.metadata.namespace}}
            with contextlib.suppress(ApiRequestError):
                await self._put_status(raw, {"phase": "Failed", "reason": "RunPodSandboxError", "message": str(err)})

    async def _report_loop(self, worker: PodWorker, changed: asyncio.Event) -> None:
        while True:
            await changed.wait()
            changed.clear()
            await asyncio.sleep(0)  # coalesce bursts of syncs
            with contextlib.suppress(ApiRequestError):
                await self.report(worker)

    async def report(self, worker: PodWorker) -> None:
        """Write the worker's status (and our annotations) to the API if they changed."""
        status = codec.encode(worker.status())
        status["hostIP"] = self.config.address
        status["hostIPs"] = [{"ip": self.config.address}]
        if worker.sandbox is not None:
            status.setdefault("startTime", rfc3339(worker.sandbox.created_at))
        uid = worker.pod.metadata.uid
        annotations = self._annotations(worker)
        snapshot = json.dumps([_stable(status), annotations], sort_keys=True)
        if self._reported.get(uid) == snapshot:
            return
        ns, name = worker.pod.metadata.namespace, worker.pod.metadata.name
        current = await self.api.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
        if current["metadata"]["uid"] != uid:
            return
        if annotations and any(current["metadata"].get("annotations", {}).get(k) != v for k, v in annotations.items()):
            current["metadata"].setdefault("annotations", {}).update(annotations)
            current = await self.api.request("PUT", f"/api/v1/namespaces/{ns}/pods/{name}", current)
        conditions = {c["type"]: c for c in current.get("status", {}).get("conditions", [])}
        scheduled = conditions.get("PodScheduled")
        if scheduled is not None:
            status["conditions"] = [
                scheduled,
                *[c for c in status.get("conditions", []) if c["type"] != "PodScheduled"],
            ]
        current["status"] = status
        await self.api.request("PUT", f"/api/v1/namespaces/{ns}/pods/{name}/status", current)
        self._reported[uid] = snapshot
        self._reported_digest[uid] = _status_digest(status)

    def _annotations(self, worker: PodWorker) -> dict[str, str]:
        out: dict[str, str] = {}
        records = [r.to_dict() for r in worker.oom_records()]
        if records:
            out[ANNOTATION_OOM] = json.dumps(records[-5:])
        if worker.sandbox is not None:
            running = [c for c in worker.instances() if c.running]
            # The cgroup values change only with the set of running instances: read them once per set.
            key = (worker.sandbox.cgroup, tuple((c.config.name, c.pid) for c in running))
            cached = self._sandbox_annotations.get(worker.pod.metadata.uid)
            if cached is not None and cached[0] == key:
                out[ANNOTATION_SANDBOX] = cached[1]
                return out
            cgroups = {}
            for c in running:
                with contextlib.suppress(Exception):
                    cgroups[c.config.name] = self.runtime.driver.settings(c.cgroup)
            info = {
                "namespaces": worker.sandbox.namespaces,
                "cgroup": worker.sandbox.cgroup,
                "driver": self.runtime.driver.name,
                "cgroups": cgroups,
            }
            out[ANNOTATION_SANDBOX] = json.dumps(info, sort_keys=True)
            self._sandbox_annotations[worker.pod.metadata.uid] = (key, out[ANNOTATION_SANDBOX])
        return out

    async def _annotate(self, raw: dict[str, Any], key: str, value: str) -> None:
        ns, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
        current = await self.api.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
        if current["metadata"]["uid"] != raw["metadata"]["uid"]:
            return
        current["metadata"].setdefault("annotations", {})[key] = value
        await self.api.request("PUT", f"/api/v1/namespaces/{ns}/pods/{name}", current)

    async def _put_status(self, raw: dict[str, Any], status: dict[str, Any]) -> None:
        ns, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
        current = await self.api.request("GET", f"/api/v1/namespaces/{ns}/pods/{name}")
        current["status"] = {**current.get("status", {}), **status}
        await self.api.request("PUT", f"/api/v1/namespaces/{ns}/pods/{name}/status", current)

    def _post_event(self, raw: dict[str, Any], event: PodEvent) -> None:
        meta = raw["metadata"]
        now = rfc3339(self.clock.now())
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{time.time_ns():x}", "namespace": meta["namespace"]},
            "involvedObject": {
                "kind": "Pod",
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
                "apiVersion": "v1",
                **({"fieldPath": f"spec.containers{{{event.container}}}"} if event.container else {}),
            },
            "type": event.type,
            "reason": event.reason,
            "message": event.message,
            "count": 1,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "source": {"component": "kubelet", "host": self.config.node_name},
            "reportingComponent": "kubelet",
            "reportingInstance": self.config.node_name,
        }
        task = asyncio.get_running_loop().create_task(self._send_event(body))
        self._event_tasks.add(task)  # kept until sent: one per event, never accumulated
        task.add_done_callback(self._event_tasks.discard)

    async def _send_event(self, body: dict[str, Any]) -> None:
        with contextlib.suppress(ApiRequestError):
            await self.api.request("POST", f"/api/v1/namespaces/{body['metadata']['namespace']}/events", body)

    async def _terminate(self, uid: str, grace: float) -> None:
        worker = self.workers.pop(uid, None)
        if worker is not None:
            await worker.terminate(grace=grace)
        for task in self._worker_tasks.pop(uid, []):
            if task is not asyncio.current_task():
                task.cancel()
        self._reported.pop(uid, None)
        self._reported_digest.pop(uid, None)
        self._report_wakeups.pop(uid, None)
        self._sandbox_annotations.pop(uid, None)
        sandbox = self.runtime.sandboxes.get(uid)
        if sandbox is not None:
            await self.runtime.remove_pod_sandbox(sandbox, grace=grace)

    async def _delete_gracefully(self, raw: dict[str, Any], grace: int) -> None:
        uid = raw["metadata"]["uid"]
        worker = self.workers.get(uid)
        await self._terminate(uid, grace)
        if worker is not None:
            with contextlib.suppress(ApiRequestError):
                await self.report(worker)
        ns, name = raw["metadata"]["namespace"], raw["metadata"]["name"]
        with contextlib.suppress(ApiRequestError):
            await self.api.request("DELETE", f"/api/v1/namespaces/{ns}/pods/{name}", gracePeriodSeconds="0")

    # --- node-pressure eviction -------------------------------------------------------------------------

    def _node_stats(self) -> NodeStats:
        signals = self.signals.read()
        pods = [stats for worker in list(self.workers.values()) if (stats := self._pod_stats(worker)) is not None]
        return NodeStats(
            time=signals.observed_at,
            memory_available_bytes=signals.memory_available,
            memory_working_set_bytes=signals.memory_working_set,
            nodefs=FsStats(
                available_bytes=signals.nodefs_available,
                capacity_bytes=signals.nodefs_capacity,
                inodes_free=signals.nodefs_inodes_free,
                inodes=signals.nodefs_inodes,
            ),
            max_pid=signals.pid_max,
            num_processes=signals.pids_running,
            pods=tuple(pods),
        )

    def _pod_stats(self, worker: PodWorker) -> PodStats | None:
        """Memory from the pod's and its containers' cgroups; disk from its emptyDir volumes and its
        containers' log directories (there are no writable layers: containers share the node's root)."""
        sandbox = worker.sandbox
        if sandbox is None:
            return None
        try:
            pod_memory = self.runtime.driver.stats(sandbox.cgroup).memory_working_set
        except errors.CgroupError:
            return None
        containers = []
        for container in [*worker.pod.spec.init_containers, *worker.pod.spec.containers]:
            instance, restarts = worker.container(container.name)
            memory = None
            if instance is not None and instance.running:
                with contextlib.suppress(errors.CgroupError):
                    memory = self.runtime.container_stats(instance).memory_working_set
            logs, log_inodes = disk_usage(os.path.dirname(worker.log_path(container.name, restarts)))
            containers.append(
                ContainerStats(
                    container.name,
                    memory_working_set_bytes=memory,
                    rootfs_used_bytes=0,
                    rootfs_inodes_used=0,
                    logs_used_bytes=logs,
                    logs_inodes_used=log_inodes,
                )
            )
        volumes = self.runtime.volume_usage(sandbox)
        return PodStats(
            uid=worker.pod.metadata.uid,
            memory_working_set_bytes=pod_memory,
            containers=tuple(containers),
            volume_used_bytes={name: used for name, (used, _) in volumes.items()},
            volume_inodes_used={name: inodes for name, (_, inodes) in volumes.items()},
        )

    async def _evict(self, pod: types.Pod, grace: int | None, reason: str, message: str) -> bool:
        """Evicted pods end Failed with the kubelet's reason and message, and are not restarted."""
        uid = pod.metadata.uid
        if uid not in self.workers:
            return False
        raw = {"metadata": {"name": pod.metadata.name, "namespace": pod.metadata.namespace, "uid": uid}}
        self._post_event(raw, PodEvent("Warning", "Evicted", message))
        decision = self.eviction.evicting if self.eviction is not None else None
        if decision is not None:
            with contextlib.suppress(ApiRequestError):
                await self._annotate(raw, ANNOTATION_EVICTION, json.dumps(_eviction_explanation(decision.to_dict())))
        own = pod.spec.termination_grace_period_seconds
        await self._terminate(uid, float(grace if grace is not None else (own if own is not None else 30)))
        with contextlib.suppress(ApiRequestError):
            await self._put_status(raw, {"phase": "Failed", "reason": reason, "message": message})
        return True

    # --- the agent's own endpoint (logs, exec, stats) ----------------------------------------------------

    @property
    def _port(self) -> int:
        if self._runner is not None:
            for site in self._runner.sites:
                server = getattr(site, "_server", None)
                if server is not None and server.sockets:
                    return int(server.sockets[0].getsockname()[1])
        return self.config.port

    async def _serve_http(self) -> None:
        app = web.Application(middlewares=[self._auth])
        app.router.add_get("/healthz", _healthz)
        app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self._handle_logs)
        app.router.add_post("/exec/{ns}/{pod}/{container}", self._handle_exec)
        app.router.add_get("/stats/summary", self._handle_stats)
        app.router.add_get("/metrics", self._handle_metrics)
        app.router.add_get("/eviction", self._handle_eviction)
        app.router.add_get("/probes/{ns}/{pod}", self._handle_probes)
        # Log follows end with their client; shutdown does not wait for open streams.
        self._runner = web.AppRunner(app, handle_signals=False, handler_cancellation=True, shutdown_timeout=2.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, self.config.listen, self.config.port).start()

    @web.middleware
    async def _auth(self, request: web.Request, handler: Any) -> web.StreamResponse:
        given = request.headers.get("Authorization", "").encode()
        authorized = hmac.compare_digest(given, f"Bearer {self.config.token}".encode())
        if self.config.token and request.path != "/healthz" and not authorized:
            status = {
                "kind": "Status",
                "status": "Failure",
                "reason": "Unauthorized",
                "code": 401,
                "message": "Unauthorized",
            }
            return web.json_response(status, status=401)
        result: web.StreamResponse = await handler(request)
        return result

    def _worker_for(self, ns: str, name: str) -> PodWorker:
        for worker in self.workers.values():
            if worker.pod.metadata.namespace == ns and worker.pod.metadata.name == name:
                return worker
        raise web.HTTPNotFound(
            text=json.dumps(
                {
                    "kind": "Status",
                    "code": 404,
                    "reason": "NotFound",
                    "message": f'pod "{name}" is not running on node {self.config.node_name}',
                }
            ),
            content_type="application/json",
        )

    async def _handle_probes(self, request: web.Request) -> web.Response:
        """The last results of the pod's probes, read on demand (``describe pod``): writing them to the API
        every few seconds would cost more than the probes themselves."""
        worker = self._worker_for(request.match_info["ns"], request.match_info["pod"])
        return web.json_response(worker.probe_history())

    async def _handle_logs(self, request: web.Request) -> web.StreamResponse:
        worker = self._worker_for(request.match_info["ns"], request.match_info["pod"])
        container = request.match_info["container"]
        try:
            _, restarts = worker.container(container)
        except KeyError as err:
            raise web.HTTPBadRequest(
                text=f"container {container} is not valid for pod {worker.pod.metadata.name}"
            ) from err
        previous = request.query.get("previous") in ("true", "1")
        if previous and restarts == 0:
            raise web.HTTPBadRequest(
                text=f'previous terminated container "{container}" in pod "{worker.pod.metadata.name}" not found'
            )
        path = worker.log_path(container, restarts - 1 if previous else restarts)
        tail = int(request.query["tailLines"]) if request.query.get("tailLines") else None
        timestamps = request.query.get("timestamps") in ("true", "1")
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        if not os.path.exists(path):
            await response.write_eof()
            return response
        if request.query.get("follow") in ("true", "1") and not previous:
            stop = asyncio.Event()
            async for line in logs.follow_log(path, stop=stop, tail=tail, timestamps=timestamps):
                await response.write(line)
        else:
            for line in logs.read_log(path, tail=tail, timestamps=timestamps):
                await response.write(line)
        await response.write_eof()
        return response

    async def _handle_exec(self, request: web.Request) -> web.Response:
        worker = self._worker_for(request.match_info["ns"], request.match_info["pod"])
        instance, _ = worker.container(request.match_info["container"])
        if instance is None or not instance.running:
            raise web.HTTPBadRequest(text="container is not running")
        timeout = float(request.query["timeoutSeconds"]) if request.query.get("timeoutSeconds") else None
        result = await self.runtime.exec_in_container(instance, request.query.getall("command"), timeout=timeout)
        return web.json_response(
            {
                "exitCode": result.exit_code,
                "stdout": result.stdout,
                "stderr": result.stderr,
                "timedOut": result.timed_out,
            }
        )

    async def _handle_eviction(self, request: web.Request) -> web.Response:
        """The eviction manager's last decision and its dry-run plan (who would go next, and why)."""
        if self.eviction is None:
            return web.json_response({"enabled": False})
        last = self.eviction.last_result.to_dict() if self.eviction.last_result else None
        body = {
            "enabled": self.config.eviction is not None,  # thresholds configured; local-storage limits always
            "thresholds": [t.describe() for t in self.eviction.config.thresholds],
            "housekeepingIntervalSeconds": self.eviction.config.housekeeping_interval,
            "memoryWatcher": None if self.memory_watcher is None else _watcher_state(self.memory_watcher),
            "last": last,
            "plan": await self.eviction.plan(),
        }
        return web.json_response(body)

    async def _handle_metrics(self, request: web.Request) -> web.Response:
        from minikube_py.node import metrics

        if self._metrics is None:
            self._metrics = metrics.agent_registry(self)
        body = prometheus_client.generate_latest(self._metrics)
        return web.Response(body=body, headers={"Content-Type": prometheus_client.CONTENT_TYPE_LATEST})

    async def _handle_stats(self, request: web.Request) -> web.Response:
        pods = []
        for worker in self.workers.values():
            containers = []
            for c in worker.instances():
                if not c.running:
                    continue
                with contextlib.suppress(Exception):
                    s = self.runtime.container_stats(c)
                    containers.append(
                        {
                            "name": c.config.name,
                            "cpu": {
                                "usageCoreNanoSeconds": s.cpu_usage_ns,
                                "throttledPeriods": s.cpu_nr_throttled,
                                "periods": s.cpu_nr_periods,
                                "throttledTimeNanoSeconds": s.cpu_throttled_ns,
                            },
                            "memory": {
                                "workingSetBytes": s.memory_working_set,
                                "usageBytes": s.memory_usage,
                                "limitBytes": s.memory_limit,
                            },
                        }
                    )
            meta = worker.pod.metadata
            pods.append(
                {"podRef": {"name": meta.name, "namespace": meta.namespace, "uid": meta.uid}, "containers": containers}
            )
        vm = psutil.virtual_memory()
        node = {
            "nodeName": self.config.node_name,
            "cpu": {"usageCoreNanoSeconds": int(sum(psutil.cpu_times()[:3]) * 1e9)},
            "memory": {"workingSetBytes": vm.total - vm.available, "availableBytes": vm.available},
        }
        return web.json_response({"node": node, "pods": pods})


async def _healthz(request: web.Request) -> web.Response:
    return web.Response(text="ok")


def _watcher_state(watcher: MemoryThresholdWatcher) -> dict[str, Any]:
    arming = watcher.arming
    return {
        "wakes": watcher.wakes,
        "kernelEvents": watcher.kernel_events,
        "notifier": None if arming is None else arming.kind,
        "usageLevels": [] if arming is None else list(arming.levels),
        "error": None if arming is None else arming.error,
    }


def _eviction_explanation(decision: dict[str, Any]) -> dict[str, Any]:
    """What an evicted pod keeps of the decision: the signal, threshold and grace timer, the ranked candidates
    (the first few rows), or the local-storage limit it broke."""
    keep = ("time", "outcome", "signal", "resource", "threshold", "gracePeriodSeconds", "message", "localStorage")
    out = {k: decision.get(k) for k in keep}
    candidates = decision.get("candidates") or []
    out["candidates"] = candidates[:EXPLAINED_CANDIDATES]
    out["candidatesOmitted"] = max(0, len(candidates) - EXPLAINED_CANDIDATES)
    return out


def _status_digest(status: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    """Phase and condition statuses: what another writer changing our pod's status would alter."""
    conditions = tuple(sorted((str(c.get("type")), str(c.get("status"))) for c in status.get("conditions", [])))
    return str(status.get("phase", "")), conditions


def _stable(status: dict[str, Any]) -> dict[str, Any]:
    """The status without transition timestamps that change on every rebuild (they must not force writes)."""
    copy = json.loads(json.dumps(status))
    for cond in copy.get("conditions", []):
        cond.pop("lastTransitionTime", None)
    return dict(copy)


@contextlib.asynccontextmanager
async def running(config: AgentConfig) -> AsyncIterator[Agent]:
    agent = Agent(config)
    await agent.start()
    try:
        yield agent
    finally:
        await agent.stop(remove_pods=False)
