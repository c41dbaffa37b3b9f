"""A real API server (SQLite store in a temp dir) and a fake node agent, on loopback, in a background thread.

The CLI is synchronous, so the servers get their own event loop in a thread; tests call ``main([...])``
directly with string buffers.  The fake agent serves the kubelet-shaped paths the API server proxies to:
``/containerLogs/{ns}/{pod}/{container}``, ``/exec/{ns}/{pod}/{container}`` and ``/stats/summary``.
"""

from __future__ import annotations

import asyncio
import io
import json
import re
import threading
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from minikube_py.cli import main as cli
from minikube_py.cli.client import Client
from minikube_py.control import apiserver
from minikube_py.control.store import SQLiteStore

T = TypeVar("T")


@dataclass
class FakeAgent:
    """What the fake node agent serves, and what it was asked."""

    logs: dict[str, list[str]] = field(default_factory=dict)  # "ns/pod/container" -> lines
    exec_reply: dict[str, Any] = field(default_factory=lambda: {"exitCode": 0, "stdout": "", "stderr": ""})
    summary: dict[str, Any] = field(default_factory=dict)
    requests: list[tuple[str, str, list[tuple[str, str]]]] = field(default_factory=list)  # method, path, query

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/containerLogs/{ns}/{pod}/{container}", self._logs)
        app.router.add_post("/exec/{ns}/{pod}/{container}", self._exec)
        app.router.add_get("/stats/summary", self._summary)
        return app

    def _record(self, request: web.Request) -> None:
        self.requests.append((request.method, request.path, list(request.query.items())))

    async def _logs(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        m = request.match_info
        lines = self.logs.get(f"{m['ns']}/{m['pod']}/{m['container']}")
        if lines is None:
            return web.json_response(
                {
                    "kind": "Status",
                    "status": "Failure",
                    "reason": "NotFound",
                    "code": 404,
                    "message": "no such container",
                },
                status=404,
            )
        tail = request.query.get("tailLines")
        if tail is not None:
            lines = lines[-int(tail) :] if int(tail) else []
        if request.query.get("timestamps") == "true":
            lines = [f"2024-01-01T00:00:0{i}.000000000Z {line}" for i, line in enumerate(lines)]
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        await response.prepare(request)
        for line in lines:  # streamed piece by piece, as a follow would
            await response.write((line + "\n").encode())
            await asyncio.sleep(0)
        await response.write_eof()
        return response

    async def _exec(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.json_response(self.exec_reply)

    async def _summary(self, request: web.Request) -> web.Response:
        self._record(request)
        return web.json_response(self.summary)


@dataclass
class Cluster:
    server: str
    agent: FakeAgent
    agent_port: int
    traces: dict[str, Any]
    loop: asyncio.AbstractEventLoop
    store: SQLiteStore

    def run(self, *argv: str) -> tuple[int, str, str]:
        """``minikube-py VERB --server URL ARGS...``; returns (exit status, stdout, stderr)."""
        out, err = io.StringIO(), io.StringIO()
        code = cli.main([argv[0], "--server", self.server, *argv[1:]], out=out, err=err)
        return code, out.getvalue(), err.getvalue()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float = 10) -> T:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def wait_for_watchers(self, count: int = 1, timeout: float = 10) -> None:
        """Block until ``count`` watches are live in the store (a client's watch request has been served up to
        the live stream: every later write reaches it); fail after ``timeout`` seconds."""

        async def live() -> int:  # read on the server's loop, which owns the watcher registry
            return self.store.watcher_count()

        deadline = time.monotonic() + timeout
        while self.call(live()) < count:
            assert time.monotonic() < deadline, f"fewer than {count} watches live after {timeout} s"
            time.sleep(0.01)

    @property
    def client(self) -> Client:
        return Client(self.server)

    # --- object helpers over HTTP

    def create_pod(self, name: str, namespace: str = "default", **spec: Any) -> dict[str, Any]:
        body = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "labels": spec.pop("labels", {}), "annotations": spec.pop("annotations", {})},
            "spec": {
                "containers": spec.pop(
                    "containers", [{"name": "app", "image": "busybox", "command": ["sleep", "3600"]}]
                ),
                **spec,
            },
        }
        pod: dict[str, Any] = self.client.post(f"/api/v1/namespaces/{namespace}/pods", body)
        return pod

    def set_status(self, name: str, status: dict[str, Any], namespace: str = "default") -> dict[str, Any]:
        path = f"/api/v1/namespaces/{namespace}/pods/{name}/status"
        pod: dict[str, Any] = self.client.put(path, {"apiVersion": "v1", "kind": "Pod", "status": status})
        return pod

    def create_node(self, name: str, *, ready: bool = True, **extra: Any) -> dict[str, Any]:
        body = {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": name, "labels": extra.pop("labels", {})},
            "spec": extra.pop("spec", {}),
        }
        self.client.post("/api/v1/nodes", body)
        status = {
            "capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "110"},
            "conditions": [
                {
                    "type": "Ready",
                    "status": "True" if ready else "False",
                    "reason": "KubeletReady" if ready else "KubeletNotReady",
                    "message": "agent is posting ready status" if ready else "agent stopped",
                    "lastHeartbeatTime": "2024-01-01T00:00:00Z",
                    "lastTransitionTime": "2024-01-01T00:00:00Z",
                }
            ],
            "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}, {"type": "Hostname", "address": name}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": self.agent_port}},
            "nodeInfo": {"kubeletVersion": "v1.30.0-minikube-py", "osImage": "Test Linux", "kernelVersion": "6.1.0"},
            **extra.pop("status", {}),
        }
        node: dict[str, Any] = self.client.put(
            f"/api/v1/nodes/{name}/status", {"apiVersion": "v1", "kind": "Node", "status": status}
        )
        return node

    def create_event(self, pod: dict[str, Any], reason: str, message: str, type_: str = "Normal", **extra: Any) -> None:
        meta = pod["metadata"]
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{meta['name']}.{reason.lower()}", "namespace": meta.get("namespace", "default")},
            "involvedObject": {
                "kind": pod["kind"],
                "name": meta["name"],
                "namespace": meta.get("namespace", ""),
                "uid": meta["uid"],
                "apiVersion": "v1",
            },
            "reason": reason,
            "message": message,
            "type": type_,
            "count": extra.pop("count", 1),
            "firstTimestamp": extra.pop("firstTimestamp", apiserver.now_rfc3339()),
            "lastTimestamp": extra.pop("lastTimestamp", apiserver.now_rfc3339()),
            "source": {"component": extra.pop("component", "kubelet")},
        }
        self.client.post(f"/api/v1/namespaces/{meta.get('namespace') or 'default'}/events", body)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="api-server", daemon=True)
    thread.start()
    agent = FakeAgent()
    traces: dict[str, Any] = {}

    async def start() -> tuple[SQLiteStore, list[web.AppRunner], int, int]:
        store = await SQLiteStore.open(str(tmp_path / "state.db"))
        app = apiserver.create_app(store)
        app[apiserver.SCHEDULING_TRACES] = traces
        runners = []
        ports = []
        for application in (app, agent.app()):
            runner = web.AppRunner(application, shutdown_timeout=0.5)  # watch streams end at once
            await runner.setup()
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            runners.append(runner)
            ports.append(int(runner.addresses[0][1]))
        return store, runners, ports[0], ports[1]

    async def stop(store: SQLiteStore, runners: list[web.AppRunner]) -> None:
        for runner in runners:
            await runner.cleanup()
        await store.close()

    store, runners, api_port, agent_port = asyncio.run_coroutine_threadsafe(start(), loop).result(10)
    try:
        yield Cluster(f"http://127.0.0.1:{api_port}", agent, agent_port, traces, loop, store)
    finally:
        asyncio.run_coroutine_threadsafe(stop(store, runners), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def ages(text: str) -> str:
    """Replace one-digit second ages (``0s``, ``3s``) with ``Ns`` so tables compare exactly."""
    return re.sub(r"(?<![\w.])\ds(?![\w])", "Ns", text)


def parsed(text: str) -> Any:
    return json.loads(text)
