"""The official Kubernetes Python client, unchanged, against our API server."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from kubernetes import client, watch  # type: ignore[import-untyped]
from kubernetes.client.rest import ApiException  # type: ignore[import-untyped]

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _core(api: TestClient[Any, Any]) -> Any:
    cfg = client.Configuration()
    cfg.host = str(api.make_url("")).rstrip("/")
    return client.CoreV1Api(client.ApiClient(cfg))


def _pod(name: str) -> Any:
    return client.V1Pod(
        metadata=client.V1ObjectMeta(name=name, labels={"app": "demo"}),
        spec=client.V1PodSpec(
            containers=[
                client.V1Container(
                    name="app",
                    image="busybox",
                    command=["sleep", "1"],
                    resources=client.V1ResourceRequirements(limits={"cpu": "250m", "memory": "64Mi"}),
                )
            ]
        ),
    )


async def test_pods_namespaces_nodes_quotas_and_watch(api: TestClient[Any, Any]) -> None:
    v1 = _core(api)
    run = asyncio.to_thread
    await run(v1.create_namespace, client.V1Namespace(metadata=client.V1ObjectMeta(name="demo")))
    events: list[tuple[str, str]] = []
    # The watch starts from the listing's resourceVersion, as an informer's: it sees every change after the list,
    # whether its request reaches the server before or after the writes below.
    since = (await run(v1.list_namespaced_pod, "demo")).metadata.resource_version

    def watch_pods() -> None:
        w = watch.Watch()
        for event in w.stream(v1.list_namespaced_pod, "demo", resource_version=since, timeout_seconds=30):
            events.append((event["type"], event["object"].metadata.name))
            if len(events) == 3:
                w.stop()

    watcher = asyncio.create_task(run(watch_pods))
    created = await run(v1.create_namespaced_pod, "demo", _pod("web"))
    assert created.metadata.uid and created.status.qos_class == "Guaranteed"
    got = await run(v1.read_namespaced_pod, "web", "demo")
    assert got.spec.containers[0].resources.requests == {"cpu": "250m", "memory": "64Mi"}
    listed = await run(v1.list_namespaced_pod, "demo", label_selector="app=demo")
    assert [p.metadata.name for p in listed.items] == ["web"]
    status = await run(v1.read_namespaced_pod_status, "web", "demo")
    assert status.status.phase == "Pending"
    await run(v1.patch_namespaced_pod, "web", "demo", {"metadata": {"labels": {"app": "demo", "tier": "x"}}})
    await run(v1.delete_namespaced_pod, "web", "demo")
    await asyncio.wait_for(watcher, 45)  # the watch itself ends after 30 s
    assert events == [("ADDED", "web"), ("MODIFIED", "web"), ("DELETED", "web")]
    with pytest.raises(ApiException) as info:
        await run(v1.read_namespaced_pod, "web", "demo")
    assert info.value.status == 404

    node = client.V1Node(metadata=client.V1ObjectMeta(name="n1", labels={"kubernetes.io/hostname": "n1"}))
    await run(v1.create_node, node)
    assert [n.metadata.name for n in (await run(v1.list_node)).items] == ["n1"]
    await run(v1.delete_node, "n1")

    quota = client.V1ResourceQuota(
        metadata=client.V1ObjectMeta(name="q"), spec=client.V1ResourceQuotaSpec(hard={"pods": "1"})
    )
    await run(v1.create_namespaced_resource_quota, "demo", quota)
    await run(v1.create_namespaced_pod, "demo", _pod("one"))
    with pytest.raises(ApiException) as info:
        await run(v1.create_namespaced_pod, "demo", _pod("two"))
    assert info.value.status == 403 and "exceeded quota: q" in info.value.body
    read = await run(v1.read_namespaced_resource_quota, "q", "demo")
    assert read.status.used == {"pods": "1"}
    namespaces = {n.metadata.name for n in (await run(v1.list_namespace)).items}
    assert {"default", "kube-system", "demo"} <= namespaces
    await run(v1.delete_namespaced_resource_quota, "q", "demo")
    assert (await run(v1.list_namespaced_resource_quota, "demo")).items == []
    await run(v1.delete_namespace, "demo")
    namespaces = {n.metadata.name for n in (await run(v1.list_namespace)).items}
    assert "demo" not in namespaces
    with pytest.raises(ApiException) as info:
        await run(v1.read_namespaced_pod, "one", "demo")  # the namespace took its pods with it
    assert info.value.status == 404
