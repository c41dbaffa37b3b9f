"""Memory threshold notifications on real cgroups: the driver's notifier and the eviction watcher.

A real process, moved into a cgroup below the node's ``kubepods``, allocates 1 MiB at a time and reports when
the usage of ``kubepods`` passed a level (the last time before the chunk that crossed, and the time after it),
all on CLOCK_MONOTONIC.  The latency asserted is from the crossing's lower bound to the notification: the
whole allocation, kernel, event loop and Python costs are inside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from bench.bench_eviction import EATER
from minikube_py.node.cgroups.driver import KUBEPODS, CgroupDriver, CgroupResources
from minikube_py.node.eviction.notifier import (
    KIND_NONE,
    KIND_PRESSURE_HINT,
    KIND_USAGE_THRESHOLD,
    MemoryThresholdWatcher,
)
from minikube_py.node.eviction.types import EvictionConfig
from tests.vm.guest import inside_guest

pytestmark = [pytest.mark.root, pytest.mark.cgv2guest]
MI = 1 << 20
NODE_LIMIT = 128 * MI
EATER_CGROUP = f"{KUBEPODS}/besteffort/eater"
# TCG guests run Python ~20x slower: the eater's start has a budget that covers them, host or guest.
START_TIMEOUT = 120.0
IN_GUEST = inside_guest()
# How long a notified read() may take and still count as not blocking: on the host a blocked read would hang;
# in the guest even a non-blocking one (a few syscalls and Python lines) can take tens of milliseconds.
READ_BOUND_S = 1.0 if IN_GUEST else 0.1
# Crossing -> wake-up.  On the host: the kernel's notification, or the 0.1 s sampler and the event loop.  In the
# TCG guest the eater's allocation loop, the sampler's reads and the event loop all run ~20x slower.
WAKE_LATENCY_BOUND_S = 5.0 if IN_GUEST else 1.0
# Deadlines for things that must happen at all (not bounds): generous, failing only when they never come.
EVENT_TIMEOUT_S = 30.0


def is_v2(driver: CgroupDriver) -> bool:
    return driver.memory_usage_file(KUBEPODS).endswith("memory.current")


@dataclass
class Eater:
    proc: subprocess.Popen[str]

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def crossed(self) -> tuple[float, float]:
        """(last time before the crossing chunk, time after it), CLOCK_MONOTONIC."""
        assert self.proc.stdout is not None
        word, before, after = self.proc.stdout.readline().split()
        assert word == "crossed"
        return float(before), float(after)


@contextlib.contextmanager
def eater(driver: CgroupDriver, level: int, extra_mib: int = 8) -> Iterator[Eater]:
    """A Python process in ``EATER_CGROUP``, waiting for ``go``; SIGKILLed by PID however the test ends."""
    proc = subprocess.Popen(
        [sys.executable, "-S", "-c", EATER, driver.memory_usage_file(KUBEPODS), str(level), str(extra_mib)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        for procs in driver.procs_files(EATER_CGROUP):
            with open(procs, "w") as f:
                f.write(str(proc.pid))
        assert proc.stdout is not None
        ready, _, _ = select.select([proc.stdout], [], [], START_TIMEOUT)
        assert ready and proc.stdout.readline().strip() == "ready"
        yield Eater(proc)
    finally:
        proc.kill()
        proc.wait()
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@pytest.fixture
def node(cgroup_driver: CgroupDriver) -> CgroupDriver:
    """The node's cgroups with a memory capacity of NODE_LIMIT on kubepods, and an empty pod-like leaf."""
    cgroup_driver.setup_node()
    cgroup_driver.update(KUBEPODS, CgroupResources(memory_limit=NODE_LIMIT))
    cgroup_driver.create(EATER_CGROUP, CgroupResources())
    return cgroup_driver


def wait_readable(fd: int, timeout: float) -> float | None:
    """CLOCK_MONOTONIC when ``fd`` became readable, or None after ``timeout`` seconds."""
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    if poller.poll(timeout * 1000):
        return time.monotonic()
    return None


def test_notifier_contract(node: CgroupDriver) -> None:
    level = node.memory_usage(KUBEPODS) + 32 * MI
    with pytest.raises(ValueError):
        node.open_memory_threshold_notifier(KUBEPODS, 0)
    notifier = node.open_memory_threshold_notifier(KUBEPODS, level)
    try:
        assert notifier.exact is (not is_v2(node))
        assert wait_readable(notifier.fileno(), 0.2) is None  # nothing crossed, nothing pending
        notifier.read()  # never blocks
        if is_v2(node) and os.path.exists("/proc/pressure/memory"):
            assert getattr(notifier, "psi", None) is True, getattr(notifier, "psi_error", None)
    finally:
        notifier.close()
    notifier.close()  # idempotent


def test_v1_usage_threshold_fires_on_the_crossing_both_ways(node: CgroupDriver) -> None:
    if is_v2(node):
        pytest.skip("cgroup v2 has no memory usage thresholds (its notifier is a pressure hint)")
    level = node.memory_usage(KUBEPODS) + 32 * MI
    notifier = node.open_memory_threshold_notifier(KUBEPODS, level)
    try:
        with eater(node, level) as proc:
            assert wait_readable(notifier.fileno(), 0.1) is None
            proc.go()
            fired = wait_readable(notifier.fileno(), EVENT_TIMEOUT_S)
            before, after = proc.crossed()
            assert fired is not None, f"no notification within {EVENT_TIMEOUT_S:.0f} s of the go"
            latency = fired - before
            print(f"v1 usage threshold: crossing -> eventfd {latency * 1000:.1f} ms (chunk {after - before:.4f} s)")
            assert latency < WAKE_LATENCY_BOUND_S
            notifier.read()
            assert wait_readable(notifier.fileno(), 0.1) is None  # consumed; usage stays above
            proc.proc.kill()
            proc.proc.wait()
            # The pages are uncharged as the process dies: usage falls back below the level.
            assert wait_readable(notifier.fileno(), EVENT_TIMEOUT_S) is not None, "no notification on the way down"
    finally:
        notifier.close()


def test_v2_pressure_hint_fires_when_the_node_runs_out(node: CgroupDriver) -> None:
    if not is_v2(node):
        pytest.skip("the pressure hint is cgroup v2's notifier")
    level = NODE_LIMIT - 8 * MI  # the eater then runs into memory.max: reclaim, memory.events "max", OOM
    notifier = node.open_memory_threshold_notifier(KUBEPODS, level)
    try:
        with eater(node, level, extra_mib=64) as proc:
            assert wait_readable(notifier.fileno(), 0.1) is None
            proc.go()
            fired = wait_readable(notifier.fileno(), EVENT_TIMEOUT_S)
            assert fired is not None, "neither PSI nor memory.events signalled a node at its limit"
            started = time.monotonic()
            notifier.read()
            assert time.monotonic() - started < READ_BOUND_S  # read() never blocks
    finally:
        notifier.close()


@pytest.mark.parametrize("path", ["both", "kernel", "sampler"])
async def test_watcher_wakes_within_a_second_of_a_real_crossing(node: CgroupDriver, path: str) -> None:
    if path == "kernel" and is_v2(node):
        pytest.skip("cgroup v2 has no usage thresholds: its crossing is seen by the sampler")
    config = EvictionConfig(eviction_hard={"memory.available": "96Mi"})
    woke: list[float] = []
    watcher = MemoryThresholdWatcher(
        node,
        config.thresholds,
        lambda: woke.append(time.monotonic()),
        # "kernel": the sampler looks once at the start and then not for a minute.
        sample_interval=60.0 if path == "kernel" else 0.1,
        kernel_notifiers=path != "sampler",
    )
    stop = asyncio.Event()
    task = asyncio.create_task(watcher.run(stop))
    try:
        deadline = time.monotonic() + EVENT_TIMEOUT_S
        while watcher.arming is None and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        arming = watcher.arming
        assert arming is not None and arming.bounded
        assert arming.capacity == NODE_LIMIT and arming.thresholds == (96 * MI,)
        assert arming.levels == (NODE_LIMIT - 96 * MI + arming.inactive_file + 1,)
        expected_kind = {"sampler": KIND_NONE, "both": KIND_PRESSURE_HINT if is_v2(node) else KIND_USAGE_THRESHOLD}
        assert arming.kind == expected_kind.get(path, KIND_USAGE_THRESHOLD), arming
        with eater(node, arming.levels[0]) as proc:
            await asyncio.sleep(0.3)
            assert woke == []  # nothing crossed yet
            proc.go()
            before, _after = await asyncio.get_running_loop().run_in_executor(None, proc.crossed)
            deadline = time.monotonic() + EVENT_TIMEOUT_S
            while not woke and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            assert woke, f"no wake within {EVENT_TIMEOUT_S:.0f} s after the crossing ({watcher.samples} samples)"
            latency = woke[0] - before
            print(f"watcher ({path}): crossing -> wake {latency * 1000:.1f} ms, by {watcher.last_wake_reason}")
            assert latency < WAKE_LATENCY_BOUND_S
            if path == "kernel":
                assert watcher.last_wake_reason == "kernel" and watcher.kernel_events >= 1
            if path == "sampler":
                assert watcher.kernel_events == 0
            await asyncio.sleep(0.5)
            assert len(woke) == 1  # an edge: staying under pressure does not wake again
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)
    assert watcher._notifiers == [] and watcher._usage_fd == -1  # run() closed what it opened
