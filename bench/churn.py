"""Pod churn through the API: create → Running → delete → gone, several cycles in flight at once.

One watch on the namespace's pods (resumed from its last resourceVersion when it ends, re-listed on 410)
tells every cycle when its pod is Running and when its object is gone; nothing polls.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp

Object = dict[str, Any]
ANNOTATION_SANDBOX = "minikube-py.io/sandbox"


def sleep_pod(name: str, command: list[str] | None = None) -> Object:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "c", "command": command or ["sleep", "3600"]}]},
    }


def is_running(pod: Object) -> bool:
    status = pod.get("status") or {}
    return status.get("phase") == "Running" and any(
        "running" in (cs.get("state") or {}) for cs in status.get("containerStatuses") or []
    )


def sandbox_namespaces(pod: Object) -> dict[str, int]:
    """The namespace inodes the agent recorded for the pod's sandbox ({} if not annotated)."""
    raw = ((pod.get("metadata") or {}).get("annotations") or {}).get(ANNOTATION_SANDBOX)
    if not raw:
        return {}
    return {k: int(v) for k, v in (json.loads(raw).get("namespaces") or {}).items()}


class PodTracker:
    """The pods of one namespace as a watch shows them; ``running(name)`` and ``gone(name)`` wait for them."""

    def __init__(self, session: aiohttp.ClientSession, base: str, namespace: str = "default") -> None:
        self._session = session
        self._url = f"{base}/api/v1/namespaces/{namespace}/pods"
        self._pods: dict[str, Object] = {}
        self._deleted: dict[str, Object] = {}  # last state of pods whose DELETED event came (until gone() takes it)
        self._waiters: dict[str, asyncio.Future[None]] = {}
        self._rv = ""
        self._task: asyncio.Task[None] | None = None
        self._error: BaseException | None = None
        self.relists = 0
        self.reconnects = 0

    async def start(self) -> None:
        await self._relist()
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _relist(self) -> None:
        async with self._session.get(self._url) as r:
            if r.status != 200:
                raise RuntimeError(f"list pods: HTTP {r.status}: {await r.text()}")
            listing = await r.json()
        names = set()
        for item in listing["items"]:
            names.add(item["metadata"]["name"])
            self._apply("MODIFIED", item)
        for name in set(self._pods) - names:
            self._apply("DELETED", self._pods[name])
        self._rv = listing["metadata"]["resourceVersion"]

    async def _run(self) -> None:
        try:
            while True:
                params = {"watch": "true", "resourceVersion": self._rv, "timeoutSeconds": "3600"}
                params["allowWatchBookmarks"] = "true"
                try:
                    async with self._session.get(self._url, params=params) as r:
                        if r.status == 410:
                            self.relists += 1
                            await self._relist()
                            continue
                        if r.status != 200:
                            raise RuntimeError(f"watch pods: HTTP {r.status}: {await r.text()}")
                        async for line in r.content:
                            if not line.strip():
                                continue
                            event = json.loads(line)
                            kind, obj = event["type"], event["object"]
                            if kind == "ERROR":
                                if obj.get("code") != 410:
                                    raise RuntimeError(f"watch pods: {obj}")
                                self.relists += 1
                                await self._relist()
                                break
                            self._rv = obj["metadata"]["resourceVersion"]
                            if kind != "BOOKMARK":
                                self._apply(kind, obj)
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
                self.reconnects += 1
        except asyncio.CancelledError:
            raise
        except BaseException as err:
            self._error = err
            for fut in self._waiters.values():
                if not fut.done():
                    fut.set_result(None)
            raise

    def _apply(self, kind: str, obj: Object) -> None:
        name = obj["metadata"]["name"]
        if kind == "DELETED":
            self._pods.pop(name, None)
            self._deleted[name] = obj
        else:
            self._pods[name] = obj
        fut = self._waiters.pop(name, None)
        if fut is not None and not fut.done():
            fut.set_result(None)

    async def _wait(self, name: str, check: Callable[[], Object | None], what: str, timeout: float) -> Object:
        deadline = time.monotonic() + timeout
        while True:
            if self._error is not None:
                raise RuntimeError(f"the pod watch failed: {self._error!r}")
            found = check()
            if found is not None:
                return found
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"pod {name} not {what} after {timeout} s; last seen: {self._pods.get(name)}")
            fut = self._waiters.get(name)
            if fut is None or fut.done():
                fut = self._waiters[name] = asyncio.get_running_loop().create_future()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(fut), remaining)

    async def until(self, name: str, condition: Callable[[Object], bool], what: str, timeout: float = 60.0) -> Object:
        """The pod once ``condition`` holds for it; RuntimeError if it ends (Failed/Succeeded) first."""

        def check() -> Object | None:
            pod = self._pods.get(name)
            if pod is None:
                return None
            if (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded"):
                raise RuntimeError(f"pod {name} ended: {pod.get('status')}")
            return pod if condition(pod) else None

        return await self._wait(name, check, what, timeout)

    async def running(self, name: str, timeout: float = 60.0) -> Object:
        return await self.until(name, is_running, "Running", timeout)

    async def gone(self, name: str, timeout: float = 60.0) -> Object:
        """The pod's last state once its DELETED event came."""
        return await self._wait(name, lambda: self._deleted.pop(name, None), "deleted", timeout)

    def count(self) -> int:
        return len(self._pods)


@dataclass
class ChurnStats:
    cycles: int = 0
    wall_s: float = 0.0
    create_to_running_ms: list[float] = field(default_factory=list)
    delete_to_gone_ms: list[float] = field(default_factory=list)
    cycle_ms: list[float] = field(default_factory=list)

    def add(self, other: ChurnStats) -> None:
        self.cycles += other.cycles
        self.wall_s += other.wall_s
        self.create_to_running_ms += other.create_to_running_ms
        self.delete_to_gone_ms += other.delete_to_gone_ms
        self.cycle_ms += other.cycle_ms

    @property
    def per_s(self) -> float:
        return self.cycles / self.wall_s if self.wall_s else 0.0


async def churn(
    session: aiohttp.ClientSession,
    base: str,
    tracker: PodTracker,
    *,
    first: int,
    cycles: int,
    concurrency: int,
    prefix: str = "soak",
    on_running: Callable[[Object], None] | None = None,
    on_gone: Callable[[Object, Object], None] | None = None,
    timeout: float = 60.0,
) -> ChurnStats:
    """Cycles ``first`` .. ``first + cycles - 1``, ``concurrency`` at a time; raises on the first failure (the
    other cycles in flight are cancelled: the caller deletes what is left).  ``on_running(pod)`` gets each pod
    when it is Running, ``on_gone(running_pod, deleted_pod)`` when its object is gone."""
    url = f"{base}/api/v1/namespaces/default/pods"
    stats = ChurnStats()
    indices = iter(range(first, first + cycles))

    async def one(i: int) -> None:
        name = f"{prefix}-{i}"
        t0 = time.monotonic()
        async with session.post(url, json=sleep_pod(name)) as r:
            if r.status != 201:
                raise RuntimeError(f"create {name}: HTTP {r.status}: {await r.text()}")
        pod = await tracker.running(name, timeout)
        t1 = time.monotonic()
        if on_running is not None:
            on_running(pod)
        async with session.delete(f"{url}/{name}", params={"gracePeriodSeconds": "0"}) as r:
            if r.status not in (200, 202):
                raise RuntimeError(f"delete {name}: HTTP {r.status}: {await r.text()}")
        last = await tracker.gone(name, timeout)
        t2 = time.monotonic()
        if on_gone is not None:
            on_gone(pod, last)
        stats.create_to_running_ms.append((t1 - t0) * 1e3)
        stats.delete_to_gone_ms.append((t2 - t1) * 1e3)
        stats.cycle_ms.append((t2 - t0) * 1e3)
        stats.cycles += 1

    async def worker() -> None:
        for i in indices:  # shared iterator: each index taken once
            await one(i)

    t_start = time.monotonic()
    async with asyncio.TaskGroup() as group:
        for _ in itertools.repeat(None, concurrency):
            group.create_task(worker())
    stats.wall_s = time.monotonic() - t_start
    return stats


async def delete_all(session: aiohttp.ClientSession, base: str, timeout: float = 60.0) -> None:
    """Delete every pod in default (grace 0) and wait until the API has none: cleanup after a failure."""
    url = f"{base}/api/v1/namespaces/default/pods"
    deadline = time.monotonic() + timeout
    while True:
        async with session.get(url) as r:
            items = (await r.json())["items"]
        if not items:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{len(items)} pods still in the API after {timeout} s")
        for item in items:
            if not item["metadata"].get("deletionTimestamp"):
                async with session.delete(f"{url}/{item['metadata']['name']}", params={"gracePeriodSeconds": "0"}):
                    pass
        await asyncio.sleep(0.2)
