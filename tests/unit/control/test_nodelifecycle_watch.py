"""The node controller's watch starts where its listing ended: a node change in between is not lost."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import Any

from minikube_py.control import apiserver, nodelifecycle
from minikube_py.control.registry import RESOURCES
from minikube_py.control.store import SQLiteStore
from minikube_py.util.clock import FakeClock


async def test_a_pressure_condition_written_between_list_and_watch_still_taints_the_node(tmp_path: Path) -> None:
    store = await SQLiteStore.open(str(tmp_path / "s.db"))
    service = apiserver.ApiService(store)
    await service.bootstrap()
    clock = FakeClock(start=1_800_000_000.0)
    nodes = RESOURCES["nodes"]
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "d"}, "spec": {"podCIDR": "10.244.0.0/24"}}
    await service.create(nodes, "", node)
    controller = nodelifecycle.NodeLifecycleController(service, clock=clock, period=3600)
    list_nodes = store.list
    pressure_written = asyncio.Event()

    async def list_then_write(resource: str, *args: Any, **kwargs: Any) -> Any:
        listing = await list_nodes(resource, *args, **kwargs)
        if resource == "nodes" and not pressure_written.is_set():
            # An agent posts DiskPressure after the controller listed, before it watches.
            got = await service.get(nodes, "", "d")
            got.setdefault("status", {})["conditions"] = [{"type": "DiskPressure", "status": "True"}]
            await service.update(nodes, "", "d", got, subresource="status")
            pressure_written.set()
        return listing

    store.list = list_then_write  # type: ignore[method-assign]
    task = asyncio.create_task(controller._follow_pressure())  # only the watch: no monitor pass to catch up
    try:
        await asyncio.wait_for(pressure_written.wait(), 10)
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            taints = [t["key"] for t in (await service.get(nodes, "", "d"))["spec"].get("taints", [])]
            if taints:
                break
            assert asyncio.get_running_loop().time() < deadline, "the DiskPressure written before the watch was lost"
            await asyncio.sleep(0.02)
        assert taints == ["node.kubernetes.io/disk-pressure"]
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await store.close()
