"""Scheduler throughput and per-pod latency with 100 and 1000 simulated nodes.

One ``schedule_one`` per pod with the default profile (filters + LeastAllocated + BalancedAllocation +
TaintToleration + NodeAffinity), each pod assumed on its node so the next decision sees it; binding is not
part of this number (through the API each bind is one SQLite write).  No peer runs here: kube-scheduler is
not available on this machine; its own benchmarks reach a few hundred pods/s at 5000 nodes.
"""

from __future__ import annotations

import random
import time

from bench.report_model import Section, row
from minikube_py.api import defaults, quantity, types
from minikube_py.control.scheduler.framework import Handle
from minikube_py.control.scheduler.nodeinfo import PodResources
from minikube_py.control.scheduler.perf import make_pod
from minikube_py.control.scheduler.plugins.noderesources import POD_RESOURCES_KEY
from minikube_py.control.scheduler.profile import default_profile
from minikube_py.control.scheduler.scheduler import Scheduler
from minikube_py.util.clock import FakeClock

NAME = "scheduler"
Q = quantity.Quantity.parse
TARGETS = {100: 2000, 1000: 500}


def _node(name: str) -> types.Node:
    # Room for 110 pods of 100m/128Mi each, so 10 000 pods fit on 100 nodes.
    node = types.Node(
        metadata=types.ObjectMeta(name=name, labels={"kubernetes.io/hostname": name}),
        status=types.NodeStatus(allocatable={"cpu": Q("16"), "memory": Q("64Gi"), "pods": Q("110")}),
    )
    defaults.default_node(node)
    return node


def _run(num_nodes: int, num_pods: int) -> tuple[list[float], float]:
    scheduler = Scheduler([default_profile(Handle())], rng=random.Random(1), clock=FakeClock())
    for i in range(num_nodes):
        scheduler.on_node_added(_node(f"node-{i:04d}"))
    nodes = scheduler.cache.node_infos()
    pods = [make_pod(i) for i in range(num_pods)]
    latencies = []
    start = time.perf_counter()
    for pod in pods:
        t = time.perf_counter()
        result = scheduler.schedule_one(pod, nodes)
        if result.node_name is None:
            raise RuntimeError(result.message)
        resources: PodResources | None = result.state.get(POD_RESOURCES_KEY)
        scheduler.assume(pod, result.node_name, resources=resources)
        latencies.append((time.perf_counter() - t) * 1000)
    return latencies, num_pods / (time.perf_counter() - start)


async def run(quick: bool) -> Section:
    num_pods = 2000 if quick else 10_000
    section = Section(NAME, f"Scheduler: {num_pods} pods, default profile, simulated nodes")
    for num_nodes in (100, 1000):
        latencies, rate = _run(num_nodes, num_pods)
        section.rows.append(row(f"throughput, {num_nodes} nodes", "pods/s", "ours: schedule_one + assume", [rate]))
        section.rows.append(row(f"latency per pod, {num_nodes} nodes", "ms", "ours: schedule_one + assume", latencies))
        section.notes.append(f"{num_nodes} nodes: {rate:.0f} pods/s against a target of ≥ {TARGETS[num_nodes]}")
    section.target = "≥ 2000 pods/s at 100 nodes, ≥ 500 pods/s at 1000 nodes (no peer can run here)"
    return section
