"""The memory threshold watcher's policy with a fake driver, fake notifiers (pipes) and a fake clock.

The real kernel path (v1 usage thresholds, v2 PSI/memory.events, real allocations) is
tests/privileged/test_memory_threshold.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from pathlib import Path
from typing import Any

import pytest

from minikube_py import errors
from minikube_py.node.cgroups.driver import CgroupStats
from minikube_py.node.eviction.notifier import (
    KIND_NONE,
    KIND_PRESSURE_HINT,
    KIND_USAGE_THRESHOLD,
    MIN_HINT_REFRESH_INTERVAL,
    MemoryThresholdWatcher,
    machine_memory,
    memory_thresholds,
)
from minikube_py.node.eviction.types import EvictionConfig
from minikube_py.node.signals import SignalReader
from tests.polling import until

Mi = 1 << 20
CAPACITY = 512 * Mi


class FakeNotifier:
    """A pipe: ``fire()`` makes it readable, like a kernel notification."""

    def __init__(self, level: int, exact: bool) -> None:
        self.level = level
        self.exact = exact
        self._r, self._w = os.pipe()
        os.set_blocking(self._r, False)
        self.closed = False
        self.reads = 0

    def fire(self) -> None:
        os.write(self._w, b"x")

    def fileno(self) -> int:
        return self._r

    def read(self) -> None:
        self.reads += 1
        with contextlib.suppress(BlockingIOError):
            os.read(self._r, 4096)

    def close(self) -> None:
        if not self.closed:
            os.close(self._r)
            os.close(self._w)
            self.closed = True


class FakeDriver:
    """kubepods with a limit (or none), a usage file the test writes, and pipe notifiers."""

    def __init__(self, tmp_path: Path, *, limit: int | None = CAPACITY, exact: bool = True) -> None:
        self.limit = limit
        self.inactive = 0
        self.exact = exact
        self.usage_path = tmp_path / "memory.usage_in_bytes"
        self.set_usage(0)
        self.opened: list[FakeNotifier] = []
        self.refuse: Exception | None = None
        self.stats_calls = 0
        self.stats_error: Exception | None = None

    def set_usage(self, usage: int) -> None:
        self.usage_path.write_text(f"{usage}\n")

    def stats(self, path: str) -> CgroupStats:
        assert path == "kubepods"
        self.stats_calls += 1
        if self.stats_error is not None:
            raise self.stats_error
        usage = int(self.usage_path.read_text())
        working_set = max(0, usage - self.inactive)
        return CgroupStats(0, 0, 0, 0, usage, working_set, self.limit, None, 0, None)

    def memory_usage_file(self, path: str) -> str:
        assert path == "kubepods"
        return str(self.usage_path)

    def open_memory_threshold_notifier(self, path: str, usage_bytes: int) -> FakeNotifier:
        assert path == "kubepods"
        if self.refuse is not None:
            raise self.refuse
        notifier = FakeNotifier(usage_bytes, self.exact)
        self.opened.append(notifier)
        return notifier

    def live(self) -> list[FakeNotifier]:
        return [n for n in self.opened if not n.closed]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def thresholds(**hard: str) -> Any:
    return EvictionConfig(eviction_hard={k.replace("_", "."): v for k, v in hard.items()}).thresholds


def soft_and_hard() -> Any:
    return EvictionConfig(
        eviction_hard={"memory.available": "128Mi", "nodefs.available": "10%"},
        eviction_soft={"memory.available": "200Mi"},
        eviction_soft_grace_period={"memory.available": "30s"},
    ).thresholds


class Rig:
    def __init__(self, tmp_path: Path, config: Any = None, **kw: Any) -> None:
        driver_kw = {k: kw.pop(k) for k in ("limit", "exact") if k in kw}
        self.driver = FakeDriver(tmp_path, **driver_kw)
        self.clock = Clock()
        self.woke = 0
        self.watcher = MemoryThresholdWatcher(
            self.driver,  # type: ignore[arg-type]
            config if config is not None else soft_and_hard(),
            self.wake,
            clock=self.clock,
            **kw,
        )

    def wake(self) -> None:
        self.woke += 1

    def available(self, available: int) -> None:
        """Set the usage so that capacity − (usage − inactive) == available."""
        self.driver.set_usage(CAPACITY - available + self.driver.inactive)


# ---- thresholds ---------------------------------------------------------------------------------


def test_memory_thresholds_resolve_percentages_and_keep_only_memory_signals() -> None:
    config = EvictionConfig(
        eviction_hard={"memory.available": "25%", "nodefs.available": "10%", "pid.available": "100"},
        eviction_soft={"memory.available": "200Mi"},
        eviction_soft_grace_period={"memory.available": "1m"},
    )
    # The allocatableMemory.available copy of the hard 25% resolves to the same bytes: counted once.
    assert memory_thresholds(config.thresholds, CAPACITY) == (200 * Mi, 128 * Mi)
    assert memory_thresholds(thresholds(nodefs_available="10%"), CAPACITY) == ()


def test_machine_memory_matches_the_signal_reader(tmp_path: Path) -> None:
    meminfo = (
        "MemTotal: 1000000 kB\nMemFree: 200000 kB\nMemAvailable: 500000 kB\nBuffers: 10000 kB\n"
        "Cached: 300000 kB\nActive(file): 100000 kB\nInactive(file): 210000 kB\n"
    )
    proc = tmp_path / "proc"
    (proc / "sys/kernel").mkdir(parents=True)
    (proc / "meminfo").write_text(meminfo)
    (proc / "sys/kernel/pid_max").write_text("32768\n")

    class Unbounded:
        def stats(self, path: str) -> CgroupStats:
            return CgroupStats(0, 0, 0, 0, 0, 0, None, None, 0, None)

    signals = SignalReader(Unbounded(), str(tmp_path), procfs=str(proc)).read()  # type: ignore[arg-type]
    assert machine_memory(meminfo) == (signals.memory_capacity, signals.memory_working_set)


# ---- arming -------------------------------------------------------------------------------------


async def test_update_arms_one_exact_notifier_per_threshold_at_the_kubelet_level(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.driver.inactive = 30 * Mi
    rig.driver.set_usage(100 * Mi)
    rig.watcher.attach(asyncio.get_running_loop())
    arming = rig.watcher.update()
    assert arming.bounded and arming.kind == KIND_USAGE_THRESHOLD and arming.error is None
    assert arming.capacity == CAPACITY and arming.inactive_file == 30 * Mi
    assert arming.thresholds == (200 * Mi, 128 * Mi)
    # usage = capacity − threshold + inactive_file (memoryThresholdNotifier.UpdateThreshold)
    assert arming.levels == (CAPACITY - 200 * Mi + 30 * Mi + 1, CAPACITY - 128 * Mi + 30 * Mi + 1)
    assert [n.level for n in rig.driver.live()] == list(arming.levels)
    rig.watcher.close()
    assert rig.driver.live() == []


async def test_update_rearms_only_when_inactive_file_moved_the_levels(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.watcher.attach(asyncio.get_running_loop())
    rig.watcher.update()
    first = rig.driver.live()
    rig.watcher.update()
    assert rig.driver.live() == first  # same levels: the registrations stay
    rig.driver.inactive = 50 * Mi
    rig.driver.set_usage(60 * Mi)
    arming = rig.watcher.update()
    assert all(n.closed for n in first)
    assert [n.level for n in rig.driver.live()] == [
        CAPACITY - 200 * Mi + 50 * Mi + 1,
        CAPACITY - 128 * Mi + 50 * Mi + 1,
    ]
    assert arming.levels == tuple(n.level for n in rig.driver.live())
    rig.watcher.close()


async def test_a_pressure_hint_is_armed_once_and_not_rearmed(tmp_path: Path) -> None:
    rig = Rig(tmp_path, exact=False)
    rig.watcher.attach(asyncio.get_running_loop())
    arming = rig.watcher.update()
    assert arming.kind == KIND_PRESSURE_HINT and len(rig.driver.opened) == 1
    rig.driver.inactive = 50 * Mi
    rig.driver.set_usage(60 * Mi)
    arming = rig.watcher.update()
    assert len(rig.driver.opened) == 1 and not rig.driver.opened[0].closed
    assert arming.kind == KIND_PRESSURE_HINT and arming.inactive_file == 50 * Mi
    rig.watcher.close()


async def test_a_refused_registration_leaves_the_sampler(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.driver.refuse = errors.CgroupError("write cgroup.event_control: Invalid argument")
    rig.watcher.attach(asyncio.get_running_loop())
    arming = rig.watcher.update()
    assert arming.kind == KIND_NONE and "Invalid argument" in (arming.error or "")
    rig.available(100 * Mi)
    assert rig.watcher.sample() and rig.woke == 1
    rig.watcher.close()


async def test_kernel_notifiers_can_be_switched_off(tmp_path: Path) -> None:
    rig = Rig(tmp_path, kernel_notifiers=False)
    rig.watcher.attach(asyncio.get_running_loop())
    assert rig.watcher.update().kind == KIND_NONE
    assert rig.driver.opened == []
    rig.watcher.close()


def test_without_an_event_loop_nothing_is_armed(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    arming = rig.watcher.update()
    assert arming.kind == KIND_NONE and arming.error == "no event loop attached" and rig.driver.opened == []
    rig.watcher.close()


def test_unbounded_node_samples_the_machine_and_arms_nothing(tmp_path: Path) -> None:
    proc = tmp_path / "proc"
    proc.mkdir()
    meminfo = proc / "meminfo"
    meminfo.write_text("MemTotal: 1048576 kB\nMemFree: 524288 kB\nBuffers: 0 kB\nCached: 0 kB\n")  # 1 GiB, half free
    rig = Rig(tmp_path, thresholds(memory_available="40%"), limit=None, procfs=str(proc))
    arming = rig.watcher.update()
    assert not arming.bounded and arming.kind == KIND_NONE and arming.levels == ()
    # 40% of MemTotal, with the kubelet's float32 percentage: about 409.6 MiB
    assert arming.capacity == 1 << 30 and abs(arming.thresholds[0] - 0.4 * (1 << 30)) < 1024
    assert rig.watcher.available() == 512 * Mi
    assert not rig.watcher.sample()
    meminfo.write_text("MemTotal: 1048576 kB\nMemFree: 262144 kB\nBuffers: 0 kB\nCached: 0 kB\n")  # 256 MiB free
    assert rig.watcher.sample() and rig.woke == 1
    assert rig.driver.opened == []
    rig.watcher.close()


def test_unreadable_stats_are_not_fatal(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.driver.stats_error = errors.CgroupNotFound("read kubepods/memory.stat: No such file or directory")
    arming = rig.watcher.update()
    assert arming.kind == KIND_NONE and "No such file" in (arming.error or "") and arming.thresholds == ()
    assert not rig.watcher.sample()


# ---- sampling policy ----------------------------------------------------------------------------


def test_sampler_wakes_on_each_new_crossing_only(tmp_path: Path) -> None:
    rig = Rig(tmp_path)
    rig.watcher.update()
    rig.available(300 * Mi)
    assert not rig.watcher.sample() and rig.woke == 0
    rig.available(200 * Mi)  # equal is not met: the kubelet's threshold is met when threshold > available
    assert not rig.watcher.sample()
    rig.available(200 * Mi - 1)  # the soft threshold
    assert rig.watcher.sample() and rig.woke == 1 and rig.watcher.last_wake_reason == "sampler"
    rig.available(150 * Mi)
    assert not rig.watcher.sample() and rig.woke == 1  # still under the same one: no new pass
    rig.available(100 * Mi)  # the hard threshold
    assert rig.watcher.sample() and rig.woke == 2
    assert not rig.watcher.sample()
    rig.available(150 * Mi)  # back above the hard one, then under it again
    assert not rig.watcher.sample()
    rig.available(120 * Mi)
    assert rig.watcher.sample() and rig.woke == 3
    assert rig.watcher.last_available == 120 * Mi


def test_a_usage_at_an_armed_level_meets_its_threshold(tmp_path: Path) -> None:
    # The kernel signals at usage >= level and not again on the way up: one byte lower and a usage landing
    # exactly on the level would be signalled with available == threshold, which is not met.
    rig = Rig(tmp_path)
    rig.driver.inactive = 30 * Mi
    arming = rig.watcher.update()
    for level, quantity in zip(arming.levels, arming.thresholds, strict=True):
        rig.driver.set_usage(level - 1)
        assert rig.watcher.available() == quantity
        rig.driver.set_usage(level)
        assert rig.watcher.available() == quantity - 1


def test_sampler_uses_the_last_inactive_file(tmp_path: Path) -> None:
    rig = Rig(tmp_path, thresholds(memory_available="128Mi"))
    rig.driver.inactive = 64 * Mi
    rig.driver.set_usage(64 * Mi)
    rig.watcher.update()
    # usage 420 MiB, of which 64 MiB inactive page cache: working set 356, available 156 MiB: not met
    rig.driver.set_usage(420 * Mi)
    assert not rig.watcher.sample()
    assert rig.watcher.available() == CAPACITY - (420 - 64) * Mi
    rig.driver.set_usage(460 * Mi)  # working set 396, available 116
    assert rig.watcher.sample()


def test_a_failing_wake_callback_does_not_stop_the_watcher(tmp_path: Path) -> None:
    def boom() -> None:
        raise RuntimeError("manager gone")

    driver = FakeDriver(tmp_path)
    watcher = MemoryThresholdWatcher(driver, thresholds(memory_available="128Mi"), boom)  # type: ignore[arg-type]
    watcher.update()
    driver.set_usage(CAPACITY - 64 * Mi)
    assert watcher.sample() and watcher.wakes == 1


def test_a_vanished_usage_file_is_logged_and_reopened(tmp_path: Path) -> None:
    rig = Rig(tmp_path, thresholds(memory_available="128Mi"))
    rig.watcher.update()
    rig.driver.usage_path.write_text("")  # a read that yields no number
    assert not rig.watcher.sample()
    assert rig.watcher._usage_fd == -1
    rig.available(100 * Mi)
    rig.watcher.update()
    assert rig.watcher.sample() and rig.woke == 1


# ---- kernel notifications and the loop ----------------------------------------------------------


async def test_a_kernel_notification_refreshes_and_looks_at_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path, sample_interval=60.0)  # the sampler looks once at the start, then not for a minute
    task = asyncio.create_task(rig.watcher.run())
    try:
        await asyncio.sleep(0.05)
        assert rig.watcher.arming is not None and rig.watcher.samples == 1 and rig.woke == 0
        stats_before = rig.driver.stats_calls
        rig.clock.now += MIN_HINT_REFRESH_INTERVAL
        rig.available(190 * Mi)
        rig.driver.live()[0].fire()
        await asyncio.sleep(0.05)
        assert rig.woke == 1 and rig.watcher.last_wake_reason == "kernel" and rig.watcher.kernel_events == 1
        assert rig.driver.stats_calls == stats_before + 1  # inactive_file re-read before judging
        assert rig.driver.opened[0].reads == 1  # consumed, so the level-triggered loop does not spin
        # A second notification within MIN_HINT_REFRESH_INTERVAL looks again but does not re-read the stats.
        rig.available(100 * Mi)
        rig.driver.live()[1].fire()
        await asyncio.sleep(0.05)
        assert rig.woke == 2 and rig.driver.stats_calls == stats_before + 1
        # A notification without a new crossing (e.g. usage falling back) wakes nobody.
        rig.available(300 * Mi)
        rig.driver.live()[1].fire()
        await asyncio.sleep(0.05)
        assert rig.woke == 2 and rig.watcher.kernel_events == 3
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
    assert rig.driver.live() == [] and rig.watcher._usage_fd == -1  # cancelled: everything closed


async def test_run_samples_refreshes_and_stops(tmp_path: Path) -> None:
    rig = Rig(tmp_path, sample_interval=0.01, refresh_interval=10.0)
    stop = asyncio.Event()
    task = asyncio.create_task(rig.watcher.run(stop))
    await until(lambda: rig.watcher.samples >= 3, "3 samples")
    assert rig.driver.stats_calls == 1 and rig.woke == 0
    rig.available(100 * Mi)  # crosses both thresholds between two samples: one wake
    await until(lambda: rig.woke >= 1, "the wake")
    samples = rig.watcher.samples
    await until(lambda: rig.watcher.samples >= samples + 3, "3 more samples")
    assert rig.woke == 1  # still below both thresholds: no further wake
    rig.clock.now += 10.0
    await until(lambda: rig.driver.stats_calls >= 2, "the refresh")
    assert rig.driver.stats_calls == 2  # the refresh interval re-reads inactive_file
    stop.set()
    await asyncio.wait_for(task, 5.0)
    assert rig.driver.live() == [] and rig.watcher._usage_fd == -1


async def test_run_without_memory_thresholds_returns_at_once(tmp_path: Path) -> None:
    rig = Rig(tmp_path, thresholds(nodefs_available="10%"))
    await asyncio.wait_for(rig.watcher.run(asyncio.Event()), 1.0)
    assert rig.driver.stats_calls == 0 and rig.driver.opened == []


def test_intervals_must_be_positive(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        Rig(tmp_path, sample_interval=0)
