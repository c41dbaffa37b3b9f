"""tests/vm/cluster.py: picking the guests' subnet, and the network it builds and removes (no QEMU needed)."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest

from tests.vm import cluster

ROUTES_WITH_OURS = """default via 192.0.2.1 dev eth0
10.77.0.0/24 dev mkvmabcdef proto kernel scope link src 10.77.0.254
192.0.2.0/24 dev eth0 proto kernel scope link src 192.0.2.2
local 10.77.0.254 dev mkvmabcdef table local proto kernel scope host src 10.77.0.254
broadcast 10.77.0.255 dev mkvmabcdef table local proto kernel scope link src 10.77.0.254
"""


def fake_routes(monkeypatch: pytest.MonkeyPatch, text: str) -> None:
    def fake_ip(*args: str, check: bool = True) -> str:
        assert args[:3] == ("-4", "route", "show"), args
        return text

    monkeypatch.setattr(cluster, "ip", fake_ip)


def test_pick_prefix_prefers_10_77_0(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_routes(monkeypatch, "default via 192.0.2.1 dev eth0\n192.0.2.0/24 dev eth0 proto kernel scope link\n")
    assert cluster.pick_prefix() == "10.77.0"


def test_pick_prefix_avoids_a_subnet_in_use(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_routes(monkeypatch, ROUTES_WITH_OURS + "10.77.1.0/24 dev other scope link\n")
    assert cluster.pick_prefix() == "10.77.2"


def test_pick_prefix_fails_when_everything_overlaps(monkeypatch: pytest.MonkeyPatch) -> None:
    fake_routes(monkeypatch, "10.77.0.0/16 dev vpn scope link\n")
    with pytest.raises(cluster.LanError, match="no free /24"):
        cluster.pick_prefix()


def test_addresses() -> None:
    lan = cluster.GuestLan("abcdef", "10.77.3", ("tap1", "tap2"))
    assert (lan.host_ip, lan.guest_ip(0), lan.guest_ip(1)) == ("10.77.3.254", "10.77.3.11", "10.77.3.12")
    assert (lan.netns, lan.host_if) == ("mkpyvm-abcdef", "mkvmabcdef")
    assert len(lan.host_if) <= 15  # IFNAMSIZ - 1
    assert cluster.mac_address(lan, 1) == "52:54:4d:03:00:0c"


SERVER = """
import socket, sys
s = socket.socket()
s.bind((sys.argv[1], 7777))
s.listen(1)
print("listening", flush=True)
conn, _ = s.accept()
conn.sendall(b"ok")
"""


def link_masters(netns: str) -> dict[str, str]:
    out = cluster.ip("-n", netns, "-o", "link")
    masters = {}
    for line in out.splitlines():
        name = line.split(":")[1].strip().split("@")[0]
        words = line.split()
        masters[name] = words[words.index("master") + 1] if "master" in words else ""
    return masters


@pytest.mark.root
def test_guest_lan_is_built_and_removed_also_on_failure() -> None:
    with pytest.raises(RuntimeError, match="boom"), cluster.guest_lan(2) as lan:
        masters = link_masters(lan.netns)
        assert masters["uplink"] == masters["tap1"] == masters["tap2"] == "br0"
        assert f"inet {lan.host_ip}/24" in cluster.ip("-o", "addr", "show", "dev", lan.host_if)
        # The machine reaches the bridge's far side over the veth: a server bound in the namespace answers.
        far = lan.guest_ip(5)
        cluster.ip("-n", lan.netns, "addr", "add", f"{far}/24", "dev", "br0")
        argv = ["nsenter", f"--net={lan.netns_path}", "--", sys.executable, "-c", SERVER, far]
        with subprocess.Popen(argv, stdout=subprocess.PIPE) as server:
            try:
                assert server.stdout is not None and server.stdout.readline() == b"listening\n"
                with socket.create_connection((far, 7777), timeout=5) as conn:
                    assert conn.recv(16) == b"ok"
            finally:
                server.kill()
        raise RuntimeError("boom")
    assert cluster.leftovers(lan) == []
