"""Node lifecycle with a fake clock: silent node → Ready=Unknown + unreachable taint → pods evicted after 300 s."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TypeVar

from minikube_py.control import apiserver, errors, nodelifecycle
from minikube_py.control.registry import RESOURCES
from minikube_py.control.store import SQLiteStore
from minikube_py.util.clock import FakeClock
from tests.polling import until


def _node(name: str, heartbeat: float, ready: str = "True") -> dict[str, object]:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name},
        "status": {
            "conditions": [
                {
                    "type": "Ready",
                    "status": ready,
                    "lastHeartbeatTime": nodelifecycle.format_time(heartbeat),
                    "reason": "KubeletReady",
                }
            ]
        },
    }


def _pod(name: str, node: str, tolerations: list[dict[str, object]] | None = None) -> dict[str, object]:
    spec: dict[str, object] = {"nodeName": node, "containers": [{"name": "c", "command": ["sleep", "1"]}]}
    if tolerations is not None:
        spec["tolerations"] = tolerations
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name}, "spec": spec}


async def test_silent_node_is_tainted_and_pods_follow_tolerations(tmp_path: Path) -> None:
    store = await SQLiteStore.open(str(tmp_path / "s.db"))
    service = apiserver.ApiService(store)
    await service.bootstrap()
    clock = FakeClock(start=1_800_000_000.0)
    controller = nodelifecycle.NodeLifecycleController(service, clock=clock, grace_period=40)
    nodes, pods = RESOURCES["nodes"], RESOURCES["pods"]
    await service.create(nodes, "", _node("a", clock.now()))
    await service.create(pods, "default", _pod("default-tolerations", "a"))  # gets 300 s via admission
    await service.create(
        pods,
        "default",
        _pod(
            "short",
            "a",
            [
                {
                    "key": "node.kubernetes.io/unreachable",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 60,
                }
            ],
        ),
    )
    await service.create(pods, "default", _pod("forever", "a", [{"operator": "Exists"}]))
    clock.step(30)
    await controller.monitor_once()
    node = await service.get(nodes, "", "a")
    assert node["status"]["conditions"][0]["status"] == "True" and not node["spec"].get("taints")
    clock.step(15)  # 45 s without a heartbeat > 40 s grace
    await controller.monitor_once()
    node = await service.get(nodes, "", "a")
    ready = node["status"]["conditions"][0]
    assert (ready["status"], ready["reason"], ready["message"]) == (
        "Unknown",
        "NodeStatusUnknown",
        "Kubelet stopped posting node status.",
    )
    assert [(t["key"], t["effect"]) for t in node["spec"]["taints"]] == [
        ("node.kubernetes.io/unreachable", "NoExecute")
    ]
    pod = await service.get(pods, "default", "default-tolerations")
    ready_pod = next(c for c in pod["status"]["conditions"] if c["type"] == "Ready")
    assert (ready_pod["status"], ready_pod["reason"]) == ("False", "NodeNotReady")
    clock.step(61)
    await controller.monitor_once()
    names = {p["metadata"]["name"] for p in (await store.list("pods", "default")).items}
    assert names == {"default-tolerations", "forever"}  # the 60 s toleration ran out
    clock.step(240)  # 301 s after the taint
    await controller.monitor_once()
    names = {p["metadata"]["name"] for p in (await store.list("pods", "default")).items}
    assert names == {"forever"}
    events = {e["reason"] for e in (await store.list("events", "default")).items}
    assert {"NodeNotReady", "TaintManagerEviction"} <= events
    # The node comes back: heartbeat → taint removed.
    node = await service.get(nodes, "", "a")
    node["status"]["conditions"] = [
        {"type": "Ready", "status": "True", "lastHeartbeatTime": nodelifecycle.format_time(clock.now())}
    ]
    await service.update(nodes, "", "a", node, subresource="status")
    await controller.monitor_once()
    assert not (await service.get(nodes, "", "a"))["spec"].get("taints")
    await store.close()


def test_tolerations_matching() -> None:
    taint = {"key": "node.kubernetes.io/unreachable", "effect": "NoExecute"}
    assert nodelifecycle.tolerates([], taint) == (False, None)
    assert nodelifecycle.tolerates([{"operator": "Exists"}], taint) == (True, None)
    assert nodelifecycle.tolerates(
        [{"key": "node.kubernetes.io/unreachable", "operator": "Exists", "tolerationSeconds": 5}], taint
    ) == (True, 5.0)
    assert nodelifecycle.tolerates([{"key": "other", "operator": "Exists"}], taint) == (False, None)
    assert nodelifecycle.tolerates(
        [{"key": "node.kubernetes.io/unreachable", "effect": "NoSchedule", "operator": "Exists"}], taint
    ) == (False, None)


async def test_pressure_conditions_become_noschedule_taints(tmp_path: Path) -> None:
    store = await SQLiteStore.open(str(tmp_path / "s.db"))
    service = apiserver.ApiService(store)
    await service.bootstrap()
    clock = FakeClock(start=1_800_000_000.0)
    controller = nodelifecycle.NodeLifecycleController(service, clock=clock, grace_period=40)
    nodes = RESOURCES["nodes"]
    node = _node("p", clock.now())
    node["status"]["conditions"].append(
        {"type": "MemoryPressure", "status": "True", "lastHeartbeatTime": nodelifecycle.format_time(clock.now())}
    )  # type: ignore[index]
    await service.create(nodes, "", node)
    await controller.monitor_once()
    got = await service.get(nodes, "", "p")
    assert [(t["key"], t["effect"]) for t in got["spec"]["taints"]] == [
        ("node.kubernetes.io/memory-pressure", "NoSchedule")
    ]
    got["status"]["conditions"] = [
        {"type": "Ready", "status": "True", "lastHeartbeatTime": nodelifecycle.format_time(clock.now())},
        {"type": "MemoryPressure", "status": "False"},
    ]
    await service.update(nodes, "", "p", got, subresource="status")
    await controller.monitor_once()
    assert not (await service.get(nodes, "", "p"))["spec"].get("taints")
    await store.close()


async def test_pressure_taints_follow_node_updates_without_waiting_for_the_monitor(tmp_path: Path) -> None:
    nodes = RESOURCES["nodes"]
    async with running_controller(tmp_path, "d") as (service, clock):
        # The controller's own startup write (the pod CIDR) must land first: a status PUT carrying the
        # resourceVersion from before it would get 409.
        await until(lambda: _pod_cidr(service, "d"), "node d to get its pod CIDR")

        async def taints_after(status: str) -> list[str]:
            loop = asyncio.get_running_loop()
            deadline = loop.time() + WAIT
            while True:
                got = await service.get(nodes, "", "d")
                got["status"]["conditions"] = [
                    {"type": "Ready", "status": "True", "lastHeartbeatTime": nodelifecycle.format_time(clock.now())},
                    {"type": "DiskPressure", "status": status},
                ]
                try:
                    await service.update(nodes, "", "d", got, subresource="status")
                    break
                except errors.ApiError as err:  # another write in between: read again, as an agent would
                    assert err.code == 409 and loop.time() < deadline, err
            while True:
                taints = [t["key"] for t in (await service.get(nodes, "", "d"))["spec"].get("taints", [])]
                if (status == "True") == bool(taints):
                    return taints
                assert loop.time() < deadline, f"DiskPressure={status} left the taints at {taints} after {WAIT} s"
                await asyncio.sleep(0.01)

        assert await taints_after("True") == ["node.kubernetes.io/disk-pressure"]
        assert await taints_after("False") == []


async def test_new_nodes_get_distinct_pod_cidrs_at_once(tmp_path: Path) -> None:
    nodes = RESOURCES["nodes"]
    async with running_controller(tmp_path, "before") as (service, clock):  # "before" exists at start
        # The controller has listed (and allocated) before the new nodes come: they are allocated from its watch.
        await until(lambda: _pod_cidr(service, "before"), "node before to get its pod CIDR")
        for name in ("n1", "n2"):
            await service.create(nodes, "", _node(name, clock.now()))

        async def cidrs() -> dict[str, str]:
            items = [await service.get(nodes, "", n) for n in ("before", "n1", "n2")]
            return {i["metadata"]["name"]: i["spec"].get("podCIDR", "") for i in items}

        async def all_set() -> dict[str, str] | None:
            got = await cidrs()
            return got if all(got.values()) else None

        got = await until(all_set, "every node to get a pod CIDR")
        assert sorted(got.values()) == ["10.244.0.0/24", "10.244.1.0/24", "10.244.2.0/24"], got
        assert (await service.get(nodes, "", "n1"))["spec"]["podCIDRs"] == [got["n1"]]


WAIT = 10.0
"""Seconds a test waits for the controller to act before it fails."""

_T = TypeVar("_T")


async def _pod_cidr(service: apiserver.ApiService, name: str) -> str:
    node = await service.get(RESOURCES["nodes"], "", name)
    return str(node.get("spec", {}).get("podCIDR") or "")


@contextlib.asynccontextmanager
async def running_controller(
    tmp_path: Path, *nodes_before: str
) -> AsyncIterator[tuple[apiserver.ApiService, FakeClock]]:
    """A controller whose monitor period is far beyond the test: only its node watch can act in time."""
    store = await SQLiteStore.open(str(tmp_path / "s.db"))
    service = apiserver.ApiService(store)
    await service.bootstrap()
    clock = FakeClock(start=1_800_000_000.0)
    controller = nodelifecycle.NodeLifecycleController(service, clock=clock, grace_period=40, period=3600)
    for name in nodes_before:
        await service.create(RESOURCES["nodes"], "", _node(name, clock.now()))
    task = asyncio.create_task(controller.run())
    try:
        yield service, clock
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
