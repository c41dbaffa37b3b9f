"""Pods outlive their agent: kill -9 the process hosting the runtime, start a new one, nothing doubled.

Also a churn test: many create/delete cycles leave no cgroup, mount, namespace, process or fd behind.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from minikube_py.node.cgroups.driver import CgroupDriver, CgroupResources, QOSTier
from minikube_py.node.runtime.model import ContainerConfig, PodSandboxConfig
from minikube_py.node.runtime.runtime import Runtime
from tests.privileged.conftest import pause_argv

pytestmark = [pytest.mark.root]
REPO = Path(__file__).resolve().parents[2]


def _node_dir(driver: CgroupDriver) -> str:
    return os.path.basename(driver.roots()[0])


@pytest.mark.cgv2guest
async def test_agent_kill_9_and_restart_readopts_pods(cgroup_driver: CgroupDriver, state_dir: Path) -> None:
    out = state_dir / "started.json"
    host = subprocess.Popen(
        [sys.executable, "-m", "tests.privileged.agent_host", str(state_dir), _node_dir(cgroup_driver), str(out)],
        cwd=REPO,
    )
    runtime: Runtime | None = None
    try:
        deadline = time.monotonic() + 120
        while not out.exists():
            assert host.poll() is None, "the agent host died"
            assert time.monotonic() < deadline, "the agent host never started its pods"
            await asyncio.sleep(0.05)
        started = json.loads(out.read_text())
        os.kill(host.pid, signal.SIGKILL)  # the agent dies without a word
        host.wait()
        # Meanwhile "quitter" exits 3 and "hog" is OOM-killed: the shim reaps them with no agent there.
        deadline = time.monotonic() + 60
        for name in ("quitter", "hog"):
            while _alive(started[name]["pid"]):
                assert time.monotonic() < deadline, f"{name} did not end while the agent was away"
                await asyncio.sleep(0.05)
        runtime = Runtime(cgroup_driver, state_dir=str(state_dir), pause_argv=pause_argv())
        await runtime.start()
        sandboxes = runtime.sandboxes
        assert sorted(s.config.name for s in sandboxes.values()) == ["hog", "long", "quitter"]
        by_name = {s.config.name: s for s in sandboxes.values()}
        for name, info in started.items():
            sandbox = by_name[name]
            assert sandbox.pause_pid == info["pause"] and sandbox.pause_alive
            assert [c.pid for c in sandbox.containers.values()] == [info["pid"]]
        long_c = by_name["long"].containers["long"]
        assert long_c.running and os.path.exists(f"/proc/{long_c.pid}")
        # nothing doubled: one pause and one container process per pod
        assert sorted(runtime.driver.pids(by_name["long"].cgroup)) == sorted([by_name["long"].pause_pid, long_c.pid])
        quitter = await asyncio.wait_for(runtime.wait_container(by_name["quitter"].containers["quitter"]), 30)
        assert (quitter.reason, quitter.exit_code) == ("Error", 3)  # exact, although it ended while no agent ran
        hog_c = by_name["hog"].containers["hog"]
        hog = await asyncio.wait_for(runtime.wait_container(hog_c), 30)
        assert (hog.reason, hog.exit_code) == ("OOMKilled", 137)
        assert hog.oom_kills >= 1 and hog_c.oom_records
        for sandbox in list(sandboxes.values()):
            await runtime.remove_pod_sandbox(sandbox)
        assert runtime.sandboxes == {}
        assert list((state_dir / "pods").glob("*.json")) == []
    finally:
        if host.poll() is None:
            host.kill()
            host.wait()
        if runtime is None:
            runtime = Runtime(cgroup_driver, state_dir=str(state_dir), pause_argv=pause_argv())
            await runtime.start()
        for sandbox in list(runtime.sandboxes.values()):
            await runtime.remove_pod_sandbox(sandbox)
        await runtime.close(shutdown_shim=True)


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs (a zombie has ended too, it just has not been reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def _fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _cgroup_dirs(driver: CgroupDriver) -> set[str]:
    found = set()
    for root in driver.roots():
        for dirpath, _, _ in os.walk(root):
            found.add(dirpath)
    return found


def _own_mounts() -> list[str]:
    """Our mount table, without network namespaces pinned under /run/netns: other clusters on the machine
    (a concurrent `up`) add and remove those; this runtime never makes any."""
    lines = Path("/proc/self/mountinfo").read_text().splitlines()
    return [line for line in lines if not line.split()[4].startswith("/run/netns/")]


@pytest.mark.cgv2guest
async def test_create_delete_cycles_leak_nothing(runtime: Runtime, tmp_path: Path) -> None:
    cycles = 30 if os.environ.get("MKPY_IN_GUEST") else 200
    shim = runtime._spawner.shim_pid
    assert shim is not None

    async def cycle(i: int) -> None:
        sandbox = await runtime.run_pod_sandbox(
            PodSandboxConfig(
                uid=str(uuid.uuid4()),
                name=f"churn-{i}",
                namespace="default",
                hostname=f"churn-{i}",
                tier=QOSTier.BURSTABLE,
            )
        )
        await runtime.start_container(
            sandbox,
            ContainerConfig(
                "c",
                ["sleep", "300"],
                [("PATH", "/usr/bin:/bin")],
                resources=CgroupResources(memory_limit=32 << 20),
                log_path=str(tmp_path / f"{i}.log"),
            ),
        )
        await runtime.remove_pod_sandbox(sandbox)

    await cycle(-1)  # warm up lazily created state (selectors, caches)
    baseline = {
        "fds": _fd_count(os.getpid()),
        "shim_fds": _fd_count(shim),
        "cgroups": _cgroup_dirs(runtime.driver),
        "mounts": _own_mounts(),
    }
    for i in range(cycles):
        await cycle(i)

    def now() -> dict[str, Any]:
        return {
            "fds": _fd_count(os.getpid()),
            "shim_fds": _fd_count(shim),
            "cgroups": _cgroup_dirs(runtime.driver),
            "mounts": _own_mounts(),
        }

    # The last removals may still be settling (a supervisor removing its cgroup, the shim closing a pipe): give
    # them a moment; a leak stays.
    deadline = time.monotonic() + 10
    while now() != baseline and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    assert _fd_count(os.getpid()) == baseline["fds"]
    assert _fd_count(shim) == baseline["shim_fds"]
    assert _cgroup_dirs(runtime.driver) == baseline["cgroups"]
    assert _own_mounts() == baseline["mounts"]
    assert Path(f"/proc/{shim}/task/{shim}/children").read_text().split() == []
    assert runtime.sandboxes == {}
    assert all(runtime.driver.pids(p) == [] for p in ("kubepods",))
