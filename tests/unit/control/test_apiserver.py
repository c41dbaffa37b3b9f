"""The API server over real HTTP on loopback with a real SQLite store."""

from __future__ import annotations

import asyncio
import io
import json
from typing import Any

from aiohttp.test_utils import TestClient

from minikube_py.control import apiserver
from minikube_py.control.store import SQLiteStore

Client = TestClient[Any, Any]


def pod(
    name: str, *, ns: str = "default", cpu: str | None = None, labels: dict[str, str] | None = None, **spec: Any
) -> dict[str, Any]:
    resources = {"requests": {"cpu": cpu}, "limits": {"cpu": cpu}} if cpu else {}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": ns, "labels": labels or {}},
        "spec": {
            "containers": [{"name": "app", "image": "busybox", "command": ["sleep", "1"], "resources": resources}],
            **spec,
        },
    }


async def create(
    api: Client, body: dict[str, Any], ns: str = "default", *, expect: int = 201, **params: str
) -> dict[str, Any]:
    r = await api.post(f"/api/v1/namespaces/{ns}/pods", json=body, params=params)
    data: dict[str, Any] = await r.json()
    assert r.status == expect, data
    return data


async def test_discovery_and_health(api: Client) -> None:
    assert (await (await api.get("/healthz")).text()) == "ok"
    versions = await (await api.get("/api")).json()
    assert versions["versions"] == ["v1"]
    resources = {r["name"] for r in (await (await api.get("/api/v1")).json())["resources"]}
    assert {"pods", "pods/status", "pods/binding", "namespaces", "nodes", "resourcequotas", "events"} <= resources
    assert (await (await api.get("/version")).json())["major"] == "1"
    groups = await (await api.get("/apis")).json()
    assert groups["groups"][0]["name"] == "scheduling.k8s.io"


async def test_default_namespaces_exist(api: Client) -> None:
    names = {n["metadata"]["name"] for n in (await (await api.get("/api/v1/namespaces")).json())["items"]}
    assert {"default", "kube-system"} <= names


async def test_create_get_defaults_and_qos(api: Client) -> None:
    created = await create(api, pod("web", cpu="500m"))
    meta = created["metadata"]
    assert meta["uid"] and meta["resourceVersion"] and meta["creationTimestamp"]
    assert created["status"]["qosClass"] == "Burstable"
    assert created["status"]["phase"] == "Pending"
    assert created["spec"]["restartPolicy"] == "Always" and created["spec"]["terminationGracePeriodSeconds"] == 30
    tolerations = {t["key"]: t["tolerationSeconds"] for t in created["spec"]["tolerations"]}
    assert tolerations == {"node.kubernetes.io/not-ready": 300, "node.kubernetes.io/unreachable": 300}
    got = await (await api.get("/api/v1/namespaces/default/pods/web")).json()
    assert got["metadata"]["uid"] == meta["uid"]


async def test_yaml_body(api: Client) -> None:
    body = (
        "apiVersion: v1\nkind: Pod\nmetadata: {name: from-yaml}\n"
        "spec:\n  containers: [{name: c, command: [sleep, '1']}]\n"
    )
    r = await api.post("/api/v1/namespaces/default/pods", data=body, headers={"Content-Type": "application/yaml"})
    assert r.status == 201, await r.text()
    assert (await r.json())["status"]["qosClass"] == "BestEffort"


async def test_errors_are_kubernetes_statuses(api: Client) -> None:
    await create(api, pod("dup"))
    dup = await create(api, pod("dup"), expect=409)
    assert (dup["kind"], dup["reason"], dup["message"]) == ("Status", "AlreadyExists", 'pods "dup" already exists')
    missing = await (await api.get("/api/v1/namespaces/default/pods/nope")).json()
    assert (missing["code"], missing["reason"], missing["message"]) == (404, "NotFound", 'pods "nope" not found')
    bad = pod("bad")
    bad["spec"]["containers"][0].pop("command")
    bad["spec"]["restartPolicy"] = "Sometimes"
    invalid = await create(api, bad, expect=422)
    assert invalid["reason"] == "Invalid"
    fields = {c["field"] for c in invalid["details"]["causes"]}
    assert fields == {"spec.containers[0].command", "spec.restartPolicy"}
    no_ns = await create(api, pod("x", ns="nowhere"), ns="nowhere", expect=404)
    assert no_ns["message"] == 'namespaces "nowhere" not found'


async def test_bad_bodies_get_4xx(api: Client) -> None:
    url = "/api/v1/namespaces/default/pods"
    r = await api.post(url, data=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status == 400 and (await r.json())["reason"] == "BadRequest"
    r = await api.post(url, data=b"<xml/>", headers={"Content-Type": "application/xml"})
    assert r.status == 415 and (await r.json())["reason"] == "UnsupportedMediaType"
    r = await api.post(
        url, data=io.BytesIO(b"[" * 200_000 + b"]" * 200_000), headers={"Content-Type": "application/json"}
    )
    assert r.status in (400, 413)
    r = await api.post(url, data=io.BytesIO(b"x" * (4 * 1024 * 1024)), headers={"Content-Type": "application/json"})
    assert r.status == 413 and (await r.json())["reason"] == "RequestEntityTooLarge"
    wrong_type = pod("wt")
    wrong_type["spec"]["containers"] = "oops"
    r = await api.post(url, json=wrong_type)
    body = await r.json()
    assert r.status == 400 and "spec.containers" in body["message"]
    r = await api.post(url, json={"kind": "Node", "metadata": {"name": "x"}})
    assert r.status == 400 and "kind" in (await r.json())["message"]
    r = await api.post(url, json=[1, 2])
    assert r.status == 400
    r = await api.get("/api/v1/namespaces/default/pods", params={"limit": "abc"})
    assert r.status == 400
    r = await api.get("/api/v1/namespaces/default/pods", params={"limit": "1", "continue": "garbage"})
    assert r.status == 400 and (await r.json())["reason"] == "BadRequest"
    r = await api.get("/api/v1/nothing-here")
    assert r.status == 404 and (await r.json())["kind"] == "Status"


async def test_optimistic_concurrency(api: Client) -> None:
    created = await create(api, pod("occ", labels={"v": "1"}))
    stale = json.loads(json.dumps(created))
    created["metadata"]["labels"]["v"] = "2"
    r = await api.put("/api/v1/namespaces/default/pods/occ", json=created)
    assert r.status == 200, await r.text()
    stale["metadata"]["labels"]["v"] = "3"
    r = await api.put("/api/v1/namespaces/default/pods/occ", json=stale)
    conflict = await r.json()
    assert r.status == 409 and conflict["reason"] == "Conflict"
    assert "the object has been modified" in conflict["message"]


async def test_pod_spec_is_immutable(api: Client) -> None:
    created = await create(api, pod("imm"))
    created["spec"]["containers"][0]["command"] = ["sleep", "2"]
    r = await api.put("/api/v1/namespaces/default/pods/imm", json=created)
    assert r.status == 422 and "pod updates may not change fields" in (await r.json())["message"]


async def test_list_selectors_and_pagination(api: Client) -> None:
    for i in range(7):
        await create(api, pod(f"p{i}", labels={"app": "web" if i % 2 else "db"}))
    web = await (await api.get("/api/v1/namespaces/default/pods", params={"labelSelector": "app=web"})).json()
    assert web["kind"] == "PodList" and sorted(p["metadata"]["name"] for p in web["items"]) == ["p1", "p3", "p5"]
    by_name = await (await api.get("/api/v1/pods", params={"fieldSelector": "metadata.name=p2"})).json()
    assert [p["metadata"]["name"] for p in by_name["items"]] == ["p2"]
    seen, token = [], None
    while True:
        params = {"limit": "3", **({"continue": token} if token else {})}
        page = await (await api.get("/api/v1/namespaces/default/pods", params=params)).json()
        seen += [p["metadata"]["name"] for p in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert seen == [f"p{i}" for i in range(7)]


async def test_dry_run_does_not_store(api: Client) -> None:
    await create(api, pod("dry"), dryRun="All")
    r = await api.get("/api/v1/namespaces/default/pods/dry")
    assert r.status == 404


async def test_watch_stream_resume_and_gone(api: Client) -> None:
    start = await (await api.get("/api/v1/namespaces/default/pods")).json()
    rv = start["metadata"]["resourceVersion"]

    async def collect(n: int, since: str) -> list[dict[str, Any]]:
        params = {"watch": "true", "resourceVersion": since, "timeoutSeconds": "30"}
        r = await api.get("/api/v1/namespaces/default/pods", params=params)
        events = []
        async for line in r.content:
            events.append(json.loads(line))
            if len(events) == n:
                break
        r.close()
        return events

    watcher = asyncio.create_task(collect(3, rv))
    # Write once the watch is live, so the events come through the live path (the resume below replays the log).
    store = api.server.app[apiserver.SERVICE].store
    assert isinstance(store, SQLiteStore)
    deadline = asyncio.get_running_loop().time() + 10
    while store.watcher_count() < 1:
        assert asyncio.get_running_loop().time() < deadline and not watcher.done(), "the watch did not start"
        await asyncio.sleep(0.01)
    created = await create(api, pod("w1"))
    created["metadata"]["labels"] = {"x": "y"}
    await api.put("/api/v1/namespaces/default/pods/w1", json=created)
    await api.delete("/api/v1/namespaces/default/pods/w1")
    events = await asyncio.wait_for(watcher, 40)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "DELETED"]
    # resume from the first event's revision: the rest replays without a gap
    resumed = await collect(2, events[0]["object"]["metadata"]["resourceVersion"])
    assert [e["type"] for e in resumed] == ["MODIFIED", "DELETED"]


async def test_graceful_delete_of_a_bound_pod(api: Client) -> None:
    await create(api, pod("bound", nodeName="node-a"))
    r = await api.delete("/api/v1/namespaces/default/pods/bound")
    body = await r.json()
    assert (
        r.status == 200
        and body["metadata"]["deletionTimestamp"]
        and body["metadata"]["deletionGracePeriodSeconds"] == 30
    )
    r = await api.delete("/api/v1/namespaces/default/pods/bound", params={"gracePeriodSeconds": "0"})
    assert r.status == 200
    assert (await api.get("/api/v1/namespaces/default/pods/bound")).status == 404


async def test_binding_sets_node_condition_and_event(api: Client) -> None:
    await create(api, pod("tobind"))
    binding = {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": "tobind"},
        "target": {"kind": "Node", "name": "node-a"},
    }
    r = await api.post("/api/v1/namespaces/default/pods/tobind/binding", json=binding)
    assert r.status == 201, await r.text()
    got = await (await api.get("/api/v1/namespaces/default/pods/tobind")).json()
    assert got["spec"]["nodeName"] == "node-a"
    assert {"type": "PodScheduled", "status": "True"}.items() <= got["status"]["conditions"][0].items()
    again = await api.post("/api/v1/namespaces/default/pods/tobind/binding", json=binding)
    assert again.status == 409
    events = await (
        await api.get("/api/v1/namespaces/default/events", params={"fieldSelector": "reason=Scheduled"})
    ).json()
    assert events["items"][0]["message"] == "Successfully assigned default/tobind to node-a"


async def test_status_subresource_and_patches(api: Client) -> None:
    await create(api, pod("st"))
    current = await (await api.get("/api/v1/namespaces/default/pods/st")).json()
    current["status"]["phase"] = "Running"
    current["spec"]["nodeName"] = "ignored-by-status"
    r = await api.put("/api/v1/namespaces/default/pods/st/status", json=current)
    assert r.status == 200, await r.text()
    got = await r.json()
    assert got["status"]["phase"] == "Running" and not got["spec"].get("nodeName")
    r = await api.patch(
        "/api/v1/namespaces/default/pods/st",
        json={"metadata": {"labels": {"a": "b"}}},
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status == 200 and (await r.json())["metadata"]["labels"] == {"a": "b"}
    ops = [{"op": "add", "path": "/metadata/annotations", "value": {"k": "v"}}]
    r = await api.patch(
        "/api/v1/namespaces/default/pods/st", json=ops, headers={"Content-Type": "application/json-patch+json"}
    )
    assert r.status == 200 and (await r.json())["metadata"]["annotations"] == {"k": "v"}
    r = await api.patch("/api/v1/namespaces/default/pods/st", json={}, headers={"Content-Type": "text/plain"})
    assert r.status == 415


async def test_resource_quota_admission_and_status(api: Client) -> None:
    await api.post("/api/v1/namespaces", json={"metadata": {"name": "team"}})
    rq = {"metadata": {"name": "compute"}, "spec": {"hard": {"requests.cpu": "1", "limits.cpu": "1", "pods": "5"}}}
    r = await api.post("/api/v1/namespaces/team/resourcequotas", json=rq)
    assert r.status == 201, await r.text()
    missing = await create(api, pod("nolimits", ns="team"), ns="team", expect=403)
    assert missing["reason"] == "Forbidden"
    assert missing["message"] == (
        'pods "nolimits" is forbidden: failed quota: compute: must specify limits.cpu for: app; requests.cpu for: app'
    )
    await create(api, pod("a", ns="team", cpu="600m"), ns="team")
    exceeded = await create(api, pod("b", ns="team", cpu="600m"), ns="team", expect=403)
    assert exceeded["message"] == (
        'pods "b" is forbidden: exceeded quota: compute, requested: limits.cpu=600m,requests.cpu=600m, '
        "used: limits.cpu=600m,requests.cpu=600m, limited: limits.cpu=1,requests.cpu=1"
    )
    status = (await (await api.get("/api/v1/namespaces/team/resourcequotas/compute")).json())["status"]
    assert status["used"] == {"requests.cpu": "600m", "limits.cpu": "600m", "pods": "1"}
    await api.delete("/api/v1/namespaces/team/pods/a")
    status = (await (await api.get("/api/v1/namespaces/team/resourcequotas/compute")).json())["status"]
    assert status["used"]["pods"] == "0"


async def test_priority_class_resolution(api: Client) -> None:
    r = await api.post("/apis/scheduling.k8s.io/v1/priorityclasses", json={"metadata": {"name": "high"}, "value": 1000})
    assert r.status == 201, await r.text()
    created = await create(api, pod("prio", priorityClassName="high"))
    assert created["spec"]["priority"] == 1000
    critical = await create(api, pod("crit", priorityClassName="system-node-critical"))
    assert critical["spec"]["priority"] == 2000001000
    wrong = await create(api, pod("wrong", priorityClassName="high", priority=5), expect=403)
    assert "the integer value of priority (5) must not be provided in pod spec" in wrong["message"]
    unknown = await create(api, pod("unk", priorityClassName="nope"), expect=403)
    assert "no PriorityClass with name nope was found" in unknown["message"]


async def test_default_namespace_cannot_be_deleted(api: Client) -> None:
    r = await api.delete("/api/v1/namespaces/default")
    assert r.status == 403


async def test_log_and_exec_are_proxied_to_the_node_agent(api: Client) -> None:
    from aiohttp import web
    from aiohttp.test_utils import TestServer

    seen: list[tuple[str, str, str]] = []

    async def logs(request: web.Request) -> web.Response:
        seen.append(("logs", request.path, request.query_string))
        return web.Response(text="line 1\nline 2\n")

    async def exec_(request: web.Request) -> web.Response:
        seen.append(("exec", request.path, ",".join(request.query.getall("command"))))
        return web.json_response({"exitCode": 3, "stdout": "hi\n", "stderr": ""})

    agent = web.Application()
    agent.router.add_get("/containerLogs/{ns}/{pod}/{container}", logs)
    agent.router.add_post("/exec/{ns}/{pod}/{container}", exec_)
    server = TestServer(agent, host="127.0.0.1")
    await server.start_server()
    try:
        node = {
            "metadata": {"name": "n1"},
            "status": {
                "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                "daemonEndpoints": {"kubeletEndpoint": {"Port": server.port}},
            },
        }
        assert (await api.post("/api/v1/nodes", json=node)).status == 201
        await create(api, pod("logged", nodeName="n1"))
        r = await api.get("/api/v1/namespaces/default/pods/logged/log", params={"tailLines": "2", "previous": "true"})
        assert r.status == 200 and await r.text() == "line 1\nline 2\n"
        r = await api.post(
            "/api/v1/namespaces/default/pods/logged/exec", params=[("command", "echo"), ("command", "hi")]
        )
        assert r.status == 200 and (await r.json())["exitCode"] == 3
        assert seen[0] == ("logs", "/containerLogs/default/logged/app", "tailLines=2&previous=true")
        assert seen[1] == ("exec", "/exec/default/logged/app", "echo,hi")
        r = await api.get("/api/v1/namespaces/default/pods/logged/log", params={"container": "nope"})
        assert r.status == 400
        await create(api, pod("unbound"))
        r = await api.get("/api/v1/namespaces/default/pods/unbound/log")
        assert r.status == 400 and "not scheduled" in (await r.json())["message"]
    finally:
        await server.close()


async def test_watch_from_a_compacted_revision_is_410_gone(tmp_path: Any) -> None:
    from aiohttp.test_utils import TestServer

    from minikube_py.control import apiserver
    from minikube_py.control.store import SQLiteStore

    store = await SQLiteStore.open(str(tmp_path / "small.db"), history=5)
    client: Client = TestClient(TestServer(apiserver.create_app(store), host="127.0.0.1"))
    await client.start_server()
    try:
        for i in range(20):
            await create(client, pod(f"g{i}"))
        r = await client.get("/api/v1/namespaces/default/pods", params={"watch": "true", "resourceVersion": "2"})
        line = await r.content.readline()
        event = json.loads(line)
        assert event["type"] == "ERROR"
        assert (event["object"]["code"], event["object"]["reason"]) == (410, "Expired")
        r.close()
        # A continue token from before compaction is refused too (the client must re-list).
        listing = await (await client.get("/api/v1/namespaces/default/pods", params={"limit": "2"})).json()
        for i in range(20, 30):
            await create(client, pod(f"g{i}"))
        r = await client.get(
            "/api/v1/namespaces/default/pods", params={"limit": "2", "continue": listing["metadata"]["continue"]}
        )
        assert r.status == 410
    finally:
        await client.close()
        await store.close()
