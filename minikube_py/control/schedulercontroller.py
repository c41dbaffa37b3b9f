"""Drives the scheduler from the store: pods and nodes in, bindings and failure conditions out.

It follows pods and nodes with list-then-watch (re-listing after a Gone), feeds the scheduler's event
hooks, binds through the API's binding subresource, and for a pod that does not fit writes
``PodScheduled=False`` with reason ``Unschedulable`` and the ``0/N nodes are available: …`` message plus a
``FailedScheduling`` event, as kube-scheduler does.  The last decision trace of each pod is kept for the
``pods/<name>/scheduling`` subresource (beyond Kubernetes).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping
from typing import Any

from minikube_py.api import codec, types
from minikube_py.control import apiserver, errors
from minikube_py.control import store as store_mod
from minikube_py.control.metrics import ControlPlaneMetrics
from minikube_py.control.registry import RESOURCES
from minikube_py.control.scheduler.scheduler import CycleOutcome, Scheduler, ScheduleResult
from minikube_py.util.clock import Clock, RealClock

log = logging.getLogger(__name__)
TRACE_LIMIT = 5000


def _scheduling_relevant(pod: dict[str, Any]) -> tuple[Any, ...]:
    """What kube-scheduler's isPodUpdated compares: everything but status and bookkeeping metadata."""
    meta = pod.get("metadata", {})
    return (pod.get("spec"), meta.get("labels"), meta.get("annotations"), meta.get("deletionTimestamp"))


class SchedulerController:
    def __init__(
        self,
        service: apiserver.ApiService,
        *,
        config: str | Mapping[str, object] | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.service = service
        self.scheduler = Scheduler.from_config(
            config, bind=self._bind, rng=rng or random.Random(), clock=clock or RealClock()
        )
        self.traces: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        self._pods: dict[str, dict[str, Any]] = {}
        self._nodes: dict[str, dict[str, Any]] = {}
        self.synced = asyncio.Event()
        self.metrics: ControlPlaneMetrics | None = None
        # The decision of the cycle in progress (one pod at a time), recorded before its binding is written.
        self._deciding: tuple[types.Pod, ScheduleResult] | None = None
        # Time the algorithm (filter, score, select) of every attempt for the latency histogram.
        algorithm = self.scheduler.schedule_one

        def timed(pod: types.Pod, nodes: Any = None) -> Any:
            started = time.perf_counter()
            try:
                result = algorithm(pod, nodes)
                self._deciding = (pod, result)
                return result
            finally:
                if self.metrics is not None:
                    self.metrics.algorithm_duration.observe(time.perf_counter() - started)

        self.scheduler.schedule_one = timed  # type: ignore[method-assign]

    # --- outputs

    async def _bind(self, pod: types.Pod, node_name: str) -> None:
        # The trace is kept before the write: whoever sees the pod bound can read why it went there.  A
        # failed binding replaces it with the failure when the cycle reports its outcome.
        if self._deciding is not None and self._deciding[0] is pod:
            self._record_trace(pod, "Scheduled", node_name, "", self._deciding[1])
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod.metadata.name, "namespace": pod.metadata.namespace},
            "target": {"kind": "Node", "name": node_name},
        }
        await self.service.bind(pod.metadata.namespace, pod.metadata.name, binding)

    async def _on_outcome(self, outcome: CycleOutcome) -> None:
        pod = outcome.pod
        if self.metrics is not None:
            result = {"Scheduled": "scheduled", "Unschedulable": "unschedulable"}.get(outcome.reason, "error")
            profile = pod.spec.scheduler_name or "default-scheduler"
            self.metrics.schedule_attempts.labels(result, profile).inc()
            for queue_name, infos in self.scheduler.queue.pending().items():
                self.metrics.pending_pods.labels(queue_name).set(len(infos))
        self._deciding = None
        if outcome.bound:
            return  # its trace was recorded just before the binding was written
        message = outcome.status.message()
        self._record_trace(pod, outcome.reason, outcome.node_name, message, outcome.result)
        with contextlib.suppress(errors.ApiError, store_mod.StoreError):
            await self._report_failure(pod, outcome.reason, outcome.status.message())

    def _record_trace(
        self, pod: types.Pod, reason: str, node_name: str | None, message: str, result: ScheduleResult
    ) -> None:
        key = f"{pod.metadata.namespace}/{pod.metadata.name}"
        self.traces[key] = {
            "pod": key,
            "uid": pod.metadata.uid,
            "time": apiserver.now_rfc3339(),
            "result": reason,
            "node": node_name,
            "message": message,
            "trace": result.trace.to_dict(),
        }
        self.traces.move_to_end(key)
        while len(self.traces) > TRACE_LIMIT:
            self.traces.popitem(last=False)

    async def _report_failure(self, pod: types.Pod, reason: str, message: str) -> None:
        ns, name = pod.metadata.namespace, pod.metadata.name
        current = await self.service.get(RESOURCES["pods"], ns, name)
        if current.get("spec", {}).get("nodeName"):
            return
        conditions = current.setdefault("status", {}).setdefault("conditions", [])
        cond = next((c for c in conditions if c.get("type") == "PodScheduled"), None)
        if cond is not None and (cond.get("status"), cond.get("reason"), cond.get("message")) == (
            "False",
            reason,
            message,
        ):
            return  # unchanged: no write, no event storm
        if cond is None:
            cond = {"type": "PodScheduled"}
            conditions.append(cond)
        cond.update(status="False", reason=reason, message=message, lastTransitionTime=apiserver.now_rfc3339())
        await self.service.store.update(
            store_mod.Key("pods", ns, name), current, expected_resource_version=current["metadata"]["resourceVersion"]
        )
        await self.service.record_event(ns, current, "Warning", "FailedScheduling", message, "default-scheduler")

    # --- inputs

    def _pod_event(self, kind: str, obj: dict[str, Any]) -> None:
        key = f"{obj['metadata'].get('namespace')}/{obj['metadata']['name']}"
        old = self._pods.get(key)
        if kind == "DELETED":
            self._pods.pop(key, None)
            self.scheduler.on_pod_deleted(codec.decode(types.Pod, obj))
            self.traces.pop(key, None)
            return
        self._pods[key] = obj
        new = codec.decode(types.Pod, obj)
        if old is None:
            self.scheduler.on_pod_added(new)
        elif new.spec.node_name or _scheduling_relevant(old) != _scheduling_relevant(obj):
            self.scheduler.on_pod_updated(codec.decode(types.Pod, old), new)

    def _node_event(self, kind: str, obj: dict[str, Any]) -> None:
        name = obj["metadata"]["name"]
        old = self._nodes.get(name)
        if kind == "DELETED":
            self._nodes.pop(name, None)
            self.scheduler.on_node_deleted(codec.decode(types.Node, obj))
            return
        self._nodes[name] = obj
        if old is None:
            self.scheduler.on_node_added(codec.decode(types.Node, obj))
        else:
            self.scheduler.on_node_updated(codec.decode(types.Node, old), codec.decode(types.Node, obj))

    async def _follow(
        self, resource: str, known: dict[str, Any], handle: Callable[[str, dict[str, Any]], None], ready: asyncio.Event
    ) -> None:
        while True:
            listing = await self.service.store.list(resource)
            seen = set()
            for item in listing.items:
                meta = item["metadata"]
                key = meta["name"] if resource == "nodes" else f"{meta.get('namespace')}/{meta['name']}"
                seen.add(key)
                handle("ADDED" if key not in known else "MODIFIED", item)
            for key in [k for k in known if k not in seen]:
                handle("DELETED", known[key])
            ready.set()
            try:
                async for event in self.service.store.watch(resource, since=listing.resource_version):
                    handle(event.type, event.object)
            except store_mod.Gone:
                continue  # too far behind: re-list, as an informer does

    async def run(self, stop: asyncio.Event) -> None:
        nodes_ready, pods_ready = asyncio.Event(), asyncio.Event()
        followers = [
            asyncio.create_task(self._follow("nodes", self._nodes, self._node_event, nodes_ready)),
        ]
        try:  # also when stopped before the caches synced: the followers never outlive run()
            await nodes_ready.wait()
            followers.append(asyncio.create_task(self._follow("pods", self._pods, self._pod_event, pods_ready)))
            await pods_ready.wait()
            self.synced.set()
            await self.scheduler.run(stop, on_outcome=self._on_outcome)
        finally:
            for task in followers:
                task.cancel()
            for task in followers:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
