"""Typed errors of the pod network: raised at this package's boundary instead of raw netlink/OS errors."""

from __future__ import annotations

from minikube_py.errors import MinikubeError


class NetworkError(MinikubeError):
    """A pod network operation failed.  ``op`` names the step, ``errno`` is the kernel's answer (0 if none)."""

    def __init__(self, message: str, *, op: str = "", errno: int = 0) -> None:
        super().__init__(message)
        self.op = op
        self.errno = errno


class NetworkNotReady(NetworkError):
    """``add_pod`` before ``setup_node``: the node has no pod CIDR (yet)."""


class NetnsNotFound(NetworkError):
    """The pod's network namespace is gone (its pause process exited) or is not the one expected."""


class IPAMError(NetworkError):
    """The pod IP allocator's state is unusable (unreadable file, CIDR changed under live allocations...)."""


class IPAMExhausted(IPAMError):
    """Every address of the node's pod CIDR is allocated."""
