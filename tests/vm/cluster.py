"""Several QEMU guests on one private network, for tests that need real machines talking to each other.

Topology (see /work/shared/reference/cgroup-v2-guests.md, section 6.C.1)::

    machine (root netns)                 netns mkpyvm-<tok>                      guests (TCG, 9p root)
    mkvm<tok>  <prefix>.254/24  ==veth==  uplink --+-- br0 --+-- tap1 ==QEMU==  eth0 <prefix>.11/24
                                                             +-- tap2 ==QEMU==  eth0 <prefix>.12/24

The bridge, the taps and QEMU live in a network namespace made for the occasion (QEMU is started under
``nsenter --net``, which switches nothing but the network namespace); the machine gets one veth end with the
``.254`` address, where a server under test (the control plane) can listen and whence the test reaches the
guests directly.  Nothing is configured on the machine's own interfaces or routes: the only change in its
namespace is that veth and its connected route.  Guests configure ``eth0`` statically from their init script
(``mk.ip=``, tests/vm/init.sh), there is no DHCP and no default route.  :func:`guest_lan` removes the veth and
the namespace (which takes the bridge and the taps along) in ``finally``; :func:`networked_guests` kills
every QEMU it started before that, also on failure.

``<prefix>`` is ``10.77.0`` unless another run on this machine already routes that /24 (then the first free
``10.77.N``), so two test runs at once don't fight over addresses.
"""

from __future__ import annotations

import contextlib
import dataclasses
import ipaddress
import re
import secrets
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from tests.vm import guest

HOST_OCTET = 254
FIRST_GUEST_OCTET = 11
BRIDGE = "br0"
UPLINK = "uplink"
DEFAULT_PREFIX = "10.77.0"
# Printed by the guest command's first line: the time from QEMU's start to it is the boot time.
BOOTED_MARKER = "@@mkpy-guest-booted@@"


class LanError(RuntimeError):
    pass


def ip(*args: str, check: bool = True) -> str:
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=False)
    if check and result.returncode != 0:
        raise LanError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def routed_networks() -> list[ipaddress.IPv4Network]:
    """The networks the machine's namespace has routes into (any table), default routes left out."""
    found = []
    for line in ip("-4", "route", "show", "table", "all").splitlines():
        words = line.split()
        if words and words[0] in ("broadcast", "local", "multicast", "unicast"):
            words = words[1:]
        with contextlib.suppress(ValueError, IndexError):
            network = ipaddress.IPv4Network(words[0], strict=False)
            if network.prefixlen > 0:
                found.append(network)
    return found


def pick_prefix(preferred: str = DEFAULT_PREFIX) -> str:
    """``preferred`` ("a.b.c") unless a route on this machine overlaps it, else the first free a.b.N."""
    busy = routed_networks()
    base = preferred.rsplit(".", 1)[0]
    for candidate in [preferred, *(f"{base}.{third}" for third in range(1, 64))]:
        network = ipaddress.IPv4Network(f"{candidate}.0/24")
        if not any(network.overlaps(other) for other in busy):
            return candidate
    raise LanError(f"no free /24 under {base}.0.0/16 on this machine")


@dataclasses.dataclass(frozen=True)
class GuestLan:
    token: str
    prefix: str
    taps: tuple[str, ...]

    @property
    def netns(self) -> str:
        return f"mkpyvm-{self.token}"

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.netns}"

    @property
    def host_if(self) -> str:
        return f"mkvm{self.token}"

    @property
    def host_ip(self) -> str:
        return f"{self.prefix}.{HOST_OCTET}"

    def guest_ip(self, index: int) -> str:
        """Address of guest ``index`` (0-based): .11, .12, ..."""
        return f"{self.prefix}.{FIRST_GUEST_OCTET + index}"


@contextlib.contextmanager
def guest_lan(guests: int, *, prefix: str | None = None) -> Iterator[GuestLan]:
    """Namespace, bridge, ``guests`` taps and the veth to the machine; all removed on exit."""
    if not 1 <= guests <= HOST_OCTET - FIRST_GUEST_OCTET:
        raise ValueError(f"cannot put {guests} guests on one /24")
    token = secrets.token_hex(3)
    lan = GuestLan(token, prefix or pick_prefix(), tuple(f"tap{i + 1}" for i in range(guests)))
    created_netns = False
    try:
        ip("netns", "add", lan.netns)
        created_netns = True
        ip("-n", lan.netns, "link", "set", "lo", "up")
        ip("-n", lan.netns, "link", "add", BRIDGE, "type", "bridge")
        ip("-n", lan.netns, "link", "set", BRIDGE, "up")
        ip("link", "add", lan.host_if, "type", "veth", "peer", "name", UPLINK, "netns", lan.netns)
        ip("-n", lan.netns, "link", "set", UPLINK, "master", BRIDGE, "up")
        ip("addr", "add", f"{lan.host_ip}/24", "dev", lan.host_if)
        ip("link", "set", lan.host_if, "up")
        for tap in lan.taps:
            ip("-n", lan.netns, "tuntap", "add", "dev", tap, "mode", "tap")
            ip("-n", lan.netns, "link", "set", tap, "master", BRIDGE, "up")
        yield lan
    finally:
        # The veth pair goes with either end; the namespace takes the bridge and the taps along.
        ip("link", "del", lan.host_if, check=False)
        if created_netns:
            ip("netns", "del", lan.netns, check=False)


def leftovers(lan: GuestLan) -> list[str]:
    """What of ``lan`` still exists (empty after teardown)."""
    found = []
    if lan.host_if in ip("-o", "link", "show", check=False):
        found.append(f"link {lan.host_if}")
    if Path(lan.netns_path).exists() or lan.netns in ip("netns", "list", check=False):
        found.append(f"netns {lan.netns}")
    return found


@dataclasses.dataclass
class NetworkedGuest:
    name: str
    address: str
    out_dir: Path
    process: guest.GuestProcess
    boot_seconds: float | None = None

    def console(self) -> str:
        return self.process.console()

    def console_tail(self, lines: int = 40) -> str:
        return "\n".join(self.console().splitlines()[-lines:])

    def running(self) -> bool:
        return self.process.running()


def wait_booted(guests: Sequence[NetworkedGuest], timeout: float) -> None:
    """Wait until each guest's command printed BOOTED_MARKER; sets ``boot_seconds`` (since QEMU started)."""
    deadline = time.monotonic() + timeout
    pending = list(guests)
    while pending:
        for node in list(pending):
            if BOOTED_MARKER in node.console():
                node.boot_seconds = time.monotonic() - node.process.started
                pending.remove(node)
            elif not node.running():
                raise LanError(f"guest {node.name} stopped while booting:\n{node.console_tail()}")
        if pending and time.monotonic() > deadline:
            names = ", ".join(node.name for node in pending)
            tails = "\n".join(f"--- {n.name} console ---\n{n.console_tail()}" for n in pending)
            raise LanError(f"guest(s) {names} not booted after {timeout:.0f}s\n{tails}")
        time.sleep(0.1)


def mac_address(lan: GuestLan, index: int) -> str:
    octets = [int(part) for part in lan.prefix.split(".")]
    return f"52:54:{octets[1]:02x}:{octets[2]:02x}:00:{FIRST_GUEST_OCTET + index:02x}"


@contextlib.contextmanager
def networked_guests(
    names: Sequence[str],
    command_for: Callable[[GuestLan, int, Path], str],
    *,
    work_dir: Path,
    mem: str = "512M",
    cpus: int = 1,
    prefix: str | None = None,
    before_boot: Callable[[GuestLan], None] | None = None,
) -> Iterator[tuple[GuestLan, list[NetworkedGuest]]]:
    """Boot one guest per name on a fresh :func:`guest_lan`; yields (lan, guests) as soon as all are started.

    ``command_for(lan, index, out_dir)`` gives guest ``index``'s shell command (its first output line should
    be ``echo BOOTED_MARKER`` for :func:`wait_booted`).  Guest ``i`` is ``<names[i]>`` with ``eth0`` at
    ``lan.guest_ip(i)``; its writable out share is ``work_dir/<name>``.  ``before_boot(lan)`` runs once the
    network exists (e.g. to start a server on ``lan.host_ip``).  Every QEMU is killed on exit.
    """
    for name in names:
        if not re.fullmatch(r"[a-z0-9-]+", name):
            raise ValueError(f"guest name {name!r}: lowercase letters, digits and '-' only")
    guest.prepare(guest.DEFAULT_CACHE_DIR)  # a GuestSetupError names the missing package
    started: list[NetworkedGuest] = []
    with guest_lan(len(names), prefix=prefix) as lan:
        try:
            if before_boot is not None:
                before_boot(lan)
            for index, name in enumerate(names):
                out_dir = work_dir / name
                out_dir.mkdir(parents=True, exist_ok=True)
                address = lan.guest_ip(index)
                netdev = f"tap,id=n0,ifname={lan.taps[index]},script=no,downscript=no"
                process = guest.start_guest(
                    command_for(lan, index, out_dir),
                    out_dir=out_dir,
                    mem=mem,
                    cpus=cpus,
                    hostname=name,
                    extra_qemu_args=[
                        "-netdev",
                        netdev,
                        "-device",
                        f"virtio-net-pci,netdev=n0,mac={mac_address(lan, index)},romfile=",
                    ],
                    extra_kernel_args=[f"mk.ip={address}/24"],
                    # QEMU is killed if this process dies without cleaning up (the guests run until stopped);
                    # --net only: `ip netns exec` would also remount /sys in a new mount namespace.
                    qemu_prefix=["setpriv", "--pdeathsig", "KILL", "--", "nsenter", f"--net={lan.netns_path}", "--"],
                )
                started.append(NetworkedGuest(name, address, out_dir, process))
            yield lan, started
        finally:
            for node in started:
                node.process.stop()
