"""Local-storage limit evictions (kubelet ``localStorageEviction``): an emptyDir over its sizeLimit, a pod over
the sum of its containers' ephemeral-storage limits, a container over its own; checked before the thresholds,
with grace 0, every offender in the same pass, critical pods spared."""

from __future__ import annotations

import dataclasses

from minikube_py.api import types
from minikube_py.node.eviction import types as et
from minikube_py.node.eviction.manager import EvictionManager, Outcome
from minikube_py.node.eviction.types import EvictionConfig
from minikube_py.util.clock import FakeClock

from .fakes import FakeStats, Mi, PodKiller, make_pod, q


def with_empty_dir(pod: types.Pod, name: str, size_limit: str | None, medium: str = "") -> types.Pod:
    source = types.EmptyDirVolumeSource(medium=medium, size_limit=q(size_limit) if size_limit else None)
    pod.spec.volumes.append(types.Volume(name=name, empty_dir=source))
    return pod


def volume_stats(pod: types.Pod, **used: int) -> et.PodStats:
    return et.PodStats(uid=pod.metadata.uid, volume_used_bytes=used, containers=(et.ContainerStats("app"),))


def rig(pods: list[types.Pod], stats: list[et.PodStats], config: EvictionConfig | None = None):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    fake = FakeStats(clock, et.NodeStats(pods=tuple(stats)))
    killer = PodKiller()
    manager = EvictionManager(
        config or EvictionConfig(eviction_hard={}), clock=clock, stats=fake, active_pods=lambda: pods, kill_pod=killer
    )
    return manager, killer, fake


async def test_empty_dir_over_its_size_limit_is_evicted_at_once_with_the_kubelet_message() -> None:
    writer = with_empty_dir(make_pod("writer"), "scratch", "10Mi")
    quiet = with_empty_dir(make_pod("quiet"), "scratch", "10Mi")
    manager, killer, _ = rig([writer, quiet], [volume_stats(writer, scratch=11 * Mi), volume_stats(quiet, scratch=Mi)])
    result = await manager.synchronize()
    assert killer.names == ["writer"]
    assert killer.kills[0].grace == 0 and killer.kills[0].reason == "Evicted"
    assert killer.kills[0].message == 'Usage of EmptyDir volume "scratch" exceeds the limit "10Mi". '
    assert result is not None and result.outcome == Outcome.LOCAL_STORAGE and result.kill_succeeded
    details = result.to_dict()
    assert details["localStorage"] == {
        "pod": "default/writer",
        "kind": "emptyDir",
        "subject": "scratch",
        "usedBytes": 11 * Mi,
        "limit": "10Mi",
        "limitBytes": 10 * Mi,
    }
    assert details["threshold"] is None and details["signal"] is None


async def test_at_the_limit_is_not_over_it_and_no_limit_means_no_check() -> None:
    exact = with_empty_dir(make_pod("exact"), "v", "10Mi")
    unlimited = with_empty_dir(make_pod("unlimited"), "v", None)
    manager, killer, fake = rig(
        [exact, unlimited], [volume_stats(exact, v=10 * Mi), volume_stats(unlimited, v=9 * 1024 * Mi)]
    )
    assert await manager.synchronize() is None
    assert killer.kills == [] and fake.calls == 1


async def test_no_thresholds_and_no_limits_reads_no_stats() -> None:
    pod = make_pod("plain")
    manager, _, fake = rig([pod], [volume_stats(pod)])
    assert await manager.synchronize() is None
    assert fake.calls == 0


async def test_pod_total_over_the_sum_of_container_limits() -> None:
    pod = make_pod("greedy", limits={"ephemeral-storage": "20Mi"})
    pod = with_empty_dir(pod, "v", None)
    stats = et.PodStats(
        uid=pod.metadata.uid,
        volume_used_bytes={"v": 15 * Mi},
        containers=(et.ContainerStats("app", rootfs_used_bytes=0, logs_used_bytes=6 * Mi),),
    )
    manager, killer, _ = rig([pod], [stats])
    await manager.synchronize()
    assert [k.message for k in killer.kills] == [
        "Pod ephemeral local storage usage exceeds the total limit of containers 20Mi. "
    ]


async def test_a_container_over_its_own_limit() -> None:
    pod = make_pod("two", limits={"ephemeral-storage": "100Mi"})
    pod.spec.containers.append(
        types.Container(
            name="logger", image="busybox", resources=types.ResourceRequirements(limits={"ephemeral-storage": q("1Mi")})
        )
    )
    stats = et.PodStats(
        uid=pod.metadata.uid,
        containers=(et.ContainerStats("app", logs_used_bytes=Mi), et.ContainerStats("logger", logs_used_bytes=2 * Mi)),
    )
    manager, killer, _ = rig([pod], [stats])
    await manager.synchronize()
    assert [k.message for k in killer.kills] == ['Container logger exceeded its local ephemeral storage limit "1Mi". ']


async def test_every_offender_goes_in_one_pass_but_critical_pods_stay() -> None:
    pods = [with_empty_dir(make_pod(n), "v", "1Mi") for n in ("a", "b")]
    critical = with_empty_dir(make_pod("critical", priority=2_000_000_000), "v", "1Mi")
    manager, killer, _ = rig([*pods, critical], [volume_stats(p, v=2 * Mi) for p in [*pods, critical]])
    result = await manager.synchronize()
    assert killer.names == ["a", "b"]
    assert result is not None and result.evicted is pods[1]


async def test_local_storage_comes_before_thresholds_which_wait_for_the_next_pass() -> None:
    offender = with_empty_dir(make_pod("offender"), "v", "1Mi")
    other = make_pod("other")
    config = EvictionConfig(eviction_hard={"memory.available": "1Gi"})
    stats = [
        dataclasses.replace(volume_stats(offender, v=2 * Mi), memory_working_set_bytes=Mi),
        et.PodStats(uid=other.metadata.uid, memory_working_set_bytes=500 * Mi),
    ]
    pods = [offender, other]
    manager, killer, fake = rig(pods, stats, config)
    fake.result = dataclasses.replace(fake.result, memory_available_bytes=100 * Mi, memory_working_set_bytes=900 * Mi)
    await manager.synchronize()
    assert killer.names == ["offender"]
    pods.remove(offender)
    await manager.synchronize()
    assert killer.names == ["offender", "other"]


async def test_a_failed_kill_is_reported() -> None:
    pod = with_empty_dir(make_pod("stuck"), "v", "1Mi")
    manager, killer, _ = rig([pod], [volume_stats(pod, v=2 * Mi)])
    killer.result = False
    result = await manager.synchronize()
    assert result is not None and result.kill_succeeded is False
    assert manager.last_result is result
