"""The control plane schedules for real: pods bound through the API, Unschedulable reported, traces kept."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from minikube_py.control import apiserver
from minikube_py.control import main as control_main
from tests.polling import until

Client = TestClient[Any, Any]


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Client]:
    app, store = await control_main.build(control_main.ControlPlaneConfig(data_dir=str(tmp_path)))
    client: Client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await store.close()


def node(name: str, cpu: str, memory: str = "8Gi", **spec: Any) -> dict[str, Any]:
    resources = {"cpu": cpu, "memory": memory, "pods": "110"}
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
        "spec": spec,
        "status": {
            "capacity": resources,
            "allocatable": resources,
            "conditions": [{"type": "Ready", "status": "True"}],
        },
    }


def pod(name: str, cpu: str) -> dict[str, Any]:
    container = {"name": "c", "command": ["sleep", "1"], "resources": {"requests": {"cpu": cpu, "memory": "100Mi"}}}
    return {"metadata": {"name": name}, "spec": {"containers": [container]}}


async def test_bind_unschedulable_requeue_and_trace(cluster: Client) -> None:
    for n in (node("small", "1"), node("big", "4"), node("cordoned", "8", unschedulable=True)):
        assert (await cluster.post("/api/v1/nodes", json=n)).status == 201
    assert (await cluster.post("/api/v1/namespaces/default/pods", json=pod("fits", "500m"))).status == 201

    async def bound(name: str) -> str | None:
        got = await (await cluster.get(f"/api/v1/namespaces/default/pods/{name}")).json()
        return got["spec"].get("nodeName")

    assert await until(lambda: bound("fits"), "fits bound") == "big"  # LeastAllocated: most room left
    got = await (await cluster.get("/api/v1/namespaces/default/pods/fits")).json()
    scheduled = next(c for c in got["status"]["conditions"] if c["type"] == "PodScheduled")
    assert scheduled["status"] == "True"
    trace = await (await cluster.get("/api/v1/namespaces/default/pods/fits/scheduling")).json()
    assert trace["result"] == "Scheduled" and trace["node"] == "big"
    assert trace["trace"]["selected"] == "big"

    assert (await cluster.post("/api/v1/namespaces/default/pods", json=pod("huge", "6"))).status == 201

    async def unschedulable() -> dict[str, Any] | None:
        got = await (await cluster.get("/api/v1/namespaces/default/pods/huge")).json()
        return next((c for c in got["status"].get("conditions", []) if c["type"] == "PodScheduled"), None)

    cond = await until(unschedulable, "PodScheduled=False")
    assert (cond["status"], cond["reason"]) == ("False", "Unschedulable")
    assert cond["message"] == "0/3 nodes are available: 1 node(s) were unschedulable, 2 Insufficient cpu."

    async def failed_event() -> list[dict[str, Any]]:
        params = {"fieldSelector": "reason=FailedScheduling"}
        return list((await (await cluster.get("/api/v1/namespaces/default/events", params=params)).json())["items"])

    events = await until(failed_event, "the FailedScheduling event")  # the event follows the condition write
    assert events[0]["message"] == cond["message"]
    # A node with room arrives: the pod is requeued and bound.
    assert (await cluster.post("/api/v1/nodes", json=node("giant", "16"))).status == 201
    assert await until(lambda: bound("huge"), "huge bound", timeout=15) == "giant"


async def test_metrics_count_requests_and_scheduling(cluster: Client) -> None:
    assert (await cluster.post("/api/v1/nodes", json=node("n", "4"))).status == 201
    assert (await cluster.post("/api/v1/namespaces/default/pods", json=pod("m", "100m"))).status == 201

    async def bound() -> bool:
        got = await (await cluster.get("/api/v1/namespaces/default/pods/m")).json()
        return bool(got["spec"].get("nodeName"))

    await until(bound, "the pod bound")
    attempt = 'scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 1.0'

    async def metrics_text() -> str | None:
        # The attempt is counted when the cycle reports its outcome, just after the binding.
        text = await (await cluster.get("/metrics")).text()
        return text if attempt in text else None

    text = await until(metrics_text, "the attempt in /metrics")
    assert 'apiserver_request_total{code="201",resource="pods",verb="post"} 1.0' in text
    assert "scheduler_scheduling_algorithm_duration_seconds_count 1.0" in text


async def test_the_trace_is_readable_before_the_binding_is_written(tmp_path: Path) -> None:
    # Whoever sees the pod bound (a watch, a GET) must find the decision that put it there.
    app, store = await control_main.build(control_main.ControlPlaneConfig(data_dir=str(tmp_path)))
    service = app[apiserver.SERVICE]
    traces = app[apiserver.SCHEDULING_TRACES]
    seen_at_bind: list[dict[str, Any] | None] = []
    write_binding = service.bind

    async def bind(namespace: str, name: str, binding: dict[str, Any]) -> Any:
        seen_at_bind.append(traces.get(f"{namespace}/{name}"))
        return await write_binding(namespace, name, binding)

    service.bind = bind  # type: ignore[method-assign]
    client: Client = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        assert (await client.post("/api/v1/nodes", json=node("n1", "2"))).status == 201
        assert (await client.post("/api/v1/namespaces/default/pods", json=pod("p", "100m"))).status == 201

        async def bound() -> str | None:
            got = await (await client.get("/api/v1/namespaces/default/pods/p")).json()
            return got["spec"].get("nodeName")

        assert await until(bound, "the pod bound") == "n1"
        assert len(seen_at_bind) == 1 and seen_at_bind[0] is not None
        assert (seen_at_bind[0]["result"], seen_at_bind[0]["node"]) == ("Scheduled", "n1")
        assert seen_at_bind[0]["trace"]["selected"] == "n1"
    finally:
        await client.close()
        await store.close()
