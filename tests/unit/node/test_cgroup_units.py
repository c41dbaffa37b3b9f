"""Kubelet unit conversions: millicores → shares/quota, shares → cgroup v2 weight."""

from __future__ import annotations

import pytest

from minikube_py import errors
from minikube_py.node.cgroups import common
from minikube_py.node.cgroups.driver import QOSTier, milli_cpu_to_quota, milli_cpu_to_shares, pod_cgroup_path
from minikube_py.node.cgroups.v2 import shares_to_weight


@pytest.mark.parametrize(
    ("milli", "shares", "weight"),
    # k8s-semantics §4 table, "weight new" column (opencontainers/cgroups after kubernetes#131216)
    [
        (0, 2, 1),
        (1, 2, 1),
        (10, 10, 4),
        (100, 102, 17),
        (250, 256, 35),
        (500, 512, 59),
        (1000, 1024, 100),
        (2000, 2048, 174),
        (4000, 4096, 303),
    ],
)
def test_shares_and_weight(milli: int, shares: int, weight: int) -> None:
    assert milli_cpu_to_shares(milli) == shares
    assert shares_to_weight(shares) == weight


def test_shares_clamp_and_weight_bounds() -> None:
    assert milli_cpu_to_shares(10_000_000) == 262144
    assert shares_to_weight(262144) == 10000
    assert shares_to_weight(0) == 0


@pytest.mark.parametrize(("milli", "quota"), [(500, 50000), (2000, 200000), (5, 1000), (200, 20000), (10, 1000)])
def test_quota(milli: int, quota: int) -> None:
    assert milli_cpu_to_quota(milli) == quota


def test_pod_cgroup_paths_follow_the_kubelet() -> None:
    assert pod_cgroup_path(QOSTier.GUARANTEED, "u1") == "kubepods/podu1"
    assert pod_cgroup_path(QOSTier.BURSTABLE, "u1") == "kubepods/burstable/podu1"
    assert pod_cgroup_path(QOSTier.BESTEFFORT, "u1") == "kubepods/besteffort/podu1"


def test_relative_paths_cannot_escape() -> None:
    with pytest.raises(errors.CgroupError):
        common.join("/sys/fs/cgroup/memory/x", "../../etc")
