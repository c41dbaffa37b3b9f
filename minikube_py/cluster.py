"""``minikube-py up``: a control plane and local node agents in one foreground process.

The only module that composes both sides (``control`` and ``node`` never import each other).  Ctrl-C or
SIGTERM stops every pod, removes the nodes' cgroups and the shims, then stops the control plane.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
from dataclasses import dataclass

from aiohttp import web

from minikube_py.control import main as control_main
from minikube_py.node.agent import Agent, AgentConfig


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


def node_names(count: int) -> list[str]:
    if count == 1:
        return [socket.gethostname().split(".")[0].lower() or "node-1"]
    return [f"node-{i}" for i in range(1, count + 1)]


async def up(config: UpConfig, *, stop: asyncio.Event | None = None, started: asyncio.Event | None = None) -> None:
    token = secrets.token_hex(16)
    cp_config = control_main.ControlPlaneConfig(
        data_dir=os.path.join(config.data_dir, "control-plane"),
        host=config.host,
        port=config.port,
        node_monitor_grace_period=config.node_monitor_grace_period,
        scheduler_config=config.scheduler_config,
        agent_token=token,
    )
    app, store = await control_main.build(cp_config)
    runner = control_main.make_runner(app)
    await runner.setup()
    await web.TCPSite(runner, config.host, config.port).start()
    server = f"http://{config.host}:{config.port}"
    agents: list[Agent] = []
    stop = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        for name in node_names(config.nodes):
            agent = Agent(
                AgentConfig(
                    server=server,
                    node_name=name,
                    data_dir=os.path.join(config.data_dir, "nodes", name),
                    node_dir=f"minikube_py-{name}",
                    port=0,
                    token=token,
                    cpu=config.node_cpu,
                    memory=config.node_memory,
                    heartbeat_interval=config.heartbeat_interval,
                )
            )
            await agent.start()
            agents.append(agent)
        print(
            f"minikube-py is up: API server at {server} with {len(agents)} node(s) "
            f"({', '.join(a.config.node_name for a in agents)}); Ctrl-C stops everything",
            flush=True,
        )
        if started is not None:
            started.set()
        await stop.wait()
        print("minikube-py: stopping pods, agents and the control plane ...", flush=True)
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
        for agent in agents:
            with contextlib.suppress(Exception):
                await agent.stop(remove_pods=True)
        await runner.cleanup()
        await store.close()
