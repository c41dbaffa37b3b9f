"""Node failure and network partition on a two-node `up` cluster, with short timings:

* the node agent is killed (SIGKILL): after the grace period the node is `Ready=Unknown` with the unreachable
  NoExecute taint, its pods get `Ready=False`; a pod tolerating the taint for 2 s is deleted by the taint
  manager, one with the default 300 s toleration stays. The agent comes back: the node is Ready again, the
  taint goes, the staying pod runs on (re-adopted, same process), and the deleted pod's process is stopped.
* the node's link goes down (a partition, the agent still running): the same, and recovery after link up.
"""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.privileged.test_up_e2e import Cluster, run_up

pytestmark = [pytest.mark.root]

FAST = ["--nodes", "2", "--node-monitor-grace-period", "4", "--node-status-update-frequency", "1"]
UNREACHABLE = "node.kubernetes.io/unreachable"
RECOVERY_TIMEOUT_S = 60


def _pod(name: str, node: str, toleration_seconds: int | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "nodeName": node,
        "terminationGracePeriodSeconds": 1,
        "containers": [{"name": "main", "command": [sys.executable, "-S", "-c", "import time; time.sleep(600)"]}],
    }
    if toleration_seconds is not None:
        spec["tolerations"] = [
            {"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": toleration_seconds}
        ]
    return {"metadata": {"name": name}, "spec": spec}


async def _ready(c: Cluster, node: str) -> str:
    got = await c.get(f"/api/v1/nodes/{node}")
    return next(x["status"] for x in got["status"]["conditions"] if x["type"] == "Ready")


async def _taints(c: Cluster, node: str) -> list[str]:
    return [t["key"] for t in (await c.get(f"/api/v1/nodes/{node}"))["spec"].get("taints", [])]


async def _container_pid(c: Cluster, name: str) -> int:
    """The host pid of the pod's main process, from the sandbox annotation's cgroup."""
    pod = await c.get(f"/api/v1/namespaces/default/pods/{name}")
    for proc in psutil.process_iter(["cmdline"]):
        cmd = proc.info["cmdline"] or []
        if cmd[-1:] == ["import time; time.sleep(600)"]:
            with open(f"/proc/{proc.pid}/cgroup") as f:
                if pod["metadata"]["uid"] in f.read():
                    return proc.pid
    raise AssertionError(f"no process for pod {name}")


async def _start_pods(c: Cluster, node: str) -> tuple[int, int]:
    for body in (_pod("stays", node), _pod("goes", node, toleration_seconds=2)):
        status, created = await c.post("/api/v1/namespaces/default/pods", body)
        assert status == 201, created

    async def running() -> bool:
        pods = (await c.get("/api/v1/namespaces/default/pods"))["items"]
        return len(pods) == 2 and all(p["status"].get("phase") == "Running" for p in pods)

    await c.wait("both pods running", running, timeout=30)
    return await _container_pid(c, "stays"), await _container_pid(c, "goes")


async def _while_unreachable(c: Cluster, node: str) -> None:
    await c.wait("the node to turn Unknown", lambda: _is(_ready(c, node), "Unknown"), timeout=30)
    assert UNREACHABLE in await _taints(c, node)
    stays = await c.get("/api/v1/namespaces/default/pods/stays")
    ready = next(x for x in stays["status"]["conditions"] if x["type"] == "Ready")
    assert ready["status"] == "False"

    async def goes_deleted() -> bool:
        names = [p["metadata"]["name"] for p in (await c.get("/api/v1/namespaces/default/pods"))["items"]]
        return names == ["stays"]

    await c.wait("the 2 s toleration to run out and the pod to be deleted", goes_deleted, timeout=30)


async def _after_return(c: Cluster, node: str, stays_pid: int, goes_pid: int) -> None:
    # After a partition the agent's requests in flight across it must time out first (10 s each) before it
    # reports again and picks up what happened meanwhile: recovery takes some 20 s, hence a minute's deadline.
    await c.wait("the node to be Ready again", lambda: _is(_ready(c, node), "True"), timeout=RECOVERY_TIMEOUT_S)

    async def untainted() -> bool:
        return UNREACHABLE not in await _taints(c, node)

    await c.wait("the unreachable taint to go", untainted, timeout=15)

    async def goes_stopped() -> bool:
        return not psutil.pid_exists(goes_pid) or psutil.Process(goes_pid).status() == psutil.STATUS_ZOMBIE

    await c.wait("the deleted pod's process to be stopped by its agent", goes_stopped, timeout=RECOVERY_TIMEOUT_S)
    assert psutil.pid_exists(stays_pid), "the pod that stayed must keep running"

    async def stays_ready() -> bool:
        pod = await c.get("/api/v1/namespaces/default/pods/stays")
        return any(x["type"] == "Ready" and x["status"] == "True" for x in pod["status"].get("conditions", []))

    await c.wait("the staying pod to be Ready again", stays_ready, timeout=RECOVERY_TIMEOUT_S)
    assert await _container_pid(c, "stays") == stays_pid  # the same process, never restarted


async def test_killed_agent_makes_the_node_unknown_and_it_recovers_when_the_agent_returns(tmp_path: Path) -> None:
    async with run_up(tmp_path, *FAST, nodes=2) as c:
        stays_pid, goes_pid = await _start_pods(c, "node-2")
        agent = c.agent_process("node-2")
        argv = agent.cmdline()
        netns = c.node_netns("node-2")
        agent.send_signal(signal.SIGKILL)
        await _while_unreachable(c, "node-2")
        assert psutil.pid_exists(goes_pid) and psutil.pid_exists(stays_pid)  # nobody on the node was told
        returned = subprocess.Popen(["nsenter", f"--net=/run/netns/{netns}", "--", *argv], stdout=subprocess.DEVNULL)
        try:
            await _after_return(c, "node-2", stays_pid, goes_pid)
        finally:
            returned.send_signal(signal.SIGTERM)  # --remove-pods-on-exit: the agent stops its pods
            await asyncio.to_thread(returned.wait, 60)
    assert c.proc.returncode == 0
    assert not psutil.pid_exists(stays_pid)


async def test_partitioned_node_turns_unknown_and_recovers_after_link_up(tmp_path: Path) -> None:
    async with run_up(tmp_path, *FAST, nodes=2) as c:
        stays_pid, goes_pid = await _start_pods(c, "node-2")
        netns = c.node_netns("node-2")
        subprocess.run(["ip", "-n", netns, "link", "set", "eth0", "down"], check=True)
        try:
            await _while_unreachable(c, "node-2")
            assert psutil.pid_exists(goes_pid)  # the agent can't learn of the deletion across the partition
        finally:
            subprocess.run(["ip", "-n", netns, "link", "set", "eth0", "up"], check=True)
        await _after_return(c, "node-2", stays_pid, goes_pid)
    assert c.proc.returncode == 0


async def _is(value: Any, expected: str) -> bool:
    return bool(await value == expected)
