"""Agent-side client of the node shim (see ``zygote.py``): spawn requests, exit events, recovery."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from minikube_py import errors

_PACKAGE_PARENT = str(Path(__file__).resolve().parents[3])
MAX_MESSAGE = 1 << 20


@dataclass
class SpawnRequest:
    argv: list[str]
    env: list[tuple[str, str]] = field(default_factory=list)
    cwd: str | None = None
    cgroup_procs: list[str] = field(default_factory=list)  # files the child writes "0" into (driver.join_files)
    cgroup_dir: str | None = None  # cgroup v2: be born there (clone3 CLONE_INTO_CGROUP); cgroup_procs if refused
    join: dict[str, int] = field(default_factory=dict)  # namespace type -> pid whose namespace to enter
    unshare: list[str] = field(default_factory=list)  # namespace types to create
    mount_proc: bool = False
    hostname: str | None = None
    loopback_up: bool = False
    oom_score_adj: int | None = None
    log_path: str | None = None  # CRI-format log file fed by the shim
    log_max_size: int = 10 << 20
    log_max_files: int = 5
    capture: bool = False  # keep stdout/stderr in memory and return them with the exit (exec)
    # Bind mounts made in B's private mount namespace: {"source", "target", "read_only"}; needs mount_proc
    # (which makes the namespace private) and an empty directory of ours for staging.
    mounts: list[dict[str, Any]] = field(default_factory=list)
    mount_staging: str | None = None

    def to_message(self) -> dict[str, Any]:
        body = asdict(self)
        body["env"] = [list(kv) for kv in self.env]
        return body


@dataclass(frozen=True)
class ExitStatus:
    """How a process ended.  ``exit_code`` and ``signal`` are both None when nobody saw it end."""

    exit_code: int | None
    signal: int | None
    finished_at: float | None = None
    stdout: str = ""
    stderr: str = ""

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
    def from_event(cls, event: dict[str, Any]) -> ExitStatus:
        return cls(
            exit_code=event.get("exit_code"),
            signal=event.get("signal"),
            finished_at=event.get("finished_at"),
            stdout=event.get("stdout", ""),
            stderr=event.get("stderr", ""),
        )


class Spawner:
    """Connects to the node shim at ``socket_path``, starting it first if none is listening."""

    def __init__(self, socket_path: str, python: str = sys.executable) -> None:
        self.socket_path = socket_path
        self._python = python
        self._sock: socket.socket | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._reader: asyncio.Task[None] | None = None
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._send_lock = asyncio.Lock()
        self._exits: dict[int, ExitStatus] = {}
        self._waiters: dict[int, list[asyncio.Future[ExitStatus]]] = {}
        self.started_shim = False
        self._shim_pid: int | None = None

    @property
    def shim_pid(self) -> int | None:
        return self._shim_pid

    async def start(self) -> None:
        if self._sock is not None:
            return
        sock = self._try_connect()
        if sock is None:
            self._launch()
            sock = self._try_connect()
            if sock is None:
                raise errors.SpawnError(f"the node shim did not listen on {self.socket_path}", stage="shim")
            self.started_shim = True
        sock.setblocking(False)
        self._sock = sock
        self._reader = asyncio.create_task(self._read_forever(), name="shim-reader")
        self._shim_pid = int((await self.request("ping"))["pong"])

    def _try_connect(self) -> socket.socket | None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        try:
            sock.connect(self.socket_path)
            return sock
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            return None

    def _launch(self) -> None:
        os.makedirs(os.path.dirname(self.socket_path) or ".", exist_ok=True)
        ready_r, ready_w = os.pipe()
        env = {"PYTHONPATH": _PACKAGE_PARENT, "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        # Its own session: the shim outlives the agent (kill -9, restart) and ignores the agent's terminal.
        # A daemon: it must not hold the agent's stdout/stderr (a pipe reader would wait for it forever).
        log_path = os.path.join(os.path.dirname(self.socket_path) or ".", "shim.log")
        with open(log_path, "ab") as log:
            self._proc = subprocess.Popen(
                [self._python, "-S", "-m", "minikube_py.node.runtime.zygote", self.socket_path, str(ready_w)],
                pass_fds=(ready_w,),
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                close_fds=True,
                start_new_session=True,
            )
        os.close(ready_w)
        with os.fdopen(ready_r, "rb") as ready:
            ready.read()  # EOF once the socket is bound (or the shim died)

    async def _read_forever(self) -> None:
        assert self._sock is not None
        loop = asyncio.get_running_loop()
        try:
            while True:
                data = await loop.sock_recv(self._sock, MAX_MESSAGE)
                if not data:
                    break
                message = json.loads(data)
                if message.get("event") == "exit":
                    self._on_exit(message)
                    continue
                fut = self._pending.pop(message.get("id"), None)
                if fut is not None and not fut.done():
                    fut.set_result(message)
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            lost = errors.SpawnError("lost the connection to the node shim", stage="shim")
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(lost)
            self._pending.clear()

    def _on_exit(self, event: dict[str, Any]) -> None:
        pid = int(event["pid"])
        status = ExitStatus.from_event(event)
        self._exits[pid] = status
        for fut in self._waiters.pop(pid, []):
            if not fut.done():
                fut.set_result(status)

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        if self._sock is None:
            raise errors.SpawnError("spawner not started", stage="shim")
        loop = asyncio.get_running_loop()
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = loop.create_future()
        self._pending[rid] = fut
        # One writer at a time: asyncio keeps a single write callback per socket, so concurrent sock_sendall
        # calls on a full socket cancel each other's and those requests would never be sent.
        async with self._send_lock:
            await loop.sock_sendall(self._sock, json.dumps({"op": op, "id": rid, **fields}).encode())
        return await fut

    async def spawn(self, request: SpawnRequest) -> int:
        """Start a process; returns its pid.  Raises SpawnError if it never reached exec."""
        reply = await self.request("spawn", **request.to_message())
        pid = reply.get("pid")
        if "error" in reply:
            if pid:
                await self.forget([int(pid)])  # B exited (127) before exec; drop its record
            raise errors.SpawnError(
                str(reply["error"]), stage=str(reply.get("stage", "")), errno=int(reply.get("errno") or 0)
            )
        if not pid:
            raise errors.SpawnError("the node shim returned no pid", stage="shim")
        return int(pid)

    async def wait_exit(self, pid: int) -> ExitStatus:
        """The exit of a process the shim started (also one that ended while no agent was connected)."""
        if pid in self._exits:
            return self._exits[pid]
        fut: asyncio.Future[ExitStatus] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(pid, []).append(fut)
        return await fut

    async def known_processes(self) -> tuple[set[int], dict[int, ExitStatus]]:
        """(pids the shim is watching, exits it holds that no agent has forgotten yet)."""
        reply = await self.request("list")
        for event in reply.get("exited", []):
            self._on_exit(event)
        return set(reply.get("alive", [])), {int(e["pid"]): ExitStatus.from_event(e) for e in reply.get("exited", [])}

    async def forget(self, pids: list[int]) -> None:
        for pid in pids:
            self._exits.pop(pid, None)
        await self.request("forget", pids=pids)

    async def close(self, *, shutdown_shim: bool = False) -> None:
        """Disconnect; with ``shutdown_shim`` the shim exits once it has no children left."""
        if self._sock is not None and shutdown_shim:
            with contextlib.suppress(errors.SpawnError, OSError):
                await self.request("shutdown")
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
            self._reader = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        if self._proc is not None and shutdown_shim:
            try:
                await asyncio.to_thread(self._proc.wait, 10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None


def watch_pid_exit(pid: int) -> asyncio.Future[None]:
    """Resolves when ``pid`` (any process, not necessarily ours) is gone: pidfd becomes readable."""
    loop = asyncio.get_running_loop()
    fut: asyncio.Future[None] = loop.create_future()
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        fut.set_result(None)
        return fut

    def on_ready() -> None:
        loop.remove_reader(pidfd)
        os.close(pidfd)
        if not fut.done():
            fut.set_result(None)

    loop.add_reader(pidfd, on_ready)
    return fut


def signal_process(pid: int, sig: int = signal.SIGTERM) -> bool:
    try:
        os.kill(pid, sig)
        return True
    except ProcessLookupError:
        return False
