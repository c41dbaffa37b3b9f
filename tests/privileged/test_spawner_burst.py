"""A burst of concurrent requests to the node shim: every one is sent and answered (asyncio keeps one write
callback per socket, so unserialised sock_sendall calls on a full socket would strand requests forever)."""

from __future__ import annotations

import asyncio

import pytest

from minikube_py.node.runtime.runtime import Runtime
from minikube_py.node.runtime.spawner import SpawnRequest

pytestmark = [pytest.mark.root]

BIG_ENV = [("FILLER", "x" * 60_000)]  # large requests fill the socket buffer quickly


async def test_a_burst_of_spawns_is_answered_in_full(runtime: Runtime) -> None:
    spawner = runtime._spawner
    requests = [SpawnRequest(argv=["/bin/true"], env=BIG_ENV) for _ in range(120)]
    pids = await asyncio.wait_for(asyncio.gather(*(spawner.spawn(r) for r in requests)), 60)
    assert len(set(pids)) == 120
    statuses = await asyncio.wait_for(asyncio.gather(*(spawner.wait_exit(p) for p in pids)), 60)
    assert all(s.exit_code == 0 for s in statuses)
    await spawner.forget(list(pids))
