"""Node lifecycle: silent nodes become Ready=Unknown and get tainted; pods follow their tolerations.

Kubernetes facts (reference §11): the node monitor runs every 5 s; a node whose status has not been updated
within ``node-monitor-grace-period`` (40 s; 50 s in newer releases) gets ``Ready=Unknown`` (reason
``NodeStatusUnknown``, "Kubelet stopped posting node status.") and the ``node.kubernetes.io/unreachable``
NoExecute taint; a node reporting ``Ready=False`` gets ``node.kubernetes.io/not-ready``.  The taint manager
evicts pods that do not tolerate a NoExecute taint at once, and those that tolerate it with
``tolerationSeconds`` when that time has passed since the taint was added (DefaultTolerationSeconds: 300 s).
``monitor_once()`` is one pass; ``run()`` repeats it.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import datetime
import logging
from typing import Any

from minikube_py.api import codec, types
from minikube_py.control import apiserver, errors, nodeipam
from minikube_py.control import store as store_mod
from minikube_py.control.registry import RESOURCES
from minikube_py.util.clock import Clock

log = logging.getLogger(__name__)

UNREACHABLE = apiserver.UNREACHABLE_TAINT
NOT_READY = apiserver.NOT_READY_TAINT


def parse_time(text: str | None) -> float | None:
    if not text:
        return None
    with contextlib.suppress(ValueError):
        return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp()
    return None


def format_time(ts: float) -> str:
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def tolerates(tolerations: list[dict[str, Any]], taint: dict[str, Any]) -> tuple[bool, float | None]:
    """(tolerated?, for how many seconds; None = forever)."""
    best: tuple[bool, float | None] = (False, None)
    for t in tolerations:
        if t.get("effect") not in (None, "", taint.get("effect")):
            continue
        operator = t.get("operator") or "Equal"
        key_ok = (t.get("key", "") == "" and operator == "Exists") or t.get("key") == taint.get("key")
        value_ok = operator == "Exists" or t.get("value", "") == taint.get("value", "")
        if not (key_ok and value_ok):
            continue
        seconds = t.get("tolerationSeconds")
        if seconds is None:
            return True, None
        if not best[0] or (best[1] is not None and seconds > best[1]):
            best = (True, float(seconds))
    return best


class NodeLifecycleController:
    def __init__(
        self,
        service: apiserver.ApiService,
        *,
        clock: Clock,
        grace_period: float = 40.0,
        startup_grace_period: float = 60.0,
        period: float = 5.0,
        cidr_allocator: nodeipam.NodeCIDRAllocator | None = None,
    ) -> None:
        self.service = service
        self.cidr_allocator = cidr_allocator or nodeipam.NodeCIDRAllocator()
        self.clock = clock
        self.grace_period = grace_period
        self.startup_grace_period = startup_grace_period
        self.period = period

    async def run(self) -> None:
        pressure = asyncio.create_task(self._follow_pressure(), name="pressure-taints")
        try:
            await self._monitor_loop()
        finally:
            pressure.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pressure

    async def _follow_pressure(self) -> None:
        """Node events, not the monitor period, drive two things: TaintNodesByCondition (a pressure condition
        posted by an agent becomes, or stops being, a NoSchedule taint as soon as it is written) and the node
        IPAM (a new node gets its pod CIDR at once; its agent waits for it)."""
        while True:
            try:
                # List, act on the listing, then watch from its revision: no node change falls between the two.
                listing = await self.service.store.list("nodes")
                await self.allocate_pod_cidrs(listing.items)
                for node in listing.items:
                    with contextlib.suppress(store_mod.Conflict, store_mod.NotFound):
                        await self.sync_pressure_taints(node)
                async for event in self.service.store.watch("nodes", since=listing.resource_version):
                    if event.type in ("ADDED", "DELETED") or not event.object.get("spec", {}).get("podCIDR"):
                        await self.allocate_pod_cidrs()
                    if event.type == "MODIFIED":
                        with contextlib.suppress(store_mod.Conflict, store_mod.NotFound):
                            await self.sync_pressure_taints(event.object)
            except store_mod.Gone:
                continue  # fell behind the history: list again
            except Exception:
                log.exception("pressure taint watch failed")
                await asyncio.sleep(self.period)

    async def allocate_pod_cidrs(self, nodes: list[dict[str, Any]] | None = None) -> None:
        """kube-controller-manager's --allocate-node-cidrs: every node gets ``spec.podCIDR(s)``.  ``nodes`` is a
        fresh listing when the caller has one."""
        if nodes is None:
            nodes = (await self.service.store.list("nodes")).items
        try:
            assignments = self.cidr_allocator.assign(codec.decode(types.Node, n) for n in nodes)
        except nodeipam.NodeCIDRError as err:
            log.error("node IPAM: %s", err)
            return
        by_name = {n["metadata"]["name"]: n for n in nodes}
        for assignment in assignments:
            node = copy.deepcopy(by_name[assignment.node])
            spec = node.setdefault("spec", {})
            spec["podCIDR"], spec["podCIDRs"] = assignment.cidr, assignment.pod_cidrs
            with contextlib.suppress(store_mod.Conflict, store_mod.NotFound):
                await self.service.store.update(
                    store_mod.Key("nodes", "", assignment.node),
                    node,
                    expected_resource_version=node["metadata"]["resourceVersion"],
                )

    async def sync_pressure_taints(self, node: dict[str, Any]) -> bool:
        """Make the node's pressure taints match its conditions; True when the node was updated."""
        taints = list(node.get("spec", {}).get("taints", []))
        if not _sync_pressure_taints(taints, node.get("status", {}).get("conditions", []), self.clock.now()):
            return False
        node = copy.deepcopy(node)  # watch events are shared with other watchers
        node.setdefault("spec", {})["taints"] = taints
        if not taints:
            node["spec"].pop("taints")
        await self.service.store.update(
            store_mod.Key("nodes", "", node["metadata"]["name"]),
            node,
            expected_resource_version=node["metadata"]["resourceVersion"],
        )
        return True

    async def _monitor_loop(self) -> None:
        while True:
            try:
                await self.monitor_once()
            except Exception:  # the monitor must keep going
                log.exception("node monitor pass failed")
            await asyncio.sleep(self.period)

    async def monitor_once(self) -> None:
        now = self.clock.now()
        nodes = (await self.service.store.list("nodes")).items
        for node in nodes:
            with contextlib.suppress(store_mod.Conflict, store_mod.NotFound):
                await self._check_node(node, now)
        for node in (await self.service.store.list("nodes")).items:
            await self._evict_from(node, now)

    async def _check_node(self, node: dict[str, Any], now: float) -> None:
        status = node.setdefault("status", {})
        conditions = status.setdefault("conditions", [])
        ready = next((c for c in conditions if c.get("type") == "Ready"), None)
        heartbeat = parse_time(ready.get("lastHeartbeatTime") if ready else None)
        grace = self.grace_period
        if heartbeat is None:
            heartbeat = parse_time(node["metadata"].get("creationTimestamp")) or now
            grace = self.startup_grace_period
        changed = False
        taints = node.setdefault("spec", {}).setdefault("taints", [])
        if now - heartbeat > grace:
            if ready is None or ready.get("status") != "Unknown":
                for cond in conditions or []:
                    cond.update(
                        status="Unknown",
                        reason="NodeStatusUnknown",
                        message="Kubelet stopped posting node status.",
                        lastTransitionTime=format_time(now),
                    )
                if ready is None:
                    conditions.append(
                        {
                            "type": "Ready",
                            "status": "Unknown",
                            "reason": "NodeStatusNeverUpdated",
                            "message": "Kubelet never posted node status.",
                            "lastTransitionTime": format_time(now),
                        }
                    )
                changed = True
                await self.service.record_event(
                    "default",
                    {"kind": "Node", "apiVersion": "v1", "metadata": node["metadata"]},
                    "Normal",
                    "NodeNotReady",
                    f"Node {node['metadata']['name']} status is now: NodeNotReady",
                    "node-controller",
                )
                await self._mark_pods_not_ready(node["metadata"]["name"], now)
            changed |= _set_taint(taints, UNREACHABLE, now)
            changed |= _remove_taint(taints, NOT_READY)
        elif ready is not None and ready.get("status") == "False":
            changed |= _set_taint(taints, NOT_READY, now)
            changed |= _remove_taint(taints, UNREACHABLE)
        else:
            changed |= _remove_taint(taints, UNREACHABLE)
            changed |= _remove_taint(taints, NOT_READY)
        changed |= _sync_pressure_taints(taints, conditions, now)
        if changed:
            if not taints:
                node["spec"].pop("taints", None)
            await self.service.store.update(
                store_mod.Key("nodes", "", node["metadata"]["name"]),
                node,
                expected_resource_version=node["metadata"]["resourceVersion"],
            )

    async def _mark_pods_not_ready(self, node_name: str, now: float) -> None:
        pods = await self.service.store.list(
            "pods", None, predicate=lambda p: p.get("spec", {}).get("nodeName") == node_name
        )
        for pod in pods.items:
            conditions = pod.setdefault("status", {}).setdefault("conditions", [])
            ready = next((c for c in conditions if c.get("type") == "Ready"), None)
            if ready is None:
                ready = {"type": "Ready"}
                conditions.append(ready)
            ready.update(status="False", reason="NodeNotReady", lastTransitionTime=format_time(now))
            with contextlib.suppress(store_mod.Conflict, store_mod.NotFound):
                await self.service.store.update(
                    store_mod.Key("pods", pod["metadata"]["namespace"], pod["metadata"]["name"]),
                    pod,
                    expected_resource_version=pod["metadata"]["resourceVersion"],
                )

    async def _evict_from(self, node: dict[str, Any], now: float) -> None:
        taints = [t for t in node.get("spec", {}).get("taints") or [] if t.get("effect") == "NoExecute"]
        if not taints:
            return
        name = node["metadata"]["name"]
        pods = await self.service.store.list(
            "pods", None, predicate=lambda p: p.get("spec", {}).get("nodeName") == name
        )
        for pod in pods.items:
            deadline: float | None = None
            evict = False
            for taint in taints:
                ok, seconds = tolerates(pod.get("spec", {}).get("tolerations") or [], taint)
                if not ok:
                    evict = True
                    break
                if seconds is not None:
                    added = parse_time(taint.get("timeAdded")) or now
                    deadline = added + seconds if deadline is None else min(deadline, added + seconds)
            if evict or (deadline is not None and now >= deadline):
                await self._evict(pod, name)

    async def _evict(self, pod: dict[str, Any], node_name: str) -> None:
        meta = pod["metadata"]
        await self.service.record_event(
            meta["namespace"],
            pod,
            "Normal",
            "TaintManagerEviction",
            f"Marking for deletion Pod {meta['namespace']}/{meta['name']}",
            "taint-eviction-controller",
        )
        with contextlib.suppress(errors.ApiError, store_mod.StoreError):
            # The node is gone or not ready: nobody will finish a graceful deletion, so remove at once.
            await self.service.delete(RESOURCES["pods"], meta["namespace"], meta["name"], grace_seconds=0)


# The node lifecycle controller's TaintNodesByCondition: pressure conditions become NoSchedule taints, so the
# scheduler's TaintToleration filter keeps new pods off the node while the condition holds.
PRESSURE_TAINTS = {
    "MemoryPressure": "node.kubernetes.io/memory-pressure",
    "DiskPressure": "node.kubernetes.io/disk-pressure",
    "PIDPressure": "node.kubernetes.io/pid-pressure",
}


def _sync_pressure_taints(taints: list[dict[str, Any]], conditions: list[dict[str, Any]], now: float) -> bool:
    changed = False
    status = {c.get("type"): c.get("status") for c in conditions}
    for condition, key in PRESSURE_TAINTS.items():
        present = any(t.get("key") == key for t in taints)
        if status.get(condition) == "True" and not present:
            taints.append({"key": key, "effect": "NoSchedule", "timeAdded": format_time(now)})
            changed = True
        elif status.get(condition) != "True" and present:
            taints[:] = [t for t in taints if t.get("key") != key]
            changed = True
    return changed


def _set_taint(taints: list[dict[str, Any]], key: str, now: float) -> bool:
    if any(t.get("key") == key and t.get("effect") == "NoExecute" for t in taints):
        return False
    taints.append({"key": key, "effect": "NoExecute", "timeAdded": format_time(now)})
    return True


def _remove_taint(taints: list[dict[str, Any]], key: str) -> bool:
    before = len(taints)
    taints[:] = [t for t in taints if t.get("key") != key]
    return len(taints) != before
