"""The control plane on an address already in use: one clear error, nothing left running or locked."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from minikube_py.control import main as control_main
from minikube_py.control.store import SQLiteStore


async def test_a_taken_port_releases_the_store_and_stops_the_controllers(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        tasks_before = asyncio.all_tasks()
        with pytest.raises(OSError, match="address already in use"):
            await control_main.serve(control_main.ControlPlaneConfig(data_dir=str(tmp_path), port=port))
    # The controllers started with the app were stopped, not left to fail on a closed store.
    assert asyncio.all_tasks() == tasks_before
    store = await SQLiteStore.open(str(tmp_path / "state.db"))  # its lock was released
    await store.close()


def test_the_cli_says_so_in_one_line(tmp_path: Path) -> None:
    cli = str(Path(sys.executable).with_name("minikube-py"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [cli, "control-plane", "--data-dir", str(tmp_path), "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        f"error: [Errno 98] error while attempting to bind on address ('127.0.0.1', {port}): address already in use"
    ]
