"""Node-pressure eviction with real memory: a 512Mi node with memory.available<128Mi evicts BestEffort first."""

from __future__ import annotations

import datetime
import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.privileged.test_up_e2e import _pod, run_up

MI = 1 << 20

pytestmark = [pytest.mark.root]


def _hold(mib: int) -> list[str]:
    # Allocate and touch mib MiB in 8 MiB steps, then hold it.
    script = f"import time\nb = [bytearray(8 << 20) for _ in range({mib // 8})]\ntime.sleep(600)"
    return [sys.executable, "-S", "-c", script]


async def test_besteffort_is_evicted_first_and_guaranteed_untouched(tmp_path: Path) -> None:
    async with run_up(tmp_path, "--node-memory", "512Mi", "--eviction-hard", "memory.available<128Mi") as c:
        node_name = (await c.get("/api/v1/nodes"))["items"][0]["metadata"]["name"]
        pods = [
            _pod("guaranteed", _hold(80), limits={"cpu": "100m", "memory": "120Mi"}),
            _pod("burstable", _hold(144), requests={"memory": "64Mi"}),
        ]
        for body in pods:
            status, created = await c.post("/api/v1/namespaces/default/pods", body)
            assert status == 201, created

        async def running(name: str) -> bool:
            return bool((await c.get(f"/api/v1/namespaces/default/pods/{name}"))["status"].get("phase") == "Running")

        for name in ("guaranteed", "burstable"):
            await c.wait(f"{name} running", lambda n=name: running(n))  # type: ignore[misc]
        status, created = await c.post("/api/v1/namespaces/default/pods", _pod("besteffort", _hold(184)))
        assert status == 201, created

        async def evicted() -> dict[str, Any] | None:
            pod = await c.get("/api/v1/namespaces/default/pods/besteffort")
            return pod if pod["status"].get("reason") == "Evicted" else None

        pod = await c.wait("the BestEffort pod to be evicted", evicted, timeout=40)
        assert pod["status"]["phase"] == "Failed"
        assert pod["status"]["message"].startswith("The node was low on resource: memory. Threshold quantity: 128Mi")
        for name in ("guaranteed", "burstable"):
            assert (await c.get(f"/api/v1/namespaces/default/pods/{name}"))["status"]["phase"] == "Running"
        explanation = await c.get(f"/api/v1/nodes/{node_name}/proxy/eviction")
        last = explanation["last"]
        assert last["evicted"] == "default/besteffort" and last["signal"] == "memory.available"
        ranking = [cand["pod"] for cand in last["candidates"]]
        assert ranking[0] == "default/besteffort" and ranking[-1] == "default/guaranteed"

        async def evicted_events() -> list[dict[str, Any]]:
            return list((await c.get("/api/v1/namespaces/default/events", fieldSelector="reason=Evicted"))["items"])

        # The agent posts the event on its own, next to the pod's status: it may land a moment later.
        events = await c.wait("the Evicted event", evicted_events, timeout=20)
        assert events[0]["involvedObject"]["name"] == "besteffort"
    assert c.proc.returncode == 0


async def test_soft_threshold_waits_its_grace_and_minimum_reclaim_evicts_until_reclaimed(tmp_path: Path) -> None:
    soft = ["--eviction-soft", "memory.available<200Mi", "--eviction-soft-grace-period", "memory.available=6s",
            "--eviction-max-pod-grace-period", "2", "--eviction-minimum-reclaim", "memory.available=150Mi"]  # fmt: skip
    async with run_up(tmp_path, "--node-memory", "512Mi", *soft) as c:
        bodies = [
            _pod("steady", _hold(56), limits={"cpu": "100m", "memory": "100Mi"}),
            _pod("small", _hold(128)),
            _pod("big", _hold(152)),
        ]
        for body in bodies:
            status, created = await c.post("/api/v1/namespaces/default/pods", body)
            assert status == 201, created

        async def phases() -> dict[str, str]:
            items = (await c.get("/api/v1/namespaces/default/pods"))["items"]
            return {p["metadata"]["name"]: p["status"].get("reason") or p["status"].get("phase", "") for p in items}

        async def all_running() -> bool:
            return set((await phases()).values()) == {"Running"}

        await c.wait("all pods running", all_running, timeout=60)

        async def both_evicted() -> dict[str, str] | None:
            now = await phases()
            return now if now.get("big") == "Evicted" and now.get("small") == "Evicted" else None

        final = await c.wait("minimum reclaim to evict two pods", both_evicted, timeout=90)
        assert final["steady"] == "Running"
        # Each decision records the soft threshold's timer: met for its whole grace before anyone was evicted
        # (timed by the manager from the first pass that saw it met, not by this test's clock).
        decisions = {}
        for name in ("big", "small"):
            pod = await c.get(f"/api/v1/namespaces/default/pods/{name}")
            decisions[name] = json.loads(pod["metadata"]["annotations"]["minikube-py.io/eviction"])
            threshold = decisions[name]["threshold"]
            assert threshold["signal"] == "memory.available" and not threshold["hard"], threshold
            assert threshold["gracePeriodSeconds"] == 6 and threshold["graceMet"], threshold
            assert threshold["metForSeconds"] >= 6, threshold
        assert decisions["big"]["time"] < decisions["small"]["time"]  # the larger user first
        # The second eviction came from the minimum reclaim: above the threshold, below threshold + 150Mi.
        second = decisions["small"]["threshold"]
        assert second["reclaimPending"] and 200 * MI <= second["available"] < 350 * MI, second
    assert c.proc.returncode == 0


def _seconds(rfc3339: str) -> float:
    """Unix seconds of an API timestamp such as ``2026-01-02T03:04:05Z`` (whole seconds)."""
    return datetime.datetime.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.UTC).timestamp()


def _grow(mib_per_second: int, up_to_mib: int) -> list[str]:
    """Allocate and touch 1 MiB at a time at a steady rate, then hold."""
    script = (
        "import time\n"
        "held = []\n"
        f"pause = 1 / {mib_per_second}\n"
        "start = time.monotonic()\n"
        f"for i in range({up_to_mib}):\n"
        "    b = bytearray(1 << 20)\n"
        "    for j in range(0, 1 << 20, 4096): b[j] = 1\n"
        "    held.append(b)\n"
        "    time.sleep(max(0.0, start + (i + 1) * pause - time.monotonic()))\n"
        "time.sleep(600)\n"
    )
    return [sys.executable, "-S", "-c", script]


async def test_a_pod_growing_20mib_per_second_is_evicted_before_any_kernel_oom(tmp_path: Path) -> None:
    """From the threshold (384 MiB used) to the node's limit (512 MiB) takes 6.4 s at 20 MiB/s: less than the
    kubelet's 10 s housekeeping, so only a wake-up on the crossing gets there before the kernel's OOM killer."""
    from tests.privileged.test_up_e2e import _node_dirs

    # Housekeeping every 60 s: only the kernel notification can make it in time.
    flags = ["--node-memory", "512Mi", "--eviction-hard", "memory.available<128Mi", "--housekeeping-interval", "60s"]
    async with run_up(tmp_path, *flags) as c:
        status, created = await c.post("/api/v1/namespaces/default/pods", _pod("grower", _grow(20, 600)))
        assert status == 201, created

        async def evicted() -> dict[str, Any] | None:
            pod = await c.get("/api/v1/namespaces/default/pods/grower")
            statuses = pod["status"].get("containerStatuses", [])
            assert not any(
                (s.get("state", {}).get("terminated") or {}).get("reason") == "OOMKilled" for s in statuses
            ), "the kernel OOM-killed the grower before the eviction manager acted"
            return pod if pod["status"].get("reason") == "Evicted" else None

        pod = await c.wait("the growing pod to be evicted", evicted, timeout=60)
        assert "minikube-py.io/oom-records" not in pod["metadata"].get("annotations", {})
        decision = json.loads(pod["metadata"]["annotations"]["minikube-py.io/eviction"])
        # From the container's start to the eviction decision, both as recorded by the agent (its wall clock):
        # the scheduling and this test's polling are not in it.  startedAt has whole seconds: up to 1 s more.
        [status] = pod["status"]["containerStatuses"]
        state = status["state"].get("running") or status["state"].get("terminated") or {}
        took = decision["time"] - _seconds(state["startedAt"])
        threshold = decision["threshold"]
        assert threshold["signal"] == "memory.available" and threshold["available"] < 128 * 1024 * 1024
        # Acted about a second after the crossing at most: at 20 MiB/s, 1 s more growth leaves ≥ 108 MiB
        # (the kubelet's 10 s housekeeping could find anything down to 0, or the kernel OOM first).
        assert threshold["available"] > (128 - 30) * 1024 * 1024, threshold
        assert 384 / 20 - 3 < took < 384 / 20 + 8, took  # the crossing comes after ~19 s of growth
        # The node's cgroup never reached its limit.
        memory_dir = _node_dirs(c.data_dir)[0]
        peak = os.path.join(memory_dir, "kubepods", "memory.max_usage_in_bytes")
        if os.path.exists(peak):
            with open(peak) as f:
                assert int(f.read()) < 512 * 1024 * 1024
    assert c.proc.returncode == 0
