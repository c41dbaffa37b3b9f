"""Small readers for /proc and the cgroup v1 mounts (memory figures in KiB, as the kernel prints them)."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from dataclasses import dataclass


def read_kib_fields(path: str) -> dict[str, int]:
    """Parse ``Name:   123 kB`` lines (smaps_rollup, status) into {name: KiB}."""
    out: dict[str, int] = {}
    with open(path) as f:
        for line in f:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
                out[name.strip()] = int(parts[0])
    return out


def smaps_rollup(pid: int) -> dict[str, int]:
    return read_kib_fields(f"/proc/{pid}/smaps_rollup")


def rss_kib(pid: int | str = "self") -> int:
    return read_kib_fields(f"/proc/{pid}/status").get("VmRSS", 0)


def own_cgroup_paths(pid: int | str = "self") -> dict[str, str]:
    """{controller: path} from /proc/PID/cgroup; "" is the cgroup2 entry, "name=systemd" is kept as is."""
    out: dict[str, str] = {}
    with open(f"/proc/{pid}/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for ctrl in controllers.split(",") if controllers else [""]:
                out[ctrl] = path
    return out


@dataclass(frozen=True)
class Hierarchy:
    mountpoint: str
    root: str  # the hierarchy path the mount exposes (mountinfo field 4)
    options: str  # super options: the controllers, or name=...


def v1_hierarchies(mountinfo: str = "/proc/self/mountinfo") -> list[Hierarchy]:
    """Every cgroup v1 mount (controllers and named hierarchies), one entry per mountpoint."""
    out: list[Hierarchy] = []
    with open(mountinfo) as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, rfields = left.split(), right.split()
            if rfields and rfields[0] == "cgroup":
                out.append(Hierarchy(mountpoint=fields[4], root=fields[3], options=rfields[2]))
    return out


def hierarchy_dir(h: Hierarchy, cgroup_path: str) -> str:
    """Directory of an absolute hierarchy path under a mount (mounts of a subtree are honoured)."""
    rel = cgroup_path
    root = h.root.rstrip("/")
    if root and (rel == root or rel.startswith(root + "/")):
        rel = rel[len(root) :]
    return os.path.normpath(os.path.join(h.mountpoint, rel.lstrip("/")))


def kill_and_reap(pid: int, timeout: float = 5.0) -> None:
    """SIGKILL ``pid`` and reap it if it is our child (or was re-parented to us, the subreaper)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return
        if done:
            return
        time.sleep(0.002)


def children(pid: int) -> list[int]:
    out: list[int] = []
    with contextlib.suppress(FileNotFoundError, ProcessLookupError):
        for tid in os.listdir(f"/proc/{pid}/task"):
            with contextlib.suppress(FileNotFoundError), open(f"/proc/{pid}/task/{tid}/children") as f:
                out.extend(int(x) for x in f.read().split())
    return out
