"""One ``minikube-py up`` subprocess (single node) under a throw-away data dir, stopped with SIGINT however the
benchmark ends; anything it leaves is reported, then removed (only what is provably this cluster's: processes
with its data dir in their command line, its own node cgroup dirs, mounts below its data dir).

Unlike ``bench_e2e.up_cluster`` this does not wait for other minikube-py instances to end: node cgroup dirs
are named after the data dir (``minikube_py-<node>-<digest>``), so clusters on one machine no longer share them.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp

from bench import leaks, procfs
from bench.bench_e2e import CLI, _free_port, _pids_with, _stop, _tail
from bench.session import TOKEN, log, logged_errors


@dataclass
class UpNode:
    proc: subprocess.Popen[bytes]
    base: str
    data_dir: str
    log_path: str
    probe: leaks.Probe
    leftovers: list[str] = field(default_factory=list)  # filled on the way out
    exit_snapshot: leaks.Snapshot | None = None

    @property
    def pid(self) -> int:
        return self.proc.pid


async def _wait_ready(node: UpNode, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as session:
        while True:
            if node.proc.poll() is not None:
                raise RuntimeError(f"minikube-py up exited with {node.proc.returncode}:\n{_tail(node.log_path)}")
            with contextlib.suppress(aiohttp.ClientError):
                async with session.get(node.base + "/api/v1/nodes") as r:
                    items = (await r.json())["items"] if r.status == 200 else []
                for item in items:
                    conditions = item.get("status", {}).get("conditions", [])
                    if any(c["type"] == "Ready" and c["status"] == "True" for c in conditions):
                        return
            if time.monotonic() > deadline:
                raise RuntimeError(f"the node did not become Ready within {timeout} s:\n{_tail(node.log_path)}")
            await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def up_node(tag: str, *extra: str) -> AsyncIterator[UpNode]:
    data_dir = tempfile.mkdtemp(prefix=f"mkpy-bench-{TOKEN}-{tag}-")
    log_path = os.path.join(tempfile.gettempdir(), f"mkpy-bench-{TOKEN}-{tag}-up.log")
    port = _free_port()
    with open(log_path, "wb") as up_log:
        proc = subprocess.Popen(
            [CLI, "up", "--data-dir", data_dir, "--port", str(port), *extra],
            stdin=subprocess.DEVNULL,
            stdout=up_log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # our SIGINT is the only stop it gets
        )
    node = UpNode(proc, f"http://127.0.0.1:{port}", data_dir, log_path, leaks.Probe(data_dir, proc.pid, api_port=port))
    try:
        await _wait_ready(node)
        node.probe.discover()
        log.info("%s: minikube-py up (pid %d) ready on port %d, data dir %s", tag, proc.pid, port, data_dir)
        yield node
    finally:
        with logged_errors("stop minikube-py up"):
            await asyncio.to_thread(_stop, proc)
        with logged_errors("leftover check"):
            node.exit_snapshot = node.probe.snapshot(-1, up_alive=False)
            found = node.probe.leaks(node.exit_snapshot, None)
            node.leftovers = [f"{kind}: {item}" for kind, items in found.items() for item in items]
            node.leftovers += [f"process {pid}: {_cmd(pid)}" for pid in _pids_with(data_dir)]
            if node.leftovers:
                log.error("%s: left behind after SIGINT to up: %s", tag, node.leftovers)
                _clean(node)
        if proc.returncode not in (0, None) or node.leftovers:
            log.warning("%s: up exited with %s; log tail:\n%s", tag, proc.returncode, _tail(log_path))
        with logged_errors("up log"):
            os.unlink(log_path)
        with logged_errors("data dir"):
            if not leaks.mounts_below(data_dir):  # never rmtree into a mount that is still there
                shutil.rmtree(data_dir)


def _cmd(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "(gone)"


def _clean(node: UpNode) -> None:
    """Best effort after a failed shutdown: only this cluster's processes, mounts, cgroups and network."""
    for pid in _pids_with(node.data_dir):
        procfs.kill_and_reap(pid)
    time.sleep(0.2)
    leaks.clean_up(node.probe)
