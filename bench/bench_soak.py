"""Churn soak through a real ``minikube-py up`` (one node): N pod create → Running → delete → gone cycles via
the API, ``concurrency`` in flight at once, then: did anything leak, and does memory stay flat?

Every ``every`` cycles the churn drains (no pod left), the bench closes its HTTP connections (each is a socket
of ``up`` too) and takes a snapshot once the counts settle (≤ 10 s): cgroups below the node's cgroup dirs,
processes in them, mounts below the data dir, pod namespaces still held, network namespaces and links (also in
the node agent's own network namespace), open fds and RSS/PSS of ``up`` (API server, scheduler, controllers)
and of the node agent (a ``minikube-py agent`` child, or inside ``up`` in the older layout), RSS of the node
shim, and the SQLite store read-only (pods left, Event objects, event-log rows).  Leaks are counted
against the snapshot after a short warm-up; the last snapshot is taken after ``up`` exited (SIGINT).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp

from bench import leaks
from bench.churn import ChurnStats, PodTracker, churn, delete_all, sandbox_namespaces
from bench.report_model import Row, Section, row
from bench.session import log
from bench.upnode import UpNode, up_node

NAME = "soak"
DEFAULT_CYCLES, QUICK_CYCLES = 10_000, 500
CONCURRENCY = 8
WARMUP_CYCLES = 16
SETTLE_S = 10.0
# The agent's HTTP client (aiohttp's default connector) keeps an idle pooled connection for 15 s: after a burst
# `up` may hold one more connection to itself (two sockets) until then.  The final snapshot waits past that.
FINAL_SETTLE_S = 20.0
EVENT_LOG_BOUND = 10_000  # SQLiteStore's default history


def _session() -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)
    )


async def settled(
    probe: leaks.Probe, cycles: int, before: leaks.Snapshot | None, timeout: float = SETTLE_S
) -> tuple[leaks.Snapshot, dict[str, list[str]]]:
    """A snapshot once nothing counts as leaked against ``before`` and the fd count held still for 1 s (or
    at ``timeout``: then what is left is reported).  The caller's HTTP connections must be closed."""
    deadline = time.monotonic() + timeout
    last_fds = -1
    steady_since = time.monotonic()
    while True:
        snap = await asyncio.to_thread(probe.snapshot, cycles)
        found = probe.leaks(snap, before) if before is not None else {}
        if snap.fd_total != last_fds:
            last_fds, steady_since = snap.fd_total, time.monotonic()
        clean = not any(found.values())
        if (clean and time.monotonic() - steady_since >= 1.0) or time.monotonic() > deadline:
            return snap, found
        await asyncio.sleep(0.25)


class Soak:
    """The churn in chunks of ``every`` cycles with a settled snapshot after each."""

    def __init__(self, node: UpNode, concurrency: int) -> None:
        self.node = node
        self.concurrency = concurrency
        self.stats = ChurnStats()
        self.curve: list[leaks.Snapshot] = []
        self.checkpoint_leaks: list[dict[str, int]] = []

    def _running(self, pod: dict[str, Any]) -> None:
        self.node.probe.pod_uids.add(pod["metadata"]["uid"])

    def _gone(self, pod: dict[str, Any], last: dict[str, Any]) -> None:
        self.node.probe.pod_gone(sandbox_namespaces(pod) or sandbox_namespaces(last))

    async def chunk(self, first: int, cycles: int, prefix: str = "soak") -> ChurnStats:
        session = _session()
        tracker = PodTracker(session, self.node.base)
        try:
            await tracker.start()
            return await churn(
                session, self.node.base, tracker, first=first, cycles=cycles, concurrency=self.concurrency,
                prefix=prefix, on_running=self._running, on_gone=self._gone,
            )  # fmt: skip
        except BaseException:
            await delete_all(session, self.node.base)
            raise
        finally:
            await tracker.close()
            await session.close()


async def soak(node: UpNode, cycles: int, concurrency: int, every: int) -> tuple[Soak, leaks.Snapshot]:
    s = Soak(node, concurrency)
    await s.chunk(0, WARMUP_CYCLES, prefix="warm")
    before, _ = await settled(node.probe, 0, None)
    s.curve.append(before)
    done = 0
    while done < cycles:
        n = min(every, cycles - done)
        s.stats.add(await s.chunk(done, n))
        done += n
        snap, found = await settled(node.probe, done, before, FINAL_SETTLE_S if done >= cycles else SETTLE_S)
        s.curve.append(snap)
        s.checkpoint_leaks.append(leaks.leak_counts(found))
        log.info(
            "soak: %d/%d cycles, %.1f/s; RSS up %d KiB, agent %d KiB; fds %d; leaks %s",
            done, cycles, s.stats.per_s, snap.rss_kib, snap.agent_rss_kib, snap.fd_total,
            {k: v for k, v in leaks.leak_counts(found).items() if v} or "none",
        )  # fmt: skip
    return s, before


async def run(quick: bool, cycles: int | None = None, concurrency: int = CONCURRENCY) -> Section:
    n = cycles or (QUICK_CYCLES if quick else DEFAULT_CYCLES)
    every = max(10, min(500, n // 10))
    async with up_node(NAME) as node:
        s, before = await soak(node, n, concurrency, every)
        final = s.curve[-1]
        final_leaks = node.probe.leaks(final, before)
    exit_code = node.proc.returncode
    return _section(s, before, final, final_leaks, node, exit_code, every)


def _slope(curve: list[leaks.Snapshot], attr: str, skip_first_half: bool = False) -> float | None:
    points = [(snap.cycles, float(getattr(snap, attr))) for snap in curve[1:]]  # after the first chunk
    if skip_first_half:
        points = points[len(points) // 2 :]
    return leaks.slope_per_1000(points)


def _section(
    s: Soak,
    before: leaks.Snapshot,
    final: leaks.Snapshot,
    final_leaks: dict[str, list[str]],
    node: UpNode,
    exit_code: int | None,
    every: int,
) -> Section:
    st = s.stats
    counts = leaks.leak_counts(final_leaks)
    exit_leaks = node.leftovers
    db0, db1 = before.db, final.db
    events_before = db0.objects.get("events", 0) if db0 else 0
    events_after = db1.objects.get("events", 0) if db1 else 0
    rss_slope = _slope(s.curve, "rss_kib")
    rss_slope_late = _slope(s.curve, "rss_kib", skip_first_half=True)
    pss_slope = _slope(s.curve, "pss_kib")
    shim_slope = _slope(s.curve, "shim_rss_kib")
    agent_slope = _slope(s.curve, "agent_rss_kib")
    agent_slope_late = _slope(s.curve, "agent_rss_kib", skip_first_half=True)
    probe = node.probe
    where = (
        f"a separate `minikube-py agent` process (pid {probe.agent}) in network namespace {probe.node_netns}"
        if probe.agent
        else "inside the `up` process"
    )
    rows: list[Row] = [
        row("churn throughput", "cycles/s", f"ours: {s.concurrency} in flight", [st.per_s]),
        row("POST → Running (watch)", "ms", f"ours: {s.concurrency} in flight", st.create_to_running_ms),
        row("DELETE (grace 0) → object gone", "ms", f"ours: {s.concurrency} in flight", st.delete_to_gone_ms),
        row("whole cycle", "ms", f"ours: {s.concurrency} in flight", st.cycle_ms),
        *[row(f"leaked {k} after {st.cycles} cycles", "count", "ours (0 expected)", [v]) for k, v in counts.items()],
        row("left behind after `up` exited", "count", "ours (0 expected)", [float(len(exit_leaks))]),
        row("`up` RSS slope", "KiB/1000 cycles", "ours: least squares, all checkpoints", _opt(rss_slope)),
        row("`up` RSS slope, second half", "KiB/1000 cycles", "ours: least squares", _opt(rss_slope_late)),
        row("`up` PSS slope", "KiB/1000 cycles", "ours: least squares", _opt(pss_slope)),
        row("agent RSS slope", "KiB/1000 cycles", "ours: least squares", _opt(agent_slope)),
        row("agent RSS slope, second half", "KiB/1000 cycles", "ours: least squares", _opt(agent_slope_late)),
        row("node shim RSS slope", "KiB/1000 cycles", "ours: least squares", _opt(shim_slope)),
        row("Event objects per cycle", "rows", "ours: objects table, resource events",
            [(events_after - events_before) / max(1, st.cycles)]),
        row("event-log rows (watch history)", "rows", f"ours (bounded to {EVENT_LOG_BOUND})",
            [float(db1.event_log if db1 else 0)]),
    ]  # fmt: skip
    curve = " | ".join(
        f"{snap.cycles}: {snap.rss_kib}/{snap.agent_rss_kib}/{snap.shim_rss_kib}/{snap.fd_total}" for snap in s.curve
    )
    notes = [
        f"{st.cycles} cycles (+{WARMUP_CYCLES} warm-up, not counted) of `sleep 3600` pods through the API of one "
        f"`minikube-py up` (single node; the agent runs {where}), {s.concurrency} in "
        f"flight; each POST → Running (pod watch) → DELETE gracePeriodSeconds=0 → DELETED event; {st.wall_s:.0f} s "
        "of churn.  Others' root tests may run on this 2-core machine at the same time: throughput is noisy.",
        f"Snapshots every {every} cycles with no pod left and the bench's connections closed, once the counts "
        f"settle (≤ {SETTLE_S:.0f} s; the last ≤ {FINAL_SETTLE_S:.0f} s, past the 15 s keep-alive of the agent's "
        "pooled HTTP connections).  Leaks: against the snapshot after the warm-up; cgroups/processes below "
        "the node's cgroup dirs, mounts below the data dir, pod namespace inodes held by an older process or an "
        "nsfs mount, links/netns of this cluster, fds of `up` and of the agent (by kind), pod rows in the store.  "
        "Between checkpoints 10 s may be shorter than the 15 s keep-alive of the agent's pooled connections to "
        "the API server, so a checkpoint may show a transient 'fds' excess of such sockets; the final one waits.",
        "Final leaks: " + (", ".join(f"{k}={v}" for k, v in counts.items())),
        "Checkpoint leaks (non-zero only): "
        + (
            "; ".join(
                f"@{(i + 1) * every}: {', '.join(f'{k}={v}' for k, v in c.items() if v)}"
                for i, c in enumerate(s.checkpoint_leaks)
                if any(c.values())
            )
            or "none"
        ),
        f"After SIGINT: `up` exited {exit_code}; left behind: {'; '.join(exit_leaks) or 'nothing'}.",
        f"Machine-wide (not attributed, others' tests change them): netns {len(before.netns)} → {len(final.netns)}, "
        f"links {len(before.links)} → {len(final.links)}.",
        f"Memory curve (cycles: RSS KiB of `up` / agent / shim, fds of `up` + agent): {curve}.",
        f"Store: objects before {db0.objects if db0 else {}}, after {db1.objects if db1 else {}}; Event objects "
        f"{events_before} → {events_after} (by involvedObject kind: {dict(db1.event_objects_about) if db1 else {}}) "
        "— Events live 1 h after their last occurrence (--event-ttl, as in Kubernetes), longer than this run, so "
        "they grow with every cycle (on disk; the TTL collector reads them a page at a time); event log "
        f"{db0.event_log if db0 else 0} → {db1.event_log if db1 else 0} rows (revision {db1.revision if db1 else 0}, "
        f"compacted {db1.compacted if db1 else 0}).",
        f"fds by kind, `up` before: {dict(before.fds)}, after: {dict(final.fds)}; agent before: "
        f"{dict(before.agent_fds)}, after: {dict(final.agent_fds)}.",
        f"Links in the node's namespace {probe.node_netns}: {len(before.node_links)} → {len(final.node_links)}; "
        f"the cluster's named netns {sorted(probe.cluster_netns)} and links {sorted(probe.cluster_links)} must "
        "be gone after exit.",
    ]
    return Section(
        name=NAME,
        title=f"Churn soak: {st.cycles} pod lifecycles through `minikube-py up`, {s.concurrency} in flight",
        rows=rows,
        target="0 leaked cgroups, mounts, namespaces, links, processes, fds, pod rows; memory flat",
        notes=notes,
        raw={
            "curve": [snap.to_dict() for snap in s.curve],
            "final_leaks": final_leaks,
            "checkpoint_leaks": s.checkpoint_leaks,
            "exit_code": exit_code,
            "exit_leftovers": exit_leaks,
            "agent_pid": probe.agent,
            "node_netns": probe.node_netns,
            "create_to_running_ms": st.create_to_running_ms,
            "delete_to_gone_ms": st.delete_to_gone_ms,
            "wall_s": st.wall_s,
        },
    )


def _opt(value: float | None) -> list[float] | None:
    return None if value is None else [value]
