"""cgroup v1 driver (legacy and hybrid layouts).

Facts this driver relies on (kernel 6.x, measured on the dev machines):
- every controller may be its own hierarchy (cpu and cpuacct are separate here), so one logical cgroup is
  one directory per hierarchy, and a process joins by writing "0" to each ``cgroup.procs``;
- memsw must stay >= the memory limit, so the write order depends on the direction of the change; with
  memsw == limit there is no swap beyond the limit (the kubelet's choice) and ``memory.failcnt`` stays 0 on
  OOM — ``oom_kill`` in ``memory.oom_control`` is the reliable counter, and it moves only in the victim's
  own cgroup;
- the OOM eventfd (``cgroup.event_control``) fires before the kill completes and also on rmdir;
- v1 has no ``cgroup.kill``: freeze, SIGKILL every task, thaw (frozen tasks die when thawed).

Memory and cpu files go through cgroupspy's controllers (the design's v1 library); pids and freezer, which
cgroupspy does not cover, through ``files``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator

from cgroupspy import controllers as cgspy_controllers
from cgroupspy import nodes as cgspy_nodes

from minikube_py import errors
from minikube_py.node.cgroups import common, files
from minikube_py.node.cgroups.detect import V1_REQUIRED, CgroupLayout
from minikube_py.node.cgroups.driver import (
    QUOTA_PERIOD_US,
    CgroupResources,
    CgroupStats,
    qos_tier_cgroups,
)

# memory.limit_in_bytes reads back as PAGE_COUNTER_MAX rounded to pages when unlimited.
_UNLIMITED_THRESHOLD = 1 << 62
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


@contextlib.contextmanager
def _translated(action: str, path: str) -> Iterator[None]:
    """cgroupspy raises raw OSErrors; translate them at this boundary like ``files`` does."""
    try:
        yield
    except OSError as err:
        raise files._translate(err, action, path) from err


class _EventfdNotifier:
    def __init__(self, cgroup_dir: str) -> None:
        self._efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        path = os.path.join(cgroup_dir, "memory.oom_control")
        try:
            self._ctl_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            os.close(self._efd)
            raise files._translate(err, "open", path) from err
        try:
            files.write_text(os.path.join(cgroup_dir, "cgroup.event_control"), f"{self._efd} {self._ctl_fd}")
        except errors.CgroupError:
            self.close()
            raise

    def fileno(self) -> int:
        return self._efd

    def drain(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._efd)

    def close(self) -> None:
        for fd in (getattr(self, "_efd", -1), getattr(self, "_ctl_fd", -1)):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._efd = self._ctl_fd = -1


class _UsageThresholdNotifier:
    """An eventfd registered through ``cgroup.event_control`` on ``memory.usage_in_bytes`` at a usage level.

    The kernel signals it whenever the usage crosses the level, upwards or downwards (checked every 128
    page-charge events per CPU, also for charges in descendant cgroups), and once more on rmdir.  Closing the
    eventfd unregisters it.  The kernel keeps the level in whole pages, rounded down, and signals upwards at
    ``usage >= level``; the level is rounded up here so "signalled" never means "below ``usage_bytes``".
    """

    exact = True

    def __init__(self, cgroup_dir: str, usage_bytes: int) -> None:
        if usage_bytes <= 0:
            raise ValueError(f"a memory usage threshold must be positive, got {usage_bytes}")
        self.usage_bytes = usage_bytes
        armed = -(-usage_bytes // PAGE_SIZE) * PAGE_SIZE
        self._efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        path = os.path.join(cgroup_dir, "memory.usage_in_bytes")
        try:
            self._usage_fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            os.close(self._efd)
            raise files._translate(err, "open", path) from err
        try:
            files.write_text(os.path.join(cgroup_dir, "cgroup.event_control"), f"{self._efd} {self._usage_fd} {armed}")
        except errors.CgroupError:
            self.close()
            raise

    def fileno(self) -> int:
        return self._efd

    def read(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.eventfd_read(self._efd)

    def close(self) -> None:
        for fd in (getattr(self, "_efd", -1), getattr(self, "_usage_fd", -1)):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._efd = self._usage_fd = -1


class V1Driver:
    name = "cgroupfs v1"

    def __init__(self, layout: CgroupLayout, *, parent: str | None = None, node_dir: str = "minikube_py") -> None:
        missing = [c for c in V1_REQUIRED if c not in layout.v1_mounts]
        if missing:
            raise errors.CgroupUnavailable(f"cgroup v1 controllers not mounted: {', '.join(missing)}")
        self._layout = layout
        self._roots: dict[str, str] = {}
        for ctrl, mount in layout.v1_mounts.items():
            base = layout.own_dir(ctrl) if parent is None else common.join(mount.mountpoint, parent)
            self._roots[ctrl] = common.join(base, node_dir)
        # One directory per hierarchy, even when controllers are co-mounted (cpu,cpuacct).
        self._hierarchy_roots = sorted(set(self._roots.values()))

    # --- paths

    def _dir(self, ctrl: str, path: str) -> str:
        return common.join(self._roots[ctrl], path)

    def _dirs(self, path: str) -> list[str]:
        return [common.join(root, path) for root in self._hierarchy_roots]

    def roots(self) -> list[str]:
        return list(self._hierarchy_roots)

    def parent_memory_limit(self) -> int | None:
        limit = files.read_int(os.path.join(os.path.dirname(self._roots["memory"]), "memory.limit_in_bytes"))
        return None if limit < 0 or limit >= _UNLIMITED_THRESHOLD else limit

    # --- node

    def setup_node(self) -> None:
        for root in self._hierarchy_roots:
            files.make_dir(root)
        for rel, resources in qos_tier_cgroups():
            self.create(rel, resources)

    def teardown_node(self) -> None:
        for root in self._hierarchy_roots:
            common.remove_tree(root)

    # --- lifecycle

    def create(self, path: str, resources: CgroupResources) -> None:
        fresh = all([files.make_dir(d) for d in self._dirs(path)])
        self._apply(path, resources, fresh=fresh)

    def exists(self, path: str) -> bool:
        return os.path.isdir(self._dir("memory", path))

    def update(self, path: str, resources: CgroupResources) -> None:
        self._apply(path, resources, fresh=False)

    def _apply(self, path: str, resources: CgroupResources, *, fresh: bool) -> None:
        """Write the limits; a fresh cgroup already holds the kernel defaults, so those writes are skipped."""
        mem_dir = self._dir("memory", path)
        if not (fresh and resources.memory_limit is None):
            self._set_memory_limit(mem_dir, resources.memory_limit)
        cpu_dir = self._dir("cpu", path)
        cpu = cgspy_controllers.CpuController(cgspy_nodes.Node(cpu_dir.encode()))
        with _translated("write", cpu_dir):
            if resources.cpu_shares is not None:
                cpu.shares = resources.cpu_shares
            if not (fresh and resources.cpu_period_us == QUOTA_PERIOD_US):
                cpu.cfs_period_us = resources.cpu_period_us
            if not (fresh and resources.cpu_quota_us is None):
                cpu.cfs_quota_us = resources.cpu_quota_us  # None → -1 (no limit)
        if "pids" in self._roots:
            if not (fresh and resources.pids_limit is None):
                limit = "max" if resources.pids_limit is None else str(resources.pids_limit)
                files.write_text(os.path.join(self._dir("pids", path), "pids.max"), limit)
        elif resources.pids_limit is not None:
            raise errors.CgroupUnavailable("a pids limit was requested but the pids controller is not mounted")

    def _set_memory_limit(self, mem_dir: str, limit: int | None) -> None:
        mem = cgspy_controllers.MemoryController(cgspy_nodes.Node(mem_dir.encode()))
        has_memsw = os.path.exists(os.path.join(mem_dir, "memory.memsw.limit_in_bytes"))
        with _translated("write", mem_dir):
            if not has_memsw:
                mem.limit_in_bytes = limit
                return
            # memsw >= limit at every moment: raising needs memsw first, lowering needs limit first.
            try:
                mem.limit_in_bytes = limit
                mem.memsw_limit_in_bytes = limit
            except OSError:
                mem.memsw_limit_in_bytes = limit
                mem.limit_in_bytes = limit

    def remove(self, path: str) -> None:
        for d in self._dirs(path):
            common.remove_tree(d)

    # --- processes

    def procs_files(self, path: str) -> list[str]:
        return [os.path.join(d, "cgroup.procs") for d in self._dirs(path)]

    def join_files(self, path: str) -> list[str]:
        # Kernel fact (measured here): a write to cgroup.procs write-locks the global threadgroup rwsem, which
        # waits for an RCU grace period when the lock was idle: 5-30 ms (median 13.6) per pod start.  Moving
        # only the writing thread ("0" into tasks) skips that lock: 0.17 ms.  For a single-threaded process
        # (a freshly cloned child) that thread is the whole process.
        return [os.path.join(d, "tasks") for d in self._dirs(path)]

    def spawn_dir(self, path: str) -> str | None:
        return None  # CLONE_INTO_CGROUP takes a cgroup v2 directory only

    def pids(self, path: str) -> list[int]:
        return common.pids_below(self._dir("memory", path))

    def kill_all(self, path: str) -> int:
        freezer_dir = self._dir("freezer", path)
        state = os.path.join(freezer_dir, "freezer.state")
        files.write_text(state, "FROZEN")
        try:
            # FREEZING → FROZEN normally takes microseconds; give up waiting after a second and kill anyway.
            deadline = time.monotonic() + 1.0
            while files.read_text(state).strip() != "FROZEN" and time.monotonic() < deadline:
                time.sleep(0.001)
            return common.kill_pids(common.pids_below(freezer_dir), signal.SIGKILL)
        finally:
            files.write_text(state, "THAWED")

    # --- observation

    def memory_usage(self, path: str) -> int:
        return files.read_int(os.path.join(self._dir("memory", path), "memory.usage_in_bytes"))

    def memory_usage_file(self, path: str) -> str:
        return os.path.join(self._dir("memory", path), "memory.usage_in_bytes")

    def oom_kill_count(self, path: str) -> int:
        return files.read_flat_keyed(os.path.join(self._dir("memory", path), "memory.oom_control")).get("oom_kill", 0)

    def stats(self, path: str) -> CgroupStats:
        mem_dir = self._dir("memory", path)
        mem = cgspy_controllers.MemoryController(cgspy_nodes.Node(mem_dir.encode()))
        cpu_dir = self._dir("cpu", path)
        cpu = cgspy_controllers.CpuController(cgspy_nodes.Node(cpu_dir.encode()))
        acct_dir = self._dir("cpuacct", path)
        acct = cgspy_controllers.CpuAcctController(cgspy_nodes.Node(acct_dir.encode()))
        with _translated("read", mem_dir):
            usage = int(mem.usage_in_bytes)
            mstat = files.read_flat_keyed(os.path.join(mem_dir, "memory.stat"))
            limit = int(mem.limit_in_bytes or 0)
            peak = int(mem.max_usage_in_bytes)
            oom = files.read_flat_keyed(os.path.join(mem_dir, "memory.oom_control")).get("oom_kill", 0)
        with _translated("read", cpu_dir):
            cstat = cpu.stat
        with _translated("read", acct_dir):
            cpu_usage = int(acct.usage)
        pids_current: int | None = None
        if "pids" in self._roots:
            pids_current = files.read_int(os.path.join(self._dir("pids", path), "pids.current"))
        return CgroupStats(
            cpu_usage_ns=cpu_usage,
            cpu_nr_periods=int(cstat.get("nr_periods", 0)),
            cpu_nr_throttled=int(cstat.get("nr_throttled", 0)),
            cpu_throttled_ns=int(cstat.get("throttled_time", 0)),
            memory_usage=usage,
            memory_working_set=common.working_set(usage, mstat.get("total_inactive_file", 0)),
            memory_limit=None if limit <= 0 or limit >= _UNLIMITED_THRESHOLD else limit,
            memory_peak=peak,
            oom_kill=oom,
            pids_current=pids_current,
        )

    def open_oom_notifier(self, path: str) -> _EventfdNotifier:
        return _EventfdNotifier(self._dir("memory", path))

    def open_memory_threshold_notifier(self, path: str, usage_bytes: int) -> _UsageThresholdNotifier:
        return _UsageThresholdNotifier(self._dir("memory", path), usage_bytes)

    def kernel_memory_path(self, path: str) -> str:
        mount = self._layout.v1_mounts["memory"]
        rel = os.path.relpath(self._dir("memory", path), mount.mountpoint)
        return os.path.normpath(os.path.join(mount.root, rel))

    def settings(self, path: str) -> dict[str, str]:
        wanted = {
            "memory": ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"),
            "cpu": ("cpu.shares", "cpu.cfs_quota_us", "cpu.cfs_period_us"),
            "pids": ("pids.max",),
        }
        out: dict[str, str] = {}
        for ctrl, names in wanted.items():
            if ctrl not in self._roots:
                continue
            for name in names:
                with contextlib.suppress(errors.CgroupNotFound):
                    out[name] = files.read_text(os.path.join(self._dir(ctrl, path), name)).strip()
        return out
