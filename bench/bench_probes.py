"""Probes: agent CPU with 50 pods × 2 probes at periodSeconds 1 (100 probes/s), and probe scheduling jitter.

One node (``minikube-py up``, single node; the agent is a separate ``minikube-py agent`` process in the node's
network namespace, probing the pods' IPs from there).  Every pod runs the same tiny HTTP server
(``python3 -S``, ``http.server`` on 8080).

* Phase A (peer): N pods without probes, all Running; CPU (utime+stime from /proc/PID/stat) of the agent, of
  ``up`` (API server, scheduler, controllers) and of the node shim over a window, and the pods' own cgroup CPU.
* Phase B: the same N pods with an httpGet readiness probe and a tcpSocket liveness probe each, both
  ``periodSeconds: 1``; all Running and Ready; the same CPU over the same window.  The probes' cost is B − A.
* Jitter: each probe's history (the agent's ``/probes/NS/POD`` through the node proxy: the last 10 runs) is read
  once per pod right after the CPU window, so the reading costs nothing inside it. A history entry's ``time`` is the
  wall clock the worker read right before it called the prober (``worker.py`` ``do_probe``: ``now = clock.now()``
  after the container checks), i.e. when the probe actually started, not the tick it was scheduled for, rounded to 1
  ms; so consecutive entries of one snapshot (the deque holds consecutive runs) give the real start-to-start
  interval, and |interval − period| is the scheduling jitter at 1 ms resolution. Cross-check independent of the
  agent's own bookkeeping: some pods' servers print ``time.monotonic()`` for every GET they serve (the readiness
  probe; a TCP probe connects and closes without a request), read back through the pod log API.
* Phase C (exec): M pods with an exec readiness probe ``true`` at period 1; the CPU charged to the pods'
  cgroups (cpuacct / cpu.stat: the probe runs under a ``python -I -S`` reaper inside the container), per probe,
  against the same pods' idle CPU in phase A; and the agent's and shim's CPU per exec probe.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import statistics
import sys
import time
from dataclasses import asdict, dataclass, field

import aiohttp

from bench.bench_e2e import CLK_TCK, _cpu_s, _stat_fields
from bench.churn import Object, PodTracker, delete_all
from bench.report_model import Row, Section, row
from bench.session import log, logged_errors
from bench.stats import percentile
from bench.upnode import UpNode, up_node

NAME = "probes"
PODS = 50
EXEC_PODS = 10
PERIOD_S = 1
SETTLE_S = 3.0  # after the last pod is Ready: status writes of the batch drain
HISTORY_S = 10.0  # a history holds the last 10 runs: at period 1 s, the last 10 s
TARGET_CPU = 10.0  # % of one core for 100 probes/s
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STAMP_PODS = 10  # pods whose server prints a monotonic timestamp per GET (server-side jitter cross-check)

SERVER = r"""
import http.server, os, socketserver, sys, time
STAMP = os.environ.get("STAMP") == "1"
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if STAMP:
            sys.stdout.write("R %.6f\n" % time.monotonic())
            sys.stdout.flush()
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")
    def log_message(self, *args):
        pass
class S(http.server.HTTPServer):
    def server_bind(self):  # HTTPServer's socket.getfqdn() waits for DNS, unreachable from the pod
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = "pod", 8080
S(("0.0.0.0", 8080), H).serve_forever()
"""


def server_pod(name: str, *, probes: str = "", stamp: bool = False) -> Object:
    """One container running SERVER; probes: "" (none), "net" (httpGet readiness + tcpSocket liveness) or
    "exec" (exec ``true`` readiness), all at PERIOD_S."""
    container: Object = {
        "name": "web",
        "command": ["python3", "-S", "-c", SERVER],
        "ports": [{"containerPort": 8080, "name": "http"}],
        "env": [{"name": "STAMP", "value": "1" if stamp else "0"}],
    }
    if probes == "net":
        container["readinessProbe"] = {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": PERIOD_S}
        # failureThreshold 10: 50 servers starting at once on 2 busy cores may need more than 3 s to listen.
        container["livenessProbe"] = {"tcpSocket": {"port": 8080}, "periodSeconds": PERIOD_S, "failureThreshold": 10}
    elif probes == "exec":
        container["readinessProbe"] = {"exec": {"command": ["true"]}, "periodSeconds": PERIOD_S}
    return {"metadata": {"name": name}, "spec": {"containers": [container], "terminationGracePeriodSeconds": 1}}


def is_ready(pod: Object) -> bool:
    conditions = (pod.get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)


class ProbeTracker(PodTracker):
    """A PodTracker that also waits for Ready."""

    async def ready(self, name: str, timeout: float = 60.0) -> Object:
        return await self.until(name, is_ready, "Ready", timeout)


# --- CPU


def _cpu_root(node: UpNode) -> str:
    """v1: the cpuacct hierarchy (cpu may be a hierarchy of its own, without usage); v2: the unified one."""
    for name in ("cpuacct.usage", "cpu.stat"):
        for root in node.probe.roots:
            if os.path.exists(os.path.join(root, name)) and (name != "cpu.stat" or _has_usage(root)):
                return root
    raise RuntimeError(f"no cpu accounting cgroup among {node.probe.roots}")


def _has_usage(d: str) -> bool:
    with open(os.path.join(d, "cpu.stat")) as f:
        return any(line.startswith("usage_usec ") for line in f)


def _cgroup_cpu_s(d: str) -> float:
    v1 = os.path.join(d, "cpuacct.usage")
    try:
        if os.path.exists(v1):
            with open(v1) as f:
                return int(f.read()) / 1e9
        with open(os.path.join(d, "cpu.stat")) as f:
            for line in f:
                key, _, value = line.partition(" ")
                if key == "usage_usec":
                    return int(value) / 1e6
    except OSError:
        return 0.0  # the pod is gone
    return 0.0


def _pod_cgroups(root: str) -> list[str]:
    out: list[str] = []
    for dirpath, dirnames, _ in os.walk(root):
        pods = [d for d in dirnames if d.startswith("pod")]
        out += [os.path.join(dirpath, d) for d in pods]
        dirnames[:] = [d for d in dirnames if not d.startswith("pod")]  # a pod's usage includes its children
    return out


@dataclass
class Cpu:
    window_s: float
    percent: dict[str, float]  # % of one core: agent, up, shim, pods (the pods' cgroups)
    pod_cgroups: int


async def measure_cpu(node: UpNode, shim: int, window: float) -> Cpu:
    agent = node.probe.agent
    procs = {"up": [node.pid], "agent": [agent] if agent else [], "shim": [shim]}
    pods = _pod_cgroups(_cpu_root(node))

    def sample() -> dict[str, float]:
        out = {k: sum(_cpu_s(p) for p in group) for k, group in procs.items()}
        out["pods"] = sum(_cgroup_cpu_s(d) for d in pods)
        if agent:
            fields = _stat_fields(agent)
            out["agent_user"], out["agent_sys"] = int(fields[11]) / CLK_TCK, int(fields[12]) / CLK_TCK
        return out

    before = sample()
    t0 = time.monotonic()
    await asyncio.sleep(window)
    after = sample()
    wall = time.monotonic() - t0
    return Cpu(wall, {k: (after[k] - before[k]) / wall * 100 for k in before}, len(pods))


# --- pods


async def _create(
    node: UpNode, session: aiohttp.ClientSession, tracker: ProbeTracker, pods: list[Object], ready: bool
) -> float:
    url = f"{node.base}/api/v1/namespaces/default/pods"
    t0 = time.monotonic()

    async def one(pod: Object) -> None:
        name = pod["metadata"]["name"]
        async with session.post(url, json=pod) as r:
            if r.status != 201:
                raise RuntimeError(f"create {name}: HTTP {r.status}: {await r.text()}")
        timeout = 120 + 2 * len(pods)
        await tracker.running(name, timeout=timeout)
        if ready:
            await tracker.ready(name, timeout=timeout)

    await asyncio.gather(*(one(p) for p in pods))
    return time.monotonic() - t0


async def _delete_and_drain(node: UpNode, session: aiohttp.ClientSession, timeout: float = 120.0) -> None:
    """Delete every pod and wait until the agent has removed their cgroups too (teardown is not measured)."""
    await delete_all(session, node.base, timeout=timeout)
    root = _cpu_root(node)
    deadline = time.monotonic() + timeout
    while _pod_cgroups(root):
        if time.monotonic() > deadline:
            raise RuntimeError(f"pod cgroups still below {root} {timeout} s after their pods were deleted")
        await asyncio.sleep(0.2)


def _pod_ips(tracker: PodTracker, names: list[str]) -> list[str]:
    ips = [str((tracker._pods[n].get("status") or {}).get("podIP") or "") for n in names]
    if not all(ips):
        raise RuntimeError(f"pods without an IP: {[n for n, ip in zip(names, ips, strict=True) if not ip]}")
    return ips


@dataclass
class Peer:
    """The minimal asyncio prober (bench/probe_pods.py) in the node's network namespace, same pods, no agent probes."""

    cpu_s: float = 0.0
    wall_s: float = 0.0
    user_s: float = 0.0
    sys_s: float = 0.0
    http_jitter_ms: list[float] = field(default_factory=list)
    tcp_jitter_ms: list[float] = field(default_factory=list)
    http_latency_ms: list[float] = field(default_factory=list)
    tcp_latency_ms: list[float] = field(default_factory=list)
    failures: int = 0

    @property
    def percent(self) -> float:
        return self.cpu_s / self.wall_s * 100 if self.wall_s else 0.0


async def run_peer(node: UpNode, ips: list[str], window: float) -> Peer:
    assert node.probe.agent is not None
    argv = ["nsenter", f"--net=/proc/{node.probe.agent}/ns/net", "--", sys.executable, "-S", "-m", "bench.probe_pods"]
    proc = await asyncio.create_subprocess_exec(
        *argv, str(PERIOD_S), str(window), *ips,
        cwd=REPO, stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        out, err = await asyncio.wait_for(proc.communicate(), window + 60)
    except BaseException:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        raise
    if proc.returncode != 0:
        raise RuntimeError(f"peer prober exited with {proc.returncode}: {err.decode(errors='replace')[-2000:]}")
    d = json.loads(out)
    return Peer(
        d["cpu_s"], d["wall_s"], d["user_s"], d["sys_s"], d["http"]["jitter_ms"], d["tcp"]["jitter_ms"],
        d["http"]["latency_ms"], d["tcp"]["latency_ms"], d["http"]["failures"] + d["tcp"]["failures"],
    )  # fmt: skip


async def _histories(node: UpNode, session: aiohttp.ClientSession, names: list[str]) -> list[tuple[str, str]]:
    """(pod, history JSON) of each pod, from its agent through the node proxy."""
    out = []
    for name in names:
        async with session.get(f"{node.base}/api/v1/namespaces/default/pods/{name}") as r:
            node_name = (await r.json())["spec"]["nodeName"]
        async with session.get(f"{node.base}/api/v1/nodes/{node_name}/proxy/probes/default/{name}") as r:
            if r.status != 200:
                raise RuntimeError(f"probe history of {name}: HTTP {r.status}: {await r.text()}")
            out.append((name, await r.text()))
    return out


async def _pod_log(node: UpNode, session: aiohttp.ClientSession, name: str) -> str:
    async with session.get(f"{node.base}/api/v1/namespaces/default/pods/{name}/log") as r:
        if r.status != 200:
            raise RuntimeError(f"log of {name}: HTTP {r.status}: {await r.text()}")
        return await r.text()


# --- jitter


@dataclass
class ProbeStats:
    intervals_ms: list[float] = field(default_factory=list)  # start-to-start, consecutive runs
    latency_ms: list[float] = field(default_factory=list)
    results: dict[str, int] = field(default_factory=dict)
    snapshots: int = 0
    phases_ms: list[float] = field(default_factory=list)  # start time mod the period, one per run

    @property
    def jitter_ms(self) -> list[float]:
        return [abs(i - PERIOD_S * 1000) for i in self.intervals_ms]


def parse_histories(histories: list[tuple[str, str]], since: float, until: float) -> dict[str, ProbeStats]:
    """Per probe kind: the intervals between consecutive runs inside one published snapshot, and every run's
    latency, counted once per (pod, container, kind, time); only runs that started within [since, until]."""
    out: dict[str, ProbeStats] = {}
    pairs: set[tuple[str, str, str, float]] = set()
    runs: set[tuple[str, str, str, float]] = set()
    for pod, text in histories:
        for container, kinds in json.loads(text).items():
            for kind, probe in kinds.items():
                stats = out.setdefault(kind, ProbeStats())
                stats.snapshots += 1
                entries = sorted(probe.get("history") or [], key=lambda e: float(e["time"]))
                for prev, entry in zip([None, *entries], entries, strict=False):
                    t = float(entry["time"])
                    if not since <= t <= until:
                        continue
                    key = (pod, container, kind, t)
                    if key not in runs:
                        runs.add(key)
                        stats.latency_ms.append(float(entry["latencyMs"]))
                        stats.phases_ms.append(t % PERIOD_S * 1000)
                        stats.results[entry["result"]] = stats.results.get(entry["result"], 0) + 1
                    if (
                        prev is not None
                        and key not in pairs
                        and prev.get("containerID") == entry.get("containerID")
                        and float(prev["time"]) >= since
                    ):
                        pairs.add(key)
                        stats.intervals_ms.append((t - float(prev["time"])) * 1000)
    return out


STAMP_LINE = re.compile(r"\bR (\d+\.\d+)\s*$")


def busiest_slot(phases_ms: list[float], slot_ms: float = 50.0) -> tuple[float, float]:
    """(share of runs starting in the busiest slot_ms of the period, the share a uniform spread would give)."""
    if not phases_ms:
        return 0.0, 0.0
    slots = int(PERIOD_S * 1000 / slot_ms)
    counts = [0] * slots
    for ph in phases_ms:
        counts[min(int(ph / slot_ms), slots - 1)] += 1
    return max(counts) / len(phases_ms), 1 / slots


def server_intervals(logs: list[str], since: float, until: float) -> list[float]:
    """Intervals (ms) between consecutive GETs one server saw (monotonic clock), within [since, until]."""
    out: list[float] = []
    for text in logs:
        stamps = []
        for line in text.splitlines():
            m = STAMP_LINE.search(line)
            if m:
                t = float(m.group(1))
                if since <= t <= until:
                    stamps.append(t)
        stamps.sort()
        out += [(b - a) * 1000 for a, b in itertools.pairwise(stamps)]
    return out


# --- the run


@dataclass
class ProbeBench:
    n: int
    window_s: float
    create_a_s: float = 0.0
    create_b_s: float = 0.0
    cpu_a: Cpu | None = None
    cpu_b: Cpu | None = None
    peer: Peer | None = None
    stats: dict[str, ProbeStats] = field(default_factory=dict)
    server_intervals_ms: list[float] = field(default_factory=list)
    stamp_pods: int = 0
    snapshots_seen: int = 0
    restarts_before: int = 0  # container restarts of phase B's pods before the window (slow starts)
    restarts_window: int = 0  # during the window and the wait for its histories
    exec_n: int = 0
    cpu_c: Cpu | None = None
    exec_stats: dict[str, ProbeStats] = field(default_factory=dict)
    exec_runs_in_window: int = 0


def _restarts(tracker: PodTracker) -> int:
    total = 0
    for pod in tracker._pods.values():
        for cs in (pod.get("status") or {}).get("containerStatuses") or []:
            total += int(cs.get("restartCount") or 0)
    return total


async def measure(node: UpNode, n: int, window: float, exec_pods: int) -> ProbeBench:
    b = ProbeBench(n, window)
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    tracker = ProbeTracker(session, node.base)
    try:
        await tracker.start()
        shim = node.probe.shim_pid()
        if shim is None:
            raise RuntimeError("node shim not found")
        if node.probe.agent is None:
            raise RuntimeError("no separate `minikube-py agent` process: this benchmark needs the agent's own CPU")

        # A: the peers. The agent with the same pods and no probes; then a minimal prober doing the same load.
        stamp = min(STAMP_PODS, n)
        names = [f"plain-{i}" for i in range(n)]
        pods = [server_pod(name, stamp=i < stamp) for i, name in enumerate(names)]
        b.create_a_s = await _create(node, session, tracker, pods, ready=True)
        log.info("probes: %d pods without probes Running in %.1f s", n, b.create_a_s)
        await asyncio.sleep(SETTLE_S)
        b.cpu_a = await measure_cpu(node, shim, window)
        log.info("probes: no probes: %s", b.cpu_a.percent)
        b.peer = await run_peer(node, _pod_ips(tracker, names), window)
        log.info("probes: peer prober: %.2f %% of a core, %d failures", b.peer.percent, b.peer.failures)
        await _delete_and_drain(node, session)

        # B: two probes per pod at period 1.
        names = [f"probed-{i}" for i in range(n)]
        pods = [server_pod(name, probes="net", stamp=i < stamp) for i, name in enumerate(names)]
        b.create_b_s = await _create(node, session, tracker, pods, ready=True)
        log.info("probes: %d pods with 2 probes each Running and Ready in %.1f s", n, b.create_b_s)
        await asyncio.sleep(SETTLE_S)
        b.restarts_before = _restarts(tracker)
        since_mono = time.monotonic()
        b.cpu_b = await measure_cpu(node, shim, window)
        until_wall, until_mono = time.time(), time.monotonic()
        log.info("probes: 2 probes per pod: %s", b.cpu_b.percent)
        b.restarts_window = _restarts(tracker) - b.restarts_before
        histories = await _histories(node, session, names)  # the last HISTORY_S of steady probing
        b.snapshots_seen = len(histories)
        b.stats = parse_histories(histories, until_wall - HISTORY_S - 2.0, time.time())
        logs = await asyncio.gather(*(_pod_log(node, session, name) for name in names[:stamp]))
        b.stamp_pods = stamp
        b.server_intervals_ms = server_intervals(list(logs), since_mono, until_mono)
        await _delete_and_drain(node, session)

        # C: exec probes.
        if exec_pods:
            b.exec_n = exec_pods
            exec_names = [f"exec-{i}" for i in range(exec_pods)]
            pods = [server_pod(name, probes="exec") for name in exec_names]
            await _create(node, session, tracker, pods, ready=True)
            await asyncio.sleep(SETTLE_S)
            b.cpu_c = await measure_cpu(node, shim, window)
            until_wall = time.time()
            log.info("probes: %d pods with an exec probe: %s", exec_pods, b.cpu_c.percent)
            histories = await _histories(node, session, exec_names)
            b.exec_stats = parse_histories(histories, until_wall - HISTORY_S - 2.0, time.time())
            b.exec_runs_in_window = sum(len(s.latency_ms) for s in b.exec_stats.values())
            await _delete_and_drain(node, session)
        return b
    except BaseException:
        with logged_errors("delete pods"):
            await _delete_and_drain(node, session)
        raise
    finally:
        await tracker.close()
        await session.close()


async def run(quick: bool, pods: int | None = None, window: float | None = None) -> Section:
    n = pods or PODS
    window = window or (10.0 if quick else 30.0)
    async with up_node(NAME) as node:
        b = await measure(node, n, window, EXEC_PODS)
    return _section(b, node)


# --- the report


def _med(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def _p99(values: list[float]) -> float:
    return percentile(values, 99) if values else float("nan")


def _section(b: ProbeBench, node: UpNode) -> Section:
    assert b.cpu_a is not None and b.cpu_b is not None
    a, p = b.cpu_a.percent, b.cpu_b.percent
    probes = 2 * b.n
    rate = probes / PERIOD_S  # nominal probes per second
    cost = p["agent"] - a["agent"]
    per_probe_ms = cost / 100 / rate * 1000  # CPU ms per probe run
    verdict = "met" if p["agent"] <= TARGET_CPU else "MISSED"
    http, tcp = b.stats.get("readiness", ProbeStats()), b.stats.get("liveness", ProbeStats())
    peer = b.peer or Peer()
    peer_label = "peer: minimal asyncio prober (bench/probe_pods.py), same pods, phase A"
    rows: list[Row] = [
        row(f"agent CPU, {b.n} pods × 2 probes @ {PERIOD_S} s", "% core", "ours: `minikube-py agent`, probes on",
            [p["agent"]], f"same agent, same {b.n} pods, no probes", [a["agent"]]),
        row("  probes' cost (with − without)", "% core", "ours: Δ agent CPU", [cost], peer_label, [peer.percent]),
        row("  per probe run", "CPU ms", f"ours: Δ agent CPU ÷ {rate:.0f} probes/s", [per_probe_ms], peer_label,
            [peer.cpu_s * 1000 / max(len(peer.http_latency_ms) + len(peer.tcp_latency_ms), 1)]),
        row("`up` CPU (API server: status + history writes)", "% core", "ours: `up`, probes on", [p["up"]],
            "same, no probes", [a["up"]]),
        row("node shim CPU", "% core", "ours: node shim, probes on", [p["shim"]], "same, no probes", [a["shim"]]),
        row("pods' cgroups CPU (the servers answering)", "% core", "ours: Σ pod cgroups, probes on", [p["pods"]],
            "same, no probes", [a["pods"]]),
        row("jitter |interval − 1 s|, httpGet", "ms", "ours: history start times", http.jitter_ms, peer_label,
            peer.http_jitter_ms),
        row("jitter |interval − 1 s|, tcpSocket", "ms", "ours: history start times", tcp.jitter_ms, peer_label,
            peer.tcp_jitter_ms),
        row("jitter |interval − 1 s|, server-side GETs", "ms", f"ours: {b.stamp_pods} servers' monotonic stamps",
            [abs(i - PERIOD_S * 1000) for i in b.server_intervals_ms]),
        row("probe latency, httpGet", "ms", "ours: history latencyMs", http.latency_ms, peer_label,
            peer.http_latency_ms),
        row("probe latency, tcpSocket", "ms", "ours: history latencyMs", tcp.latency_ms, peer_label,
            peer.tcp_latency_ms),
    ]  # fmt: skip
    notes = [
        f"Target: agent ≤ {TARGET_CPU} % of a core at {rate:.0f} probes/s: {verdict} ({p['agent']:.2f} % with probes, "
        f"{a['agent']:.2f} % without; the probes cost {cost:.2f} % = {per_probe_ms:.3f} CPU ms per probe run).  "
        f"Agent user/system with probes {p.get('agent_user', 0):.2f} / {p.get('agent_sys', 0):.2f} %, without "
        f"{a.get('agent_user', 0):.2f} / {a.get('agent_sys', 0):.2f} %; peer prober user/system "
        f"{peer.user_s / max(peer.wall_s, 1e-9) * 100:.2f} / {peer.sys_s / max(peer.wall_s, 1e-9) * 100:.2f} % "
        "(system time includes the TCP handshakes, sends and FINs over veth + bridge, with "
        "net.bridge.bridge-nf-call-iptables on this machine, processed in the sender's context).",
        f"CPU over {b.cpu_b.window_s:.1f} s windows (utime+stime from /proc/PID/stat; pods from their cgroups' "
        f"cpuacct), {SETTLE_S} s after the last of {b.n} pods was Running (A) or Ready (B).  The probe "
        "history stays in the agent (served on demand): probing writes to the API only when a result changes.",
        f"Peer: a stdlib-only asyncio prober (python -S, asyncio streams, a new connection per probe, "
        f"`Connection: close`) started with nsenter in the node's network namespace, probing the same {b.n} servers "
        f"(phase A, no agent probes) with the same 2 × {b.n} workers at period {PERIOD_S} s for {peer.wall_s:.1f} s: "
        f"{peer.percent:.2f} % of a core (process_time while probing, not its start-up), {peer.failures} failures.  "
        "It has no results, history, events or status to keep: the floor of doing this work in Python.",
        f"Jitter from the agent's probe history: `time` is the wall clock when the probe started (worker.py "
        f"do_probe reads it right before calling the prober), rounded to 1 ms; intervals between consecutive runs "
        f"of one published snapshot, runs started inside the window; {b.snapshots_seen} snapshots, "
        f"httpGet {len(http.intervals_ms)} intervals / {len(http.latency_ms)} runs {http.results}, "
        f"tcpSocket {len(tcp.intervals_ms)} / {len(tcp.latency_ms)} {tcp.results}.  Server-side: "
        f"{len(b.server_intervals_ms)} intervals between GETs seen by {b.stamp_pods} servers (time.monotonic() "
        "printed per request; includes connect and accept delays).  The worker schedules the next tick at "
        "start + k × period (missed ticks dropped), so delays do not accumulate.",
        f"Median jitter (p99) ms: httpGet {_med(http.jitter_ms):.1f} ({_p99(http.jitter_ms):.1f}), tcpSocket "
        f"{_med(tcp.jitter_ms):.1f} ({_p99(tcp.jitter_ms):.1f}); peer httpGet {_med(peer.http_jitter_ms):.1f} "
        f"({_p99(peer.http_jitter_ms):.1f}), tcpSocket {_med(peer.tcp_jitter_ms):.1f} "
        f"({_p99(peer.tcp_jitter_ms):.1f}).  Container restarts in B: {b.restarts_before} before the window (slow "
        f"starts), {b.restarts_window} during it.",
        "Probe start phases (time mod period), all runs of both kinds: the busiest 50 ms of the period holds "
        f"{busiest_slot(http.phases_ms + tcp.phases_ms)[0] * 100:.0f} % of them (uniform: "
        f"{busiest_slot(http.phases_ms + tcp.phases_ms)[1] * 100:.0f} %; the peer draws a random phase per worker).  "
        "A worker starts ticking when its container starts and a pod's probes start together, so probes of pods "
        "created in one batch fire in bursts; a burst queues on the agent's one event loop (≈ 1.3 CPU ms per "
        "probe), which shows up as latency and start jitter.",
        f"{b.n} pods Running: {b.create_a_s:.1f} s without probes, {b.create_b_s:.1f} s Running and Ready with probes.",
        "Noisy 2-core machine: others' tests may run at the same time (load average "
        f"{', '.join(f'{x:.1f}' for x in os.getloadavg())} at the end); A and B are one window each, not alternated.",
    ]  # fmt: skip
    if b.cpu_c is not None:
        c = b.cpu_c.percent
        runs = b.exec_runs_in_window or int(b.exec_n * b.cpu_c.window_s / PERIOD_S)
        idle_pods = a["pods"] / max(b.cpu_a.pod_cgroups, 1) * b.exec_n  # the same servers' idle CPU, from A
        pod_ms = (c["pods"] - idle_pods) / 100 * b.cpu_c.window_s / runs * 1000
        ex = b.exec_stats.get("readiness", ProbeStats())
        per_agent = (c["agent"] - a["agent"] * b.exec_n / b.n) / 100 * b.cpu_c.window_s / runs * 1000
        per_shim = (c["shim"] - a["shim"]) / 100 * b.cpu_c.window_s / runs * 1000
        rows += [
            row(f"exec probe `true`, {b.exec_n} pods @ {PERIOD_S} s: pods' cgroups", "% core",
                "ours: Σ pod cgroups, exec probes", [c["pods"]], f"same servers idle (from A, × {b.exec_n}/{b.n})",
                [idle_pods]),
            row("  exec probe cost in the pod (reaper + `true`)", "CPU ms/probe", "ours: Δ pod cgroups ÷ runs",
                [pod_ms]),
            row("  agent CPU per exec probe", "CPU ms/probe", "ours: Δ agent ÷ runs", [per_agent]),
            row("  node shim CPU per exec probe (fork, namespaces)", "CPU ms/probe", "ours: Δ shim ÷ runs",
                [per_shim]),
            row("  agent CPU, exec probes", "% core", f"ours: agent, {b.exec_n} exec-probed pods", [c["agent"]]),
            row("  exec probe latency", "ms", "ours: history latencyMs", ex.latency_ms),
            row("  exec jitter |interval − 1 s|", "ms", "ours: history start times", ex.jitter_ms),
        ]  # fmt: skip
        notes.append(
            f"Exec: {runs} runs in the {b.cpu_c.window_s:.1f} s window ({ex.results}); the probe runs `true` under "
            "the `python -I -S` subreaper in the container's namespaces and cgroup, so its CPU is charged to the pod; "
            f"agent and shim baselines from phase A (agent scaled by {b.exec_n}/{b.n} pods, shim unscaled)."
        )
    notes.append(
        "leftovers after SIGINT to `up`: " + ("; ".join(node.leftovers) or "none")
        + f"; `up` exit status {node.proc.returncode}."
    )  # fmt: skip
    return Section(
        name=NAME,
        title=f"Probes: agent CPU at {b.n} pods × 2 probes, periodSeconds {PERIOD_S}; scheduling jitter",
        rows=rows,
        target=f"agent ≤ {TARGET_CPU} % of a core at {rate:.0f} probes/s",
        notes=notes,
        raw={"probes": asdict(b), "leftovers": node.leftovers, "exit_code": node.proc.returncode},
    )
