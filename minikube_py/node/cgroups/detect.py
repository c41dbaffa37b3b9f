"""Detect the cgroup layout (v1 legacy/hybrid or v2 unified) and where the agent itself sits in it.

The answer comes from ``/proc/self/mountinfo`` and ``/proc/self/cgroup`` (both paths injectable), so tests
can replay any machine's layout.  On this project's dev machines the layout is a v1 hybrid: every v1
controller has its own hierarchy and ``/sys/fs/cgroup/unified`` is a cgroup2 mount that holds only
``hugetlb`` — that is still a v1 machine for our purposes.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass, field

from minikube_py import errors

# The v1 controllers the driver uses.  cpu and cpuacct may be co-mounted ("cpu,cpuacct") or separate.
V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "freezer")
V1_REQUIRED = ("cpu", "cpuacct", "memory", "freezer")


class Mode(enum.Enum):
    UNAVAILABLE = "unavailable"
    LEGACY = "legacy"  # v1 only
    HYBRID = "hybrid"  # v1 controllers plus a (mostly empty) cgroup2 mount
    UNIFIED = "unified"  # pure cgroup v2


@dataclass(frozen=True)
class Mount:
    mountpoint: str
    root: str  # the hierarchy path this mount exposes ("/" unless inside a cgroup namespace or bind mount)
    fstype: str
    super_options: tuple[str, ...]


@dataclass(frozen=True)
class CgroupLayout:
    mode: Mode
    cgroupfs: str
    unified_mount: Mount | None = None
    v1_mounts: dict[str, Mount] = field(default_factory=dict)  # controller -> mount
    own_paths: dict[str, str] = field(default_factory=dict)  # controller (or "" for v2) -> hierarchy path

    def own_dir(self, controller: str) -> str:
        """The directory of the agent's own cgroup for a v1 controller, or for v2 with ``controller=""``."""
        mount = self.unified_mount if controller == "" else self.v1_mounts.get(controller)
        if mount is None:
            raise errors.CgroupUnavailable(f"no cgroup hierarchy for controller {controller or 'v2'!r}")
        path = self.own_paths.get(controller, "/")
        # Paths in /proc/self/cgroup are relative to the hierarchy root; the mount may expose a subtree.
        if mount.root != "/" and (path == mount.root or path.startswith(mount.root.rstrip("/") + "/")):
            path = path[len(mount.root.rstrip("/")) :] or "/"
        return os.path.normpath(mount.mountpoint + "/" + path.lstrip("/"))


def parse_mountinfo(text: str) -> list[Mount]:
    mounts = []
    for line in text.splitlines():
        left, sep, right = line.partition(" - ")
        if not sep:
            continue
        lf = left.split()
        rf = right.split()
        if len(lf) < 5 or len(rf) < 3:
            continue
        mounts.append(
            Mount(
                mountpoint=_unescape(lf[4]),
                root=_unescape(lf[3]),
                fstype=rf[0],
                super_options=tuple(rf[2].split(",")),
            )
        )
    return mounts


def _unescape(path: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal (\040 ...).
    if "\\" not in path:
        return path
    out, i = [], 0
    while i < len(path):
        if path[i] == "\\" and i + 3 < len(path) and path[i + 1 : i + 4].isdigit():
            out.append(chr(int(path[i + 1 : i + 4], 8)))
            i += 4
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def parse_proc_cgroup(text: str) -> dict[str, str]:
    """``/proc/self/cgroup`` → {controller: path}; the v2 entry ("0::/path") has the key ``""``."""
    result: dict[str, str] = {}
    for line in text.splitlines():
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":
            result[""] = path
        for ctrl in controllers.split(","):
            if ctrl:
                result[ctrl] = path
    return result


def detect_layout(
    *,
    cgroupfs: str = "/sys/fs/cgroup",
    mountinfo_path: str = "/proc/self/mountinfo",
    proc_cgroup_path: str = "/proc/self/cgroup",
) -> CgroupLayout:
    with open(mountinfo_path) as f:
        mounts = parse_mountinfo(f.read())
    with open(proc_cgroup_path) as f:
        own = parse_proc_cgroup(f.read())
    return layout_from(mounts, own, cgroupfs=cgroupfs)


def layout_from(mounts: list[Mount], own: dict[str, str], *, cgroupfs: str = "/sys/fs/cgroup") -> CgroupLayout:
    cgroupfs = os.path.normpath(cgroupfs)
    unified: Mount | None = None
    v1: dict[str, Mount] = {}
    for m in mounts:
        if m.fstype == "cgroup2" and (m.mountpoint == cgroupfs or m.mountpoint.startswith(cgroupfs + "/")):
            # Prefer the mount at the cgroupfs root itself (pure v2) over e.g. /sys/fs/cgroup/unified.
            if unified is None or m.mountpoint == cgroupfs:
                unified = m
        elif m.fstype == "cgroup":
            for opt in m.super_options:
                if opt in V1_CONTROLLERS and opt not in v1:
                    v1[opt] = m
    if unified is not None and unified.mountpoint == cgroupfs:
        return CgroupLayout(Mode.UNIFIED, cgroupfs, unified_mount=unified, own_paths=own)
    if v1:
        mode = Mode.HYBRID if unified is not None else Mode.LEGACY
        return CgroupLayout(mode, cgroupfs, unified_mount=unified, v1_mounts=v1, own_paths=own)
    return CgroupLayout(Mode.UNAVAILABLE, cgroupfs, own_paths=own)
