"""`minikube-py up` end to end, as a user would run it: real agent, real pods, real OOM kills."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from minikube_py import cluster as cluster_mod
from minikube_py.node.cgroups import detect
from tests.polling import until

pytestmark = [pytest.mark.root]
CLI = str(Path(sys.executable).with_name("minikube-py"))
ALLOC = "import time\nb = []\nfor _ in range(50):\n    b.append(bytearray(4 << 20))\n    time.sleep(0.02)\n"
# From creating an OOM-ing pod to seeing its OOMKilled state with a restart.
OOM_SEEN_TIMEOUT_S = 30.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Cluster:
    def __init__(self, proc: subprocess.Popen[bytes], base: str, session: aiohttp.ClientSession, data_dir: str) -> None:
        self.proc, self.base, self.session, self.data_dir = proc, base, session, data_dir

    async def get(self, path: str, **params: str) -> Any:
        async with self.session.get(self.base + path, params=params) as r:
            return await r.json() if r.content_type == "application/json" else await r.text()

    async def post(self, path: str, body: Any, **params: str) -> tuple[int, Any]:
        async with self.session.post(self.base + path, json=body, params=params) as r:
            return r.status, await r.json()

    def agent_process(self, node: str) -> Any:
        """The psutil.Process of the node's agent (started as ``nsenter ... minikube-py agent --node-name=N``)."""
        import psutil

        return next(
            p
            for p in psutil.Process(self.proc.pid).children()
            if "agent" in p.cmdline() and f"--node-name={node}" in p.cmdline()
        )

    def node_netns(self, node: str) -> str:
        """The name (under /run/netns) of the network namespace the node's agent runs in."""
        agent = self.agent_process(node)
        inode = os.stat(f"/proc/{agent.pid}/ns/net").st_ino
        return next(n for n in os.listdir("/run/netns") if os.stat(f"/run/netns/{n}").st_ino == inode)

    async def wait(self, what: str, check: Any, timeout: float = 20.0) -> Any:
        return await until(check, what, timeout=timeout, interval=0.1)


def _node_dirs(data_dir: str) -> list[str]:
    layout = detect.detect_layout()
    name = cluster_mod.node_cgroup_dir(data_dir, cluster_mod.node_names(1)[0])
    controllers = ["memory", "cpu", "pids"] if layout.v1_mounts else [""]
    return [os.path.join(layout.own_dir(c), name) for c in controllers]


@contextlib.asynccontextmanager
async def run_up(tmp_path: Path, *extra: str, nodes: int = 1) -> AsyncIterator[Cluster]:
    """``minikube-py up`` as a user runs it, until ``nodes`` nodes are Ready; SIGINT at the end.

    The exit status of ``up`` is left in ``cluster.proc.returncode`` for the test to check.
    """
    port = _free_port()
    argv = [CLI, "up", "--data-dir", str(tmp_path), "--port", str(port), *extra]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL)
    session = aiohttp.ClientSession()
    c = Cluster(proc, f"http://127.0.0.1:{port}", session, str(tmp_path))
    try:

        async def registered() -> bool:
            try:
                items = (await c.get("/api/v1/nodes"))["items"]
            except aiohttp.ClientError:
                return False
            ready = [
                n
                for n in items
                if any(x["type"] == "Ready" and x["status"] == "True" for x in n["status"]["conditions"])
            ]
            return len(items) == len(ready) == nodes

        await c.wait(f"{nodes} node(s) to register", registered, timeout=60)
        yield c
    finally:
        await session.close()
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@pytest.fixture
async def cluster(tmp_path: Path) -> AsyncIterator[Cluster]:
    async with run_up(tmp_path) as c:
        yield c


def _pod(name: str, command: list[str], **resources: dict[str, str]) -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"containers": [{"name": "main", "command": command, "resources": resources}]},
    }


async def test_oom_pod_logs_exec_top_delete_and_ctrl_c(cluster: Cluster) -> None:
    status, body = await cluster.post(
        "/api/v1/namespaces/default/pods", _pod("hog", [sys.executable, "-S", "-c", ALLOC], limits={"memory": "64Mi"})
    )
    assert status == 201, body
    t0 = time.monotonic()

    async def oom_seen() -> dict[str, Any] | None:
        pod = await cluster.get("/api/v1/namespaces/default/pods/hog")
        for cs in pod["status"].get("containerStatuses", []):
            last = cs.get("lastState", {}).get("terminated") or cs.get("state", {}).get("terminated") or {}
            if last.get("reason") == "OOMKilled" and cs["restartCount"] >= 1:
                return pod
        return None

    # Two start/OOM cycles through the API: seconds, but the bound leaves room for a loaded machine.
    pod = await cluster.wait("OOMKilled with a restart", oom_seen, timeout=OOM_SEEN_TIMEOUT_S)
    assert time.monotonic() - t0 <= OOM_SEEN_TIMEOUT_S
    records = json.loads(pod["metadata"]["annotations"]["minikube-py.io/oom-records"])
    assert records[0]["limit_bytes"] == 64 << 20 and records[0]["memory_curve"]
    sandbox = json.loads(pod["metadata"]["annotations"]["minikube-py.io/sandbox"])
    assert set(sandbox["namespaces"]) == {"pid", "net", "ipc", "uts", "mnt"}

    # A CPU-limited pod: its throttling shows in the node's stats (what `top` reads), and logs/exec work.
    script = "import time\nprint('hello from spin', flush=True)\nwhile True: pass"
    status, body = await cluster.post(
        "/api/v1/namespaces/default/pods", _pod("spin", [sys.executable, "-S", "-c", script], limits={"cpu": "100m"})
    )
    assert status == 201, body

    async def running() -> bool:
        pod = await cluster.get("/api/v1/namespaces/default/pods/spin")
        return pod["status"].get("phase") == "Running"

    await cluster.wait("spin to run", running)
    node = pod["spec"]["nodeName"]

    async def throttled() -> dict[str, Any] | None:
        summary = await cluster.get(f"/api/v1/nodes/{node}/proxy/stats/summary")
        for p in summary["pods"]:
            if p["podRef"]["name"] == "spin" and p["containers"] and p["containers"][0]["cpu"]["throttledPeriods"] > 5:
                return p
        return None

    await cluster.wait("throttling to show", throttled)
    metrics = await cluster.get(f"/api/v1/nodes/{node}/proxy/metrics")
    assert 'container_oom_events_total{container="main",namespace="default",pod="hog"}' in metrics
    oom_line = next(
        line for line in metrics.splitlines() if line.startswith("container_oom_events_total") and 'pod="hog"' in line
    )
    assert float(oom_line.split()[-1]) >= 1
    assert 'container_cpu_cfs_throttled_periods_total{container="main",namespace="default",pod="spin"}' in metrics
    assert "hello from spin" in await cluster.get("/api/v1/namespaces/default/pods/spin/log")
    async with cluster.session.post(
        cluster.base + "/api/v1/namespaces/default/pods/spin/exec", params=[("command", "hostname"), ("command", "-s")]
    ) as r:
        result = await r.json()
    assert result["exitCode"] == 0 and result["stdout"].strip() == "spin"

    # Delete: the object goes away (graceful, then removed by the agent) and so do the pod's cgroups.
    uid = (await cluster.get("/api/v1/namespaces/default/pods/spin"))["metadata"]["uid"]
    async with cluster.session.delete(
        cluster.base + "/api/v1/namespaces/default/pods/spin", params={"gracePeriodSeconds": "1"}
    ) as r:
        assert r.status == 200

    async def gone() -> bool:
        async with cluster.session.get(cluster.base + "/api/v1/namespaces/default/pods/spin") as r:
            return r.status == 404

    await cluster.wait("the pod to be removed", gone)
    for d in _node_dirs(cluster.data_dir):
        for dirpath, dirnames, _ in os.walk(d):
            assert not any(uid in name for name in dirnames), f"pod cgroup left in {dirpath}"

    # Ctrl-C of `up` stops everything and leaves nothing behind.
    cluster.proc.send_signal(signal.SIGINT)
    assert cluster.proc.wait(60) == 0
    for d in _node_dirs(cluster.data_dir):
        assert not os.path.exists(d), f"node cgroup {d} left behind"
    # The node shim's command line names its socket under this cluster's data dir: it must be gone.
    leftovers = subprocess.run(["pgrep", "-f", cluster.data_dir], capture_output=True, text=True)
    assert leftovers.stdout.split() == [], leftovers.stdout


async def test_official_client_sees_running_pod_and_reads_logs(cluster: Cluster) -> None:
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = cluster.base
    v1 = client.CoreV1Api(client.ApiClient(cfg))
    pod = client.V1Pod(
        metadata=client.V1ObjectMeta(name="greeter"),
        spec=client.V1PodSpec(
            containers=[client.V1Container(name="main", image="none", command=["sh", "-c", "echo hi there; sleep 300"])]
        ),
    )
    await asyncio.to_thread(v1.create_namespaced_pod, "default", pod)

    async def running() -> bool:
        got = await asyncio.to_thread(v1.read_namespaced_pod, "greeter", "default")
        return bool(got.status.phase == "Running")

    await cluster.wait("greeter to run", running)
    text = await cluster.wait("logs", lambda: asyncio.to_thread(v1.read_namespaced_pod_log, "greeter", "default"))
    assert text.strip() == "hi there"


async def test_three_nodes_spread_pods_and_refuse_a_too_big_one(tmp_path: Path) -> None:
    async with run_up(tmp_path, "--nodes", "3", "--node-cpu", "1", "--node-memory", "1Gi", nodes=3) as c:
        # Each agent lives in its own network namespace, plugged into one cluster bridge.
        nodes = (await c.get("/api/v1/nodes"))["items"]
        addresses = sorted(n["status"]["addresses"][0]["address"] for n in nodes)
        subnet = addresses[0].rsplit(".", 1)[0]  # 10.213.<k>: the first subnet free on this machine
        assert subnet.startswith("10.213.") and addresses == [f"{subnet}.1", f"{subnet}.2", f"{subnet}.3"]
        ours = [c.node_netns(f"node-{i}") for i in (1, 2, 3)]
        assert len(set(ours)) == 3 and all(n.startswith("mkpy-") for n in ours)
        # Beyond loopback the API server wants the cluster token: agents have it; a bare request gets 401.
        node_ns = c.node_netns("node-1")
        port = c.base.rsplit(":", 1)[1]
        server = f"http://{subnet}.254:{port}"  # the control plane, seen from the nodes
        probe = (
            "import sys, urllib.request, urllib.error\n"
            "try:\n    print(urllib.request.urlopen(sys.argv[1] + '/api/v1/nodes', timeout=20).status)\n"
            "except urllib.error.HTTPError as e:\n    print(e.code, e.read().decode())\n"
        )
        bare = subprocess.run(
            ["nsenter", f"--net=/run/netns/{node_ns}", sys.executable, "-c", probe, server],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert bare.stdout.startswith("401") and '"reason": "Unauthorized"' in bare.stdout, bare
        token = Path(tmp_path, "control-plane", "token").read_text().strip()
        listed = subprocess.run(
            ["nsenter", f"--net=/run/netns/{node_ns}", CLI, "get", "nodes", "--server", server, "--token", token],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
        assert listed.returncode == 0 and listed.stdout.count("Ready") == 3, listed
        for i in range(6):
            status, body = await c.post(
                "/api/v1/namespaces/default/pods", _pod(f"s{i}", ["sleep", "300"], requests={"cpu": "300m"})
            )
            assert status == 201, body
        status, body = await c.post(
            "/api/v1/namespaces/default/pods", _pod("too-big", ["sleep", "300"], requests={"cpu": "2"})
        )
        assert status == 201, body

        async def all_running() -> list[dict[str, Any]] | None:
            pods = [
                p
                for p in (await c.get("/api/v1/namespaces/default/pods"))["items"]
                if p["metadata"]["name"] != "too-big"
            ]
            return pods if all(p["status"].get("phase") == "Running" for p in pods) else None

        pods = await c.wait("six pods running", all_running, timeout=60)
        per_node: dict[str, int] = {}
        for p in pods:
            per_node[p["spec"]["nodeName"]] = per_node.get(p["spec"]["nodeName"], 0) + 1
        assert sorted(per_node.values()) == [2, 2, 2], per_node  # LeastAllocated spreads them evenly
        # Each node's pods live in that node's own cgroup tree, capped at the node's memory.
        layout = detect.detect_layout()
        for name in per_node:
            kubepods = os.path.join(
                layout.own_dir("memory" if layout.v1_mounts else ""),
                cluster_mod.node_cgroup_dir(str(tmp_path), name),
                "kubepods",
            )
            limit_file = "memory.limit_in_bytes" if layout.v1_mounts else "memory.max"
            assert int(Path(kubepods, limit_file).read_text()) == 1 << 30
            pod_dirs = [d for d in os.listdir(os.path.join(kubepods, "burstable")) if d.startswith("pod")]
            assert len(pod_dirs) == per_node[name]
        big = await c.get("/api/v1/namespaces/default/pods/too-big")
        cond = next(x for x in big["status"]["conditions"] if x["type"] == "PodScheduled")
        assert (big["status"]["phase"], cond["reason"]) == ("Pending", "Unschedulable")
        assert cond["message"] == "0/3 nodes are available: 3 Insufficient cpu."
    assert c.proc.returncode == 0
    # The namespaces and veth pairs are gone with the cluster.
    netns_after = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not any(line.split()[0] in ours for line in netns_after.splitlines()), netns_after
    assert f"{subnet}." not in subprocess.run(["ip", "-br", "addr"], capture_output=True, text=True).stdout
    layout = detect.detect_layout()
    own = layout.own_dir("memory" if layout.v1_mounts else "")
    assert not any(
        os.path.exists(os.path.join(own, cluster_mod.node_cgroup_dir(str(tmp_path), f"node-{i}"))) for i in (1, 2, 3)
    )


def _cli(cluster: Cluster, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MINIKUBE_PY_SERVER": cluster.base}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=timeout)


async def test_the_tour_with_the_cli(cluster: Cluster) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    applied = await asyncio.to_thread(_cli, cluster, "apply", "-f", str(examples / "oom.yaml"))
    assert applied.returncode == 0 and applied.stdout.strip() == "pod/oom-demo created", applied
    t0 = time.monotonic()

    async def oom_in_get() -> str | None:
        # STATUS is OOMKilled right after a kill, "CrashLoopBackOff (OOMKilled)" while backing off.
        out = (await asyncio.to_thread(_cli, cluster, "get", "pods", "--no-headers")).stdout
        for line in out.splitlines():
            match = re.match(r"oom-demo\s+\S+\s+.*OOMKilled\)?\s+(\d+)", line)
            if match and int(match.group(1)) >= 1:
                return line
        return None

    # Two start/OOM cycles, each look a CLI process of its own (a Python start): room for a loaded machine.
    line = await cluster.wait("get pods to show OOMKilled with restarts", oom_in_get, timeout=OOM_SEEN_TIMEOUT_S)
    assert time.monotonic() - t0 <= OOM_SEEN_TIMEOUT_S, line
    described = (await asyncio.to_thread(_cli, cluster, "describe", "pod", "oom-demo")).stdout
    assert "OOM kills:" in described and "Limit:" in described and "64Mi" in described
    assert "Sandbox:" in described and "Events:" in described

    applied = await asyncio.to_thread(_cli, cluster, "apply", "-f", str(examples / "cpu-throttle.yaml"))
    assert applied.returncode == 0, applied

    async def throttled_in_top() -> str | None:
        out = (await asyncio.to_thread(_cli, cluster, "top", "pods")).stdout
        for line in out.splitlines():
            if line.startswith("cpu-demo") and float(line.split()[-1].rstrip("s")) > 0:
                return line
        return None

    await cluster.wait("top to show cpu-demo throttled", throttled_in_top, timeout=30)
    execd = await asyncio.to_thread(_cli, cluster, "exec", "cpu-demo", "--", "hostname")
    assert execd.returncode == 0 and execd.stdout.strip() == "cpu-demo", execd
    logs = await asyncio.to_thread(_cli, cluster, "logs", "oom-demo", "--previous")
    assert logs.returncode == 0, logs
    deleted = await asyncio.to_thread(_cli, cluster, "delete", "pod", "oom-demo", "cpu-demo", "--grace-period", "1")
    assert deleted.returncode == 0 and 'pod "oom-demo" deleted' in deleted.stdout, deleted
    left = (await asyncio.to_thread(_cli, cluster, "get", "pods", "--no-headers")).stdout
    assert left.strip() == ""


def test_agent_that_cannot_join_fails_cleanly(tmp_path: Path) -> None:
    node = f"mkpy-probe-{os.getpid()}"
    result = subprocess.run(
        [
            CLI,
            "agent",
            "--server",
            f"http://127.0.0.1:{_free_port()}",
            "--node-name",
            node,
            "--data-dir",
            str(tmp_path),
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: cannot join the control plane: cannot reach the API server")
    assert "Traceback" not in result.stderr
    assert subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout == ""
    layout = detect.detect_layout()
    own = layout.own_dir("memory" if layout.v1_mounts else "")
    assert not os.path.exists(os.path.join(own, f"minikube_py-{node}"))
