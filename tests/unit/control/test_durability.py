"""kill -9 of the control plane during a stream of creates: nothing acknowledged is lost, watches resume."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

CLI = str(Path(sys.executable).with_name("minikube-py"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [CLI, "control-plane", "--data-dir", str(data_dir), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    async with aiohttp.ClientSession() as session:
        for _ in range(200):
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return proc
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    proc.kill()
    raise AssertionError("the control plane did not come up")


def _pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "command": ["sleep", "1"]}]}}


async def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    port = _free_port()
    base = f"http://127.0.0.1:{port}/api/v1/namespaces/default/pods"
    proc = await _start(tmp_path, port)
    acknowledged: dict[str, int] = {}
    try:
        async with aiohttp.ClientSession() as session:

            async def creator(worker: int) -> None:
                for i in range(10_000):
                    name = f"w{worker}-{i}"
                    try:
                        async with session.post(base, json=_pod(name)) as r:
                            if r.status == 201:
                                acknowledged[name] = int((await r.json())["metadata"]["resourceVersion"])
                    except (TimeoutError, aiohttp.ClientError):
                        return

            workers = [asyncio.create_task(creator(w)) for w in range(4)]
            while len(acknowledged) < 150:
                await asyncio.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)  # mid-stream: requests are in flight
            await asyncio.gather(*workers)
        proc.wait()
        before_kill = min(acknowledged.values())
        proc = await _start(tmp_path, port)
        async with aiohttp.ClientSession() as session:
            async with session.get(base) as r:
                listing = await r.json()
            stored = {p["metadata"]["name"] for p in listing["items"]}
            missing = set(acknowledged) - stored
            assert not missing, f"{len(missing)} acknowledged creates lost"
            async with session.post(base, json=_pod("after-restart")) as r:
                assert r.status == 201
                new_rv = int((await r.json())["metadata"]["resourceVersion"])
            assert new_rv > max(acknowledged.values())
            params = {"watch": "true", "resourceVersion": str(before_kill), "timeoutSeconds": "3"}
            replayed = set()
            async with session.get(base, params=params) as r:
                async for line in r.content:
                    event = json.loads(line)
                    replayed.add(event["object"]["metadata"]["name"])
                    if "after-restart" in replayed:
                        break
            expected = {n for n, rv in acknowledged.items() if rv > before_kill} | {"after-restart"}
            assert expected <= replayed
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
