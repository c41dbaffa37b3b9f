"""Pod sandboxes for real: namespaces held by catatonit, containers joining them, clean removal.

Runs on the host's cgroup v1 and, through the ``cgv2guest`` twin, inside a pure cgroup v2 QEMU guest.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
import uuid
from pathlib import Path

import pytest

from minikube_py.node.cgroups.driver import KUBEPODS, CgroupDriver, CgroupResources, QOSTier
from minikube_py.node.runtime import libc
from minikube_py.node.runtime.model import PAUSE_CGROUP, ContainerConfig, PodSandboxConfig, Sandbox
from minikube_py.node.runtime.runtime import Runtime
from tests.privileged.logtext import stream_text

pytestmark = [pytest.mark.root, pytest.mark.cgv2guest]

PY = [sys.executable, "-S", "-c"]


def _sandbox_config(name: str, *, share: bool = False) -> PodSandboxConfig:
    return PodSandboxConfig(
        uid=str(uuid.uuid4()),
        name=name,
        namespace="default",
        hostname=name,
        share_process_namespace=share,
        tier=QOSTier.BESTEFFORT,
    )


def _container(name: str, argv: list[str], out: Path) -> ContainerConfig:
    return ContainerConfig(
        name=name,
        argv=argv,
        env=[("PATH", os.environ.get("PATH", "/usr/bin:/bin"))],
        resources=CgroupResources(cpu_shares=2),
        log_path=str(out / f"{name}.log"),
    )


SERVER = """
import socket
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 8080)); s.listen(1)
c, _ = s.accept(); c.sendall(b"pong"); c.close()
"""

CLIENT = """
import socket, time, os
for _ in range(600):
    try:
        c = socket.create_connection(("127.0.0.1", 8080), timeout=1)
        break
    except OSError:
        time.sleep(0.05)
print("got", c.recv(16).decode())
print("hostname", os.uname().nodename)
print("ifaces", sorted(l.split(":")[0].strip() for l in open("/proc/net/dev").readlines()[2:]))
"""


async def test_two_containers_share_net_uts_ipc(runtime: Runtime, tmp_path: Path) -> None:
    sandbox = await runtime.run_pod_sandbox(_sandbox_config("web-pod"))
    server = await runtime.start_container(sandbox, _container("server", [*PY, SERVER], tmp_path))
    client = await runtime.start_container(sandbox, _container("client", [*PY, CLIENT], tmp_path))
    # Namespaces as the host sees them: both containers are in the pause's net, ipc and uts namespaces.
    for ns in ("net", "ipc", "uts"):
        inode = sandbox.namespaces[ns]
        assert os.stat(f"/proc/{server.pid}/ns/{ns}").st_ino == inode
        assert os.stat(f"/proc/{client.pid}/ns/{ns}").st_ino == inode
        assert inode != os.stat(f"/proc/self/ns/{ns}").st_ino
    # Each container has its own PID and mount namespace without shareProcessNamespace.
    assert os.stat(f"/proc/{server.pid}/ns/pid").st_ino != sandbox.namespaces["pid"]
    c_exit = await asyncio.wait_for(runtime.wait_container(client), 120)
    s_exit = await asyncio.wait_for(runtime.wait_container(server), 30)
    out = stream_text(tmp_path / "client.log")
    assert c_exit.reason == "Completed", stream_text(tmp_path / "client.log", "stderr")
    assert s_exit.reason == "Completed", stream_text(tmp_path / "server.log", "stderr")
    assert "got pong" in out
    assert "hostname web-pod" in out
    assert "ifaces ['lo']" in out  # no host interface is visible inside the pod
    await runtime.remove_pod_sandbox(sandbox)


async def test_ps_inside_pod_shows_only_pod_processes(runtime: Runtime, tmp_path: Path) -> None:
    sandbox = await runtime.run_pod_sandbox(_sandbox_config("ps-pod", share=True))
    await runtime.start_container(sandbox, _container("sleeper", ["sleep", "300"], tmp_path))
    ps = await runtime.start_container(sandbox, _container("ps", ["ps", "-e", "-o", "pid=,comm="], tmp_path))
    result = await asyncio.wait_for(runtime.wait_container(ps), 60)
    assert result.reason == "Completed", stream_text(tmp_path / "ps.log", "stderr")
    rows = [line.split() for line in stream_text(tmp_path / "ps.log").splitlines() if line.strip()]
    comms = sorted(comm for _, comm in rows)
    assert comms == ["catatonit", "ps", "sleep"], rows
    assert ["1", "catatonit"] in rows  # the pause is PID 1 of the shared PID namespace
    await runtime.remove_pod_sandbox(sandbox)


async def test_own_pid_namespace_without_share(runtime: Runtime, tmp_path: Path) -> None:
    sandbox = await runtime.run_pod_sandbox(_sandbox_config("solo-pod"))
    c = await runtime.start_container(
        sandbox,
        _container("solo", ["sh", "-c", "echo pid=$$; ps -e -o comm= | sort | tr '\\n' ' '"], tmp_path),
    )
    await asyncio.wait_for(runtime.wait_container(c), 60)
    out = stream_text(tmp_path / "solo.log")
    assert "pid=1" in out  # the container's first process is PID 1 of its own namespace
    assert "catatonit" not in out
    await runtime.remove_pod_sandbox(sandbox)


def _zombies_in_pid_namespace(pid_ns_inode: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            if os.stat(f"/proc/{entry}/ns/pid").st_ino != pid_ns_inode:
                continue
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        if state == "Z":
            found.append(int(entry))
    return found


def _children(pid: int) -> list[int]:
    """Every child of ``pid``, zombies included (a zombie stays its parent's child until it is reaped)."""
    return [int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


async def test_shared_pid_namespace_pause_reaps_orphans(runtime: Runtime, tmp_path: Path) -> None:
    sandbox = await runtime.run_pod_sandbox(_sandbox_config("reaper-pod", share=True))
    # The inner shell exits at once: its 20 sleeps are orphaned to PID 1 of the shared PID namespace (the pause).
    # They live until this test ends them, so their re-parenting is seen however slow the machine is.
    script = "sh -c 'for i in $(seq 20); do sleep 300 & done; exit 0'; echo spawned; exec sleep 301"
    c = await runtime.start_container(sandbox, _container("orphaner", ["sh", "-c", script], tmp_path))
    deadline = time.monotonic() + 30
    while len(orphans := _children(sandbox.pause_pid)) < 20:
        assert time.monotonic() < deadline, f"the orphaned sleeps were not re-parented to the pause: {orphans}"
        await asyncio.sleep(0.05)
    assert len(orphans) == 20, orphans
    for pid in orphans:  # they die now; only the pause can reap them
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while left := _children(sandbox.pause_pid):
        assert time.monotonic() < deadline, f"the pause did not reap its orphans: {left}"
        await asyncio.sleep(0.05)
    assert _zombies_in_pid_namespace(sandbox.namespaces["pid"]) == []
    assert c.running
    await runtime.remove_pod_sandbox(sandbox)


def _host_pids_in_namespace(ns_type: str, inode: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}/ns/{ns_type}").st_ino == inode:
                    pids.append(int(entry))
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
    return pids


async def test_removing_pod_leaves_nothing(runtime: Runtime, tmp_path: Path) -> None:
    mounts_before = Path("/proc/self/mountinfo").read_text()
    sandbox: Sandbox = await runtime.run_pod_sandbox(_sandbox_config("doomed", share=True))
    a = await runtime.start_container(sandbox, _container("a", ["sleep", "300"], tmp_path))
    # A container that ignores SIGTERM and has children: only SIGKILL through the cgroup ends it.
    b = await runtime.start_container(
        sandbox, _container("b", ["sh", "-c", "trap '' TERM; sleep 300 & sleep 301 & wait"], tmp_path)
    )
    # Until b's shell has set its trap and forked both sleeps (a SIGTERM before the trap would end it early).
    deadline = time.monotonic() + 30
    while len(runtime.driver.pids(b.cgroup)) < 3:
        assert time.monotonic() < deadline, f"b never forked its sleeps: {runtime.driver.pids(b.cgroup)}"
        await asyncio.sleep(0.02)
    pids = [sandbox.pause_pid, a.pid, b.pid, *runtime.driver.pids(b.cgroup)]
    cgroup_dirs = [os.path.join(root, sandbox.cgroup) for root in runtime.driver.roots()]
    assert all(os.path.isdir(d) for d in cgroup_dirs)
    await runtime.remove_pod_sandbox(sandbox, grace=0.5)
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"process {pid} survived"
    for d in cgroup_dirs:
        assert not os.path.exists(d), f"cgroup {d} survived"
    for ns, inode in sandbox.namespaces.items():
        assert _host_pids_in_namespace(ns, inode) == [], f"{ns} namespace still held"
    assert Path("/proc/self/mountinfo").read_text() == mounts_before
    assert b.exit is not None and b.exit.exit_code == 137


async def test_pause_and_containers_join_their_cgroups_in_every_hierarchy(runtime: Runtime, tmp_path: Path) -> None:
    # The spawned child joins by writing "0" into the driver's join files (v1: tasks, one thread) before it
    # execs: the whole process, and what it forks afterwards, must be in the cgroup of every hierarchy.
    sandbox = await runtime.run_pod_sandbox(_sandbox_config("joined"))
    forker = "import os, time\nif os.fork() == 0:\n    time.sleep(600)\ntime.sleep(600)"
    c = await runtime.start_container(sandbox, _container("c", [*PY, forker], tmp_path))
    try:
        for pid, cgroup in ((sandbox.pause_pid, f"{sandbox.cgroup}/{PAUSE_CGROUP}"), (c.pid, c.cgroup)):
            for root in runtime.driver.roots():
                with open(os.path.join(root, cgroup, "cgroup.procs")) as f:
                    assert str(pid) in f.read().split(), f"{pid} not in {root}/{cgroup}"
        # `python -S` has to start and fork first: slow under load and in the TCG guest.
        deadline = time.monotonic() + 30
        while len(runtime.driver.pids(c.cgroup)) < 2 and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        assert len(runtime.driver.pids(c.cgroup)) == 2  # the container's child was born inside too
    finally:
        await runtime.remove_pod_sandbox(sandbox)


def test_on_cgroup_v2_a_process_is_born_in_its_cgroup(cgroup_driver: CgroupDriver) -> None:
    """clone3(CLONE_INTO_CGROUP): the spawn path's child never migrates on v2 (v1 joins through ``tasks``)."""
    cgroup_driver.setup_node()
    path = f"{KUBEPODS}/born-here"
    cgroup_driver.create(path, CgroupResources())
    spawn_dir = cgroup_driver.spawn_dir(path)
    if spawn_dir is None:
        assert all(f.endswith("/tasks") for f in cgroup_driver.join_files(path))
        pytest.skip("cgroup v1: no CLONE_INTO_CGROUP; the child joins through tasks")
    go_r, go_w = os.pipe()
    cgroup_fd = os.open(spawn_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        pid = libc.clone_into_cgroup(0, cgroup_fd)
        if pid == 0:  # the child: wait for the parent's look, then leave without running anything else
            os.read(go_r, 1)
            os._exit(0)
        with open(f"/proc/{pid}/cgroup") as f:
            membership = f.read().strip()
        os.write(go_w, b"x")
        _, status = os.waitpid(pid, 0)
    finally:
        for fd in (cgroup_fd, go_r, go_w):
            os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert membership.startswith("0::/") and membership.endswith(f"/{path}"), membership


async def test_a_container_restarted_the_moment_it_exits_gets_a_working_cgroup(
    runtime: Runtime, tmp_path: Path
) -> None:
    # The previous instance's supervisor removes its cgroup (the same path) after wait_container's callers
    # resume: a new instance started at once must not have its fresh cgroup removed under it.
    sandbox = await runtime.run_pod_sandbox(_sandbox_config("restarts"))
    try:
        for i in range(20):
            c = await runtime.start_container(sandbox, _container("c", ["/bin/true"], tmp_path))
            exit_ = await runtime.wait_container(c)  # directly: resumed as early as callers can be
            assert exit_.reason == "Completed", (i, exit_)
    finally:
        await runtime.remove_pod_sandbox(sandbox)
