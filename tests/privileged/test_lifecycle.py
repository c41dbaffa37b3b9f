"""Container lifecycle for real: restart policy and CrashLoopBackOff, termination, StartError, logs, exec."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest

from minikube_py.api import codec, defaults, types
from minikube_py.node.backoff import Backoff
from minikube_py.node.cgroups.driver import QOSTier
from minikube_py.node.podworker import PodWorker
from minikube_py.node.runtime import logs
from minikube_py.node.runtime.model import ContainerConfig, PodSandboxConfig
from minikube_py.node.runtime.runtime import Runtime
from minikube_py.util.clock import FakeClock, RealClock

pytestmark = [pytest.mark.root]

ALLOC_200MI = "import time\nb = []\nfor _ in range(50):\n    b.append(bytearray(4 << 20))\n    time.sleep(0.02)\n"


def _pod(containers: list[dict[str, Any]], **spec: Any) -> types.Pod:
    pod = codec.decode(
        types.Pod,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"p-{uuid.uuid4().hex[:6]}", "namespace": "default", "uid": str(uuid.uuid4())},
            "spec": {"containers": containers, **spec},
        },
    )
    defaults.default_pod(pod)
    return pod


def _worker(runtime: Runtime, pod: types.Pod, tmp_path: Path, clock: Any = None) -> PodWorker:
    clock = clock or RealClock()
    return PodWorker(
        runtime=runtime,
        pod=pod,
        clock=clock,
        backoff=Backoff(clock),
        log_root=str(tmp_path / "pods"),
        memory_capacity_bytes=psutil.virtual_memory().total,
    )


async def _wait_current_exit(worker: PodWorker, runtime: Runtime, name: str) -> None:
    instance = worker._slots[name].instance
    assert instance is not None
    await asyncio.wait_for(runtime.wait_container(instance), 60)


async def test_crashloop_backoff_sequence_and_reset_with_fake_clock(runtime: Runtime, tmp_path: Path) -> None:
    clock = FakeClock(start=time.time())
    pod = _pod([{"name": "crasher", "command": ["sh", "-c", "exit 1"]}])
    worker = _worker(runtime, pod, tmp_path, clock)
    await worker.sync()
    seen = []
    for expected_wait in (0, 10, 20, 40):
        await _wait_current_exit(worker, runtime, "crasher")
        before = worker.container_statuses()[0].restart_count
        await worker.sync()
        status = worker.container_statuses()[0]
        if expected_wait:
            assert status.restart_count == before  # held back
            assert status.state.waiting is not None and status.state.waiting.reason == "CrashLoopBackOff"
            assert status.state.waiting.message.startswith(
                f"back-off {expected_wait}s restarting failed container=crasher"
            )
            assert status.last_state.terminated is not None and status.last_state.terminated.exit_code == 1
            assert worker.phase() == "Running"  # a crash loop under Always is still Running
            clock.step(expected_wait - 0.5)
            await worker.sync()
            assert worker.container_statuses()[0].restart_count == before
            clock.step(0.5)
            await worker.sync()
        assert worker.container_statuses()[0].restart_count == before + 1
        seen.append(expected_wait)
    assert [e.reason for e in worker.events].count("BackOff") == 3
    # Ten quiet minutes between the last restart and the next crash: the backoff starts over.
    clock.step(601)
    await _wait_current_exit(worker, runtime, "crasher")
    before = worker.container_statuses()[0].restart_count
    await worker.sync()
    assert worker.container_statuses()[0].restart_count == before + 1  # restarted at once
    assert worker.backoff.get(worker._backoff_key("crasher")) == 10
    await worker.terminate(grace=0)


@pytest.mark.cgv2guest
async def test_oom_killed_under_always_restarts_with_oom_in_last_state(runtime: Runtime, tmp_path: Path) -> None:
    pod = _pod(
        [
            {
                "name": "hog",
                "command": [sys.executable, "-S", "-c", ALLOC_200MI],
                "resources": {"limits": {"memory": "64Mi"}},
            }
        ]
    )
    worker = _worker(runtime, pod, tmp_path)
    await worker.sync()
    await _wait_current_exit(worker, runtime, "hog")
    await worker.sync()
    status = worker.container_statuses()[0]
    assert status.restart_count == 1
    last = status.last_state.terminated
    assert last is not None and (last.reason, last.exit_code) == ("OOMKilled", 137)
    assert any(e.reason == "OOMKilled" for e in worker.events)
    await worker.terminate(grace=0)


@pytest.mark.parametrize(
    ("policy", "code", "restarted", "phase"),
    [("OnFailure", 0, False, "Succeeded"), ("OnFailure", 3, True, "Running"), ("Never", 3, False, "Failed")],
)
async def test_restart_policies(
    runtime: Runtime, tmp_path: Path, policy: str, code: int, restarted: bool, phase: str
) -> None:
    pod = _pod([{"name": "job", "command": ["sh", "-c", f"exit {code}"]}], restartPolicy=policy)
    worker = _worker(runtime, pod, tmp_path)
    await worker.sync()
    await _wait_current_exit(worker, runtime, "job")
    await worker.sync()
    status = worker.container_statuses()[0]
    assert status.restart_count == (1 if restarted else 0)
    if not restarted:
        assert status.state.terminated is not None
        assert status.state.terminated.exit_code == code
        assert status.state.terminated.reason == ("Completed" if code == 0 else "Error")
    assert worker.phase() == phase
    await worker.terminate(grace=0)


@pytest.mark.cgv2guest
async def test_termination_grace_sigterm_then_sigkill(runtime: Runtime, tmp_path: Path) -> None:
    sandbox = await runtime.run_pod_sandbox(
        PodSandboxConfig(
            uid=str(uuid.uuid4()), name="term", namespace="default", hostname="term", tier=QOSTier.BESTEFFORT
        )
    )
    env = [("PATH", os.environ.get("PATH", "/usr/bin:/bin"))]
    stubborn = await runtime.start_container(
        sandbox, ContainerConfig("stubborn", ["sh", "-c", "trap '' TERM; sleep 300 & sleep 301 & wait"], env)
    )
    polite = await runtime.start_container(
        sandbox, ContainerConfig("polite", ["sh", "-c", "trap 'exit 0' TERM; sleep 300 & wait"], env)
    )
    # Until both shells have set their traps and forked their sleeps (shell + sleeps in each cgroup).
    deadline = time.monotonic() + 10
    while len(runtime.driver.pids(stubborn.cgroup)) < 3 or len(runtime.driver.pids(polite.cgroup)) < 2:
        assert time.monotonic() < deadline, (runtime.driver.pids(stubborn.cgroup), runtime.driver.pids(polite.cgroup))
        await asyncio.sleep(0.02)
    stubborn_pids = runtime.driver.pids(stubborn.cgroup)
    assert len(stubborn_pids) == 3
    cgroup_dirs = [os.path.join(root, sandbox.cgroup) for root in runtime.driver.roots()]
    t0 = time.time()
    await runtime.remove_pod_sandbox(sandbox, grace=2.0)
    assert polite.exit is not None and stubborn.exit is not None
    assert (polite.exit.reason, polite.exit.exit_code) == ("Completed", 0)
    assert polite.exit.finished_at - t0 < 2.0  # it left on SIGTERM, before the grace deadline's SIGKILL
    assert (stubborn.exit.exit_code, stubborn.exit.reason) == (137, "Error")
    assert 1.9 <= stubborn.exit.finished_at - t0 < 4.0  # killed at the grace deadline
    for pid in [*stubborn_pids, polite.pid, sandbox.pause_pid]:
        assert not os.path.exists(f"/proc/{pid}")
    for d in cgroup_dirs:
        assert not os.path.exists(d)


async def test_start_errors_leave_the_other_container_running(runtime: Runtime, tmp_path: Path) -> None:
    pod = _pod(
        [
            {"name": "good", "command": ["sleep", "300"]},
            {"name": "nocmd", "command": ["no-such-binary-mkpy"]},
            {"name": "nodir", "command": ["true"], "workingDir": "/no/such/dir"},
        ],
        restartPolicy="Never",
    )
    worker = _worker(runtime, pod, tmp_path)
    await worker.sync()
    by_name = {s.name: s for s in worker.container_statuses()}
    assert by_name["good"].state.running is not None
    for name, text in (("nocmd", "executable file not found in $PATH"), ("nodir", "/no/such/dir")):
        term = by_name[name].state.terminated
        assert term is not None, by_name[name]
        assert (term.reason, term.exit_code) == ("StartError", 128)
        assert text in term.message
    assert [e.reason for e in worker.events if e.type == "Warning"].count("Failed") == 2
    good = worker._slots["good"].instance
    assert good is not None and good.running and os.path.exists(f"/proc/{good.pid}")
    await worker.terminate(grace=0)


async def test_logs_streams_timestamps_previous_follow_and_cap(runtime: Runtime, tmp_path: Path) -> None:
    script = "echo out-$RUN_MARK; echo err-$RUN_MARK >&2; sleep 0.3; echo later; exit 1"
    pod = _pod([{"name": "talker", "command": ["sh", "-c", script], "env": [{"name": "RUN_MARK", "value": "x"}]}])
    worker = _worker(runtime, pod, tmp_path)
    await worker.sync()
    first_log = worker.log_path("talker", 0)
    stop = asyncio.Event()
    followed: list[bytes] = []

    async def follow() -> None:
        async for line in logs.follow_log(first_log, stop=stop, poll_interval=0.05):
            followed.append(line)

    follower = asyncio.create_task(follow())
    await _wait_current_exit(worker, runtime, "talker")
    await worker.sync()  # restart: restartCount 1 writes 1.log; 0.log is what --previous shows
    await asyncio.sleep(0.3)
    stop.set()
    await follower
    assert b"".join(followed) == b"out-x\nerr-x\nlater\n"
    raw = Path(first_log).read_bytes().splitlines()
    assert len(raw) == 3
    pattern = re.compile(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z (stdout|stderr) F ")
    assert all(pattern.match(line) for line in raw), raw
    assert {line.split(b" ")[1] for line in raw} == {b"stdout", b"stderr"}
    assert b"".join(logs.read_log(first_log, streams=("stderr",))) == b"err-x\n"
    meta = pod.metadata
    previous = logs.previous_container_log_path(str(tmp_path / "pods"), "default", meta.name, meta.uid, "talker", 1)
    assert previous == first_log  # what `kubectl logs --previous` reads after one restart
    await _wait_current_exit(worker, runtime, "talker")
    assert b"out-x" in b"".join(logs.read_log(worker.log_path("talker", 1)))
    await worker.terminate(grace=0)


async def test_log_size_cap_holds(runtime: Runtime, tmp_path: Path) -> None:
    sandbox = await runtime.run_pod_sandbox(
        PodSandboxConfig(uid=str(uuid.uuid4()), name="loud", namespace="default", hostname="loud")
    )
    log_path = str(tmp_path / "loud" / "0.log")
    writer = "import sys\nfor i in range(20000):\n    sys.stdout.write('line %06d %s\\n' % (i, 'x' * 40))\n"
    c = await runtime.start_container(
        sandbox,
        ContainerConfig(
            "loud", [sys.executable, "-S", "-c", writer], log_path=log_path, log_max_size=64 << 10, log_max_files=3
        ),
    )
    await asyncio.wait_for(runtime.wait_container(c), 60)
    await asyncio.sleep(0.3)
    files = [log_path, *logs.rotated_log_files(log_path)]
    assert len(files) <= 3
    for f in files:
        assert os.path.getsize(f) <= (64 << 10) + 200
    tail = b"".join(logs.read_log(log_path, tail=1))
    assert tail.startswith(b"line 019999 ")
    await runtime.remove_pod_sandbox(sandbox)


@pytest.mark.cgv2guest
async def test_exec_runs_in_the_container(runtime: Runtime, tmp_path: Path) -> None:
    sandbox = await runtime.run_pod_sandbox(
        PodSandboxConfig(uid=str(uuid.uuid4()), name="exec-pod", namespace="default", hostname="exec-pod")
    )
    c = await runtime.start_container(
        sandbox, ContainerConfig("main", ["sleep", "300"], [("PATH", os.environ.get("PATH", "/usr/bin:/bin"))])
    )
    result = await runtime.exec_in_container(
        c,
        [
            "sh",
            "-c",
            "hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo; cat /proc/self/cgroup; echo oops >&2; exit 7",
        ],
    )
    assert result.exit_code == 7 and not result.timed_out
    lines = result.stdout.splitlines()
    assert lines[0] == "exec-pod"
    assert lines[1].strip() == "sleep 300"  # PID 1 of the container's own PID namespace
    memory_line = next(line for line in lines if "memory" in line or line.startswith("0::"))
    assert memory_line.endswith(f"/{c.cgroup}")
    assert result.stderr == "oops\n"
    hung = await runtime.exec_in_container(c, ["sh", "-c", "sleep 100 & sleep 101"], timeout=0.5)
    assert hung.timed_out and hung.exit_code == 137
    # The probe's whole process group is gone (SIGKILLed: leaving the cgroup takes the kernel a moment).
    deadline = time.monotonic() + 10
    while runtime.driver.pids(c.cgroup) != [c.pid] and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert runtime.driver.pids(c.cgroup) == [c.pid]
    await runtime.remove_pod_sandbox(sandbox)


async def test_init_containers_run_in_order_before_the_app(runtime: Runtime, tmp_path: Path) -> None:
    trail = tmp_path / "trail"
    pod = _pod(
        [{"name": "app", "command": ["sh", "-c", f"cat {trail}; sleep 300"]}],
        initContainers=[
            {"name": "first", "command": ["sh", "-c", f"sleep 0.3; echo first >> {trail}"]},
            {"name": "second", "command": ["sh", "-c", f"echo second >> {trail}"]},
        ],
    )
    worker = _worker(runtime, pod, tmp_path)
    await worker.sync()
    app = worker.container_statuses()[0]
    assert app.state.waiting is not None and app.state.waiting.reason == "PodInitializing"
    assert worker.phase() == "Pending"
    assert worker.status().conditions[1].status == "False"  # Initialized
    for _ in range(2):
        running = next(s.instance for s in worker._init_slots if s.instance is not None and s.instance.running)
        await asyncio.wait_for(runtime.wait_container(running), 30)
        await worker.sync()
    assert trail.read_text() == "first\nsecond\n"
    assert [s.state.terminated.reason for s in worker.init_container_statuses() if s.state.terminated] == [
        "Completed",
        "Completed",
    ]
    assert worker.container_statuses()[0].state.running is not None
    assert worker.phase() == "Running" and worker.initialized()
    await worker.terminate(grace=0)


@pytest.mark.parametrize(("policy", "phase", "restarts"), [("Never", "Failed", 0), ("Always", "Pending", 1)])
async def test_failing_init_container(runtime: Runtime, tmp_path: Path, policy: str, phase: str, restarts: int) -> None:
    pod = _pod(
        [{"name": "app", "command": ["sleep", "300"]}],
        initContainers=[{"name": "setup", "command": ["sh", "-c", "exit 2"]}],
        restartPolicy=policy,
    )
    worker = _worker(runtime, pod, tmp_path)
    await worker.sync()
    slot = worker._init_slots[0]
    assert slot.instance is not None
    await asyncio.wait_for(runtime.wait_container(slot.instance), 30)
    await worker.sync()
    (init_status,) = worker.init_container_statuses()
    assert init_status.restart_count == restarts
    assert worker.phase() == phase
    assert worker._slots["app"].instance is None  # the app never started
    await worker.terminate(grace=0)
