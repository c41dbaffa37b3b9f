"""Agent-side client of the zygote (see ``zygote.py``), plus exit watching for the processes it starts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from minikube_py import errors
from minikube_py.node.runtime import libc

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])


@dataclass
class SpawnRequest:
    argv: list[str]
    env: list[tuple[str, str]] = field(default_factory=list)
    cwd: str | None = None
    cgroup_procs: list[str] = field(default_factory=list)
    join: dict[str, int] = field(default_factory=dict)  # namespace type -> pid whose namespace to enter
    unshare: list[str] = field(default_factory=list)  # namespace types to create
    mount_proc: bool = False
    hostname: str | None = None
    loopback_up: bool = False
    oom_score_adj: int | None = None
    stdout: str | None = None
    stderr: str | None = None

    def to_json(self) -> bytes:
        body: dict[str, Any] = {"op": "spawn", **self.__dict__}
        body["env"] = [list(kv) for kv in self.env]
        return json.dumps(body).encode()


class Spawner:
    """Starts the zygote and sends it spawn requests, one at a time."""

    def __init__(self, python: str = sys.executable) -> None:
        self._python = python
        self._proc: subprocess.Popen[bytes] | None = None
        self._sock: socket.socket | None = None
        self._lock = asyncio.Lock()

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def start(self) -> None:
        if self._proc is not None:
            return
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        env = {"PYTHONPATH": _PACKAGE_PARENT, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        self._proc = subprocess.Popen(
            [self._python, "-S", "-m", "minikube_py.node.runtime.zygote", str(theirs.fileno())],
            pass_fds=(theirs.fileno(),),
            env=env,
            stdin=subprocess.DEVNULL,
            close_fds=True,
        )
        theirs.close()
        ours.setblocking(False)
        self._sock = ours

    async def _call(self, payload: bytes) -> dict[str, Any]:
        if self._sock is None:
            raise errors.SpawnError("spawner not started", stage="zygote")
        loop = asyncio.get_running_loop()
        async with self._lock:
            await loop.sock_sendall(self._sock, payload)
            data = await loop.sock_recv(self._sock, 1 << 20)
        if not data:
            raise errors.SpawnError("the zygote exited", stage="zygote")
        reply: dict[str, Any] = json.loads(data)
        return reply

    async def ping(self) -> int:
        return int((await self._call(b'{"op": "ping"}'))["pong"])

    async def spawn(self, request: SpawnRequest) -> int:
        """Start a process; returns its pid (our child).  Raises SpawnError if it never reached exec."""
        reply = await self._call(request.to_json())
        pid = reply.get("pid")
        if "error" in reply:
            if pid:
                _reap_quietly(pid)  # B exited (127) before exec; it is our child now
            raise errors.SpawnError(
                str(reply["error"]), stage=str(reply.get("stage", "")), errno=int(reply.get("errno") or 0)
            )
        if not pid:
            raise errors.SpawnError("the zygote returned no pid", stage="zygote")
        return int(pid)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None:
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


def _reap_quietly(pid: int) -> None:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)


@dataclass(frozen=True)
class ExitStatus:
    """How a process ended.  ``exit_code`` and ``signal`` are None when it was not our child (unknown)."""

    exit_code: int | None
    signal: int | None

    @property
    def known(self) -> bool:
        return self.exit_code is not None or self.signal is not None

    @property
    def container_exit_code(self) -> int | None:
        """Exit code as Kubernetes reports it: 128+signal for a signalled process."""
        if self.signal is not None:
            return 128 + self.signal
        return self.exit_code

    @classmethod
    def from_wait_status(cls, status: int) -> ExitStatus:
        if os.WIFSIGNALED(status):
            return cls(exit_code=None, signal=os.WTERMSIG(status))
        return cls(exit_code=os.WEXITSTATUS(status), signal=None)


def watch_exit(pid: int) -> asyncio.Future[ExitStatus]:
    """A future that resolves when ``pid`` exits (pidfd readable), reaping it if it is our child."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[ExitStatus] = loop.create_future()
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        fut.set_result(_reap(pid))
        return fut

    def on_ready() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        if not fut.done():
            fut.set_result(_reap(pid))

    loop.add_reader(pidfd, on_ready)
    return fut


def _reap(pid: int) -> ExitStatus:
    try:
        _, status = os.waitpid(pid, 0)
    except ChildProcessError:
        return ExitStatus(exit_code=None, signal=None)
    return ExitStatus.from_wait_status(status)


def become_subreaper() -> None:
    libc.set_child_subreaper(True)


def signal_process(pid: int, sig: int = signal.SIGTERM) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False
