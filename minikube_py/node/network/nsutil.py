"""Network namespaces without forking: threads that ``setns()`` into a namespace.

``setns(CLONE_NEWNET)`` changes only the calling thread's namespace, and a socket belongs to the namespace
it was created in for its whole life, whichever thread uses it later.  So a short-lived thread that enters
a pod's namespace can create a netlink socket there (or do a few blocking netlink calls) and end; the
event loop's thread never leaves the node's namespace.  This replaces pyroute2's ``netns=`` helpers, which
fork a child per call (their cost grows with the agent's RSS; see the measured anchors).

Every thread here is a fresh one that ends after its job: a thread left in a pod's namespace (as a reused
executor thread would be) would quietly open later sockets in the wrong namespace.

:class:`NetnsLoop` is a thread in a given namespace running its own event loop: how the tests and the
benchmark run a :class:`~minikube_py.node.network.podnet.PodNetwork` "inside a node" without moving the
test process itself.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from minikube_py.node.network.errors import NetnsNotFound, NetworkError
from minikube_py.node.runtime import libc

T = TypeVar("T")


def pid_netns_path(pid: int, procfs: str = "/proc") -> str:
    return f"{procfs}/{pid}/ns/net"


def open_netns(path: str) -> int:
    """An fd of the network namespace at ``path`` (``/proc/<pid>/ns/net`` or a ``/run/netns`` file)."""
    try:
        return os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except (FileNotFoundError, ProcessLookupError) as err:
        raise NetnsNotFound(f"network namespace {path} does not exist", op="open netns", errno=err.errno or 0) from err
    except OSError as err:
        raise NetworkError(f"cannot open {path}: {err.strerror}", op="open netns", errno=err.errno or 0) from err


def _enter(ns_fd: int) -> None:
    try:
        libc.setns(ns_fd, libc.CLONE_NEWNET)
    except OSError as err:
        raise NetworkError(
            f"setns into network namespace failed: {err.strerror}", op="setns", errno=err.errno or 0
        ) from err


def _dup(ns_fd: int) -> int:
    try:
        return os.dup(ns_fd)
    except OSError as err:
        raise NetworkError(f"cannot duplicate a namespace fd: {err.strerror}", op="dup", errno=err.errno or 0) from err


def _enter_and_close(ns_fd: int) -> None:
    try:
        _enter(ns_fd)
    finally:
        os.close(ns_fd)


def call_in_netns(ns_fd: int, fn: Callable[[], T]) -> T:
    """Run ``fn`` in a fresh thread that entered ``ns_fd``'s network namespace; blocks until it is done."""
    box: list[Any] = []
    own_fd = _dup(ns_fd)

    def target() -> None:
        try:
            _enter_and_close(own_fd)
            box.append((True, fn()))
        except BaseException as err:  # handed to the caller
            box.append((False, err))

    thread = threading.Thread(target=target, name="mkpy-netns", daemon=True)
    thread.start()
    thread.join()
    ok, value = box[0]
    if not ok:
        raise value
    return value  # type: ignore[no-any-return]


async def acall_in_netns(ns_fd: int, fn: Callable[[], T]) -> T:
    """Like :func:`call_in_netns`, but the event loop keeps running while the thread works.

    The thread works on its own duplicate of ``ns_fd``, so the caller may close ``ns_fd`` as soon as this
    returns, even when it is cancelled: the thread then still finishes its (short) job; its result is
    dropped.
    """
    loop = asyncio.get_running_loop()
    own_fd = _dup(ns_fd)
    future: asyncio.Future[T] = loop.create_future()

    def deliver(ok: bool, value: Any) -> None:
        if future.done():
            return
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)

    def target() -> None:
        try:
            _enter_and_close(own_fd)
            result: Any = fn()
        except BaseException as err:
            loop.call_soon_threadsafe(deliver, False, err)
        else:
            loop.call_soon_threadsafe(deliver, True, result)

    threading.Thread(target=target, name="mkpy-netns", daemon=True).start()
    return await future


def socket_in_netns(ns_fd: int, family: int, type_: int, proto: int = 0) -> socket.socket:
    """A socket created in ``ns_fd``'s network namespace (it stays there, whoever uses it)."""
    return call_in_netns(ns_fd, lambda: socket.socket(family, type_ | socket.SOCK_CLOEXEC, proto))


def same_netns(a: str, b: str) -> bool:
    """Whether two namespace files (``/proc/<pid>/ns/net``, ``/run/netns/x``...) are the same namespace."""
    sa, sb = os.stat(a), os.stat(b)
    return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)


class NetnsLoop:
    """A thread that entered the network namespace at ``netns_path`` and runs an event loop there.

    ``run(coro)`` runs a coroutine on that loop and returns its result (from any other thread).  Threads
    the loop starts (its default executor, :func:`acall_in_netns`) start in that namespace too.
    """

    def __init__(self, netns_path: str, *, name: str = "mkpy-netns-loop") -> None:
        self.netns_path = netns_path
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        fd = open_netns(netns_path)
        self._thread = threading.Thread(target=self._main, args=(fd,), name=name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            self._thread.join()
            raise self._error

    def _main(self, fd: int) -> None:
        try:
            _enter(fd)
        except BaseException as err:
            self._error = err
            self._ready.set()
            return
        finally:
            os.close(fd)
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = 120.0) -> T:
        if self._loop is None or not self._thread.is_alive():
            coro.close()
            raise NetworkError("the namespace's event loop is not running", op="netns loop", errno=errno.ESRCH)
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def close(self) -> None:
        if self._loop is not None and self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()

    def __enter__(self) -> NetnsLoop:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
