"""Layout detection replayed from real mountinfo/cgroup files (no root needed)."""

from __future__ import annotations

import pytest

from minikube_py import errors
from minikube_py.node.cgroups import detect

HYBRID_MOUNTINFO = """\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
"""
HYBRID_SELF = """\
9:name=systemd:/
8:pids:/
6:freezer:/
4:memory:/process_api/abc
2:cpuacct:/
1:cpu:/
0::/
"""
UNIFIED_MOUNTINFO = "25 1 0:22 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate\n"
COMOUNTED_MOUNTINFO = """\
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 /kube /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer
"""


def test_hybrid_layout_is_v1_with_own_paths() -> None:
    layout = detect.layout_from(detect.parse_mountinfo(HYBRID_MOUNTINFO), detect.parse_proc_cgroup(HYBRID_SELF))
    assert layout.mode is detect.Mode.HYBRID
    assert layout.own_dir("memory") == "/sys/fs/cgroup/memory/process_api/abc"
    assert layout.own_dir("cpu") == "/sys/fs/cgroup/cpu"
    assert set(layout.v1_mounts) == {"cpu", "cpuacct", "memory", "freezer", "pids"}


def test_unified_layout_is_v2() -> None:
    layout = detect.layout_from(detect.parse_mountinfo(UNIFIED_MOUNTINFO), {"": "/system.slice/agent.service"})
    assert layout.mode is detect.Mode.UNIFIED
    assert layout.own_dir("") == "/sys/fs/cgroup/system.slice/agent.service"


def test_comounted_controllers_and_mount_root() -> None:
    own = detect.parse_proc_cgroup("3:cpu,cpuacct:/a\n2:memory:/kube/pod1\n1:freezer:/\n")
    layout = detect.layout_from(detect.parse_mountinfo(COMOUNTED_MOUNTINFO), own)
    assert layout.mode is detect.Mode.LEGACY
    assert layout.v1_mounts["cpu"] is layout.v1_mounts["cpuacct"]
    assert layout.own_dir("cpuacct") == "/sys/fs/cgroup/cpu,cpuacct/a"
    # the memory mount exposes /kube, so /kube/pod1 lives at <mount>/pod1
    assert layout.own_dir("memory") == "/sys/fs/cgroup/memory/pod1"


def test_no_cgroups_is_unavailable() -> None:
    layout = detect.layout_from([], {})
    assert layout.mode is detect.Mode.UNAVAILABLE
    with pytest.raises(errors.CgroupUnavailable):
        layout.own_dir("memory")


def test_mountinfo_octal_escapes() -> None:
    (mount,) = detect.parse_mountinfo(r"1 0 0:1 / /mnt/with\040space rw - cgroup2 cgroup2 rw" "\n")
    assert mount.mountpoint == "/mnt/with space"


def test_this_machine_layout_is_detected() -> None:
    layout = detect.detect_layout()
    assert layout.mode is not detect.Mode.UNAVAILABLE
