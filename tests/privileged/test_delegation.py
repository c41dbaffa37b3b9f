"""A delegated agent on cgroup v2 (systemd ``Delegate=yes`` without ``DelegateSubgroup=``): its own processes
sit in the cgroup it must create children under, which the kernel's no-internal-processes rule forbids, until
``--delegated-cgroup`` moves them into a leaf. Runs in the pure cgroup v2 guest (skipped on the v1 host)."""

from __future__ import annotations

import os
import subprocess
import time

import pytest

from minikube_py import errors
from minikube_py.node.cgroups import detect
from minikube_py.node.cgroups.driver import CgroupDriver, CgroupResources
from minikube_py.node.cgroups.v2 import AGENT_LEAF, V2Driver

pytestmark = [pytest.mark.root, pytest.mark.cgv2guest]


def _procs(path: str) -> list[int]:
    with open(os.path.join(path, "cgroup.procs")) as f:
        return [int(p) for p in f.read().split()]


def test_delegated_agent_moves_its_processes_into_a_leaf(cgroup_driver: CgroupDriver) -> None:
    layout = detect.detect_layout()
    if layout.mode is not detect.Mode.UNIFIED or layout.unified_mount is None:
        pytest.skip("the no-internal-processes rule is cgroup v2's")
    cgroup_driver.setup_node()
    # A stand-in for the unit's cgroup: created by this test, holding one process of the test's.
    unit = os.path.join(cgroup_driver.roots()[0], "unit")
    os.mkdir(unit)
    sleeper = subprocess.Popen(["sleep", "600"])
    try:
        with open(os.path.join(unit, "cgroup.procs"), "w") as f:
            f.write(str(sleeper.pid))
        parent = os.path.relpath(unit, layout.unified_mount.mountpoint)

        plain = V2Driver(layout, parent=parent, node_dir="node")
        with pytest.raises(errors.CgroupUnavailable, match="no internal processes"):
            plain.setup_node()

        delegated = V2Driver(layout, parent=parent, node_dir="node", delegated=True)
        delegated.setup_node()
        assert _procs(unit) == []
        assert _procs(os.path.join(unit, AGENT_LEAF)) == [sleeper.pid]
        with open(os.path.join(unit, "cgroup.subtree_control")) as f:
            assert {"memory", "cpu", "pids"} <= set(f.read().split())
        delegated.create("kubepods/besteffort/podx", CgroupResources(memory_limit=64 << 20))
        with open(os.path.join(unit, "node", "kubepods", "besteffort", "podx", "memory.max")) as f:
            assert int(f.read()) == 64 << 20
        delegated.teardown_node()
    finally:
        sleeper.kill()
        sleeper.wait()
        deadline = time.monotonic() + 5
        for leftover in (os.path.join(unit, AGENT_LEAF), unit):
            while os.path.isdir(leftover):
                try:
                    os.rmdir(leftover)
                except OSError:
                    assert time.monotonic() < deadline, f"cannot remove {leftover}"
                    time.sleep(0.05)
