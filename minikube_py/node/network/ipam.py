"""Node-local pod IP allocator over the node's pod CIDR (like CNI's ``host-local`` plugin).

The first host address of the CIDR is the bridge's gateway; pods get the others, handed out round-robin
after the last one given (so a just-released address is not reused at once, while stale ARP entries or
conntrack state for it may still be around).  The state is one small JSON file in the state directory,
replaced atomically (temporary file, rename) on every change, so allocations survive an agent restart or
crash: a pod keeps its IP, and a restarted agent never hands out an address still in use.  Like the
runtime's records there is no fsync (it cost ~1 ms per pod here, in the event loop): the file only matters
while the machine keeps running, since no pod survives a power loss; an empty file (what a power loss may
leave) counts as "nothing allocated", and :meth:`PodIPAM.retain` frees addresses of pods that are gone.
No kernel calls here: pure bookkeeping, unit-tested.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
from collections.abc import Iterable
from typing import Any

from minikube_py.node.network.errors import IPAMError, IPAMExhausted

STATE_FILE = "ipam.json"
FORMAT_VERSION = 1


class PodIPAM:
    """Allocations ``pod uid -> IPv4 address`` in ``cidr``, persisted in ``<state_dir>/ipam.json``.

    ``cidr`` must be an IPv4 network of at most /30 given by its network address (``10.244.3.0/24``).
    Opening the state with a different CIDR is allowed only while nothing is allocated (the node was given
    a new pod CIDR); otherwise :class:`IPAMError`, since live pods still hold addresses of the old one.
    """

    def __init__(self, state_dir: str | os.PathLike[str], cidr: str) -> None:
        try:
            network = ipaddress.ip_network(cidr, strict=True)
        except ValueError as err:
            raise IPAMError(f"invalid pod CIDR {cidr!r}: {err}", op="ipam") from err
        if not isinstance(network, ipaddress.IPv4Network):
            raise IPAMError(f"pod CIDR {cidr} is not IPv4 (only IPv4 is supported)", op="ipam")
        if network.prefixlen > 30:
            raise IPAMError(f"pod CIDR {cidr} is too small: it needs a gateway and at least one pod", op="ipam")
        self.network = network
        self.gateway = network.network_address + 1
        self._first = int(network.network_address) + 2
        self._last = int(network.broadcast_address) - 1
        self.path = os.path.join(os.fspath(state_dir), STATE_FILE)
        self._allocations: dict[str, ipaddress.IPv4Address] = {}
        self._next_after: int = self._last  # so that the first pod gets .2
        self._load()

    # --- properties

    @property
    def cidr(self) -> str:
        return str(self.network)

    @property
    def prefixlen(self) -> int:
        return self.network.prefixlen

    @property
    def capacity(self) -> int:
        """How many pods the CIDR holds (every host address but the gateway)."""
        return self._last - self._first + 1

    # --- queries

    def get(self, uid: str) -> str | None:
        ip = self._allocations.get(uid)
        return str(ip) if ip is not None else None

    def allocations(self) -> dict[str, str]:
        return {uid: str(ip) for uid, ip in self._allocations.items()}

    def __len__(self) -> int:
        return len(self._allocations)

    # --- changes (each one persisted before it returns)

    def allocate(self, uid: str) -> str:
        """The pod's address: the one it already has, else the next free one after the last handed out."""
        if not uid:
            raise IPAMError("cannot allocate a pod IP for an empty uid", op="ipam")
        existing = self._allocations.get(uid)
        if existing is not None:
            return str(existing)
        used = {int(ip) for ip in self._allocations.values()}
        span = self.capacity
        for step in range(1, span + 1):
            candidate = self._first + (self._next_after - self._first + step) % span
            if candidate not in used:
                ip = ipaddress.IPv4Address(candidate)
                self._allocations[uid] = ip
                previous = self._next_after
                self._next_after = candidate
                try:
                    self._save()
                except BaseException:
                    del self._allocations[uid]
                    self._next_after = previous
                    raise
                return str(ip)
        raise IPAMExhausted(
            f"no free pod IP in {self.cidr}: all {span} addresses are allocated "
            f"(the gateway {self.gateway} is the bridge's)",
            op="ipam",
        )

    def release(self, uid: str) -> str | None:
        """Free the pod's address; returns it, or None if the pod had none (releasing twice is fine)."""
        ip = self._allocations.pop(uid, None)
        if ip is None:
            return None
        try:
            self._save()
        except BaseException:
            self._allocations[uid] = ip
            raise
        return str(ip)

    def retain(self, live_uids: Iterable[str]) -> dict[str, str]:
        """Release every allocation whose pod is not in ``live_uids`` (e.g. pods gone while the agent was down)."""
        live = set(live_uids)
        stale = {uid: ip for uid, ip in self._allocations.items() if uid not in live}
        if not stale:
            return {}
        for uid in stale:
            del self._allocations[uid]
        try:
            self._save()
        except BaseException:
            self._allocations.update(stale)
            raise
        return {uid: str(ip) for uid, ip in stale.items()}

    def destroy(self) -> None:
        """Forget everything and remove the state file (node teardown)."""
        self._allocations.clear()
        self._next_after = self._last
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    # --- persistence

    def _load(self) -> None:
        try:
            with open(self.path, encoding="utf-8") as f:
                raw = f.read()
        except FileNotFoundError:
            return
        except OSError as err:
            raise IPAMError(f"cannot read {self.path}: {err.strerror}", op="ipam", errno=err.errno or 0) from err
        if not raw.strip():
            return
        try:
            data = json.loads(raw)
            allocations, last, cidr = self._parse(data)
        except (ValueError, TypeError, KeyError) as err:
            raise IPAMError(f"{self.path} is not a valid IPAM state: {err}", op="ipam") from err
        if cidr != self.network:
            if allocations:
                raise IPAMError(
                    f"the node's pod CIDR changed from {cidr} to {self.network} while {len(allocations)} pod(s) "
                    f"still hold addresses of the old one: remove those pods first",
                    op="ipam",
                )
            self._save()  # nothing allocated: start afresh on the new CIDR
            return
        self._allocations = allocations
        if last is not None:
            self._next_after = int(last)

    def _parse(
        self, data: Any
    ) -> tuple[dict[str, ipaddress.IPv4Address], ipaddress.IPv4Address | None, ipaddress.IPv4Network]:
        if not isinstance(data, dict) or data.get("version") != FORMAT_VERSION:
            raise ValueError(f"unknown format (expected version {FORMAT_VERSION})")
        cidr = ipaddress.IPv4Network(data["cidr"], strict=True)
        raw_allocations = data["allocations"]
        if not isinstance(raw_allocations, dict):
            raise ValueError("allocations is not an object")
        allocations: dict[str, ipaddress.IPv4Address] = {}
        seen: set[ipaddress.IPv4Address] = set()
        for uid, text in raw_allocations.items():
            ip = ipaddress.IPv4Address(text)
            if ip not in cidr or ip in (cidr.network_address, cidr.network_address + 1, cidr.broadcast_address):
                raise ValueError(f"address {ip} of pod {uid} is not a pod address of {cidr}")
            if ip in seen:
                raise ValueError(f"address {ip} is allocated twice")
            seen.add(ip)
            allocations[str(uid)] = ip
        last_text = data.get("last")
        last = ipaddress.IPv4Address(last_text) if last_text else None
        if last is not None and not self._first <= int(last) <= self._last:
            last = None
        return allocations, last, cidr

    def _save(self) -> None:
        data = {
            "version": FORMAT_VERSION,
            "cidr": self.cidr,
            "last": str(ipaddress.IPv4Address(self._next_after)),
            "allocations": {uid: str(ip) for uid, ip in sorted(self._allocations.items())},
        }
        directory = os.path.dirname(self.path)
        tmp = f"{self.path}.tmp.{os.getpid()}"
        try:
            os.makedirs(directory, mode=0o700, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=1)
                f.write("\n")
            os.replace(tmp, self.path)
        except OSError as err:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise IPAMError(f"cannot write {self.path}: {err.strerror}", op="ipam", errno=err.errno or 0) from err
