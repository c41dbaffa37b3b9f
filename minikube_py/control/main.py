"""The control plane process: store + API server + controllers, in the foreground until SIGTERM/SIGINT."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass

from aiohttp import web

from minikube_py.control import apiserver, auth, eventgc, nodelifecycle, schedulercontroller
from minikube_py.control.store import SQLiteStore
from minikube_py.util import sdnotify
from minikube_py.util.clock import RealClock

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ControlPlaneConfig:
    data_dir: str
    host: str = "127.0.0.1"
    port: int = 6443
    node_monitor_grace_period: float = 40.0
    """Seconds without a node status update before the node is Ready=Unknown (Kubernetes ≤1.28: 40 s)."""
    node_monitor_period: float = 5.0
    scheduler_config: str | None = None
    """KubeSchedulerConfiguration YAML text (profiles, plugins, weights); None = the default profile."""
    agent_token: str = ""
    """Bearer token sent to node agents when proxying logs and exec; empty = the cluster token."""
    event_ttl: float = eventgc.DEFAULT_EVENT_TTL
    """Seconds an Event lives after its last occurrence (kube-apiserver --event-ttl)."""
    token: str | None = None
    """The cluster's bearer token; None = read from (or created at first start in) ``<data_dir>/token``."""


async def build(config: ControlPlaneConfig) -> tuple[web.Application, SQLiteStore]:
    os.makedirs(config.data_dir, exist_ok=True)
    token = config.token or auth.load_or_create_token(os.path.join(config.data_dir, auth.TOKEN_FILE))
    # Clients find the server and token here (the CLI reads it by default when it may).
    advertised = "127.0.0.1" if config.host in ("", "0.0.0.0", "::") else config.host
    host = f"[{advertised}]" if ":" in advertised else advertised
    auth.write_kubeconfig(os.path.join(config.data_dir, auth.KUBECONFIG_FILE), f"http://{host}:{config.port}", token)
    store = await SQLiteStore.open(os.path.join(config.data_dir, "state.db"))
    app = apiserver.create_app(store, agent_token=config.agent_token or token, api_token=token)
    service = app[apiserver.SERVICE]
    scheduler = schedulercontroller.SchedulerController(service, config=config.scheduler_config)
    app[apiserver.SCHEDULING_TRACES] = scheduler.traces
    scheduler.metrics = app[apiserver.METRICS]
    controller = nodelifecycle.NodeLifecycleController(
        service, clock=RealClock(), grace_period=config.node_monitor_grace_period, period=config.node_monitor_period
    )

    events = eventgc.EventCollector(store, clock=RealClock(), ttl=config.event_ttl)

    async def controllers(app: web.Application) -> AsyncIterator[None]:
        stop = asyncio.Event()
        tasks = [
            asyncio.create_task(controller.run(), name="node-lifecycle"),
            asyncio.create_task(scheduler.run(stop), name="scheduler"),
            asyncio.create_task(events.run(), name="event-ttl"),
        ]
        yield
        stop.set()
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app.cleanup_ctx.append(controllers)
    return app, store


def make_runner(app: web.Application) -> web.AppRunner:
    """A runner whose watch streams end when their client goes away (handler_cancellation) and that does
    not wait the default 60 s for open streams at shutdown."""
    return web.AppRunner(app, handle_signals=False, handler_cancellation=True, shutdown_timeout=2.0)


async def serve(config: ControlPlaneConfig, *, stop: asyncio.Event | None = None) -> None:
    app, store = await build(config)
    runner = make_runner(app)
    try:
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port)
        await site.start()  # an address in use raises here: the store and its lock are released below
        print(f"minikube-py control plane listening on http://{config.host}:{config.port}", flush=True)
        # Everything built so far lives as long as the server: out of the collector's sight, a full collection
        # scans only what requests create (an unfrozen one paused the loop for up to ~80 ms under load).
        gc.freeze()
        sdnotify.ready()  # Type=notify: the unit is active once the API server accepts connections
        stop = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            sdnotify.stopping()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.remove_signal_handler(sig)
    finally:
        await runner.cleanup()
        await store.close()
