"""Metric 3: OOM kill → the runtime's OOM record and ``wait_container`` returning OOMKilled.

A container with a 64 MiB limit allocates 200 MiB once released (it polls for a "go" file, so the raw
listener is in place first).  Every time is put on CLOCK_MONOTONIC and measured from the kernel's kill:
the timestamp of the kmsg line "Killed process <pid>" (printed right after SIGKILL is sent), aligned
with a calibration against lines we write to /dev/kmsg ourselves.

Peer, in the same trial: ``oom_listener.py``, a separate minimal process blocking in poll() on a raw
eventfd (cgroup.event_control on the same memory cgroup) and on a pidfd of the same process.
The eventfd fires when the OOM starts, before the kill, so its latency is usually negative.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from typing import Any

from bench import procfs
from bench.kmsg_tail import Calibration, KmsgTail
from bench.report_model import Row, Section, row
from bench.session import TOKEN, log, logged_errors, runtime_session
from minikube_py.node.cgroups.driver import CgroupResources, QOSTier
from minikube_py.node.runtime.model import Container, ContainerConfig, OomRecord, PodSandboxConfig
from minikube_py.node.runtime.runtime import Runtime

NAME = "oom"
MI = 1 << 20
LIMIT = 64 * MI
# The kernel logs the OOM header (with the only line naming the memcg) at most 10 times per 5 s; faster
# trials would measure the runtime's 0.25 s wait for a report that never comes (counted in the notes).
TRIAL_INTERVAL_S = 0.6
LISTENER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "oom_listener.py")
HOG = """import os, time
deadline = time.monotonic() + 20
while not os.path.exists({go!r}):
    if time.monotonic() > deadline:
        raise SystemExit(3)
    time.sleep(0.001)
b = bytearray(200 << 20)  # zero-filled: every page is touched and charged
"""


def _wall_minus_mono(tries: int = 5) -> float:
    """time.time() − time.monotonic(), from the read bracketed most tightly."""
    best: tuple[float, float] | None = None
    for _ in range(tries):
        m0, wall, m1 = time.monotonic(), time.time(), time.monotonic()
        if best is None or m1 - m0 < best[0]:
            best = (m1 - m0, wall - (m0 + m1) / 2)
    assert best is not None
    return best[1]


class _Callbacks:
    """The runtime's OOM listener: when each record reached us (CLOCK_MONOTONIC), by container pid."""

    def __init__(self) -> None:
        self.seen: dict[int, tuple[OomRecord, float]] = {}

    def __call__(self, container: Container, record: OomRecord) -> None:
        self.seen.setdefault(container.pid, (record, time.monotonic()))


def _memcg_dir(rt: Runtime, container: Container) -> str:
    memory = next(h for h in procfs.v1_hierarchies() if "memory" in h.options.split(","))
    return procfs.hierarchy_dir(memory, rt.driver.kernel_memory_path(container.cgroup))


async def _trial(
    rt: Runtime, k: int, workdir: str, tail: KmsgTail, cal: Calibration, cbs: _Callbacks
) -> dict[str, Any]:
    config = PodSandboxConfig(
        uid=f"{TOKEN}-o{k}", name=f"oom-{k}", namespace="bench", hostname=f"oom-{k}", tier=QOSTier.BURSTABLE
    )
    go = os.path.join(workdir, f"go-{k}")
    sandbox = await rt.run_pod_sandbox(config)
    listener: subprocess.Popen[str] | None = None
    try:
        c = await rt.start_container(
            sandbox,
            ContainerConfig(
                name="hog",
                argv=[sys.executable, "-S", "-c", HOG.format(go=go)],
                resources=CgroupResources(memory_limit=LIMIT),
            ),
        )
        listener = subprocess.Popen(
            [sys.executable, "-S", "-I", LISTENER, _memcg_dir(rt, c), str(c.pid)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert listener.stdout is not None
        ready = await asyncio.to_thread(listener.stdout.readline)
        if ready.strip() != "ready":
            raise RuntimeError(f"raw listener failed: {ready!r} {listener.stderr.read() if listener.stderr else ''}")
        open(go, "w").close()
        result = await asyncio.wait_for(rt.wait_container(c), 30)
        t_wait = time.monotonic()
        out, _ = await asyncio.to_thread(listener.communicate, None, 35)
    finally:
        if listener is not None and listener.poll() is None:
            listener.kill()
            listener.wait()
        await rt.remove_pod_sandbox(sandbox)
    return _timeline(c, result.reason, t_wait, json.loads(out.splitlines()[-1]), tail, cal, cbs)


def _timeline(
    c: Container,
    reason: str,
    t_wait: float,
    raw: dict[str, int],
    tail: KmsgTail,
    cal: Calibration,
    cbs: _Callbacks,
) -> dict[str, Any]:
    """Every event of one trial in CLOCK_MONOTONIC seconds (None when not observed)."""
    kill_us, header_logged = tail.oom_report(c.pid)
    record, t_cb = cbs.seen.get(c.pid, (None, None))
    return {
        "reason": reason,
        "pid": c.pid,
        "kernel_header_logged": header_logged,
        "record_victim_pid": record.victim_pid if record is not None else None,
        "victim_pid_named": record is not None and record.victim_pid == c.pid,
        "kill": kill_us / 1e6 - cal.offset_s if kill_us is not None else None,
        "raw_eventfd": raw["eventfd_ns"] / 1e9 if "eventfd_ns" in raw else None,
        "raw_pidfd": raw["pidfd_ns"] / 1e9 if "pidfd_ns" in raw else None,
        "record": record.detected_at - _wall_minus_mono() if record is not None else None,
        "listener": t_cb,
        "wait": t_wait,
    }


def _latencies(trials: list[dict[str, Any]], origin: str) -> dict[str, list[float]]:
    """Milliseconds from ``origin`` to every other event, over the trials where both were seen."""
    out: dict[str, list[float]] = defaultdict(list)
    for t in trials:
        if t["reason"] != "OOMKilled" or t[origin] is None:
            continue
        for key in ("kill", "raw_eventfd", "raw_pidfd", "record", "listener", "wait"):
            if key != origin and t[key] is not None:
                out[key].append((t[key] - t[origin]) * 1e3)
    return out


async def run(quick: bool, trials: int | None = None) -> Section:
    n = trials or (10 if quick else 20)
    workdir = tempfile.mkdtemp(prefix=f"mkpy-bench-{TOKEN}-oom-")
    tail = KmsgTail()
    cbs = _Callbacks()
    results: list[dict[str, Any]] = []
    try:
        cal_before = tail.calibrate()
        async with runtime_session(NAME) as rt:
            rt.add_oom_listener(cbs)
            for k in range(n):
                next_at = time.monotonic() + TRIAL_INTERVAL_S
                results.append(await _trial(rt, k, workdir, tail, cal_before, cbs))
                await asyncio.sleep(max(0.0, next_at - time.monotonic()))
        cal_after = tail.calibrate()
    finally:
        tail.close()
        with logged_errors("temp dir"):
            shutil.rmtree(workdir)
    log.info("oom: %d trials done", n)
    return _section(results, cal_before, cal_after, tail.missed)


def _section(results: list[dict[str, Any]], cal: Calibration, cal_after: Calibration, missed: int) -> Section:
    from_kill, from_efd = _latencies(results, "kill"), _latencies(results, "raw_eventfd")
    oom = sum(r["reason"] == "OOMKilled" for r in results)
    rows: list[Row] = [
        row(
            "kill → OOM seen",
            "ms",
            "ours: OomRecord.detected_at",
            from_kill["record"],
            "raw eventfd readable",
            from_kill["raw_eventfd"],
            compare="delta",
        ),
        row(
            "kill → exit seen",
            "ms",
            "ours: wait_container → OOMKilled",
            from_kill["wait"],
            "raw pidfd readable",
            from_kill["raw_pidfd"],
            compare="delta",
        ),
        row("kill → listener called", "ms", "ours: add_oom_listener callback", from_kill["listener"]),
        row(
            "eventfd → OOM seen",
            "ms",
            "ours: OomRecord.detected_at",
            from_efd["record"],
            "kmsg 'Killed process' line",
            from_efd["kill"],
            compare="delta",
        ),
        row(
            "eventfd → exit seen",
            "ms",
            "ours: wait_container → OOMKilled",
            from_efd["wait"],
            "raw pidfd readable",
            from_efd["raw_pidfd"],
            compare="delta",
        ),
    ]
    return Section(
        name=NAME,
        title="OOM kill (64 MiB limit, 200 MiB allocation) → runtime event",
        rows=rows,
        target="no number in the issue: as close to the raw eventfd/pidfd listener as possible",
        notes=[
            f"{len(results)} trials, {oom} ended OOMKilled; kill time seen in kmsg for "
            f"{sum(r['kill'] is not None for r in results)}; victim named in the record for "
            f"{sum(r['victim_pid_named'] for r in results)}; kernel OOM header rate-limited away in "
            f"{sum(not r['kernel_header_logged'] for r in results)}; kmsg records lost: {missed}.",
            f"trials start ≥ {TRIAL_INTERVAL_S} s apart (kernel: ≤ 10 OOM headers per 5 s; without the "
            "header the runtime waits its full 0.25 s kmsg timeout and leaves the victim unnamed).",
            f"kmsg clock − CLOCK_MONOTONIC = {cal.offset_s * 1e3:.3f} ms "
            f"(±{cal.uncertainty_s * 1e3:.3f}) before, "
            f"{cal_after.offset_s * 1e3:.3f} ms (±{cal_after.uncertainty_s * 1e3:.3f}) after.",
            "comparison = ours − peer (medians), in ms; negative kill→eventfd: the notifier fires before the kill.",
            "OomRecord.detected_at is set before the runtime waits (≤ 0.25 s) for the kmsg report "
            "naming the victim; "
            "the listener is called after that wait.",
        ],
        raw={"trials": results, "calibration": [cal.__dict__, cal_after.__dict__]},
    )
