"""From Pods to runtime configurations: the decisions of the kubelet's kuberuntime and cm packages.

Pure functions: a defaulted ``api.types.Pod`` in, ``PodSandboxConfig``/``ContainerConfig`` out.  The
cgroup values follow reference §4 (``ResourceConfigForPod``, ``MilliCPUToShares``/``MilliCPUToQuota``),
oom_score_adj follows §5, and ``$(VAR)`` expansion follows the API's ``expansion`` rules.
"""

from __future__ import annotations

from minikube_py.api import expansion, qos, quantity, types
from minikube_py.node.cgroups.driver import (
    MIN_SHARES,
    CgroupResources,
    QOSTier,
    milli_cpu_to_quota,
    milli_cpu_to_shares,
)
from minikube_py.node.runtime.model import ContainerConfig, Mount, PodSandboxConfig, VolumeConfig

# Without images there is no image config to supply PATH; use the conventional default (Docker's).
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HOSTNAME_MAX = 63

_TIERS = {
    qos.QOSClass.GUARANTEED: QOSTier.GUARANTEED,
    qos.QOSClass.BURSTABLE: QOSTier.BURSTABLE,
    qos.QOSClass.BEST_EFFORT: QOSTier.BESTEFFORT,
}


def qos_tier(pod: types.Pod) -> QOSTier:
    return _TIERS[qos.pod_qos_class(pod)]


def pod_hostname(pod: types.Pod) -> str:
    """``spec.hostname`` if set, else ``metadata.name``, cut to a DNS label's 63 characters."""
    return (pod.spec.hostname or pod.metadata.name)[:HOSTNAME_MAX].rstrip("-.")


def _all_containers(pod: types.Pod) -> list[types.Container]:
    return [*pod.spec.init_containers, *pod.spec.containers]


def _get(resources: dict[str, quantity.Quantity], name: str) -> quantity.Quantity | None:
    value = resources.get(name)
    return value if value is not None and not value.is_zero() else None


def pod_cgroup_resources(pod: types.Pod) -> CgroupResources:
    """The pod-level cgroup (kubelet ResourceConfigForPod).

    CPU quota and the memory limit are set only if *every* container declares that limit; BestEffort pods
    get the minimum shares and no limits.
    """
    if qos.pod_qos_class(pod) is qos.QOSClass.BEST_EFFORT:
        return CgroupResources(cpu_shares=MIN_SHARES)
    requests = qos.pod_effective_requests(pod)
    limits = qos.pod_effective_limits(pod)
    containers = _all_containers(pod)
    cpu_request = _get(requests, "cpu")
    shares = milli_cpu_to_shares(cpu_request.milli_value() if cpu_request else 0)
    cpu_limit = _get(limits, "cpu")
    all_cpu_limited = all(_get(c.resources.limits, "cpu") for c in containers)
    quota = milli_cpu_to_quota(cpu_limit.milli_value()) if cpu_limit and all_cpu_limited else None
    memory_limit = _get(limits, "memory")
    all_memory_limited = all(_get(c.resources.limits, "memory") for c in containers)
    memory = memory_limit.value() if memory_limit and all_memory_limited else None
    return CgroupResources(cpu_shares=shares, cpu_quota_us=quota, memory_limit=memory)


def container_cgroup_resources(container: types.Container, *, single_process_oom_kill: bool = False) -> CgroupResources:
    """A container's cgroup: shares from the cpu request (or limit), CFS quota and memory from limits."""
    cpu_request = _get(container.resources.requests, "cpu") or _get(container.resources.limits, "cpu")
    cpu_limit = _get(container.resources.limits, "cpu")
    memory_limit = _get(container.resources.limits, "memory")
    return CgroupResources(
        cpu_shares=milli_cpu_to_shares(cpu_request.milli_value() if cpu_request else 0),
        cpu_quota_us=milli_cpu_to_quota(cpu_limit.milli_value()) if cpu_limit else None,
        memory_limit=memory_limit.value() if memory_limit else None,
        # kubelet ≥ 1.28 on cgroup v2: one OOM kills the whole container unless singleProcessOOMKill.
        oom_kill_whole_group=not single_process_oom_kill,
    )


def sandbox_config(pod: types.Pod) -> PodSandboxConfig:
    return PodSandboxConfig(
        uid=pod.metadata.uid,
        name=pod.metadata.name,
        namespace=pod.metadata.namespace or "default",
        hostname=pod_hostname(pod),
        share_process_namespace=bool(pod.spec.share_process_namespace),
        tier=qos_tier(pod),
        resources=pod_cgroup_resources(pod),
        volumes=tuple(
            VolumeConfig(
                name=v.name,
                medium=v.empty_dir.medium,
                size_limit_bytes=v.empty_dir.size_limit.value() if v.empty_dir.size_limit else None,
            )
            for v in pod.spec.volumes
            if v.empty_dir is not None
        ),
    )


def unsupported_volumes(pod: types.Pod) -> list[str]:
    """Volumes this node can't provide: only ``emptyDir`` exists here (no images, no storage plugins)."""
    return [f"{v.name} ({', '.join(sorted(v.other_sources))})" for v in pod.spec.volumes if v.empty_dir is None]


def downward_values(pod: types.Pod, *, pod_ip: str = "", host_ip: str = "") -> dict[str, str]:
    """Values for ``valueFrom.fieldRef`` (the downward API subset we support)."""
    return {
        "metadata.name": pod.metadata.name,
        "metadata.namespace": pod.metadata.namespace or "default",
        "metadata.uid": pod.metadata.uid,
        "spec.nodeName": pod.spec.node_name,
        "spec.serviceAccountName": pod.spec.service_account_name,
        "status.podIP": pod_ip,
        "status.hostIP": host_ip,
    }


def container_config(
    pod: types.Pod,
    container: types.Container,
    *,
    memory_capacity_bytes: int,
    log_path: str | None = None,
    single_process_oom_kill: bool = False,
    pod_ip: str = "",
    host_ip: str = "",
) -> ContainerConfig:
    env = expansion.container_environment(container, field_values=downward_values(pod, pod_ip=pod_ip, host_ip=host_ip))
    names = {name for name, _ in env}
    # What an image's config and the runtime would add: PATH and HOSTNAME, unless the pod sets them.
    if "PATH" not in names:
        env.insert(0, ("PATH", DEFAULT_PATH))
    if "HOSTNAME" not in names:
        env.insert(1, ("HOSTNAME", pod_hostname(pod)))
    return ContainerConfig(
        name=container.name,
        argv=expansion.expand_command(container, env),
        env=env,
        working_dir=container.working_dir or None,
        resources=container_cgroup_resources(container, single_process_oom_kill=single_process_oom_kill),
        oom_score_adj=qos.container_oom_score_adj(pod, container, memory_capacity_bytes),
        log_path=log_path,
        mounts=tuple(
            Mount(volume=m.name, container_path=m.mount_path, read_only=m.read_only, sub_path=m.sub_path)
            for m in container.volume_mounts
        ),
    )
