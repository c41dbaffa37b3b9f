"""The eviction signals, read from the real kernel (reference §7).

- ``memory.available`` = capacity − working set, where working set = usage − inactive_file (floored at 0) of
  the node's cgroup: the node's ``kubepods`` when its capacity is enforced there (``up --node-memory``),
  otherwise the machine (MemTotal and the root memory cgroup, like cAdvisor's root container).
- ``nodefs.available`` / ``nodefs.inodesFree``: statvfs of the agent's data directory, which holds pod logs
  and emptyDir volumes.
- ``pid.available`` = ``kernel.pid_max`` − running processes.
Every path is a parameter so tests can point it at fixtures; nothing here writes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from minikube_py.node.cgroups.driver import KUBEPODS, CgroupDriver


@dataclass(frozen=True)
class NodeSignals:
    memory_capacity: int
    memory_working_set: int
    nodefs_capacity: int
    nodefs_available: int
    nodefs_inodes: int
    nodefs_inodes_free: int
    pid_max: int
    pids_running: int
    observed_at: float

    @property
    def memory_available(self) -> int:
        return max(0, self.memory_capacity - self.memory_working_set)

    @property
    def pid_available(self) -> int:
        return max(0, self.pid_max - self.pids_running)


def _meminfo(procfs: str) -> dict[str, int]:
    out = {}
    with open(os.path.join(procfs, "meminfo")) as f:
        for line in f:
            key, _, rest = line.partition(":")
            parts = rest.split()
            if parts:
                out[key] = int(parts[0]) * (1024 if len(parts) > 1 and parts[1] == "kB" else 1)
    return out


class SignalReader:
    def __init__(
        self, driver: CgroupDriver, data_dir: str, *, procfs: str = "/proc", machine_cgroup: str | None = None
    ) -> None:
        self.driver = driver
        self.data_dir = data_dir
        self.procfs = procfs
        # The root memory cgroup's stats describe the whole machine (v1 root has memory.usage_in_bytes; on
        # v2 the root has no memory.current, so MemTotal − MemAvailable stands in).
        self.machine_cgroup = machine_cgroup

    def read(self) -> NodeSignals:
        memory_capacity, working_set = self._memory()
        fs = os.statvfs(self.data_dir)
        with open(os.path.join(self.procfs, "sys/kernel/pid_max")) as f:
            pid_max = int(f.read())
        pids = sum(1 for name in os.listdir(self.procfs) if name.isdigit())
        return NodeSignals(
            memory_capacity=memory_capacity,
            memory_working_set=working_set,
            nodefs_capacity=fs.f_blocks * fs.f_frsize,
            nodefs_available=fs.f_bavail * fs.f_frsize,
            nodefs_inodes=fs.f_files,
            nodefs_inodes_free=fs.f_favail,
            pid_max=pid_max,
            pids_running=pids,
            observed_at=time.time(),
        )

    def _memory(self) -> tuple[int, int]:
        stats = self.driver.stats(KUBEPODS)
        if stats.memory_limit is not None:
            # The node's capacity is enforced on kubepods: that cgroup is the node.
            return stats.memory_limit, stats.memory_working_set
        meminfo = _meminfo(self.procfs)
        total = meminfo["MemTotal"]
        # Machine-wide working set: what is in use minus inactive page cache (cAdvisor's root container).
        used = total - meminfo.get("MemFree", 0) - meminfo.get("Buffers", 0) - meminfo.get("Cached", 0)
        used += meminfo.get("Active(file)", 0)
        return total, max(0, used)
