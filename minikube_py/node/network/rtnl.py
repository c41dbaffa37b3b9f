"""A minimal blocking rtnetlink client for the in-pod part of a pod's set-up.

Inside a fresh pod namespace there are four things to do: bring ``lo`` and ``eth0`` up, give ``eth0`` the
pod's address, add the default route.  pyroute2 costs ~0.6 ms of Python per request (measured here); these
requests are fixed, so this module packs them by hand and sends them in **one** ``sendto`` on a socket
created in the pod's namespace, then reads the kernel's acknowledgements (the kernel handles the messages
of one buffer in order).  It runs in the short-lived thread that entered the namespace
(:mod:`minikube_py.node.network.nsutil`), never in the event loop.  Everything on the node's side (bridge,
veths, routes, dumps) goes through pyroute2's ``AsyncIPRoute``.
"""

from __future__ import annotations

import errno as errno_mod
import ipaddress
import os
import socket
import struct
from collections.abc import Sequence
from dataclasses import dataclass

from minikube_py.node.network.errors import NetworkError

NETLINK_ROUTE = 0
NLMSG_ERROR = 2
NLMSG_DONE = 3
RTM_NEWLINK = 16
RTM_GETLINK = 18
RTM_NEWADDR = 20
RTM_NEWROUTE = 24

NLM_F_REQUEST = 0x1
NLM_F_ACK = 0x4
NLM_F_REPLACE = 0x100
NLM_F_EXCL = 0x200
NLM_F_CREATE = 0x400

IFF_UP = 0x1
IFLA_IFNAME = 3
IFA_ADDRESS = 1
IFA_LOCAL = 2
RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RT_TABLE_MAIN = 254
RTN_UNICAST = 1
RT_SCOPE_UNIVERSE = 0
LOOPBACK_IFINDEX = 1  # fixed in every network namespace

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFINFOMSG = struct.Struct("=BxHiII")  # family, (pad), type, index, flags, change
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct("=BBBBBBBBI")  # family, dst_len, src_len, tos, table, protocol, scope, type, flags
_RTATTR = struct.Struct("=HH")  # len, type
_ERRNO = struct.Struct("=i")

REPLY_TIMEOUT_S = 5.0


@dataclass(frozen=True)
class Request:
    """One rtnetlink request: message type, extra flags, packed body; ``ok`` = errnos that count as done."""

    type: int
    flags: int
    body: bytes
    what: str
    ok: frozenset[int] = frozenset()


def _attr(kind: int, payload: bytes) -> bytes:
    length = _RTATTR.size + len(payload)
    return _RTATTR.pack(length, kind) + payload + b"\0" * (-length % 4)


def link_up(index: int, what: str) -> Request:
    return Request(RTM_NEWLINK, 0, _IFINFOMSG.pack(socket.AF_UNSPEC, 0, index, IFF_UP, IFF_UP), what)


def add_address(index: int, address: str, prefixlen: int) -> Request:
    packed = ipaddress.IPv4Address(address).packed
    body = _IFADDRMSG.pack(socket.AF_INET, prefixlen, 0, RT_SCOPE_UNIVERSE, index)
    body += _attr(IFA_LOCAL, packed) + _attr(IFA_ADDRESS, packed)
    return Request(
        RTM_NEWADDR,
        NLM_F_CREATE | NLM_F_EXCL,
        body,
        f"add address {address}/{prefixlen}",
        frozenset({errno_mod.EEXIST}),
    )


def add_route(dst: str, gateway: str, oif: int, proto: int) -> Request:
    """A route to ``dst`` (a CIDR; ``0.0.0.0/0`` for the default route) via ``gateway`` out of ``oif``."""
    network = ipaddress.IPv4Network(dst)
    body = _RTMSG.pack(socket.AF_INET, network.prefixlen, 0, 0, RT_TABLE_MAIN, proto, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
    if network.prefixlen:
        body += _attr(RTA_DST, network.network_address.packed)
    body += _attr(RTA_GATEWAY, ipaddress.IPv4Address(gateway).packed) + _attr(RTA_OIF, struct.pack("=I", oif))
    return Request(
        RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body, f"add route {dst} via {gateway}", frozenset({errno_mod.EEXIST})
    )


class Rtnl:
    """One blocking NETLINK_ROUTE socket.  Create it in the thread that is in the target namespace."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self._sock.settimeout(REPLY_TIMEOUT_S)
        self._sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> Rtnl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def _recv(self, what: str) -> bytes:
        try:
            return self._sock.recv(65536)
        except TimeoutError as err:
            raise NetworkError(f"{what}: no answer from the kernel", op=what, errno=errno_mod.ETIMEDOUT) from err
        except OSError as err:
            raise NetworkError(f"{what}: {err.strerror}", op=what, errno=err.errno or 0) from err

    def link_index(self, ifname: str) -> int:
        """The index of ``ifname`` in this socket's namespace (RTM_GETLINK by name)."""
        seq = self._next_seq()
        body = _IFINFOMSG.pack(socket.AF_UNSPEC, 0, 0, 0, 0) + _attr(IFLA_IFNAME, ifname.encode() + b"\0")
        self._send(_NLMSGHDR.pack(_NLMSGHDR.size + len(body), RTM_GETLINK, NLM_F_REQUEST, seq, 0) + body, "get link")
        what = f"get link {ifname}"
        while True:
            data = self._recv(what)
            for mtype, mseq, payload in _messages(data):
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    code = -_ERRNO.unpack_from(payload)[0]
                    raise NetworkError(f"{what}: {os.strerror(code)}", op=what, errno=code)
                if mtype == RTM_NEWLINK:
                    return int(_IFINFOMSG.unpack_from(payload)[2])

    def run(self, requests: Sequence[Request]) -> None:
        """Send every request in one buffer, wait for all acknowledgements; raise on the first real error."""
        pending: dict[int, Request] = {}
        buffer = bytearray()
        for request in requests:
            seq = self._next_seq()
            pending[seq] = request
            flags = NLM_F_REQUEST | NLM_F_ACK | request.flags
            buffer += _NLMSGHDR.pack(_NLMSGHDR.size + len(request.body), request.type, flags, seq, 0) + request.body
        self._send(bytes(buffer), "netlink batch")
        failures: list[tuple[Request, int]] = []
        while pending:
            data = self._recv(next(iter(pending.values())).what)
            for mtype, mseq, payload in _messages(data):
                if mtype != NLMSG_ERROR or mseq not in pending:
                    continue
                request = pending.pop(mseq)
                code = -_ERRNO.unpack_from(payload)[0]
                if code and code not in request.ok:
                    failures.append((request, code))
        if failures:
            request, code = failures[0]
            raise NetworkError(f"{request.what}: {os.strerror(code)}", op=request.what, errno=code)

    def _send(self, data: bytes, what: str) -> None:
        try:
            self._sock.sendto(data, (0, 0))
        except OSError as err:
            raise NetworkError(f"{what}: {err.strerror}", op=what, errno=err.errno or 0) from err


def _messages(data: bytes) -> list[tuple[int, int, bytes]]:
    """(type, seq, payload) of every netlink message in one datagram."""
    out: list[tuple[int, int, bytes]] = []
    offset = 0
    while offset + _NLMSGHDR.size <= len(data):
        length, mtype, _flags, seq, _pid = _NLMSGHDR.unpack_from(data, offset)
        if length < _NLMSGHDR.size:
            break
        out.append((mtype, seq, data[offset + _NLMSGHDR.size : offset + length]))
        offset += (length + 3) & ~3
    return out
