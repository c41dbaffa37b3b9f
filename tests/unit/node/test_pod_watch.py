"""The agent follows its pods as a reflector does: bookmarks keep a quiet watch alive and tell where it stands, a
watch the server ends is resumed from there, and a watch gone silent (a vanished peer) is given up, not kept."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from minikube_py.control import apiserver
from minikube_py.control.registry import RESOURCES
from minikube_py.control.store import SQLiteStore
from minikube_py.node import agent as agent_mod
from minikube_py.node.apiclient import ApiClient, ApiRequestError


def _pod(name: str) -> dict[str, Any]:
    container = {"name": "c", "command": ["sleep", "1"]}
    return {"metadata": {"name": name}, "spec": {"nodeName": "n1", "containers": [container]}}


@contextlib.asynccontextmanager
async def _control_plane(tmp_path: Path, bookmark_interval: float) -> AsyncIterator[tuple[str, apiserver.ApiService]]:
    store = await SQLiteStore.open(str(tmp_path / "s.db"))
    app = apiserver.create_app(store, apiserver.ApiConfig(watch_bookmark_interval=bookmark_interval))
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("")).rstrip("/"), app[apiserver.SERVICE]
    finally:
        await server.close()
        await store.close()


async def test_a_watch_the_server_ends_is_resumed_from_the_last_bookmark(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agent_mod, "WATCH_MIN_TIMEOUT_SECONDS", 1)  # streams of 1-2 s instead of 5-10 min
    async with _control_plane(tmp_path, bookmark_interval=0.2) as (url, service):
        api = ApiClient(url)
        pods = RESOURCES["pods"]
        await service.create(pods, "default", _pod("first"))
        listing = await api.request("GET", "/api/v1/pods", fieldSelector="spec.nodeName=n1")
        watches: list[dict[str, str]] = []
        real_watch = api.watch

        def recorded_watch(path: str, **params: str) -> AsyncIterator[dict[str, Any]]:
            watches.append(params)
            return real_watch(path, **params)

        seen: list[tuple[str, str]] = []

        async def on_pod(kind: str, raw: dict[str, Any]) -> None:
            seen.append((kind, raw["metadata"]["name"]))

        agent = SimpleNamespace(api=SimpleNamespace(watch=recorded_watch), _on_pod=on_pod)
        rv = listing["metadata"]["resourceVersion"]
        watch_pods = agent_mod.Agent._watch_pods
        follow = asyncio.create_task(watch_pods(agent, "/api/v1/pods", "spec.nodeName=n1", rv))  # type: ignore[arg-type]
        try:
            deadline = asyncio.get_running_loop().time() + 20
            while len(watches) < 2:  # the first stream ended (timeoutSeconds) and was resumed
                assert asyncio.get_running_loop().time() < deadline and not follow.done(), "no resumed watch"
                await asyncio.sleep(0.05)
            created = await service.create(pods, "default", _pod("second"))
            while ("ADDED", "second") not in seen:
                assert asyncio.get_running_loop().time() < deadline and not follow.done(), "the new pod never came"
                await asyncio.sleep(0.05)
        finally:
            follow.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await follow
            await api.close()
        assert seen == [("ADDED", "second")]  # nothing replayed twice, no BOOKMARK handed on as a pod
        first_rv = int(listing["metadata"]["resourceVersion"])
        resumed_rv = int(watches[1]["resourceVersion"])
        # Resumed where the first stream left off: its bookmarks carry the revision (nothing changed meanwhile).
        assert resumed_rv >= first_rv and resumed_rv < int(created["metadata"]["resourceVersion"])
        assert 1 <= int(watches[0]["timeoutSeconds"]) <= 2


async def test_a_silent_watch_is_given_up(tmp_path: Path) -> None:
    # A peer that vanished never closes the stream: without a read timeout the agent would wait forever.
    requests: list[dict[str, str]] = []

    async def silent_watch(request: web.Request) -> web.StreamResponse:
        requests.append(dict(request.query))
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        await response.prepare(request)
        await response.write(json.dumps({"type": "ADDED", "object": {"metadata": {"name": "p"}}}).encode() + b"\n")
        await asyncio.sleep(3600)
        return response

    app = web.Application()
    app.router.add_get("/api/v1/pods", silent_watch)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    api = ApiClient(str(server.make_url("")).rstrip("/"), watch_read_timeout=0.3)
    got: list[dict[str, Any]] = []
    try:
        with pytest.raises(ApiRequestError) as raised:
            async with asyncio.timeout(10):
                async for event in api.watch("/api/v1/pods", resourceVersion="5"):
                    got.append(event)
        assert (raised.value.code, raised.value.reason) == (0, "Timeout")
        assert "silent for 0.3 s" in str(raised.value)
        assert [e["object"]["metadata"]["name"] for e in got] == ["p"]
        assert requests[0]["allowWatchBookmarks"] == "true" and requests[0]["watch"] == "true"
    finally:
        await api.close()
        await server.close()
