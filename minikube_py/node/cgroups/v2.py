"""cgroup v2 driver (pure unified hierarchy).

Facts this driver relies on (kernel ≥ 5.14, checked in the QEMU test guest on Debian's 6.1):
- one directory per cgroup; a process joins by writing "0" to its ``cgroup.procs``;
- "no internal processes": controllers enabled in a cgroup's ``cgroup.subtree_control`` require it to hold
  no processes, so the pause process lives in a leaf (``pod<uid>/pause``) next to the containers;
- ``memory.events`` counts ``oom_kill`` (hierarchically) and generates a file-modified event (inotify);
- ``memory.oom.group=1`` makes one OOM kill every process of the cgroup (the kubelet sets it on container
  cgroups since 1.28 unless ``singleProcessOOMKill``);
- ``cgroup.kill`` (5.14+) SIGKILLs the whole subtree in one write.

cpu.shares → cpu.weight uses the formula of opencontainers/cgroups after kubernetes#131216, which maps 1024
shares (1 CPU) to weight 100, the kernel default (the older runc formula mapped 1 CPU to 39).
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import math
import os
import select
import signal
import time

from minikube_py import errors
from minikube_py.node.cgroups import common, files
from minikube_py.node.cgroups.detect import CgroupLayout
from minikube_py.node.cgroups.driver import (
    MAX_SHARES,
    MIN_SHARES,
    QUOTA_PERIOD_US,
    CgroupResources,
    CgroupStats,
    qos_tier_cgroups,
)

WANTED_CONTROLLERS = ("cpu", "memory", "pids")

_IN_MODIFY = 0x00000002
_IN_NONBLOCK = os.O_NONBLOCK
_IN_CLOEXEC = os.O_CLOEXEC


def shares_to_weight(shares: int) -> int:
    """opencontainers/cgroups ConvertCPUSharesToCgroupV2Value (post kubernetes#131216)."""
    if shares == 0:
        return 0
    if shares <= MIN_SHARES:
        return 1
    if shares >= MAX_SHARES:
        return 10000
    log = math.log2(shares)
    exponent = (log * log + 125 * log) / 612.0 - 7.0 / 34.0
    return math.ceil(math.pow(10, exponent))


class _InotifyNotifier:
    """inotify IN_MODIFY on ``memory.events``: readable whenever a counter in it changes."""

    _libc: ctypes.CDLL | None = None

    def __init__(self, cgroup_dir: str) -> None:
        libc = self._get_libc()
        fd = libc.inotify_init1(_IN_NONBLOCK | _IN_CLOEXEC)
        if fd < 0:
            err = ctypes.get_errno()
            raise errors.CgroupError(f"inotify_init1: {os.strerror(err)}", errno=err)
        self._fd = int(fd)
        path = os.path.join(cgroup_dir, "memory.events")
        if libc.inotify_add_watch(fd, path.encode(), _IN_MODIFY) < 0:
            err = ctypes.get_errno()
            self.close()
            raise errors.CgroupError(f"inotify_add_watch {path}: {os.strerror(err)}", path=path, errno=err)

    @classmethod
    def _get_libc(cls) -> ctypes.CDLL:
        if cls._libc is None:
            cls._libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        return cls._libc

    def fileno(self) -> int:
        return self._fd

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            while os.read(self._fd, 4096):
                pass

    def close(self) -> None:
        if getattr(self, "_fd", -1) >= 0:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = -1


# A PSI trigger: readable (POLLPRI) when tasks of the cgroup stalled on memory for 100 ms within any 1 s window
# (root may use windows of 0.5-10 s; unprivileged writers need multiples of 2 s on newer kernels).
PSI_MEMORY_TRIGGER = "some 100000 1000000"


class _PressureNotifier:
    """cgroup v2's stand-in for a usage threshold: one epoll fd over a PSI trigger and ``memory.events``.

    v2 has no memory usage thresholds (``cgroup.event_control`` is gone), so ``usage_bytes`` is recorded but
    not armed.  What v2 really offers: (1) a PSI trigger on ``memory.pressure`` that fires on memory stalls
    (reclaim, refaults) — pressure, not usage, so it stays silent while usage merely passes a level far below
    the limit; (2) inotify on ``memory.events``, which changes when usage hits ``memory.high``/``memory.max``
    and on OOM.  Setting ``memory.high`` at the level would give an event but also throttle the workload, so
    we do not.  Callers that need the exact crossing rely on their own fast usage sampler; this notifier only
    makes them look sooner when memory gets tight.

    The PSI fd polls readable (POLLIN) all the time and signals with POLLPRI, so it cannot go to asyncio's
    ``add_reader`` directly; an inner epoll asks for POLLPRI only and its own fd is what callers watch.  The
    kernel clears the PSI event when it is polled, so readability of ``fileno()`` is the notification.
    Without PSI (kernel built without it, or booted with ``psi=0``) only the inotify part is armed.
    """

    exact = False

    def __init__(self, cgroup_dir: str, usage_bytes: int, *, psi_trigger: str = PSI_MEMORY_TRIGGER) -> None:
        if usage_bytes <= 0:
            raise ValueError(f"a memory usage threshold must be positive, got {usage_bytes}")
        self.usage_bytes = usage_bytes
        self.psi = False
        self.psi_error: str | None = None
        self._psi_fd = -1
        self._events: _InotifyNotifier | None = None
        self._epoll = select.epoll()  # close-on-exec, like every fd Python creates
        try:
            self._arm_psi(os.path.join(cgroup_dir, "memory.pressure"), psi_trigger)
            self._events = _InotifyNotifier(cgroup_dir)
            self._epoll.register(self._events.fileno(), select.EPOLLIN)
        except BaseException:
            self.close()
            raise

    def _arm_psi(self, path: str, trigger: str) -> None:
        """Arm the PSI trigger; if the kernel refuses, note why and carry on with memory.events alone."""
        try:
            fd = os.open(path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as err:
            if err.errno == errno.ENOENT:
                self.psi_error = f"{path} does not exist (kernel without PSI, or booted with psi=0)"
            else:
                self.psi_error = f"open {path}: {os.strerror(err.errno or 0)}"
            return
        try:
            os.write(fd, trigger.encode() + b"\0")  # with the NUL, as in the kernel's PSI documentation
        except OSError as err:
            os.close(fd)
            self.psi_error = f"write {trigger!r} to {path}: {os.strerror(err.errno or 0)}"
            return
        self._psi_fd = fd
        self._epoll.register(fd, select.EPOLLPRI)
        self.psi = True

    def fileno(self) -> int:
        return self._epoll.fileno()

    def read(self) -> None:
        for fd, events in self._epoll.poll(0):
            if fd == self._psi_fd and events & (select.EPOLLERR | select.EPOLLHUP):
                # The cgroup was removed under us: the trigger would poll ready forever.
                self._epoll.unregister(fd)
        if self._events is not None:
            self._events.drain()

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None
        if self._psi_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._psi_fd)
            self._psi_fd = -1
        self._epoll.close()


AGENT_LEAF = "agent"  # where a delegated agent's own processes go (DelegateSubgroup=agent)


class V2Driver:
    name = "cgroupfs v2"

    def __init__(
        self,
        layout: CgroupLayout,
        *,
        parent: str | None = None,
        node_dir: str = "minikube_py",
        delegated: bool = False,
    ) -> None:
        if layout.unified_mount is None:
            raise errors.CgroupUnavailable("no cgroup2 hierarchy mounted")
        self._layout = layout
        mount = layout.unified_mount
        base = layout.own_dir("") if parent is None else common.join(mount.mountpoint, parent)
        self._base_parent = base
        self._root = common.join(base, node_dir)
        self._delegated: set[str] = set()  # directories whose subtree_control we have already set
        self._own_subtree = delegated  # the parent is ours alone: its processes may move into a leaf

    def _dir(self, path: str) -> str:
        return common.join(self._root, path)

    def roots(self) -> list[str]:
        return [self._root]

    def parent_memory_limit(self) -> int | None:
        path = os.path.join(self._base_parent, "memory.max")
        if not os.path.exists(path):  # the hierarchy root has no memory.max
            return None
        limit = files.read_int(path)
        return None if limit < 0 else limit

    # --- controller delegation

    def _enable_controllers(self, cgroup_dir: str) -> None:
        """Enable our controllers for the children of ``cgroup_dir`` (which must hold no processes)."""
        if cgroup_dir in self._delegated:
            return
        available = files.read_text(os.path.join(cgroup_dir, "cgroup.controllers")).split()
        enabled = files.read_text(os.path.join(cgroup_dir, "cgroup.subtree_control")).split()
        missing = [c for c in WANTED_CONTROLLERS if c in available and c not in enabled]
        if not missing:
            self._delegated.add(cgroup_dir)
            return
        try:
            files.write_text(os.path.join(cgroup_dir, "cgroup.subtree_control"), " ".join(f"+{c}" for c in missing))
        except errors.CgroupBusy as err:
            raise errors.CgroupUnavailable(
                f"cannot enable {missing} for the children of {cgroup_dir}: it holds processes "
                "(cgroup v2 'no internal processes' rule); start the agent in a delegated cgroup and move it "
                "into a leaf of its own, e.g. systemd Delegate=yes with DelegateSubgroup=",
                path=cgroup_dir,
                errno=err.errno,
            ) from err
        self._delegated.add(cgroup_dir)

    def _move_into_leaf(self) -> None:
        """Kernel rule: a cgroup with processes can't enable controllers for its children. In a delegated
        cgroup every process is the agent's (itself, its shim), so they move to ``<parent>/agent``."""
        procs = os.path.join(self._base_parent, "cgroup.procs")
        pids = [int(p) for p in files.read_text(procs).split()]
        if not pids:
            return
        leaf = os.path.join(self._base_parent, AGENT_LEAF)
        files.make_dir(leaf)
        for pid in pids:
            try:
                files.write_text(os.path.join(leaf, "cgroup.procs"), str(pid))
            except errors.CgroupError as err:
                if err.errno != errno.ESRCH:  # a process that just exited needs no move
                    raise

    # --- node

    def setup_node(self) -> None:
        if self._own_subtree:
            self._move_into_leaf()
        self._enable_controllers(self._base_parent)
        files.make_dir(self._root)
        for rel, resources in qos_tier_cgroups():
            self.create(rel, resources)

    def teardown_node(self) -> None:
        self._delegated.clear()
        common.remove_tree(self._root)

    # --- lifecycle

    def create(self, path: str, resources: CgroupResources) -> None:
        d = self._dir(path)
        self._enable_controllers(os.path.dirname(d))
        fresh = files.make_dir(d)
        self._apply(path, resources, fresh=fresh)

    def exists(self, path: str) -> bool:
        return os.path.isdir(self._dir(path))

    def update(self, path: str, resources: CgroupResources) -> None:
        self._apply(path, resources, fresh=False)

    def _apply(self, path: str, resources: CgroupResources, *, fresh: bool) -> None:
        """Write the limits; a fresh cgroup already holds the kernel defaults, so those writes are skipped."""
        d = self._dir(path)
        if not (fresh and resources.memory_limit is None):
            limit = "max" if resources.memory_limit is None else str(resources.memory_limit)
            files.write_text(os.path.join(d, "memory.max"), limit)
            if os.path.exists(os.path.join(d, "memory.swap.max")):
                # No swap beyond the limit, as the kubelet's NoSwap behaviour (v1: memsw == limit).
                files.write_text(os.path.join(d, "memory.swap.max"), "0" if resources.memory_limit else "max")
        if resources.oom_kill_whole_group and os.path.exists(os.path.join(d, "memory.oom.group")):
            files.write_text(os.path.join(d, "memory.oom.group"), "1")
        if resources.cpu_shares is not None:
            files.write_text(os.path.join(d, "cpu.weight"), str(shares_to_weight(resources.cpu_shares)))
        if not (fresh and resources.cpu_quota_us is None and resources.cpu_period_us == QUOTA_PERIOD_US):
            quota = "max" if resources.cpu_quota_us is None else str(resources.cpu_quota_us)
            files.write_text(os.path.join(d, "cpu.max"), f"{quota} {resources.cpu_period_us}")
        if os.path.exists(os.path.join(d, "pids.max")):
            if not (fresh and resources.pids_limit is None):
                pids = "max" if resources.pids_limit is None else str(resources.pids_limit)
                files.write_text(os.path.join(d, "pids.max"), pids)
        elif resources.pids_limit is not None:
            raise errors.CgroupUnavailable("a pids limit was requested but the pids controller is not enabled")

    def remove(self, path: str) -> None:
        top = self._dir(path)
        self._delegated = {d for d in self._delegated if d != top and not d.startswith(top + "/")}
        common.remove_tree(top)

    # --- processes

    def procs_files(self, path: str) -> list[str]:
        return [os.path.join(self._dir(path), "cgroup.procs")]

    def join_files(self, path: str) -> list[str]:
        return self.procs_files(path)  # v2 moves threads only inside threaded subtrees: a process joins whole

    def spawn_dir(self, path: str) -> str | None:
        # Born there, a process never migrates: a cgroup.procs write waits for an RCU grace period when the
        # threadgroup rwsem was idle (milliseconds, as on v1), and its join_files are only the fallback.
        return self._dir(path)

    def pids(self, path: str) -> list[int]:
        return common.pids_below(self._dir(path))

    def kill_all(self, path: str) -> int:
        d = self._dir(path)
        pids = common.pids_below(d)
        kill_file = os.path.join(d, "cgroup.kill")
        if os.path.exists(kill_file):
            files.write_text(kill_file, "1")
            return len(pids)
        # Before 5.14: freeze, kill, thaw.
        files.write_text(os.path.join(d, "cgroup.freeze"), "1")
        try:
            deadline = time.monotonic() + 1.0
            while time.monotonic() < deadline:
                if files.read_flat_keyed(os.path.join(d, "cgroup.events")).get("frozen") == 1:
                    break
                time.sleep(0.001)
            return common.kill_pids(common.pids_below(d), signal.SIGKILL)
        finally:
            files.write_text(os.path.join(d, "cgroup.freeze"), "0")

    # --- observation

    def memory_usage(self, path: str) -> int:
        return files.read_int(os.path.join(self._dir(path), "memory.current"))

    def memory_usage_file(self, path: str) -> str:
        return os.path.join(self._dir(path), "memory.current")

    def oom_kill_count(self, path: str) -> int:
        return files.read_flat_keyed(os.path.join(self._dir(path), "memory.events")).get("oom_kill", 0)

    def stats(self, path: str) -> CgroupStats:
        d = self._dir(path)
        cpu = files.read_flat_keyed(os.path.join(d, "cpu.stat"))
        usage = files.read_int(os.path.join(d, "memory.current"))
        mstat = files.read_flat_keyed(os.path.join(d, "memory.stat"))
        limit = files.read_int(os.path.join(d, "memory.max"))
        peak: int | None = None
        with contextlib.suppress(errors.CgroupNotFound):
            peak = files.read_int(os.path.join(d, "memory.peak"))
        pids_current: int | None = None
        with contextlib.suppress(errors.CgroupNotFound):
            pids_current = files.read_int(os.path.join(d, "pids.current"))
        return CgroupStats(
            cpu_usage_ns=cpu.get("usage_usec", 0) * 1000,
            cpu_nr_periods=cpu.get("nr_periods", 0),
            cpu_nr_throttled=cpu.get("nr_throttled", 0),
            cpu_throttled_ns=cpu.get("throttled_usec", 0) * 1000,
            memory_usage=usage,
            memory_working_set=common.working_set(usage, mstat.get("inactive_file", 0)),
            memory_limit=None if limit < 0 else limit,
            memory_peak=peak,
            oom_kill=files.read_flat_keyed(os.path.join(d, "memory.events")).get("oom_kill", 0),
            pids_current=pids_current,
        )

    def open_oom_notifier(self, path: str) -> _InotifyNotifier:
        return _InotifyNotifier(self._dir(path))

    def open_memory_threshold_notifier(self, path: str, usage_bytes: int) -> _PressureNotifier:
        return _PressureNotifier(self._dir(path), usage_bytes)

    def kernel_memory_path(self, path: str) -> str:
        mount = self._layout.unified_mount
        assert mount is not None
        rel = os.path.relpath(self._dir(path), mount.mountpoint)
        return os.path.normpath(os.path.join(mount.root, rel))

    def settings(self, path: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for name in (
            "memory.max",
            "memory.swap.max",
            "memory.oom.group",
            "cpu.weight",
            "cpu.max",
            "pids.max",
        ):
            with contextlib.suppress(errors.CgroupNotFound):
                out[name] = files.read_text(os.path.join(self._dir(path), name)).strip()
        return out
