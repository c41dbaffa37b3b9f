"""Probes for real: an HTTP server pod restarted by its liveness probe, readiness flipping, a hanging exec probe
that leaves nothing behind, TCP against closed and open ports, startup gating — real processes in real pods."""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psutil
import pytest

from minikube_py.api import codec, defaults, types
from minikube_py.node.backoff import Backoff
from minikube_py.node.podworker import PodWorker
from minikube_py.node.prober import runners
from minikube_py.node.prober.results import Kind, Result
from minikube_py.node.runtime.model import Container, ContainerConfig, PodSandboxConfig
from minikube_py.node.runtime.runtime import Runtime
from minikube_py.util.clock import RealClock
from tests.polling import until
from tests.privileged.test_lifecycle import _pod as lifecycle_pod

pytestmark = [pytest.mark.root]

PATH = os.environ.get("PATH", "/usr/bin:/bin")

# /healthz answers 500 while FLAGS/sick exists, /ready answers 503 while FLAGS/unready exists.
SERVER = """
import http.server, os, sys
flags = sys.argv[1]
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        code = 200
        if self.path == "/healthz" and os.path.exists(flags + "/sick"):
            code = 500
        if self.path == "/ready" and os.path.exists(flags + "/unready"):
            code = 503
        body = b"fine" if code == 200 else b"bad"
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
http.server.HTTPServer(("127.0.0.1", 8080), H).serve_forever()
"""


def _pod(containers: list[dict[str, Any]], **spec: Any) -> types.Pod:
    for c in containers:
        c.setdefault("env", [{"name": "PATH", "value": PATH}])
    return lifecycle_pod(containers, **spec)


@pytest.fixture
async def run_worker(runtime: Runtime, tmp_path: Path) -> AsyncIterator[Callable[[types.Pod], PodWorker]]:
    """Start a PodWorker's run() loop for a pod; every worker is terminated at the end, also on failure."""
    started: list[tuple[PodWorker, asyncio.Task[None]]] = []

    def start(pod: types.Pod) -> PodWorker:
        clock = RealClock()
        worker = PodWorker(
            runtime=runtime,
            pod=pod,
            clock=clock,
            backoff=Backoff(clock),
            log_root=str(tmp_path / "pods"),
            memory_capacity_bytes=psutil.virtual_memory().total,
        )
        started.append((worker, asyncio.create_task(worker.run())))
        return worker

    yield start
    for worker, task in started:
        await worker.terminate(grace=0)
        await asyncio.wait_for(task, 10)


def _status(worker: PodWorker, name: str) -> types.ContainerStatus:
    return next(s for s in worker.status().container_statuses if s.name == name)


def _condition(worker: PodWorker, type_: str) -> types.PodCondition:
    return next(c for c in worker.status().conditions if c.type == type_)


def _server(name: str, flags: Path, **probes: Any) -> dict[str, Any]:
    return {
        "name": name,
        "command": [sys.executable, "-c", SERVER, str(flags)],
        "ports": [{"name": "http", "containerPort": 8080}],
        **probes,
    }


async def test_liveness_http_500_restarts_the_container(
    run_worker: Callable[[types.Pod], PodWorker], tmp_path: Path
) -> None:
    period, threshold = 1, 2
    flags = tmp_path / "flags"
    flags.mkdir()
    liveness = {
        "httpGet": {"path": "/healthz", "port": "http"},
        "periodSeconds": period,
        "failureThreshold": threshold,
        "terminationGracePeriodSeconds": 2,
    }
    worker = run_worker(_pod([_server("web", flags, livenessProbe=liveness)]))
    probe = worker.probe_workers[("web", Kind.LIVENESS)]
    await until(lambda: [e.result for e in probe.history][-1:] == [Result.SUCCESS], "a successful probe", timeout=30)
    (flags / "sick").touch()
    sick_at = time.time()  # the worker's RealClock: events carry its time
    await until(lambda: any(e.reason == "Killing" for e in worker.events), "the Killing event", timeout=10)
    (flags / "sick").unlink()
    killing = next(e for e in worker.events if e.reason == "Killing")
    # Killed after failureThreshold failures: between (threshold - 1) and threshold periods after the file
    # appeared, plus one period of slack for a loaded machine.
    assert (threshold - 1) * period - 0.2 <= killing.at - sick_at <= (threshold + 1) * period
    # restartCount goes up as the new instance is being started; its Started event comes once it runs.
    await until(
        lambda: sum(e.reason == "Started" for e in worker.events) >= 2, "the restart's Started event", timeout=15
    )
    assert _status(worker, "web").restart_count == 1
    restarted = [e for e in worker.events if e.reason == "Started"][1]
    # The probe's grace (2 s), not the pod's 30 s: the server is PID 1 of its PID namespace, and the kernel
    # does not deliver SIGTERM to a namespace's init that has no handler, so the SIGKILL at the deadline ends it.
    assert 2.0 <= restarted.at - killing.at < 4.5
    last = _status(worker, "web").last_state.terminated
    assert last is not None and (last.exit_code, last.reason) == (137, "Error")
    await until(lambda: _status(worker, "web").ready, "ready again", timeout=10)
    # The failures that led to the kill (after the restart a probe may still meet a server not yet listening).
    before_kill = worker.events[: worker.events.index(killing)]
    unhealthy = [e for e in before_kill if e.reason == "Unhealthy"]
    assert len(unhealthy) == threshold and unhealthy[0].type == "Warning" and unhealthy[0].container == "web"
    assert unhealthy[0].message == "Liveness probe failed: HTTP probe failed with statuscode: 500"
    assert (killing.type, killing.container) == ("Normal", "web")
    assert killing.message == "Container web failed liveness probe, will be restarted"
    history = worker.probe_history()["web"]["liveness"]["history"]
    assert {h["result"] for h in history} >= {"Success", "Failure"}
    assert all(0 < h["latencyMs"] < 1500 for h in history)  # the probe's 1 s timeout plus scheduling slack


async def test_readiness_flips_without_restart(run_worker: Callable[[types.Pod], PodWorker], tmp_path: Path) -> None:
    flags = tmp_path / "flags"
    flags.mkdir()
    readiness = {"httpGet": {"path": "/ready", "port": 8080}, "periodSeconds": 1, "failureThreshold": 1}
    worker = run_worker(_pod([_server("web", flags, readinessProbe=readiness)]))
    await until(lambda: _condition(worker, "Ready").status == "True", "Ready=True", timeout=30)
    assert _condition(worker, "ContainersReady").status == "True"
    (flags / "unready").touch()
    await until(lambda: _condition(worker, "Ready").status == "False", "Ready=False", timeout=15)
    ready = _condition(worker, "Ready")
    assert (ready.reason, ready.message) == ("ContainersNotReady", "containers with unready status: [web]")
    assert _condition(worker, "ContainersReady").status == "False"
    assert _status(worker, "web").state.running is not None and not _status(worker, "web").ready
    (flags / "unready").unlink()
    await until(lambda: _condition(worker, "Ready").status == "True", "Ready=True again", timeout=15)
    assert _status(worker, "web").restart_count == 0
    assert not any(e.reason == "Killing" for e in worker.events)
    assert any(e.message == "Readiness probe failed: HTTP probe failed with statuscode: 503" for e in worker.events)


def _children_of(pid: int) -> list[psutil.Process]:
    return [p for p in psutil.process_iter(["ppid"]) if p.info["ppid"] == pid]


async def _sleeper(runtime: Runtime) -> Container:
    sandbox = await runtime.run_pod_sandbox(
        PodSandboxConfig(uid=str(uuid.uuid4()), name="probe-pod", namespace="default", hostname="probe-pod")
    )
    return await runtime.start_container(sandbox, ContainerConfig("main", ["sleep", "300"], [("PATH", PATH)]))


def _target(container: Container, spec: dict[str, Any] | None = None) -> runners.Target:
    spec_obj = codec.decode(types.Container, spec or {"name": "main"})
    return runners.Target(pod=types.Pod(), spec=spec_obj, container=container, sandbox=container.sandbox)


def _probe(**fields: Any) -> types.Probe:
    probe = codec.decode(types.Probe, fields)
    defaults.default_probe(probe)
    return probe


async def test_hanging_exec_probe_fails_at_its_timeout_and_leaves_nothing(runtime: Runtime) -> None:
    container = await _sleeper(runtime)
    prober = runners.RuntimeProber(runtime)
    try:
        command = ["sh", "-c", "sleep 100 & setsid sleep 102 & sleep 101"]
        began = time.monotonic()
        outcome = await prober.probe(
            Kind.LIVENESS, _probe(exec={"command": command}, timeoutSeconds=1), _target(container)
        )
        elapsed = time.monotonic() - began
        assert outcome.result is Result.FAILURE
        assert outcome.output == 'command "sh -c sleep 100 & setsid sleep 102 & sleep 101" timed out'
        # The 1 s deadline, then the group's kill and reap (plus starting the reaper: slack for a loaded machine);
        # without the timeout it would hang for 100 s.
        assert 1.0 <= elapsed < 3.0
        assert runtime.driver.pids(container.cgroup) == [container.pid]  # no stray, not even the setsid one
        assert _children_of(container.pid) == []  # and no zombie left to the container's PID 1
        # A probe that succeeds but leaves a background process behind: that one goes too.
        outcome = await prober.probe(
            Kind.READINESS, _probe(exec={"command": ["sh", "-c", "sleep 200 & echo hi"]}), _target(container)
        )
        assert (outcome.result, outcome.output) == (Result.SUCCESS, "hi\n")
        assert runtime.driver.pids(container.cgroup) == [container.pid]
        failing = await prober.probe(
            Kind.LIVENESS, _probe(exec={"command": ["sh", "-c", "echo broken >&2; exit 3"]}), _target(container)
        )
        assert (failing.result, failing.output) == (Result.FAILURE, "broken\n")
        missing = await prober.probe(Kind.LIVENESS, _probe(exec={"command": ["no-such-cmd"]}), _target(container))
        assert missing.result is Result.UNKNOWN
        assert missing.output == 'exec: "no-such-cmd": executable file not found in $PATH'
        # Without the reaper (a plain exec), the kernel hands the killed grandchild to the container's PID 1,
        # which never reaps it: the zombie the reaper exists to prevent.
        plain = await runtime.exec_in_container(container, ["sh", "-c", "sleep 100 & sleep 101"], timeout=0.3)
        assert plain.timed_out

        def only_zombies() -> bool:
            children = _children_of(container.pid)
            return bool(children) and all(p.status() == psutil.STATUS_ZOMBIE for p in children)

        # SIGKILLed, the orphan dies a moment later, and stays a zombie.
        await until(only_zombies, "the orphaned grandchild to be a zombie of the container's PID 1", timeout=10)
    finally:
        prober.close()
        await runtime.remove_pod_sandbox(container.sandbox)


def _host_listens(port: int) -> bool:
    return any(c.laddr and c.laddr.port == port and c.status == "LISTEN" for c in psutil.net_connections("tcp"))


async def test_tcp_probe_closed_and_listening_ports(runtime: Runtime) -> None:
    sandbox = await runtime.run_pod_sandbox(
        PodSandboxConfig(uid=str(uuid.uuid4()), name="tcp-pod", namespace="default", hostname="tcp-pod")
    )
    listener = "import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',8080))\ns.listen()\ntime.sleep(300)\n"
    container = await runtime.start_container(
        sandbox, ContainerConfig("main", [sys.executable, "-c", listener], [("PATH", PATH)])
    )
    prober = runners.RuntimeProber(runtime)
    spec = {"name": "main", "ports": [{"name": "svc", "containerPort": 8080}]}
    try:
        closed = await prober.probe(Kind.READINESS, _probe(tcpSocket={"port": 8081}), _target(container, spec))
        assert (closed.result, closed.output) == (
            Result.FAILURE,
            "dial tcp 127.0.0.1:8081: connect: connection refused",
        )

        async def open_probe() -> bool:
            outcome = await prober.probe(Kind.READINESS, _probe(tcpSocket={"port": "svc"}), _target(container, spec))
            return outcome.result is Result.SUCCESS

        deadline = time.monotonic() + 10
        while not await open_probe():  # the listener needs a moment to start
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        unknown = await prober.probe(Kind.READINESS, _probe(tcpSocket={"port": "nope"}), _target(container, spec))
        assert (unknown.result, unknown.output) == (Result.UNKNOWN, "couldn't find port nope in container main")
        # An explicit host is dialled from the node, where nothing listens on the pod's port.
        if not _host_listens(8080):
            host = await prober.probe(
                Kind.READINESS, _probe(tcpSocket={"port": 8080, "host": "127.0.0.1"}), _target(container, spec)
            )
            assert host.result is Result.FAILURE
    finally:
        prober.close()
        await runtime.remove_pod_sandbox(sandbox, grace=0)


async def test_startup_probe_gates_liveness_and_restarts_a_container_that_never_starts(
    run_worker: Callable[[types.Pod], PodWorker], tmp_path: Path
) -> None:
    started_flag, live_log = tmp_path / "started", tmp_path / "live.log"
    slow = {
        "name": "slow",
        "command": ["sh", "-c", f"sleep 2; touch {started_flag}; sleep 300"],
        "startupProbe": {
            "exec": {"command": ["test", "-f", str(started_flag)]},
            "periodSeconds": 1,
            "failureThreshold": 10,
        },
        "livenessProbe": {"exec": {"command": ["sh", "-c", f"echo x >> {live_log}"]}, "periodSeconds": 1},
    }
    period, threshold = 1, 2
    never = {
        "name": "never",
        "command": ["sleep", "300"],
        "startupProbe": {"exec": {"command": ["false"]}, "periodSeconds": period, "failureThreshold": threshold},
    }
    worker = run_worker(_pod([slow, never], terminationGracePeriodSeconds=2))
    await until(lambda: _status(worker, "never").state.running is not None, "never running", timeout=30)
    await until(lambda: started_flag.exists(), "the started flag", timeout=15)
    await until(lambda: bool(_status(worker, "slow").started), "slow started", timeout=15)
    await until(
        lambda: live_log.exists() and bool(worker.probe_history()["slow"]["liveness"]["history"]),
        "the first liveness probe",
        timeout=15,
    )
    assert _status(worker, "slow").ready
    # The gate, from the probes' own history (each entry's time is when that probe began): the startup probe
    # failed while the flag was missing, and no liveness probe ran before the startup probe succeeded.
    slow_probes = worker.probe_history()["slow"]
    startup = [h["result"] for h in slow_probes["startup"]["history"]]
    assert startup[0] == "Failure" and "Success" in startup, startup
    startup_success = next(h for h in slow_probes["startup"]["history"] if h["result"] == "Success")
    assert slow_probes["liveness"]["history"][0]["time"] >= startup_success["time"], slow_probes
    # "never": killed after failureThreshold x period of failed startup probes, then restarted.
    await until(lambda: any(e.reason == "Killing" and e.container == "never" for e in worker.events), "never killed")
    killed = next(e for e in worker.events if e.reason == "Killing" and e.container == "never")
    assert killed.message == "Container never failed startup probe, will be restarted"
    before_kill = worker.events[: worker.events.index(killed)]
    failed = [e for e in before_kill if e.reason == "Unhealthy" and e.container == "never"]
    assert len(failed) == threshold and failed[0].message == "Startup probe failed: "
    await until(lambda: _status(worker, "never").restart_count == 1, "never restarted", timeout=10)
    started = next(e for e in worker.events if e.reason == "Started" and e.container == "never")
    # From the container's start to its kill, both events on the worker's clock: threshold periods, one more
    # for the first tick, and one for a tick dropped while a slow probe ran (an exec probe starts a process).
    assert (threshold - 1) * period - 0.2 <= killed.at - started.at <= (threshold + 2) * period, (started, killed)
    assert not _status(worker, "never").started and _status(worker, "slow").restart_count == 0
