"""sd_notify over a real AF_UNIX datagram socket, as systemd's manager listens: path and abstract names, and
the control plane and the agent announcing READY=1 / STOPPING=1 at the right moments."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

from minikube_py.util import sdnotify


def _receiver(address: str | bytes) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(address)
    sock.settimeout(10.0)
    return sock


@pytest.fixture
def path_socket(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = str(tmp_path / "notify")
    with _receiver(path) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", path)
        yield sock


@pytest.fixture
def abstract_socket(monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    name = f"mkpy-test-notify-{secrets.token_hex(6)}"
    with _receiver(b"\0" + name.encode()) as sock:
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        yield sock


def _recv(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


def test_path_socket_receives_each_message(path_socket: socket.socket) -> None:
    assert sdnotify.ready() is True
    assert _recv(path_socket) == "READY=1"
    assert sdnotify.status("joined\ncontrol plane") is True
    assert _recv(path_socket) == "STATUS=joined control plane"  # one line: a newline would start a new key
    assert sdnotify.stopping() is True
    assert _recv(path_socket) == "STOPPING=1"
    assert sdnotify.notify("READY=1\nSTATUS=x") is True
    assert _recv(path_socket) == "READY=1\nSTATUS=x"


def test_abstract_socket_receives(abstract_socket: socket.socket) -> None:
    assert sdnotify.ready() is True
    assert _recv(abstract_socket) == "READY=1"
    assert sdnotify.stopping() is True
    assert _recv(abstract_socket) == "STOPPING=1"


def test_unset_is_a_noop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert sdnotify.ready() is False
    monkeypatch.setenv("NOTIFY_SOCKET", "")
    assert sdnotify.notify("READY=1") is False


def test_unreachable_socket_returns_false(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", str(tmp_path / "nobody-listens"))
    assert sdnotify.ready() is False
    monkeypatch.setenv("NOTIFY_SOCKET", "vsock:2:1234")
    assert sdnotify.ready() is False


async def test_control_plane_ready_once_listening_and_stopping(tmp_path: Path, path_socket: socket.socket) -> None:
    from minikube_py.control import main as control_main

    with socket.socket() as probe:  # a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stop = asyncio.Event()
    config = control_main.ControlPlaneConfig(data_dir=str(tmp_path / "cp"), port=port)
    task = asyncio.create_task(control_main.serve(config, stop=stop))
    loop = asyncio.get_running_loop()
    path_socket.setblocking(False)
    try:
        message = await asyncio.wait_for(loop.sock_recv(path_socket, 4096), 20)
        assert message == b"READY=1"
        # READY means the API server accepts connections now
        _, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.close()
        await writer.wait_closed()
        stop.set()
        assert await asyncio.wait_for(loop.sock_recv(path_socket, 4096), 10) == b"STOPPING=1"
    finally:
        stop.set()
        await asyncio.wait_for(task, 20)


class _FakeAgent:
    """Stands in for the node agent (which needs root and cgroups) to observe the CLI's notify calls."""

    calls: ClassVar[list[str]] = []

    def __init__(self, config: Any) -> None:
        self.config = config

    async def start(self) -> None:
        _FakeAgent.calls.append("start")

    async def stop(self, *, remove_pods: bool) -> None:
        _FakeAgent.calls.append(f"stop remove_pods={remove_pods}")


def test_agent_ready_after_join_and_stopping_on_sigterm(
    path_socket: socket.socket, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import io

    from minikube_py.cli import main as cli
    from minikube_py.node import agent as agent_mod

    monkeypatch.setattr(agent_mod, "Agent", _FakeAgent)
    _FakeAgent.calls = []
    received: list[str] = []

    def listen() -> None:  # READY=1 arrives only after start(); then SIGTERM the CLI like systemd would
        try:
            received.append(_recv(path_socket))
        except TimeoutError:
            received.append("no READY=1 within 10 s")  # still stop the CLI below, so the test fails, not hangs
        received.append("start" if _FakeAgent.calls == ["start"] else f"calls={_FakeAgent.calls}")
        # SIGTERM once the CLI's own handler is in (its event loop replaces the placeholder below).
        deadline = time.monotonic() + 10
        while signal.getsignal(signal.SIGTERM) is placeholder and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(os.getpid(), signal.SIGTERM)
        try:
            received.append(_recv(path_socket))
        except TimeoutError:
            received.append("no STOPPING=1 within 10 s")

    # A SIGTERM that lands before the CLI's own handler must not end the test run.
    def placeholder(signum: int, frame: object) -> None:
        pass

    previous = signal.signal(signal.SIGTERM, placeholder)
    try:
        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        out = io.StringIO()
        argv = ["agent", "--server", "http://127.0.0.1:1", "--node-name", "n1", "--data-dir", str(tmp_path)]
        assert cli.main(argv, out=out, err=io.StringIO()) == 0
        listener.join(10)
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert received == ["READY=1", "start", "STOPPING=1"]
    assert _FakeAgent.calls == ["start", "stop remove_pods=False"]
    assert "n1 joined" in out.getvalue()
