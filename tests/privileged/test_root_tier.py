"""Proves the root tier runs for real: a cgroup created and removed under the test's own cgroup."""

from __future__ import annotations

import os

import pytest

from minikube_py.node.cgroups.driver import CgroupDriver, CgroupResources

pytestmark = [pytest.mark.root, pytest.mark.cgv2guest]


def test_cgroup_created_under_own_cgroup_and_removed(cgroup_driver: CgroupDriver) -> None:
    cgroup_driver.setup_node()
    roots = cgroup_driver.roots()
    for root in roots:
        assert os.path.isdir(root)
        # never at a hierarchy root: the node directory sits below the cgroup this process runs in
        assert os.path.basename(root).startswith("mkpy-test-")
    # The kubelet's QoS tiers exist, BestEffort pinned to the minimum cpu weight.
    besteffort = cgroup_driver.settings("kubepods/besteffort")
    assert besteffort.get("cpu.shares", besteffort.get("cpu.weight")) in ("2", "1")
    assert cgroup_driver.exists("kubepods/burstable")
    cgroup_driver.create("kubepods/probe", CgroupResources(memory_limit=64 << 20))
    assert cgroup_driver.exists("kubepods/probe")
    assert cgroup_driver.stats("kubepods/probe").memory_limit == 64 << 20
    cgroup_driver.remove("kubepods/probe")
    assert not cgroup_driver.exists("kubepods/probe")
    cgroup_driver.teardown_node()
    for root in roots:
        assert not os.path.exists(root)
