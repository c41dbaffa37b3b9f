"""Watch fan-out: one control plane (a real subprocess), 100 watchers over HTTP, a stream of pod creates.

Measured per delivered event: create request sent → event received by a watcher (the event often arrives
before the create's own response).  The peer in the same run
is the floor without HTTP: a store-level watch inside one process (SQLite commit → in-process delivery).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.report_model import Section, row
from bench.session import TOKEN
from minikube_py.control.store import Key, SQLiteStore

NAME = "watch"
CLI = str(Path(sys.executable).with_name("minikube-py"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _pod(name: str) -> dict[str, object]:
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "command": ["sleep", "1"]}]}}


async def _http_fanout(watchers: int, pods: int) -> tuple[list[float], float]:
    data_dir = tempfile.mkdtemp(prefix=f"mkpy-bench-{TOKEN}-cp-")
    port = _free_port()
    proc = subprocess.Popen(
        [CLI, "control-plane", "--data-dir", data_dir, "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}/api/v1/namespaces/default/pods"
    latencies: list[float] = []
    sent: dict[str, float] = {}
    try:
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            for _ in range(400):
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"http://127.0.0.1:{port}/readyz") as r:
                        if r.status == 200:
                            break
                await asyncio.sleep(0.05)
            async with session.get(base) as r:
                rv = (await r.json())["metadata"]["resourceVersion"]
            done = asyncio.Event()
            remaining = [watchers]

            async def watch() -> None:
                params = {"watch": "true", "resourceVersion": rv, "timeoutSeconds": "120"}
                seen = 0
                async with session.get(base, params=params) as r:
                    async for line in r.content:
                        now = time.perf_counter()
                        name = json.loads(line)["object"]["metadata"]["name"]
                        latencies.append((now - sent[name]) * 1000)
                        seen += 1
                        if seen == pods:
                            break
                remaining[0] -= 1
                if remaining[0] == 0:
                    done.set()

            tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
            await asyncio.sleep(0.5)
            t0 = time.perf_counter()
            for i in range(pods):
                sent[f"p{i}"] = time.perf_counter()
                async with session.post(base, json=_pod(f"p{i}")) as r:
                    assert r.status == 201, await r.text()
            await asyncio.wait_for(done.wait(), 300)
            elapsed = time.perf_counter() - t0
            await asyncio.gather(*tasks)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        shutil.rmtree(data_dir, ignore_errors=True)
    return latencies, watchers * pods / elapsed


async def _store_fanout(watchers: int, pods: int) -> list[float]:
    data_dir = tempfile.mkdtemp(prefix=f"mkpy-bench-{TOKEN}-store-")
    store = await SQLiteStore.open(str(Path(data_dir) / "s.db"))
    latencies: list[float] = []
    sent: dict[str, float] = {}
    try:

        async def watch() -> None:
            seen = 0
            async for event in store.watch("pods", "default", since=await store.current_revision()):
                now = time.perf_counter()
                name = event.object["metadata"]["name"]
                latencies.append((now - sent[name]) * 1000)
                seen += 1
                if seen == pods:
                    return

        tasks = [asyncio.create_task(watch()) for _ in range(watchers)]
        await asyncio.sleep(0.2)
        for i in range(pods):
            sent[f"p{i}"] = time.perf_counter()
            await store.create(Key("pods", "default", f"p{i}"), {"metadata": {"name": f"p{i}", "namespace": "default"}})
        await asyncio.wait_for(asyncio.gather(*tasks), 300)
    finally:
        await store.close()
        shutil.rmtree(data_dir, ignore_errors=True)
    return latencies


async def run(quick: bool) -> Section:
    watchers, pods = (100, 100) if quick else (100, 500)
    http_latency, delivered_per_s = await _http_fanout(watchers, pods)
    store_latency = await _store_fanout(watchers, pods)
    section = Section(NAME, f"Watch fan-out: {watchers} watchers, {pods} pod creates (control plane as a subprocess)")
    section.rows.append(
        row(
            "create sent → event at a watcher",
            "ms",
            "ours: HTTP watch stream",
            http_latency,
            "store-level watch, no HTTP",
            store_latency,
        )
    )
    section.rows.append(row("events delivered", "events/s", "ours: all watchers together", [delivered_per_s]))
    section.target = "no number in the issue: as close to the store-level floor as possible"
    section.notes.append(f"{watchers * pods} deliveries; creates issued one at a time by one client")
    return section
