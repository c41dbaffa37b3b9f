"""Wake the eviction manager within a second of a memory threshold crossing (issue 7, "fast reaction").

The kubelet looks at memory every housekeeping interval (10 s); with ``kernelMemcgNotification`` it also
registers a memcg usage threshold per memory eviction threshold and runs a pass when one fires.  This watcher
does the same and adds a cheap sampler, so a crossing wakes the manager (:meth:`EvictionManager.wake`) well
within a second on every kernel:

* **Kernel notifiers** (``driver.open_memory_threshold_notifier``), one per distinct memory threshold, armed on
  the node cgroup (``kubepods``) at ``usage = capacity − threshold + inactive_file + 1``, the kubelet's
  ``memoryThresholdNotifier.UpdateThreshold`` plus one byte: the working set is ``usage − inactive_file``, so
  that is the lowest usage where ``available = capacity − working set`` is strictly below the threshold (the
  kernel signals at ``usage >= level``; without the byte a usage landing exactly on the level signals while the
  threshold is not met yet, and the kernel does not signal again on the way up).  ``inactive_file`` moves, so the
  levels are recomputed on every :meth:`update` (every ``refresh_interval``, 10 s like the kubelet's
  notifier refresh, and on a kernel hint) and re-armed when they changed.  On cgroup v1 these are exact
  usage thresholds.  cgroup v2 has no usage thresholds: its notifier is a pressure hint (PSI trigger plus
  ``memory.events``), armed once, and **on v2 the exact crossing is seen by the sampler alone**.
* **A fast sampler**: every ``sample_interval`` (0.1 s) one ``pread`` of the cgroup's usage file from a
  kept-open fd, turned into ``available`` with the last ``inactive_file`` read.  It is the guaranteed path (v2,
  kernels that refuse the registration, a stale ``inactive_file``), and every kernel notification is answered
  by an immediate sample (after re-reading ``inactive_file``): a notification only ever means "look now".

The manager is woken when a memory threshold becomes met that was not met at the previous look (an edge, so
a node that stays under pressure does not get a pass every 100 ms; the manager's own loop carries on from
there).  A threshold is met when ``available < threshold`` (strictly), as in the manager.

When the node's memory is not bounded on ``kubepods`` (no limit: the agent owns the machine), the signal is
the machine's: the sampler reads ``/proc/meminfo`` with the same formula as ``SignalReader`` and no kernel
notifier is armed (a registration would have to go on the root memory cgroup, which is not ours).

Only the ``memory.available`` thresholds (and their ``allocatableMemory.available`` copies, which measure the
same cgroup here) are watched; percentages are resolved against the capacity.  Everything the watcher reads is
injectable (driver, clock, procfs) so the policy is unit-tested with fakes.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from collections.abc import Callable, Iterable

from minikube_py import errors
from minikube_py.node.cgroups.driver import KUBEPODS, CgroupDriver, MemoryThresholdNotifier
from minikube_py.node.eviction.types import Signal, Threshold

__all__ = [
    "DEFAULT_REFRESH_INTERVAL",
    "DEFAULT_SAMPLE_INTERVAL",
    "Arming",
    "MemoryThresholdWatcher",
    "machine_memory",
    "memory_thresholds",
]

log = logging.getLogger(__name__)

MEMORY_SIGNALS = (Signal.MEMORY_AVAILABLE, Signal.ALLOCATABLE_MEMORY_AVAILABLE)
DEFAULT_SAMPLE_INTERVAL = 0.1
DEFAULT_REFRESH_INTERVAL = 10.0  # the kubelet's notifierRefreshInterval
MIN_HINT_REFRESH_INTERVAL = 0.5  # at most this often re-read inactive_file because of kernel notifications

KIND_USAGE_THRESHOLD = "usage-threshold"  # exact kernel notifiers (cgroup v1)
KIND_PRESSURE_HINT = "pressure-hint"  # one hint notifier (cgroup v2 PSI + memory.events)
KIND_NONE = "none"  # sampler only (disabled, unbounded node, or the kernel refused: see Arming.error)


def memory_thresholds(thresholds: Iterable[Threshold], capacity: int) -> tuple[int, ...]:
    """The distinct positive byte quantities of the memory thresholds, resolved against ``capacity``, largest
    first (the first one a growing workload crosses)."""
    quantities = {t.value.resolve(capacity) for t in thresholds if t.signal in MEMORY_SIGNALS}
    return tuple(sorted((q for q in quantities if q > 0), reverse=True))


def _parse_meminfo(text: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts:
            out[key] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


def machine_memory(meminfo_text: str) -> tuple[int, int]:
    """``(capacity, working set)`` of the machine from /proc/meminfo, by ``SignalReader``'s formula."""
    meminfo = _parse_meminfo(meminfo_text)
    total = meminfo["MemTotal"]
    used = total - meminfo.get("MemFree", 0) - meminfo.get("Buffers", 0) - meminfo.get("Cached", 0)
    used += meminfo.get("Active(file)", 0)
    return total, max(0, used)


@dataclasses.dataclass(frozen=True)
class Arming:
    """What the last :meth:`MemoryThresholdWatcher.update` found and armed (for explanations and tests)."""

    bounded: bool
    """True: the node is kubepods with a memory limit; False: the machine (/proc/meminfo)."""
    capacity: int
    inactive_file: int
    thresholds: tuple[int, ...]
    """Threshold quantities in bytes, largest first."""
    levels: tuple[int, ...]
    """The lowest usages at which the thresholds are met (capacity − threshold + inactive_file + 1), same order."""
    kind: str
    """KIND_USAGE_THRESHOLD, KIND_PRESSURE_HINT or KIND_NONE."""
    error: str | None = None
    """Why no kernel notifier is armed although one was wanted."""


class MemoryThresholdWatcher:
    """Kernel threshold notifiers plus a fast usage sampler that call ``wake`` on a memory threshold crossing.

    Use from the event loop: ``await watcher.run(stop)`` (arms, samples, re-arms, and closes everything when
    ``stop`` is set or the task is cancelled).  :meth:`update` and :meth:`sample` are the two steps, public
    for tests and for callers that already hold fresh stats.
    """

    def __init__(
        self,
        driver: CgroupDriver,
        thresholds: Iterable[Threshold],
        wake: Callable[[], None],
        *,
        cgroup: str = KUBEPODS,
        sample_interval: float = DEFAULT_SAMPLE_INTERVAL,
        refresh_interval: float = DEFAULT_REFRESH_INTERVAL,
        kernel_notifiers: bool = True,
        clock: Callable[[], float] = time.monotonic,
        procfs: str = "/proc",
    ) -> None:
        if sample_interval <= 0 or refresh_interval <= 0:
            raise ValueError("sample and refresh intervals must be positive")
        self.driver = driver
        self.cgroup = cgroup
        self.thresholds = tuple(t for t in thresholds if t.signal in MEMORY_SIGNALS)
        self._wake = wake
        self.sample_interval = sample_interval
        self.refresh_interval = refresh_interval
        self.kernel_notifiers = kernel_notifiers
        self._clock = clock
        self._meminfo_path = os.path.join(procfs, "meminfo")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._notifiers: list[MemoryThresholdNotifier] = []
        self._usage_fd = -1
        self._usage_path: str | None = None
        self._met: frozenset[int] = frozenset()
        self._last_refresh = -float("inf")
        self._sample_error_logged = False
        self.arming: Arming | None = None
        # Counters (for tests, the bench and explanations).
        self.wakes = 0
        self.kernel_events = 0
        self.samples = 0
        self.last_available: int | None = None
        self.last_wake_reason: str | None = None

    # ---- arming ---------------------------------------------------------------------------------

    def attach(self, loop: asyncio.AbstractEventLoop) -> None:
        """The loop whose ``add_reader`` receives the kernel notifiers (``run`` attaches the running loop)."""
        self._loop = loop

    def update(self) -> Arming:
        """Re-read capacity and inactive_file, recompute the levels, and re-arm the kernel notifiers if they
        changed.  Errors reading the cgroup keep the previous arming (logged)."""
        self._last_refresh = self._clock()
        try:
            stats = self.driver.stats(self.cgroup)
        except (errors.CgroupError, OSError) as err:
            log.warning("memory threshold watcher: cannot read %s: %s", self.cgroup, err)
            if self.arming is None:
                self.arming = Arming(False, 0, 0, (), (), KIND_NONE, f"cannot read {self.cgroup}: {err}")
            return self.arming
        if stats.memory_limit is not None:
            capacity = stats.memory_limit
            inactive = max(0, stats.memory_usage - stats.memory_working_set)
            quantities = memory_thresholds(self.thresholds, capacity)
            levels = tuple(capacity - q + inactive + 1 for q in quantities)
            self._open_usage(self.driver.memory_usage_file(self.cgroup))
            arming = self._arm(True, capacity, inactive, quantities, levels)
        else:
            self._disarm()
            capacity = 0
            if self._open_usage(self._meminfo_path):
                try:
                    capacity = self._read_machine()[0]
                except (OSError, ValueError, KeyError) as err:
                    log.warning("memory threshold watcher: cannot read %s: %s", self._meminfo_path, err)
                    self._close_usage()
            quantities = memory_thresholds(self.thresholds, capacity) if capacity else ()
            arming = Arming(False, capacity, 0, quantities, (), KIND_NONE)
        self.arming = arming
        return arming

    def _arm(
        self, bounded: bool, capacity: int, inactive: int, quantities: tuple[int, ...], levels: tuple[int, ...]
    ) -> Arming:
        previous = self.arming
        # A hint does not depend on the levels; exact notifiers at unchanged levels are still right.
        keep = previous is not None and previous.bounded and bool(self._notifiers)
        if keep and previous is not None and (previous.kind == KIND_PRESSURE_HINT or previous.levels == levels):
            return dataclasses.replace(
                previous, capacity=capacity, inactive_file=inactive, thresholds=quantities, levels=levels
            )
        self._disarm()
        if not self.kernel_notifiers or not levels:
            return Arming(bounded, capacity, inactive, quantities, levels, KIND_NONE)
        loop = self._loop
        if loop is None:
            return Arming(bounded, capacity, inactive, quantities, levels, KIND_NONE, "no event loop attached")
        kind = KIND_USAGE_THRESHOLD
        for level in levels:
            if level <= 0:
                continue
            try:
                notifier = self.driver.open_memory_threshold_notifier(self.cgroup, level)
            except (errors.CgroupError, OSError, ValueError) as err:
                self._disarm()
                log.warning("memory threshold watcher: no kernel notifier (%s); sampling only", err)
                return Arming(bounded, capacity, inactive, quantities, levels, KIND_NONE, str(err))
            self._notifiers.append(notifier)
            loop.add_reader(notifier.fileno(), self._on_kernel_event, notifier)
            if not notifier.exact:
                kind = KIND_PRESSURE_HINT  # one hint covers every level
                break
        if not self._notifiers:
            kind = KIND_NONE
        return Arming(bounded, capacity, inactive, quantities, levels, kind)

    def _disarm(self) -> None:
        notifiers, self._notifiers = self._notifiers, []
        for notifier in notifiers:
            if self._loop is not None:
                with contextlib.suppress(Exception):
                    self._loop.remove_reader(notifier.fileno())
            notifier.close()

    def _open_usage(self, path: str) -> bool:
        if path == self._usage_path and self._usage_fd >= 0:
            return True
        self._close_usage()
        try:
            self._usage_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            log.warning("memory threshold watcher: cannot open %s: %s", path, err)
            return False
        self._usage_path = path
        return True

    def _close_usage(self) -> None:
        if self._usage_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._usage_fd)
        self._usage_fd = -1
        self._usage_path = None

    def close(self) -> None:
        """Drop every kernel registration and the kept-open usage file (idempotent)."""
        self._disarm()
        self._close_usage()

    # ---- looking --------------------------------------------------------------------------------

    def _read_machine(self) -> tuple[int, int]:
        return machine_memory(os.pread(self._usage_fd, 65536, 0).decode())

    def available(self) -> int | None:
        """``memory.available`` now, from one read (the usage file, or /proc/meminfo when unbounded)."""
        arming = self.arming
        if arming is None or self._usage_fd < 0:
            return None
        if arming.bounded:
            usage = int(os.pread(self._usage_fd, 64, 0))
            return max(0, arming.capacity - max(0, usage - arming.inactive_file))
        capacity, working_set = self._read_machine()
        return max(0, capacity - working_set)

    def sample(self, reason: str = "sampler") -> bool:
        """One look: wake the manager if a threshold is met now that was not met at the previous look."""
        arming = self.arming
        if arming is None or not arming.thresholds:
            return False
        try:
            available = self.available()
        except (OSError, ValueError, KeyError) as err:
            if not self._sample_error_logged:
                log.warning("memory threshold watcher: sampling %s failed: %s", self._usage_path, err)
                self._sample_error_logged = True
            self._close_usage()
            return False
        if available is None:
            return False
        self._sample_error_logged = False
        self.samples += 1
        self.last_available = available
        met = frozenset(q for q in arming.thresholds if available < q)
        gained = met - self._met
        self._met = met
        if not gained:
            return False
        self.wakes += 1
        self.last_wake_reason = reason
        log.info(
            "memory threshold watcher: memory.available %d < %d (%s): waking the eviction manager",
            available,
            max(gained),
            reason,
        )
        try:
            self._wake()
        except Exception:
            log.exception("memory threshold watcher: wake callback failed")
        return True

    def _on_kernel_event(self, notifier: MemoryThresholdNotifier) -> None:
        notifier.read()
        self.kernel_events += 1
        if self._clock() - self._last_refresh >= MIN_HINT_REFRESH_INTERVAL:
            self.update()  # a fresh inactive_file before judging (it shrinks fast under reclaim)
        self.sample("kernel")

    # ---- the loop -------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Arm, then sample every ``sample_interval`` and re-arm every ``refresh_interval`` until ``stop`` is
        set or the task is cancelled; always closes what it opened."""
        if not self.thresholds:
            log.info("memory threshold watcher: no memory eviction thresholds configured; nothing to watch")
            return
        self.attach(asyncio.get_running_loop())
        stopped = asyncio.ensure_future((stop or asyncio.Event()).wait())
        try:
            self.update()
            while not stopped.done():
                since = self._clock() - self._last_refresh
                if since >= self.refresh_interval or (self._usage_fd < 0 and since >= MIN_HINT_REFRESH_INTERVAL):
                    self.update()
                self.sample()
                await asyncio.wait([stopped], timeout=self.sample_interval)
        finally:
            stopped.cancel()
            self.close()
