"""Sockets created inside a pod's network namespace, used from the agent's event loop.

Kernel facts: ``setns(fd, CLONE_NEWNET)`` moves only the calling *thread*; a socket belongs for its whole life
to the namespace it was created in, wherever it is used afterwards.  So one dedicated thread enters the pod's
namespace, creates a non-blocking socket, and returns to the agent's own namespace (an fd of which it keeps
open); the socket is then connected by asyncio in the agent's thread.  The thread runs nothing else, so a
failed return (it would stay in the pod's namespace) cannot leak into other work: the thread is then retired.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import os
import socket

from minikube_py.node.runtime import libc


class NetnsError(OSError):
    """The pod's network namespace is gone or is not the one we expect (its holder's pid was reused)."""


class SocketFactory:
    def __init__(self) -> None:
        self._executor: concurrent.futures.ThreadPoolExecutor | None = None
        self._own_fd = -1

    def _thread(self) -> concurrent.futures.ThreadPoolExecutor:
        if self._executor is None:
            self._executor = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="probe-netns")
            # The namespace to come back to: the creating thread's, which the new thread inherits.
            self._own_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        return self._executor

    def _create(self, netns_path: str, expected_inode: int | None, family: int) -> socket.socket:
        fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            if expected_inode is not None and os.fstat(fd).st_ino != expected_inode:
                raise NetnsError(f"{netns_path} is not the pod's network namespace (inode {expected_inode})")
            libc.setns(fd, libc.CLONE_NEWNET)
            try:
                return socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
            finally:
                libc.setns(self._own_fd, libc.CLONE_NEWNET)
        finally:
            os.close(fd)

    async def create(self, netns_path: str, expected_inode: int | None, family: int = socket.AF_INET) -> socket.socket:
        """A non-blocking TCP socket living in the network namespace at ``netns_path``."""
        executor = self._thread()
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(executor, self._create, netns_path, expected_inode, family)
        except FileNotFoundError as err:
            raise NetnsError(err.errno, f"network namespace {netns_path} is gone") from err
        except NetnsError:
            raise
        except OSError:
            # setns back may have failed: never reuse a thread that might sit in a pod's namespace.
            self._retire()
            raise

    def _retire(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False)
            self._executor = None
        if self._own_fd >= 0:
            os.close(self._own_fd)
            self._own_fd = -1

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True)
            self._executor = None
        if self._own_fd >= 0:
            os.close(self._own_fd)
            self._own_fd = -1
