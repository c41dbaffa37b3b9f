"""CPU and memory limits enforced by the real kernel, and OOM truth.

Runs on the host's cgroup v1 and, through the ``cgv2guest`` twin, inside a pure cgroup v2 QEMU guest.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import uuid
from pathlib import Path

import pytest

from minikube_py.node.cgroups import v2 as cgroup_v2
from minikube_py.node.cgroups.driver import CgroupResources, QOSTier, milli_cpu_to_quota, milli_cpu_to_shares
from minikube_py.node.runtime.model import ContainerConfig, PodSandboxConfig, Sandbox
from minikube_py.node.runtime.runtime import Runtime
from tests.privileged.logtext import stream_text

pytestmark = [pytest.mark.root, pytest.mark.cgv2guest]

MI = 1 << 20
PY = [sys.executable, "-S", "-c"]
# Allocate 200 MiB in 4 MiB steps (bytearray zero-fills, so every page is touched and charged).
ALLOC_200MI = "import time\nb = []\nfor _ in range(50):\n    b.append(bytearray(4 << 20))\n    time.sleep(0.02)\n"


async def _pod(runtime: Runtime, name: str, tier: QOSTier = QOSTier.BURSTABLE) -> Sandbox:
    return await runtime.run_pod_sandbox(
        PodSandboxConfig(uid=str(uuid.uuid4()), name=name, namespace="default", hostname=name, tier=tier)
    )


def _config(name: str, argv: list[str], out: Path, resources: CgroupResources) -> ContainerConfig:
    return ContainerConfig(
        name=name,
        argv=argv,
        env=[("PATH", os.environ.get("PATH", "/usr/bin:/bin"))],
        resources=resources,
        log_path=str(out / f"{name}.log"),
    )


async def test_cpu_limit_200m_throttles_to_a_fifth_of_a_core(runtime: Runtime, tmp_path: Path) -> None:
    shares = milli_cpu_to_shares(200)
    quota = milli_cpu_to_quota(200)
    assert (shares, quota) == (204, 20000)
    sandbox = await _pod(runtime, "cpu-pod")
    c = await runtime.start_container(
        sandbox,
        _config(
            "spin",
            [*PY, "while True: pass"],
            tmp_path,
            CgroupResources(cpu_shares=shares, cpu_quota_us=quota),
        ),
    )
    settings = runtime.driver.settings(c.cgroup)
    if "cpu.shares" in settings:  # v1
        assert settings["cpu.shares"] == "204"
        assert (settings["cpu.cfs_quota_us"], settings["cpu.cfs_period_us"]) == ("20000", "100000")
    else:  # v2: weight from the shares by the documented formula
        assert settings["cpu.weight"] == str(cgroup_v2.shares_to_weight(204)) == "29"
        assert settings["cpu.max"] == "20000 100000"
    await asyncio.sleep(0.5)  # let the interpreter start
    loop = asyncio.get_running_loop()
    before, t0 = runtime.container_stats(c), loop.time()
    # At least 3 s; longer (up to 30 s) until the quota has cut in over 10 periods: on a loaded machine the
    # spinner may get less than its 20 ms in a period, and is not throttled in that one.
    while True:
        await asyncio.sleep(0.5)
        after, t1 = runtime.container_stats(c), loop.time()
        throttled = after.cpu_nr_throttled - before.cpu_nr_throttled
        if (t1 - t0 >= 3.0 and throttled > 10) or t1 - t0 >= 30.0:
            break
    share_of_core = (after.cpu_usage_ns - before.cpu_usage_ns) / 1e9 / (t1 - t0)
    # The limit: a fifth of a core at most (plus accounting slack), where an unlimited spinner takes a whole one.
    assert share_of_core <= 0.25, f"got {share_of_core:.3f} of a core over {t1 - t0:.1f} s"
    # Loosely from below: it did run; a loaded machine can give it less than its quota, never more.
    assert share_of_core >= 0.05, f"got {share_of_core:.3f} of a core over {t1 - t0:.1f} s"
    assert throttled > 0, "the CFS quota never throttled the spinner"
    assert after.cpu_throttled_ns > before.cpu_throttled_ns
    await runtime.remove_pod_sandbox(sandbox)


async def test_memory_limit_oom_kill_is_reported_with_a_record(runtime: Runtime, tmp_path: Path) -> None:
    sandbox = await _pod(runtime, "oom-pod")
    limit = 64 * MI
    c = await runtime.start_container(
        sandbox, _config("hog", [*PY, ALLOC_200MI], tmp_path, CgroupResources(memory_limit=limit))
    )
    result = await asyncio.wait_for(runtime.wait_container(c), 120)
    assert result.reason == "OOMKilled", (result, stream_text(tmp_path / "hog.log", "stderr"))
    assert result.exit_code == 137 and result.signal == signal.SIGKILL
    assert result.oom_kills >= 1
    record = c.oom_records[0]
    assert record.limit_bytes == limit
    assert record.main_process_killed
    assert record.peak_bytes is not None and record.peak_bytes >= limit * 0.95
    curve = [b for _, b in record.memory_curve]
    assert len(curve) >= 2, record.memory_curve
    assert max(curve) >= limit * 0.9, f"curve never reached the limit: {record.memory_curve}"
    assert all(t <= 0.5 for t, _ in record.memory_curve)  # times are relative to detection
    if os.access("/dev/kmsg", os.R_OK):
        assert record.victim_pid == c.pid
        assert record.victim_command and record.victim_command.startswith("python")
    await runtime.remove_pod_sandbox(sandbox)


async def test_kill_9_by_hand_is_error_not_oomkilled(runtime: Runtime, tmp_path: Path) -> None:
    sandbox = await _pod(runtime, "kill-pod")
    c = await runtime.start_container(
        sandbox, _config("victim", ["sleep", "300"], tmp_path, CgroupResources(memory_limit=64 * MI))
    )
    await asyncio.sleep(0.1)
    os.kill(c.pid, signal.SIGKILL)
    result = await asyncio.wait_for(runtime.wait_container(c), 30)
    assert (result.reason, result.exit_code, result.oom_kills) == ("Error", 137, 0)
    assert c.oom_records == []
    await runtime.remove_pod_sandbox(sandbox)


@pytest.mark.parametrize("whole_group", [False, True], ids=["single-process", "oom-group"])
async def test_child_oom_under_parent_that_exits_0_is_recorded(
    runtime: Runtime, tmp_path: Path, whole_group: bool
) -> None:
    sandbox = await _pod(runtime, "child-oom-pod")
    # The child volunteers as the OOM victim (raising oom_score_adj needs no privilege); the parent waits.
    child = f"echo 1000 > /proc/self/oom_score_adj; exec {sys.executable} -S -c '{ALLOC_200MI}'"
    script = f'sh -c "{child}"; echo child-status=$?; exit 0'

    resources = CgroupResources(memory_limit=64 * MI, oom_kill_whole_group=whole_group)
    c = await runtime.start_container(sandbox, _config("parent", ["sh", "-c", script], tmp_path, resources))
    result = await asyncio.wait_for(runtime.wait_container(c), 120)
    # One record per kill the cgroup's oom_kill counter saw (a group kill counts every process it killed).
    assert result.oom_kills >= 1
    assert len(c.oom_records) == result.oom_kills
    group_kill = runtime.driver.settings(f"{sandbox.cgroup}").get("memory.oom.group") is not None and whole_group
    if group_kill:
        # cgroup v2 memory.oom.group=1: the kernel kills every process of the container, the shell too.
        assert (result.reason, result.exit_code) == ("OOMKilled", 137)
    else:
        assert (result.reason, result.exit_code) == ("Completed", 0)
        assert "child-status=137" in stream_text(tmp_path / "parent.log")
        assert not c.oom_records[0].main_process_killed
        assert "OOM-killed" in result.message
    await runtime.remove_pod_sandbox(sandbox)
