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
READY_TIMEOUT = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _start(tmp_path: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], int]:
    """Start the control plane (data in ``tmp_path/data``) on ``port``, else on a free one, and wait until it is
    ready.  A port found free a moment ago may have been taken since by another process: then try another."""
    for attempt in range(5):
        port = port or _free_port()
        log = tmp_path / f"control-plane-{attempt}-{port}.log"
        with log.open("wb") as stderr:
            proc = subprocess.Popen(
                [CLI, "control-plane", "--data-dir", str(tmp_path / "data"), "--port", str(port)],
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        if await _ready(proc, port):
            return proc, port
        code = proc.poll()
        proc.kill()
        proc.wait()
        output = log.read_text(errors="replace")
        if code is not None and "address already in use" in output:
            port = None
            continue
        problem = f"exited with status {code}" if code is not None else f"was not ready within {READY_TIMEOUT} s"
        raise AssertionError(f"the control plane {problem}:\n{output[-2000:]}")
    raise AssertionError("the control plane found no free port in 5 attempts")


async def _ready(proc: subprocess.Popen[bytes], port: int) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + READY_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while loop.time() < deadline and proc.poll() is None:
            try:
                async with session.get(f"http://127.0.0.1:{port}/readyz") as r:
                    if r.status == 200:
                        return True
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.05)
    return False


def _pod(name: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "command": ["sleep", "1"]}]}}


async def test_kill_9_loses_nothing_acknowledged(tmp_path: Path) -> None:
    proc, port = await _start(tmp_path)
    base = f"http://127.0.0.1:{port}/api/v1/namespaces/default/pods"
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
            deadline = asyncio.get_running_loop().time() + 60
            while len(acknowledged) < 150:
                assert not all(w.done() for w in workers), f"the creators stopped after {len(acknowledged)} creates"
                assert asyncio.get_running_loop().time() < deadline, f"only {len(acknowledged)} creates in 60 s"
                await asyncio.sleep(0.01)
            os.kill(proc.pid, signal.SIGKILL)  # mid-stream: requests are in flight
            await asyncio.gather(*workers)
        proc.wait()
        before_kill = min(acknowledged.values())
        proc, port = await _start(tmp_path, port)  # the same port, unless another process took it meanwhile
        base = f"http://127.0.0.1:{port}/api/v1/namespaces/default/pods"
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
            # A generous bound: the loop stops at the marker, long before it on any healthy run.
            params = {"watch": "true", "resourceVersion": str(before_kill), "timeoutSeconds": "30"}
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
