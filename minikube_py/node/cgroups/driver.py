"""The one cgroup driver interface.  v1 and v2 implement it; ``factory.new_driver`` picks one, once.

Callers speak in kubelet units (cpu shares, CFS quota in microseconds, bytes) and in paths relative to the
node's cgroup root (``kubepods/burstable/pod<uid>/<container>``).  Which files those become, and how a
version differs (cpu.shares vs cpu.weight, memsw vs swap.max, freezer vs cgroup.kill, eventfd vs inotify),
is known only inside ``v1.py`` and ``v2.py``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

# kubelet constants (pkg/kubelet/cm/helpers_linux.go)
MIN_SHARES = 2
MAX_SHARES = 262144
SHARES_PER_CPU = 1024
QUOTA_PERIOD_US = 100_000
MIN_QUOTA_PERIOD_US = 1000

KUBEPODS = "kubepods"


class QOSTier(enum.Enum):
    """Where a pod's cgroup lives: Guaranteed pods sit directly under kubepods, as in the kubelet."""

    GUARANTEED = ""
    BURSTABLE = "burstable"
    BESTEFFORT = "besteffort"


def milli_cpu_to_shares(milli_cpu: int) -> int:
    """kubelet MilliCPUToShares: 0 → 2, else clamp(floor(m*1024/1000), 2, 262144)."""
    if milli_cpu == 0:
        return MIN_SHARES
    return max(MIN_SHARES, min(MAX_SHARES, milli_cpu * SHARES_PER_CPU // 1000))


def milli_cpu_to_quota(milli_cpu: int, period_us: int = QUOTA_PERIOD_US) -> int:
    """kubelet MilliCPUToQuota: quota = max(m*period/1000, 1000 µs)."""
    return max(milli_cpu * period_us // 1000, MIN_QUOTA_PERIOD_US)


def pod_cgroup_path(tier: QOSTier, pod_uid: str) -> str:
    parts = [KUBEPODS] + ([tier.value] if tier.value else []) + [f"pod{pod_uid}"]
    return "/".join(parts)


@dataclass(frozen=True)
class CgroupResources:
    cpu_shares: int | None = None  # v1 cpu.shares units; v2 converts to cpu.weight
    cpu_quota_us: int | None = None  # None: no CFS limit
    cpu_period_us: int = QUOTA_PERIOD_US
    memory_limit: int | None = None  # bytes; None: unlimited
    pids_limit: int | None = None
    # One OOM kills every process of the cgroup (v2 memory.oom.group; v1 has no such switch).
    oom_kill_whole_group: bool = False


@dataclass(frozen=True)
class CgroupStats:
    cpu_usage_ns: int
    cpu_nr_periods: int
    cpu_nr_throttled: int
    cpu_throttled_ns: int
    memory_usage: int
    memory_working_set: int  # usage - inactive_file, floored at 0 (cAdvisor/kubelet definition)
    memory_limit: int | None
    memory_peak: int | None
    oom_kill: int
    pids_current: int | None


class OomNotifier(Protocol):
    """A file descriptor that becomes readable when the kernel signals memory trouble in one cgroup.

    Readability means "look at the counters": on v1 the eventfd fires before the kill is done and also on
    rmdir; callers must confirm with ``oom_kill_count`` after the victim is reaped.
    """

    def fileno(self) -> int: ...

    def drain(self) -> None: ...

    def close(self) -> None: ...


class MemoryThresholdNotifier(Protocol):
    """A file descriptor that becomes readable when the kernel has news about a cgroup's memory usage.

    Readability means "look now": the caller re-reads the usage and decides; ``read()`` consumes what is
    pending (it never blocks) and must be called on every wake-up, or a level-triggered poller spins.
    ``close()`` drops the registration in the kernel.

    ``exact`` says what readability promises:

    * True (cgroup v1): the cgroup's memory usage crossed the ``usage_bytes`` the notifier was opened with,
      in either direction (``memory.usage_in_bytes`` threshold through ``cgroup.event_control``).  The kernel
      checks thresholds every 128 page-charge events per CPU, so the crossing is seen within ~512 KiB.
    * False (cgroup v2): a pressure hint only (a PSI stall trigger on ``memory.pressure`` and any change of
      ``memory.events``); v2 has no usage thresholds, so ``usage_bytes`` is not armed and a caller that needs
      the exact crossing must sample the usage itself.
    """

    @property
    def exact(self) -> bool: ...

    def fileno(self) -> int: ...

    def read(self) -> None: ...

    def close(self) -> None: ...


class CgroupDriver(Protocol):
    name: str  # e.g. "cgroupfs v1": for node status and explanations only

    def roots(self) -> list[str]:
        """The directories that hold this node's cgroups, one per hierarchy."""

    def parent_memory_limit(self) -> int | None:
        """The memory limit of the cgroup the node's cgroups live under (the agent's own, by default)."""

    def setup_node(self) -> None:
        """Create the node's root and the kubepods QoS tiers (idempotent)."""

    def teardown_node(self) -> None:
        """Remove the node's root and QoS tiers; they must be empty."""

    def create(self, path: str, resources: CgroupResources) -> None:
        """Create ``path`` (parents must exist) and apply ``resources``; idempotent."""

    def update(self, path: str, resources: CgroupResources) -> None: ...

    def exists(self, path: str) -> bool: ...

    def procs_files(self, path: str) -> list[str]:
        """Files to write a pid into to move that whole process into this cgroup (one per hierarchy)."""

    def join_files(self, path: str) -> list[str]:
        """Files a *single-threaded* process writes "0" into to join this cgroup itself (the spawn path)."""

    def spawn_dir(self, path: str) -> str | None:
        """The cgroup v2 directory a process can be created in directly (clone3 ``CLONE_INTO_CGROUP``), or
        None where processes must join through :meth:`join_files` (cgroup v1)."""

    def pids(self, path: str) -> list[int]: ...

    def stats(self, path: str) -> CgroupStats: ...

    def memory_usage(self, path: str) -> int:
        """Cheap single-file read for samplers."""

    def memory_usage_file(self, path: str) -> str:
        """The file that holds the cgroup's memory usage in bytes; samplers keep it open and pread() it."""

    def oom_kill_count(self, path: str) -> int: ...

    def open_oom_notifier(self, path: str) -> OomNotifier: ...

    def open_memory_threshold_notifier(self, path: str, usage_bytes: int) -> MemoryThresholdNotifier:
        """A notifier for the cgroup's memory usage crossing ``usage_bytes`` (> 0); see
        :class:`MemoryThresholdNotifier` for what each version can promise.  Raises ``CgroupError`` when the
        kernel refuses the registration (the caller falls back to sampling)."""

    def kernel_memory_path(self, path: str) -> str:
        """The memory cgroup's path as the kernel prints it in OOM reports (``task_memcg=``)."""

    def settings(self, path: str) -> dict[str, str]:
        """The raw control files that hold this cgroup's limits, for explanations and tests."""

    def kill_all(self, path: str) -> int:
        """SIGKILL every process in the cgroup and its children; returns how many were signalled."""

    def remove(self, path: str) -> None:
        """Remove the cgroup and any empty children below it; raises CgroupBusy if processes remain."""


def qos_tier_cgroups() -> list[tuple[str, CgroupResources]]:
    """The node-level cgroups the kubelet keeps, parents first; BestEffort's tier is pinned to the minimum weight."""
    return [
        (KUBEPODS, CgroupResources()),
        (f"{KUBEPODS}/{QOSTier.BURSTABLE.value}", CgroupResources()),
        (f"{KUBEPODS}/{QOSTier.BESTEFFORT.value}", CgroupResources(cpu_shares=MIN_SHARES)),
    ]
