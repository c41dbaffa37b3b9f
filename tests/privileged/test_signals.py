"""memory.available follows real allocations in a node whose capacity is enforced on kubepods."""

from __future__ import annotations

import asyncio
import sys
import uuid
from pathlib import Path

import pytest

from minikube_py.node.cgroups.driver import KUBEPODS, CgroupResources, QOSTier
from minikube_py.node.runtime.model import ContainerConfig, PodSandboxConfig
from minikube_py.node.runtime.runtime import Runtime
from minikube_py.node.signals import SignalReader

pytestmark = [pytest.mark.root, pytest.mark.cgv2guest]
MI = 1 << 20


async def test_memory_available_drops_by_what_a_pod_allocates(runtime: Runtime, tmp_path: Path) -> None:
    runtime.driver.update(KUBEPODS, CgroupResources(memory_limit=256 * MI))
    reader = SignalReader(runtime.driver, str(tmp_path))
    before = reader.read()
    assert before.memory_capacity == 256 * MI
    sandbox = await runtime.run_pod_sandbox(
        PodSandboxConfig(
            uid=str(uuid.uuid4()), name="eater", namespace="default", hostname="eater", tier=QOSTier.BESTEFFORT
        )
    )
    ready = tmp_path / "ready"
    script = f"b = bytearray(100 << 20)\nopen({str(ready)!r}, 'w').close()\nimport time\ntime.sleep(300)"
    await runtime.start_container(sandbox, ContainerConfig("eat", [sys.executable, "-S", "-c", script]))
    for _ in range(600):
        if ready.exists():
            break
        await asyncio.sleep(0.05)
    after = reader.read()
    dropped = before.memory_available - after.memory_available
    assert 95 * MI <= dropped <= 130 * MI, dropped / MI
    await runtime.remove_pod_sandbox(sandbox)
    assert reader.read().memory_available > after.memory_available + 90 * MI
