"""Node lifecycle with a fake clock: silent node → Ready=Unknown + unreachable taint → pods evicted after 300 s."""

from __future__ import annotations

from pathlib import Path

from minikube_py.control import apiserver, nodelifecycle
from minikube_py.control.registry import RESOURCES
from minikube_py.control.store import SQLiteStore
from minikube_py.util.clock import FakeClock


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
