"""ResourceQuota: usage accounting and admission (reference §10), pure functions over API objects."""

from __future__ import annotations

from collections.abc import Iterable

from minikube_py.api import qos, types
from minikube_py.api.quantity import Quantity

# Quota keys that name a compute resource of pods, and the alias each one has.
ALIASES = {"cpu": "requests.cpu", "memory": "requests.memory", "ephemeral-storage": "requests.ephemeral-storage"}
COMPUTE_KEYS = ("requests.cpu", "requests.memory", "limits.cpu", "limits.memory")


def canonical_key(key: str) -> str:
    return ALIASES.get(key, key)


def is_terminal(pod: types.Pod) -> bool:
    return pod.status.phase in ("Succeeded", "Failed")


def _matches_scopes(quota: types.ResourceQuota, pod: types.Pod) -> bool:
    best_effort = qos.pod_qos_class(pod) is qos.QOSClass.BEST_EFFORT
    terminating = pod.spec.active_deadline_seconds is not None
    for scope in quota.spec.scopes:
        if (
            (scope == "BestEffort" and not best_effort)
            or (scope == "NotBestEffort" and best_effort)
            or (scope == "Terminating" and not terminating)
            or (scope == "NotTerminating" and terminating)
        ):
            return False
    return True


def pod_usage(pod: types.Pod, *, count_terminal: bool = False) -> dict[str, Quantity]:
    """What one pod charges: ``count/pods`` always; ``pods`` and compute resources only while non-terminal."""
    usage: dict[str, Quantity] = {"count/pods": Quantity.from_int(1)}
    if is_terminal(pod) and not count_terminal:
        return usage
    usage["pods"] = Quantity.from_int(1)
    for name, value in qos.pod_effective_requests(pod).items():
        usage[f"requests.{name}"] = value
    for name, value in qos.pod_effective_limits(pod).items():
        usage[f"limits.{name}"] = value
    return usage


def tracked(quota: types.ResourceQuota) -> dict[str, Quantity]:
    return {canonical_key(k): v for k, v in quota.spec.hard.items()}


def compute_used(quota: types.ResourceQuota, pods: Iterable[types.Pod]) -> dict[str, Quantity]:
    hard = tracked(quota)
    used = {key: Quantity.from_int(0) for key in hard}
    for pod in pods:
        if not _matches_scopes(quota, pod):
            continue
        for key, value in pod_usage(pod).items():
            if key in used:
                used[key] = used[key] + value
    # Report under the names the user wrote (e.g. "cpu" rather than "requests.cpu").
    return {original: used[canonical_key(original)] for original in quota.spec.hard}


def must_specify_errors(quota: types.ResourceQuota, pod: types.Pod) -> list[str]:
    """``limits.cpu for: app,sidecar`` entries for every compute resource the quota limits but a container lacks."""
    hard = tracked(quota)
    missing: list[str] = []
    containers = [*pod.spec.init_containers, *pod.spec.containers]
    for key in sorted(k for k in hard if k in COMPUTE_KEYS):
        kind, resource = key.split(".", 1)
        lacking = [
            c.name
            for c in containers
            if resource not in (c.resources.requests if kind == "requests" else c.resources.limits)
        ]
        if lacking:
            missing.append(f"{key} for: {','.join(lacking)}")
    return missing


def admit_pod(quota: types.ResourceQuota, pod: types.Pod, used: dict[str, Quantity]) -> str | None:
    """The reason this pod is refused by ``quota``, in the apiserver's words, or None if it fits."""
    if not _matches_scopes(quota, pod):
        return None
    name = quota.metadata.name
    missing = must_specify_errors(quota, pod)
    if missing:
        return f"failed quota: {name}: must specify {'; '.join(missing)}"
    hard = tracked(quota)
    used_canonical = {canonical_key(k): v for k, v in used.items()}
    requested = {k: v for k, v in pod_usage(pod).items() if k in hard}
    exceeded = sorted(k for k, v in requested.items() if used_canonical.get(k, Quantity.from_int(0)) + v > hard[k])
    if not exceeded:
        return None

    def listing(values: dict[str, Quantity]) -> str:
        return ",".join(f"{k}={values.get(k, Quantity.from_int(0))}" for k in exceeded)

    return (
        f"exceeded quota: {name}, requested: {listing(requested)}, "
        f"used: {listing(used_canonical)}, limited: {listing(hard)}"
    )
