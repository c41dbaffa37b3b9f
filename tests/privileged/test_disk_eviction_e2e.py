"""Disk pressure for real: the node's data directory on a small tmpfs, pods writing into emptyDir volumes.

* a pod filling its emptyDir → DiskPressure → the heaviest writer evicted, the light one kept; the node is
  tainted, a new pod waits in Pending, and is placed once the condition has been clear for the transition period;
* a pod writing past its emptyDir ``sizeLimit`` is evicted at once (local-storage eviction), without any pressure.
"""

from __future__ import annotations

import datetime
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from minikube_py.node.runtime import libc
from tests.privileged.test_up_e2e import run_up

pytestmark = [pytest.mark.root]

Mi = 1 << 20
TRANSITION_S = 10  # --eviction-pressure-transition-period


@contextmanager
def small_tmpfs(path: Path, size: str) -> Iterator[Path]:
    path.mkdir()
    libc.mount("tmpfs", str(path), "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, f"size={size},mode=0755")
    try:
        yield path
    finally:
        libc.umount2(str(path), libc.MNT_DETACH)


def _writer(mib: int, chunk_pause: float) -> list[str]:
    """Write ``mib`` MiB into /scratch one MiB at a time, then hold still."""
    script = (
        "import os, time\n"
        "f = open('/scratch/fill', 'wb')\n"
        f"for _ in range({mib}):\n"
        "    f.write(os.urandom(1 << 20)); f.flush()\n"
        f"    time.sleep({chunk_pause})\n"
        "print('written', flush=True)\n"
        "time.sleep(600)\n"
    )
    return [sys.executable, "-S", "-c", script]


def _pod_with_scratch(name: str, command: list[str], size_limit: str | None = None) -> dict[str, Any]:
    empty_dir: dict[str, Any] = {"sizeLimit": size_limit} if size_limit else {}
    return {
        "metadata": {"name": name},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [
                {"name": "main", "command": command, "volumeMounts": [{"name": "scratch", "mountPath": "/scratch"}]}
            ],
            "volumes": [{"name": "scratch", "emptyDir": empty_dir}],
        },
    }


async def test_disk_pressure_evicts_the_heaviest_writer_and_holds_off_scheduling(tmp_path: Path) -> None:
    # The transition period is the window in which the test must see DiskPressure, the taint and the refused
    # pod; 10 s leaves a loaded machine room for that (it is also the least time before the pod is placed).
    flags = ["--eviction-hard", "nodefs.available<20Mi", "--eviction-pressure-transition-period", f"{TRANSITION_S}s",
             "--housekeeping-interval", "1s"]  # fmt: skip
    with small_tmpfs(tmp_path / "data", "64m") as data:
        async with run_up(data, *flags) as c:
            node_name = (await c.get("/api/v1/nodes"))["items"][0]["metadata"]["name"]
            status, created = await c.post("/api/v1/namespaces/default/pods", _pod_with_scratch("light", _writer(4, 0)))
            assert status == 201, created

            async def phase(name: str) -> str:
                pod = await c.get(f"/api/v1/namespaces/default/pods/{name}")
                return str(pod["status"].get("reason") or pod["status"].get("phase", ""))

            await c.wait("light running", lambda: _equals(phase("light"), "Running"))
            status, created = await c.post(
                "/api/v1/namespaces/default/pods", _pod_with_scratch("heavy", _writer(40, 0.1))
            )
            assert status == 201, created
            await c.wait("heavy evicted", lambda: _equals(phase("heavy"), "Evicted"), timeout=40)
            heavy = await c.get("/api/v1/namespaces/default/pods/heavy")
            assert heavy["status"]["phase"] == "Failed"
            assert heavy["status"]["message"].startswith(
                "The node was low on resource: ephemeral-storage. Threshold quantity: 20Mi, available: "
            )
            # The decision's own time (the agent's wall clock): when the pressure was last known to hold at least.
            evicted_at = json.loads(heavy["metadata"]["annotations"]["minikube-py.io/eviction"])["time"]
            assert await phase("light") == "Running"

            # The node reports DiskPressure and carries the taint while the condition holds.  Both are written
            # after the eviction, each on its own path: the agent's node status, then the control plane's taint.
            async def disk_pressure() -> dict[str, Any] | None:
                node = await c.get(f"/api/v1/nodes/{node_name}")
                conditions = {x["type"]: x for x in node["status"]["conditions"]}
                return conditions["DiskPressure"] if conditions["DiskPressure"]["status"] == "True" else None

            async def tainted() -> bool:
                node = await c.get(f"/api/v1/nodes/{node_name}")
                return "node.kubernetes.io/disk-pressure" in [t["key"] for t in node["spec"].get("taints", [])]

            pressure = await c.wait("the node to report DiskPressure", disk_pressure, timeout=20)
            assert pressure["reason"] == "KubeletHasDiskPressure"
            await c.wait("the disk-pressure taint", tainted, timeout=20)

            sleeper = [sys.executable, "-S", "-c", "import time; time.sleep(600)"]
            status, created = await c.post("/api/v1/namespaces/default/pods", _pod_with_scratch("late", sleeper))
            assert status == 201, created

            async def unschedulable() -> dict[str, Any] | None:
                pod = await c.get("/api/v1/namespaces/default/pods/late")
                scheduled = [x for x in pod["status"].get("conditions", []) if x["type"] == "PodScheduled"]
                return scheduled[0] if scheduled and scheduled[0]["reason"] == "Unschedulable" else None

            condition = await c.wait("late to be refused by the scheduler", unschedulable, timeout=10)
            assert "node.kubernetes.io/disk-pressure" in condition["message"]
            assert not (await c.get("/api/v1/namespaces/default/pods/late"))["spec"].get("nodeName")

            # The evicted pod's volume is gone, the pressure clears, and after the transition period the
            # taint goes and the waiting pod is placed.
            await c.wait("late running", lambda: _equals(phase("late"), "Running"), timeout=60)
            late = await c.get("/api/v1/namespaces/default/pods/late")
            started_at = _seconds(late["status"]["containerStatuses"][0]["state"]["running"]["startedAt"])
            # Not before the transition period: the condition clears TRANSITION_S after the pressure was last
            # seen, which is no earlier than the eviction decision.  startedAt has whole seconds: 1 s of slack.
            assert started_at - evicted_at >= TRANSITION_S - 1, (started_at, evicted_at)
            node = await c.get(f"/api/v1/nodes/{node_name}")
            conditions = {x["type"]: x for x in node["status"]["conditions"]}
            assert conditions["DiskPressure"]["status"] == "False"
            assert "node.kubernetes.io/disk-pressure" not in [t["key"] for t in node["spec"].get("taints", [])]

            explanation = await c.get(f"/api/v1/nodes/{node_name}/proxy/eviction")
            last = explanation["last"]
            assert last["evicted"] == "default/heavy" and last["signal"] == "nodefs.available"
            ranking = [(cand["pod"], cand["usage"]) for cand in last["candidates"]]
            assert ranking[0][0] == "default/heavy" and ranking[0][1] > ranking[1][1] >= 4 * Mi, ranking
        assert c.proc.returncode == 0


async def test_empty_dir_over_its_size_limit_is_evicted_at_once(tmp_path: Path) -> None:
    # Local-storage limits need no threshold; the hard one given only keeps the defaults (nodefs<10%...) away.
    async with run_up(tmp_path, "--eviction-hard", "memory.available<1Mi", "--housekeeping-interval", "1s") as c:
        status, created = await c.post(
            "/api/v1/namespaces/default/pods", _pod_with_scratch("over", _writer(12, 0.05), size_limit="8Mi")
        )
        assert status == 201, created
        status, created = await c.post(
            "/api/v1/namespaces/default/pods", _pod_with_scratch("within", _writer(2, 0), size_limit="8Mi")
        )
        assert status == 201, created

        async def evicted() -> dict[str, Any] | None:
            pod = await c.get("/api/v1/namespaces/default/pods/over")
            return pod if pod["status"].get("reason") == "Evicted" else None

        pod = await c.wait("over evicted", evicted, timeout=30)
        assert pod["status"]["message"] == 'Usage of EmptyDir volume "scratch" exceeds the limit "8Mi". '

        async def within_started() -> str | None:
            status = (await c.get("/api/v1/namespaces/default/pods/within"))["status"]
            return None if status.get("phase", "Pending") == "Pending" else str(status.get("reason") or status["phase"])

        assert await c.wait("within to start", within_started, timeout=30) == "Running"

        async def evicted_events() -> list[str]:
            events = (await c.get("/api/v1/namespaces/default/events", fieldSelector="reason=Evicted"))["items"]
            return [e["involvedObject"]["name"] for e in events]

        # The agent posts the event on its own, next to the pod's status: wait for it, then it must be the only one.
        await c.wait("the Evicted event", evicted_events, timeout=20)
        assert await evicted_events() == ["over"]
        node_name = pod["spec"]["nodeName"]
        last = (await c.get(f"/api/v1/nodes/{node_name}/proxy/eviction"))["last"]
        assert last["outcome"] == "local-storage-limit" and last["localStorage"]["kind"] == "emptyDir"
        assert last["localStorage"]["usedBytes"] > 8 * Mi
    assert c.proc.returncode == 0


async def _equals(value: Any, expected: Any) -> bool:
    return bool(await value == expected)


def _seconds(rfc3339: str) -> float:
    """Unix seconds of an API timestamp such as ``2026-01-02T03:04:05Z`` (whole seconds)."""
    return datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp()
