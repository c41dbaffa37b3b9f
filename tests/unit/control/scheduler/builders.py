"""Small builders for scheduler tests: defaulted nodes and pods from plain arguments."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence

from minikube_py.api import defaults, quantity, types
from minikube_py.control.scheduler.framework import Handle
from minikube_py.control.scheduler.nodeinfo import NodeInfo, PodInfo
from minikube_py.control.scheduler.profile import Profile, default_profile, load_profiles
from minikube_py.control.scheduler.scheduler import Scheduler
from minikube_py.util.clock import FakeClock

Q = quantity.Quantity.parse
GI = 1024**3
MI = 1024**2


def node(
    name: str,
    *,
    cpu: str = "4",
    memory: str = "8Gi",
    pods: str | None = "110",
    extra: Mapping[str, str] | None = None,
    labels: Mapping[str, str] | None = None,
    taints: Sequence[types.Taint] = (),
    unschedulable: bool = False,
) -> types.Node:
    allocatable = {"cpu": Q(cpu), "memory": Q(memory)}
    if pods is not None:
        allocatable["pods"] = Q(pods)
    for key, value in (extra or {}).items():
        allocatable[key] = Q(value)
    n = types.Node(
        metadata=types.ObjectMeta(name=name, labels=dict(labels or {})),
        spec=types.NodeSpec(unschedulable=unschedulable, taints=list(taints)),
        status=types.NodeStatus(allocatable=allocatable),
    )
    defaults.default_node(n)
    return n


def container(name: str = "app", **requests: str) -> types.Container:
    reqs = {k.replace("_", "-"): Q(v) for k, v in requests.items()}
    return types.Container(name=name, image="busybox", resources=types.ResourceRequirements(requests=reqs))


def pod(
    name: str,
    *,
    cpu: str | None = None,
    memory: str | None = None,
    requests: Mapping[str, str] | None = None,
    containers: Sequence[types.Container] | None = None,
    init_containers: Sequence[types.Container] = (),
    priority: int | None = None,
    node_name: str = "",
    node_selector: Mapping[str, str] | None = None,
    affinity: types.NodeAffinity | None = None,
    tolerations: Sequence[types.Toleration] = (),
    scheduler_name: str = "",
    uid: str | None = None,
) -> types.Pod:
    if containers is None:
        reqs: dict[str, quantity.Quantity] = {}
        if cpu is not None:
            reqs["cpu"] = Q(cpu)
        if memory is not None:
            reqs["memory"] = Q(memory)
        for key, value in (requests or {}).items():
            reqs[key] = Q(value)
        containers = [types.Container(name="app", image="busybox", resources=types.ResourceRequirements(requests=reqs))]
    p = types.Pod(
        metadata=types.ObjectMeta(name=name, namespace="default", uid=uid if uid is not None else f"uid-{name}"),
        spec=types.PodSpec(
            containers=list(containers),
            init_containers=list(init_containers),
            priority=priority,
            node_name=node_name,
            node_selector=dict(node_selector or {}),
            affinity=types.Affinity(node_affinity=affinity) if affinity is not None else None,
            tolerations=list(tolerations),
            scheduler_name=scheduler_name,
        ),
    )
    defaults.default_pod(p)
    return p


def node_info(n: types.Node, *pods: types.Pod) -> NodeInfo:
    return NodeInfo(n, [PodInfo.of(p) for p in pods])


def taint(key: str, value: str = "", effect: str = "NoSchedule") -> types.Taint:
    return types.Taint(key=key, value=value, effect=effect)


def toleration(key: str = "", operator: str = "", value: str = "", effect: str = "") -> types.Toleration:
    return types.Toleration(key=key, operator=operator, value=value, effect=effect)


def scheduler(*profiles: Profile, seed: int = 7, clock: FakeClock | None = None) -> Scheduler:
    if not profiles:
        profiles = (default_profile(Handle()),)
    return Scheduler(list(profiles), rng=random.Random(seed), clock=clock or FakeClock())


def scheduler_from(config: str, *, seed: int = 7) -> Scheduler:
    return Scheduler(load_profiles(config, handle=Handle()), rng=random.Random(seed), clock=FakeClock())
