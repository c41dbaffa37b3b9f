"""``minikube-py up``: a control plane and local node agents in one foreground process.

The only module that composes both sides (``control`` and ``node`` never import each other).  Ctrl-C or
SIGTERM stops every pod, removes the nodes' cgroups and the shims, then stops the control plane.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hashlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web

from minikube_py import nodenet
from minikube_py.control import auth
from minikube_py.control import main as control_main
from minikube_py.node.agent import AgentConfig
from minikube_py.node.eviction.types import EvictionConfig


@dataclass(frozen=True)
class UpConfig:
    data_dir: str = "/var/lib/minikube-py"
    host: str = "127.0.0.1"
    port: int = 6443
    nodes: int = 1
    node_cpu: str | None = None
    node_memory: str | None = None
    node_monitor_grace_period: float = 40.0
    scheduler_config: str | None = None
    heartbeat_interval: float = 10.0
    eviction: EvictionConfig | None = None  # for the in-process agent (one node)
    eviction_argv: tuple[str, ...] = ()  # the same settings as flags, for agent processes (N nodes)


def node_cgroup_dir(data_dir: str, node: str) -> str:
    """The node's cgroup directory name: unique per cluster (data dir), so two clusters on one machine never
    share — or tear down — each other's cgroups, also in hierarchies where every process sits at the root."""
    digest = hashlib.sha256(os.path.abspath(data_dir).encode()).hexdigest()[:8]
    return f"minikube_py-{node}-{digest}"


def node_names(count: int) -> list[str]:
    if count == 1:
        return [socket.gethostname().split(".")[0].lower() or "node-1"]
    return [f"node-{i}" for i in range(1, count + 1)]


async def up(config: UpConfig, *, stop: asyncio.Event | None = None, started: asyncio.Event | None = None) -> None:
    cp_dir = os.path.join(config.data_dir, "control-plane")
    # One cluster token: agents present it to the API server, which presents it back to them.
    token = auth.load_or_create_token(os.path.join(cp_dir, auth.TOKEN_FILE))
    cp_config = control_main.ControlPlaneConfig(
        data_dir=cp_dir,
        host=config.host,
        port=config.port,
        node_monitor_grace_period=config.node_monitor_grace_period,
        scheduler_config=config.scheduler_config,
        agent_token=token,
        token=token,
    )
    app, store = await control_main.build(cp_config)
    runner = control_main.make_runner(app)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    server = f"http://{config.host}:{config.port}"
    remote: list[tuple[subprocess.Popen[bytes], nodenet.NodeNet]] = []
    cluster_net: nodenet.ClusterNet | None = None
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        names = node_names(config.nodes)
        # Every node agent runs in its own network namespace on one cluster bridge (pods get IPs from the node's
        # pod CIDR and reach pods on other nodes); the control plane listens on the bridge too.
        cluster_net = await asyncio.to_thread(nodenet.create_cluster, secrets.token_hex(3))
        await web.TCPSite(runner, cluster_net.host_ip, config.port).start()
        for index, name in enumerate(names, start=1):
            net = await asyncio.to_thread(nodenet.add_node, cluster_net, index)
            remote.append((_start_agent_process(config, name, net, token), net))
        await _wait_for_nodes(store, names, remote)
        gc.freeze()  # as control_main.serve does: what start-up built stays, out of the collector's scans
        print(
            f"minikube-py is up: API server at {server} with {len(names)} node(s) "
            f"({', '.join(names)}); Ctrl-C stops everything",
            flush=True,
        )
        if started is not None:
            started.set()
        await stop.wait()
        print("minikube-py: stopping pods, agents and the control plane ...", flush=True)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        await _stop_agent_processes(remote)
        if cluster_net is not None:
            await asyncio.to_thread(nodenet.delete_cluster, cluster_net)
        await runner.cleanup()
        await store.close()


def _agent_config(config: UpConfig, name: str, server: str, token: str, *, address: str) -> AgentConfig:
    return AgentConfig(
        server=server,
        node_name=name,
        data_dir=os.path.join(config.data_dir, "nodes", name),
        node_dir=node_cgroup_dir(config.data_dir, name),
        address=address,
        listen=address,
        port=10250,
        token=token,
        cpu=config.node_cpu,
        memory=config.node_memory,
        heartbeat_interval=config.heartbeat_interval,
        eviction=config.eviction,
        pod_network=True,
    )


def agent_argv(config: UpConfig, name: str, net: nodenet.NodeNet, token: str) -> list[str]:
    """The command line of the agent of node ``name``, run in its network namespace.

    Values go as ``--flag=value``: a token may begin with ``-`` (``token_urlsafe``'s alphabet has it), which
    argparse would take for an option after a separate ``--token``.
    """
    agent = _agent_config(config, name, f"http://{net.host_ip}:{config.port}", token, address=net.node_ip)
    cli = str(Path(sys.executable).with_name("minikube-py"))
    argv = [
        # nsenter --net switches only the network namespace (`ip netns exec` would also remount /sys and hide
        # the cgroup hierarchies from the agent).
        "nsenter", f"--net={net.netns_path}", "--",
        cli, "agent",
        f"--server={agent.server}", f"--node-name={name}", f"--data-dir={agent.data_dir}",
        f"--address={agent.address}", f"--listen={agent.listen}", f"--port={agent.port}",
        f"--token={token}", f"--node-dir={agent.node_dir}", "--remove-pods-on-exit", "--pod-network",
        f"--heartbeat-interval={agent.heartbeat_interval}",
    ]  # fmt: skip
    argv += list(config.eviction_argv)
    if agent.cpu:
        argv.append(f"--cpu={agent.cpu}")
    if agent.memory:
        argv.append(f"--memory={agent.memory}")
    return argv


def _start_agent_process(config: UpConfig, name: str, net: nodenet.NodeNet, token: str) -> subprocess.Popen[bytes]:
    argv = agent_argv(config, name, net, token)
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL)


async def _wait_for_nodes(
    store: Any, names: list[str], remote: list[tuple[subprocess.Popen[bytes], nodenet.NodeNet]], timeout: float = 120.0
) -> None:
    from minikube_py.control.store import Key, NotFound

    deadline = time.monotonic() + timeout
    for name in names:
        while True:
            with contextlib.suppress(NotFound):
                await store.get(Key("nodes", "", name))
                break
            for proc, net in remote:
                if proc.poll() is not None:
                    raise RuntimeError(f"the agent in {net.netns} exited with status {proc.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"node {name} did not register within {timeout:.0f} s")
            await asyncio.sleep(0.1)


async def _stop_agent_processes(remote: list[tuple[subprocess.Popen[bytes], nodenet.NodeNet]]) -> None:
    for proc, _ in remote:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    for proc, net in remote:
        try:
            await asyncio.to_thread(proc.wait, 60)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait)
        await asyncio.to_thread(nodenet.delete_node, net)
