"""Self-check of scheduling throughput: ``python -m minikube_py.control.scheduler.perf``.

Builds a cluster of identical nodes (8 CPU, 32Gi, 110 pods) and schedules pods one ``schedule_one`` at a
time with the default profile, assuming each pod on its node so the next decision sees it (the binding is
not part of the measurement).  Prints pods/s for 100 and 1000 nodes (best and median of a few rounds, since
other processes share the CPU).  Not a test: numbers depend on the machine.
"""

from __future__ import annotations

import argparse
import random
import time

from minikube_py.api import defaults, quantity, types
from minikube_py.control.scheduler.framework import Handle
from minikube_py.control.scheduler.nodeinfo import PodResources
from minikube_py.control.scheduler.plugins.noderesources import POD_RESOURCES_KEY
from minikube_py.control.scheduler.profile import default_profile
from minikube_py.control.scheduler.scheduler import Scheduler
from minikube_py.util.clock import FakeClock

Q = quantity.Quantity.parse


def make_node(name: str) -> types.Node:
    node = types.Node(
        metadata=types.ObjectMeta(name=name, labels={"kubernetes.io/hostname": name}),
        status=types.NodeStatus(allocatable={"cpu": Q("8"), "memory": Q("32Gi"), "pods": Q("110")}),
    )
    defaults.default_node(node)
    return node


def make_pod(i: int) -> types.Pod:
    container = types.Container(
        name="app",
        image="busybox",
        resources=types.ResourceRequirements(requests={"cpu": Q("100m"), "memory": Q("128Mi")}),
    )
    pod = types.Pod(
        metadata=types.ObjectMeta(name=f"pod-{i}", uid=f"uid-{i}"), spec=types.PodSpec(containers=[container])
    )
    defaults.default_pod(pod)
    return pod


def measure(num_nodes: int, num_pods: int, seed: int = 1) -> float:
    """Pods scheduled per second."""
    scheduler = Scheduler([default_profile(Handle())], rng=random.Random(seed), clock=FakeClock())
    for i in range(num_nodes):
        scheduler.on_node_added(make_node(f"node-{i:04d}"))
    nodes = scheduler.cache.node_infos()
    pods = [make_pod(i) for i in range(num_pods)]
    start = time.perf_counter()
    for pod in pods:
        result = scheduler.schedule_one(pod, nodes)
        if result.node_name is None:
            raise RuntimeError(result.message)
        resources: PodResources | None = result.state.get(POD_RESOURCES_KEY)
        scheduler.assume(pod, result.node_name, resources=resources)
    elapsed = time.perf_counter() - start
    return num_pods / elapsed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--pods", type=int, default=3000, help="pods per run (default 3000)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per cluster size; the best counts (default 3)")
    args = parser.parse_args(argv)
    for num_nodes, target in ((100, 2000), (1000, 500)):
        rates = sorted(measure(num_nodes, args.pods, seed) for seed in range(1, args.rounds + 1))
        best = rates[-1]
        verdict = "ok" if best >= target else "BELOW TARGET"
        print(
            f"{num_nodes:5d} nodes: best {best:6.0f} pods/s, median {rates[len(rates) // 2]:6.0f} "
            f"(target {target}: {verdict})"
        )


if __name__ == "__main__":
    main()
