"""Eviction signals from a replayed procfs and a stand-in cgroup driver (the real path is a root test)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from minikube_py.node.cgroups.driver import CgroupStats
from minikube_py.node.signals import SignalReader
from minikube_py.util.diskusage import disk_usage

MEMINFO = "MemTotal: 1000000 kB\nMemFree: 200000 kB\nBuffers: 10000 kB\nCached: 300000 kB\nActive(file): 100000 kB\n"


class _Driver:
    def __init__(self, limit: int | None, working_set: int) -> None:
        self.limit, self.working_set = limit, working_set

    def stats(self, path: str) -> CgroupStats:
        assert path == "kubepods"
        return CgroupStats(0, 0, 0, 0, self.working_set, self.working_set, self.limit, None, 0, None)


def _procfs(tmp_path: Path) -> Path:
    proc = tmp_path / "proc"
    (proc / "sys/kernel").mkdir(parents=True)
    (proc / "meminfo").write_text(MEMINFO)
    (proc / "sys/kernel/pid_max").write_text("4194304\n")
    for pid in (1, 2, 30):
        (proc / str(pid)).mkdir()
    (proc / "self").mkdir()
    return proc


def test_machine_memory_when_the_node_is_not_bounded(tmp_path: Path) -> None:
    driver: Any = _Driver(limit=None, working_set=0)
    signals = SignalReader(driver, str(tmp_path), procfs=str(_procfs(tmp_path))).read()
    assert signals.memory_capacity == 1_000_000 * 1024
    # working set = total - free - buffers - cached + active_file = 590000 kB
    assert signals.memory_working_set == 590_000 * 1024
    assert signals.memory_available == 410_000 * 1024
    assert (signals.pid_max, signals.pids_running, signals.pid_available) == (4194304, 3, 4194301)
    assert signals.nodefs_capacity > 0 and 0 <= signals.nodefs_available <= signals.nodefs_capacity


def test_node_cgroup_is_the_node_when_its_capacity_is_enforced(tmp_path: Path) -> None:
    driver: Any = _Driver(limit=512 << 20, working_set=400 << 20)
    signals = SignalReader(driver, str(tmp_path), procfs=str(_procfs(tmp_path))).read()
    assert (signals.memory_capacity, signals.memory_available) == (512 << 20, 112 << 20)


def test_pod_disk_usage_counts_blocks_once(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"x" * 100_000)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b").write_bytes(b"y" * 50_000)
    (tmp_path / "hard").hardlink_to(tmp_path / "a")
    used, inodes = disk_usage(str(tmp_path))
    assert 150_000 <= used <= 150_000 + 5 * 8192
    assert inodes == 3  # a, sub, sub/b; the hard link is the same inode as a


def test_disk_usage_of_a_missing_directory_is_zero(tmp_path: Path) -> None:
    assert disk_usage(str(tmp_path / "gone")) == (0, 0)
