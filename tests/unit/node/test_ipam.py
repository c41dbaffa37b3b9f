"""The node-local pod IP allocator: addresses, round-robin, persistence, exhaustion, CIDR changes."""

from __future__ import annotations

import ipaddress
import json
import os
from pathlib import Path

import pytest

from minikube_py.node.network.errors import IPAMError, IPAMExhausted, NetworkError
from minikube_py.node.network.ipam import STATE_FILE, PodIPAM


def test_first_address_follows_the_gateway_and_allocation_is_idempotent(tmp_path: Path) -> None:
    ipam = PodIPAM(tmp_path, "10.244.3.0/24")
    assert str(ipam.gateway) == "10.244.3.1"
    assert ipam.capacity == 253  # .2 ... .254
    assert ipam.allocate("pod-a") == "10.244.3.2"
    assert ipam.allocate("pod-b") == "10.244.3.3"
    assert ipam.allocate("pod-a") == "10.244.3.2"
    assert ipam.get("pod-b") == "10.244.3.3"
    assert ipam.get("nobody") is None
    assert ipam.allocations() == {"pod-a": "10.244.3.2", "pod-b": "10.244.3.3"}
    assert len(ipam) == 2


def test_released_address_is_not_reused_at_once(tmp_path: Path) -> None:
    ipam = PodIPAM(tmp_path, "10.244.3.0/24")
    for uid in ("a", "b", "c"):
        ipam.allocate(uid)
    assert ipam.release("a") == "10.244.3.2"
    assert ipam.release("a") is None  # twice is fine
    assert ipam.allocate("d") == "10.244.3.5"


def test_small_cidr_exhausts_with_a_clear_error_and_wraps_after_release(tmp_path: Path) -> None:
    ipam = PodIPAM(tmp_path, "10.244.7.0/29")  # .0 network, .1 gateway, .2-.6 pods, .7 broadcast
    got = [ipam.allocate(f"p{i}") for i in range(5)]
    assert got == [f"10.244.7.{i}" for i in range(2, 7)]
    with pytest.raises(IPAMExhausted, match=r"no free pod IP in 10\.244\.7\.0/29: all 5 addresses") as info:
        ipam.allocate("p5")
    assert isinstance(info.value, NetworkError)
    assert ipam.get("p5") is None
    ipam.release("p1")  # 10.244.7.3
    assert ipam.allocate("p5") == "10.244.7.3"  # the only free one, found by wrapping around
    for ip in ipam.allocations().values():
        addr = ipaddress.IPv4Address(ip)
        assert addr not in (ipaddress.IPv4Address("10.244.7.0"), ipam.gateway, ipaddress.IPv4Address("10.244.7.7"))


def test_state_survives_a_restart(tmp_path: Path) -> None:
    first = PodIPAM(tmp_path, "10.244.3.0/24")
    first.allocate("a")
    first.allocate("b")
    first.release("a")
    second = PodIPAM(tmp_path, "10.244.3.0/24")  # a restarted agent
    assert second.allocations() == {"b": "10.244.3.3"}
    assert second.allocate("b") == "10.244.3.3"
    assert second.allocate("c") == "10.244.3.4"  # carries on after the last one handed out
    data = json.loads((tmp_path / STATE_FILE).read_text())
    assert data["cidr"] == "10.244.3.0/24"
    assert data["allocations"] == {"b": "10.244.3.3", "c": "10.244.3.4"}
    assert sorted(os.listdir(tmp_path)) == [STATE_FILE]  # no temporary file left


def test_the_file_is_replaced_not_rewritten_in_place(tmp_path: Path) -> None:
    ipam = PodIPAM(tmp_path, "10.244.3.0/24")
    ipam.allocate("a")
    before = (tmp_path / STATE_FILE).stat().st_ino
    ipam.allocate("b")
    assert (tmp_path / STATE_FILE).stat().st_ino != before


def test_cidr_change_is_refused_while_pods_hold_addresses(tmp_path: Path) -> None:
    ipam = PodIPAM(tmp_path, "10.244.3.0/24")
    ipam.allocate("a")
    with pytest.raises(IPAMError, match=r"changed from 10\.244\.3\.0/24 to 10\.244\.9\.0/24 while 1 pod"):
        PodIPAM(tmp_path, "10.244.9.0/24")
    ipam.release("a")
    moved = PodIPAM(tmp_path, "10.244.9.0/24")
    assert moved.allocate("b") == "10.244.9.2"
    assert json.loads((tmp_path / STATE_FILE).read_text())["cidr"] == "10.244.9.0/24"


@pytest.mark.parametrize(
    ("cidr", "message"),
    [
        ("10.244.3.5/24", "invalid pod CIDR"),  # host bits set
        ("fd00::/64", "not IPv4"),
        ("10.244.3.0/31", "too small"),
        ("nonsense", "invalid pod CIDR"),
    ],
)
def test_bad_cidrs(tmp_path: Path, cidr: str, message: str) -> None:
    with pytest.raises(IPAMError, match=message):
        PodIPAM(tmp_path, cidr)


def test_smallest_cidr_holds_one_pod(tmp_path: Path) -> None:
    ipam = PodIPAM(tmp_path, "10.244.3.0/30")
    assert ipam.capacity == 1
    assert ipam.allocate("a") == "10.244.3.2"
    with pytest.raises(IPAMExhausted):
        ipam.allocate("b")


def test_corrupt_state_is_an_error_and_an_empty_file_is_nothing(tmp_path: Path) -> None:
    path = tmp_path / STATE_FILE
    path.write_text("{not json")
    with pytest.raises(IPAMError, match="not a valid IPAM state"):
        PodIPAM(tmp_path, "10.244.3.0/24")
    path.write_text(
        json.dumps({"version": 1, "cidr": "10.244.3.0/24", "allocations": {"a": "10.244.3.2", "b": "10.244.3.2"}})
    )
    with pytest.raises(IPAMError, match="allocated twice"):
        PodIPAM(tmp_path, "10.244.3.0/24")
    path.write_text(json.dumps({"version": 1, "cidr": "10.244.3.0/24", "allocations": {"a": "10.244.3.1"}}))
    with pytest.raises(IPAMError, match="not a pod address"):  # the gateway
        PodIPAM(tmp_path, "10.244.3.0/24")
    path.write_text("")
    assert PodIPAM(tmp_path, "10.244.3.0/24").allocate("a") == "10.244.3.2"


def test_retain_releases_pods_that_are_gone(tmp_path: Path) -> None:
    ipam = PodIPAM(tmp_path, "10.244.3.0/24")
    for uid in ("a", "b", "c"):
        ipam.allocate(uid)
    assert ipam.retain(["b", "zzz"]) == {"a": "10.244.3.2", "c": "10.244.3.4"}
    assert PodIPAM(tmp_path, "10.244.3.0/24").allocations() == {"b": "10.244.3.3"}
    assert ipam.retain(["b"]) == {}


def test_destroy_removes_the_state(tmp_path: Path) -> None:
    ipam = PodIPAM(tmp_path, "10.244.3.0/24")
    ipam.allocate("a")
    ipam.destroy()
    assert not (tmp_path / STATE_FILE).exists()
    assert ipam.allocations() == {}
    ipam.destroy()  # twice is fine
    assert PodIPAM(tmp_path, "10.244.3.0/24").allocate("b") == "10.244.3.2"


def test_a_failed_write_leaves_nothing_allocated(tmp_path: Path) -> None:
    ipam = PodIPAM(tmp_path, "10.244.3.0/24")
    ipam.allocate("a")
    (tmp_path / f"{STATE_FILE}.tmp.{os.getpid()}").mkdir()  # the temporary file cannot be created
    with pytest.raises(IPAMError, match="cannot write"):
        ipam.allocate("b")
    with pytest.raises(IPAMError, match="cannot write"):
        ipam.release("a")
    assert ipam.allocations() == {"a": "10.244.3.2"}
    assert ipam.get("b") is None
    (tmp_path / f"{STATE_FILE}.tmp.{os.getpid()}").rmdir()
    assert ipam.allocate("b") == "10.244.3.3"  # the failed attempt did not move the round-robin
    assert PodIPAM(tmp_path, "10.244.3.0/24").allocations() == {"a": "10.244.3.2", "b": "10.244.3.3"}


def test_empty_uid_is_refused(tmp_path: Path) -> None:
    with pytest.raises(IPAMError):
        PodIPAM(tmp_path, "10.244.3.0/24").allocate("")
