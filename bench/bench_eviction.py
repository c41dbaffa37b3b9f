"""Metric: memory threshold crossing → the eviction manager woken, and → the eviction started.

A node cgroup tree of our own (``kubepods`` capped at 256 MiB, ``memory.available<96Mi``) and, per round, a
fresh Python process in ``kubepods/besteffort/eater`` that waits for "go", then allocates 1 MiB at a time and
reports the CLOCK_MONOTONIC time just before the chunk that took the usage of ``kubepods`` past the watcher's
level (``capacity − threshold + inactive_file``).  Every latency is measured from that instant, so the
allocation of the last chunk, the kernel, the event loop and the manager's pass are all inside it.

* crossing → wake: :class:`MemoryThresholdWatcher` with its defaults (kernel notifier + 0.1 s sampler), with
  the kernel notifier alone (sampler looks once, then not for a minute; cgroup v1 only), and the sampler alone.
* crossing → eviction started: a real :class:`EvictionManager` (housekeeping 10 s, as the kubelet) whose stats
  come from the real cgroups, woken by the watcher; "started" = its kill function called for the eater's pod
  (the process itself is SIGKILLed when the round ends).  Peer: the same manager without the watcher, i.e. the
  kubelet's 10 s housekeeping, with the crossing at a random phase of its cycle — fewer rounds (~10 s each).
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import select
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from typing import Any

from bench.report_model import Section, row
from bench.session import TOKEN, kill_node_processes, log, logged_errors
from minikube_py import errors
from minikube_py.api import types
from minikube_py.node.cgroups.driver import KUBEPODS, CgroupDriver, CgroupResources
from minikube_py.node.cgroups.factory import CgroupConfig, new_driver
from minikube_py.node.eviction.manager import EvictionManager
from minikube_py.node.eviction.notifier import KIND_USAGE_THRESHOLD, MemoryThresholdWatcher
from minikube_py.node.eviction.types import EvictionConfig, NodeStats, PodStats
from minikube_py.util.clock import RealClock

NAME = "eviction"
MI = 1 << 20
NODE_LIMIT = 256 * MI
THRESHOLD = "96Mi"
EATER_CGROUP = f"{KUBEPODS}/besteffort/eater"
WAIT_S = 3.0  # a round that has not woken by then counts as a miss
EATER = r"""
import sys, time
# argv: usage file, level, MiB to add after the crossing (then hold), and anything else (the bench's token,
# for its leftovers check).  Also the root tests' eater (tests/privileged/test_memory_threshold.py).
usage_file, level, extra = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def usage():
    with open(usage_file) as f:
        return int(f.read())
print("ready", flush=True)
sys.stdin.readline()
chunks = []
before = time.monotonic()
while True:
    chunks.append(bytearray(1 << 20))  # zero-filled: every page is touched and charged
    if usage() >= level:
        break
    before = time.monotonic()
after = time.monotonic()
print(f"crossed {before!r} {after!r}", flush=True)  # before the rest: an eviction may kill us any moment now
chunks.extend(bytearray(1 << 20) for _ in range(extra))
time.sleep(600)
"""


class Eater:
    def __init__(self, driver: CgroupDriver, level: int) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-S", "-c", EATER, driver.memory_usage_file(KUBEPODS), str(level), "8", TOKEN],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )

    def join(self, driver: CgroupDriver) -> None:
        for procs in driver.procs_files(EATER_CGROUP):
            with open(procs, "w") as f:
                f.write(str(self.proc.pid))
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        if not ready or self.proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the eater did not start")

    def go(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()

    def crossed(self) -> float:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], 30)
        line = self.proc.stdout.readline().split() if ready else []
        if len(line) != 3 or line[0] != "crossed":
            raise RuntimeError(f"the eater did not report its crossing: {line}")
        return float(line[1])

    def kill(self) -> None:
        self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()


@contextlib.contextmanager
def node_session() -> Iterator[CgroupDriver]:
    driver = new_driver(CgroupConfig(node_dir=f"mkpy-bench-{NAME}-{TOKEN}"))
    try:
        driver.setup_node()
        driver.update(KUBEPODS, CgroupResources(memory_limit=NODE_LIMIT))
        driver.create(EATER_CGROUP, CgroupResources())
        yield driver
    finally:
        with logged_errors("node processes"):
            kill_node_processes(driver)
        with logged_errors("node cgroups"), contextlib.suppress(errors.CgroupNotFound):
            driver.teardown_node()


def _pod() -> types.Pod:
    return types.Pod(
        metadata=types.ObjectMeta(name="eater", namespace="bench", uid=str(uuid.uuid4())),
        spec=types.PodSpec(containers=[types.Container(name="eat", image="none")]),
    )


def _node_stats(driver: CgroupDriver, pod: types.Pod) -> NodeStats:
    node = driver.stats(KUBEPODS)
    assert node.memory_limit is not None
    pod_ws = driver.stats(EATER_CGROUP).memory_working_set
    return NodeStats(
        time=time.time(),
        memory_available_bytes=max(0, node.memory_limit - node.memory_working_set),
        memory_working_set_bytes=node.memory_working_set,
        pods=(PodStats(uid=pod.metadata.uid, memory_working_set_bytes=pod_ws),),
    )


async def _wait_for(flag: list[float], timeout: float) -> float | None:
    deadline = time.monotonic() + timeout
    while not flag and time.monotonic() < deadline:
        await asyncio.sleep(0.002)
    return flag[0] if flag else None


async def _round(driver: CgroupDriver, variant: str, config: EvictionConfig) -> dict[str, Any]:
    """One crossing; returns the latency from the crossing to the wake or to the eviction, in seconds."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    hit: list[float] = []
    tasks: list[asyncio.Task[None]] = []
    eater: Eater | None = None
    manager: EvictionManager | None = None
    pod = _pod()
    watcher: MemoryThresholdWatcher | None = None
    try:
        if variant in ("e2e", "housekeeping"):

            def kill(p: types.Pod, grace: int | None, reason: str, message: str) -> bool:
                # "Eviction started": the time is what we measure; the process goes when the round ends, so
                # it can still report its crossing.
                hit.append(time.monotonic())
                return True

            manager = EvictionManager(
                config,
                clock=RealClock(),
                stats=lambda: _node_stats(driver, pod),
                active_pods=lambda: [] if hit else [pod],
                kill_pod=kill,
                pod_cleaned_up=lambda p: True,
            )
        if variant != "housekeeping":
            wake = manager.wake if manager is not None else (lambda: hit.append(time.monotonic()))
            watcher = MemoryThresholdWatcher(
                driver,
                config.thresholds,
                wake,
                sample_interval=60.0 if variant == "kernel" else 0.1,
                kernel_notifiers=variant != "sampler",
            )
            tasks.append(asyncio.create_task(watcher.run(stop)))
            for _ in range(500):
                if watcher.arming is not None:
                    break
                await asyncio.sleep(0.002)
            assert watcher.arming is not None and watcher.arming.bounded
            if variant == "kernel" and watcher.arming.kind != KIND_USAGE_THRESHOLD:
                raise RuntimeError(f"no exact kernel notifier here ({watcher.arming})")
            level = watcher.arming.levels[0]
        else:
            stats = driver.stats(KUBEPODS)
            inactive = stats.memory_usage - stats.memory_working_set
            level = NODE_LIMIT - config.thresholds[0].value.resolve(NODE_LIMIT) + inactive
        if manager is not None:
            tasks.append(asyncio.create_task(manager.run(stop)))
        eater = Eater(driver, level)
        await loop.run_in_executor(None, eater.join, driver)
        await asyncio.sleep(0.2)  # the manager's first pass and the sampler's first looks are done
        if variant == "housekeeping":
            # A crossing lands at a random phase of the kubelet's cycle: 0-10 s to the next pass.
            await asyncio.sleep(random.uniform(0, config.housekeeping_interval - 0.2))
        if hit:
            raise RuntimeError("woken before the crossing")
        eater.go()
        crossed = await loop.run_in_executor(None, eater.crossed)
        at = await _wait_for(hit, config.housekeeping_interval + WAIT_S if variant == "housekeeping" else WAIT_S)
        return {
            "variant": variant,
            "latency": None if at is None else at - crossed,
            "reason": watcher.last_wake_reason if watcher is not None else "housekeeping",
            "kind": watcher.arming.kind if watcher is not None and watcher.arming is not None else None,
        }
    finally:
        stop.set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if eater is not None:
            eater.kill()


async def run(quick: bool, rounds: int | None = None) -> Section:
    n = rounds or (8 if quick else 20)
    n_peer = 3 if quick else 6
    config = EvictionConfig(eviction_hard={"memory.available": THRESHOLD})
    results: list[dict[str, Any]] = []
    kinds: set[str] = set()
    with node_session() as driver:
        v2 = driver.memory_usage_file(KUBEPODS).endswith("memory.current")
        plan = [("both", n), ("sampler", n), ("e2e", n), ("housekeeping", n_peer)]
        if not v2:
            plan.insert(1, ("kernel", n))
        for variant, count in plan:
            for k in range(count):
                result = await _round(driver, variant, config)
                results.append(result)
                if variant == "both" and result["kind"]:
                    kinds.add(result["kind"])
                log.info("eviction: %s round %d: %s", variant, k, result["latency"])
    return _section(results, kinds, v2)


def _ms(results: list[dict[str, Any]], variant: str) -> list[float]:
    return [r["latency"] * 1000 for r in results if r["variant"] == variant and r["latency"] is not None]


def _section(results: list[dict[str, Any]], kinds: set[str], v2: bool) -> Section:
    rows = [
        row(
            "crossing → eviction started",
            "ms",
            "ours: manager woken by the watcher",
            _ms(results, "e2e"),
            "kubelet: housekeeping 10 s (same manager, no watcher)",
            _ms(results, "housekeeping"),
        ),
        row(
            "crossing → manager woken",
            "ms",
            "ours: watcher, kernel notifier + 0.1 s sampler",
            _ms(results, "both"),
            "sampler alone",
            _ms(results, "sampler"),
        ),
    ]
    if not v2:
        rows.append(row("crossing → manager woken", "ms", "ours: v1 usage threshold alone", _ms(results, "kernel")))
    misses = {v: sum(1 for r in results if r["variant"] == v and r["latency"] is None) for v in
              ("both", "kernel", "sampler", "e2e", "housekeeping")}  # fmt: skip
    by_kernel = sum(1 for r in results if r["variant"] == "both" and r["reason"] == "kernel")
    n_both = sum(1 for r in results if r["variant"] == "both")
    notes = [
        f"node: kubepods capped at {NODE_LIMIT // MI} MiB, memory.available<{THRESHOLD}; a fresh allocating process "
        "per round; latency from the last instant before the crossing chunk (1 MiB).",
        f"kernel notifier armed by the default watcher: {', '.join(sorted(kinds)) or 'none'}"
        + (" (cgroup v2: a PSI/memory.events hint; the crossing itself is seen by the sampler)" if v2 else ""),
        f"default watcher: {by_kernel} of {n_both} wakes came from the kernel notifier, the others from the sampler.",
        "housekeeping peer: the crossing at a random phase of the 10 s cycle (uniform 0-10 s expected).",
        f"misses (no wake/eviction within the wait): {misses}",
    ]
    return Section(
        name=NAME,
        title="Eviction: memory threshold crossing → wake → eviction started",
        rows=rows,
        target="crossing → eviction started ≤ 1 s (kubelet: up to its 10 s housekeeping interval)",
        notes=notes,
        raw={"results": results},
    )
