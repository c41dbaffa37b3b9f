"""Fakes and builders for the eviction tests (kubelet eviction_manager_test.go style)."""

from __future__ import annotations

import dataclasses

from minikube_py.api import quantity, types
from minikube_py.node.eviction import types as et
from minikube_py.util.clock import FakeClock

Mi = 1024 * 1024
Gi = 1024 * Mi


def q(text: str) -> quantity.Quantity:
    return quantity.Quantity.parse(text)


def make_pod(
    name: str,
    *,
    priority: int | None = None,
    requests: dict[str, str] | None = None,
    limits: dict[str, str] | None = None,
    grace: int | None = None,
    annotations: dict[str, str] | None = None,
    container: str = "app",
    tolerations: list[types.Toleration] | None = None,
) -> types.Pod:
    resources = types.ResourceRequirements(
        requests={k: q(v) for k, v in (requests or {}).items()},
        limits={k: q(v) for k, v in (limits or {}).items()},
    )
    return types.Pod(
        metadata=types.ObjectMeta(name=name, namespace="default", uid=f"uid-{name}", annotations=annotations or {}),
        spec=types.PodSpec(
            containers=[types.Container(name=container, image="busybox", resources=resources)],
            priority=priority,
            termination_grace_period_seconds=grace,
            tolerations=tolerations or [],
        ),
    )


def best_effort(name: str, **kw: object) -> types.Pod:
    return make_pod(name, **kw)  # type: ignore[arg-type]


def burstable(name: str, memory: str, **kw: object) -> types.Pod:
    return make_pod(name, requests={"memory": memory}, **kw)  # type: ignore[arg-type]


def guaranteed(name: str, memory: str, **kw: object) -> types.Pod:
    res = {"cpu": "100m", "memory": memory}
    return make_pod(name, requests=res, limits=res, **kw)  # type: ignore[arg-type]


def mem_stats(pod: types.Pod, working_set: int, container: str = "app") -> et.PodStats:
    return et.PodStats(
        uid=pod.metadata.uid,
        memory_working_set_bytes=working_set,
        containers=(et.ContainerStats(container, memory_working_set_bytes=working_set),),
    )


def disk_stats(pod: types.Pod, rootfs: int, logs: int = 0, container: str = "app") -> et.PodStats:
    return et.PodStats(
        uid=pod.metadata.uid,
        containers=(et.ContainerStats(container, rootfs_used_bytes=rootfs, logs_used_bytes=logs),),
    )


class FakeStats:
    """``fakeSummaryProvider``: tests reassign ``result`` between passes; the time follows the clock."""

    def __init__(self, clock: FakeClock, result: et.NodeStats | None = None) -> None:
        self.clock = clock
        self.result = result or et.NodeStats()
        self.calls = 0
        self.fail = False

    def __call__(self) -> et.NodeStats:
        self.calls += 1
        if self.fail:
            raise OSError("stats unavailable")
        if self.result.time is None:
            return dataclasses.replace(self.result, time=self.clock.now())
        return self.result


def memory_summary(available: int, capacity: int = 10 * Gi, pods: tuple[et.PodStats, ...] = ()) -> et.NodeStats:
    return et.NodeStats(memory_available_bytes=available, memory_working_set_bytes=capacity - available, pods=pods)


@dataclasses.dataclass
class Kill:
    pod: types.Pod
    grace: int | None
    reason: str
    message: str


class PodKiller:
    """``mockPodKiller``: records every victim and its grace period."""

    def __init__(self, result: bool = True) -> None:
        self.kills: list[Kill] = []
        self.result = result

    async def __call__(self, pod: types.Pod, grace: int | None, reason: str, message: str) -> bool:
        self.kills.append(Kill(pod, grace, reason, message))
        return self.result

    @property
    def names(self) -> list[str]:
        return [k.pod.metadata.name for k in self.kills]
