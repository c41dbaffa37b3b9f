"""Helpers shared by the v1 and v2 drivers (nothing version-specific)."""

from __future__ import annotations

import os

from minikube_py import errors
from minikube_py.node.cgroups import files


def join(base: str, rel: str) -> str:
    rel = rel.strip("/")
    if ".." in rel.split("/"):
        raise errors.CgroupError(f"cgroup path {rel!r} must not contain '..'", path=rel)
    return os.path.join(base, rel) if rel else base


def subdirs_bottom_up(top: str) -> list[str]:
    """Every cgroup directory at or below ``top``, children before parents."""
    if not os.path.isdir(top):
        return []
    out: list[str] = []
    for dirpath, _dirnames, _files in os.walk(top, topdown=False):
        out.append(dirpath)
    return out


def remove_tree(top: str) -> None:
    """rmdir ``top`` and everything below it, deepest first (cgroup dirs hold only kernel files)."""
    for d in subdirs_bottom_up(top):
        files.remove_dir(d)


def pids_below(top: str, procs_name: str = "cgroup.procs") -> list[int]:
    pids: list[int] = []
    for d in subdirs_bottom_up(top):
        try:
            pids.extend(files.read_pids(os.path.join(d, procs_name)))
        except errors.CgroupNotFound:
            continue
    return pids


def kill_pids(pids: list[int], sig: int) -> int:
    count = 0
    for pid in pids:
        try:
            os.kill(pid, sig)
            count += 1
        except ProcessLookupError:
            continue
    return count


def working_set(usage: int, inactive_file: int) -> int:
    return max(0, usage - inactive_file)
