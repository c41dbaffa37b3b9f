from __future__ import annotations

from typing import Any

import pytest

from minikube_py.api import codec, defaults, qos, quantity, types

GiB = 1024**3
Q = qos.QOSClass


def res(requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> dict[str, Any]:
    resources: dict[str, Any] = {}
    if requests is not None:
        resources["requests"] = requests
    if limits is not None:
        resources["limits"] = limits
    return resources


def make_pod(
    containers: list[dict[str, Any]],
    init_containers: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> types.Pod:
    def build(prefix: str, resources_list: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for i, resources in enumerate(resources_list):
            extra = dict(resources)
            container: dict[str, Any] = {"name": f"{prefix}{i}", "command": ["true"]}
            if "restartPolicy" in extra:
                container["restartPolicy"] = extra.pop("restartPolicy")
            container["resources"] = extra
            out.append(container)
        return out

    data = {
        "metadata": {"name": "p"},
        "spec": {
            "containers": build("c", containers),
            "initContainers": build("i", init_containers or []),
            **spec,
        },
    }
    pod = codec.decode(types.Pod, data)
    defaults.default_pod(pod)
    return pod


BOTH = {"cpu": "1", "memory": "1Gi"}

QOS_CASES: list[tuple[str, list[dict[str, Any]], list[dict[str, Any]], qos.QOSClass]] = [
    ("no resources", [res()], [], Q.BEST_EFFORT),
    ("two containers no resources", [res(), res()], [], Q.BEST_EFFORT),
    ("zero requests are unset", [res({"cpu": "0", "memory": "0"})], [], Q.BEST_EFFORT),
    ("zero limits are unset", [res(limits={"cpu": "0", "memory": "0"})], [], Q.BEST_EFFORT),
    ("extended resource only", [res({"example.com/gpu": "1"}, {"example.com/gpu": "1"})], [], Q.BEST_EFFORT),
    ("ephemeral-storage only", [res({"ephemeral-storage": "1Gi"})], [], Q.BEST_EFFORT),
    ("hugepages only", [res({"hugepages-2Mi": "2Mi"}, {"hugepages-2Mi": "2Mi"})], [], Q.BEST_EFFORT),
    ("requests equal limits", [res(BOTH, BOTH)], [], Q.GUARANTEED),
    ("limits only (requests defaulted)", [res(limits=BOTH)], [], Q.GUARANTEED),
    (
        "limits only in two containers",
        [res(limits=BOTH), res(limits={"cpu": "2", "memory": "2Gi"})],
        [],
        Q.GUARANTEED,
    ),
    (
        "guaranteed plus extended resource",
        [res({**BOTH, "example.com/gpu": "1"}, {**BOTH, "example.com/gpu": "1"})],
        [],
        Q.GUARANTEED,
    ),
    (
        "guaranteed with 1000m == 1",
        [res({"cpu": "1000m", "memory": "1Gi"}, {"cpu": "1", "memory": "1024Mi"})],
        [],
        Q.GUARANTEED,
    ),
    ("requests only", [res({"cpu": "100m", "memory": "64Mi"})], [], Q.BURSTABLE),
    ("cpu request only", [res({"cpu": "100m"})], [], Q.BURSTABLE),
    ("memory limit only", [res(limits={"memory": "64Mi"})], [], Q.BURSTABLE),
    ("cpu-only limits", [res(limits={"cpu": "1"})], [], Q.BURSTABLE),
    ("request below limit", [res({"cpu": "500m", "memory": "1Gi"}, BOTH)], [], Q.BURSTABLE),
    ("one guaranteed, one best-effort container", [res(BOTH, BOTH), res()], [], Q.BURSTABLE),
    ("one guaranteed, one requests-only", [res(BOTH, BOTH), res({"cpu": "1"})], [], Q.BURSTABLE),
    (
        "zero cpu limit breaks guaranteed",
        [res({"memory": "1Gi"}, {"cpu": "0", "memory": "1Gi"})],
        [],
        Q.BURSTABLE,
    ),
    ("guaranteed app, best-effort init", [res(limits=BOTH)], [res()], Q.BURSTABLE),
    (
        "guaranteed app and init",
        [res(limits=BOTH)],
        [res(limits={"cpu": "3", "memory": "3Gi"})],
        Q.GUARANTEED,
    ),
    ("best-effort app, requests-only init", [res()], [res({"cpu": "1"})], Q.BURSTABLE),
    ("best-effort app, limits-only init", [res()], [res(limits=BOTH)], Q.BURSTABLE),
    (
        "sidecar guaranteed with app",
        [res(limits=BOTH)],
        [{**res(limits=BOTH), "restartPolicy": "Always"}],
        Q.GUARANTEED,
    ),
    (
        "sidecar burstable",
        [res(limits=BOTH)],
        [{**res({"cpu": "1"}), "restartPolicy": "Always"}],
        Q.BURSTABLE,
    ),
    ("memory request and both limits", [res({"memory": "1Gi"}, BOTH)], [], Q.GUARANTEED),
    ("cpu request lower, memory equal", [res({"cpu": "1m", "memory": "1Gi"}, BOTH)], [], Q.BURSTABLE),
]


@pytest.mark.parametrize(
    ("name", "containers", "inits", "expected"), QOS_CASES, ids=[c[0] for c in QOS_CASES]
)
def test_pod_qos_class(
    name: str, containers: list[dict[str, Any]], inits: list[dict[str, Any]], expected: qos.QOSClass
) -> None:
    del name
    assert qos.pod_qos_class(make_pod(containers, inits)) is expected


def test_qos_values_are_kubernetes_strings() -> None:
    assert [str(c) for c in Q] == ["Guaranteed", "Burstable", "BestEffort"]


# ---- oom_score_adj -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("memory_request", "expected"),
    [(None, 999), ("128Mi", 985), ("1Gi", 875), ("4Gi", 500), ("8Gi", 3), ("9Gi", 3), ("1", 999)],
)
def test_burstable_oom_score_adj_on_8gib_node(memory_request: str | None, expected: int) -> None:
    requests = {"cpu": "100m"} if memory_request is None else {"cpu": "100m", "memory": memory_request}
    pod = make_pod([res(requests)])
    assert qos.container_oom_score_adj(pod, pod.spec.containers[0], 8 * GiB) == expected


def test_guaranteed_and_best_effort_oom_score_adj() -> None:
    guaranteed = make_pod([res(limits=BOTH)])
    assert qos.container_oom_score_adj(guaranteed, guaranteed.spec.containers[0], 8 * GiB) == -997
    best_effort = make_pod([res()])
    assert qos.container_oom_score_adj(best_effort, best_effort.spec.containers[0], 8 * GiB) == 1000


def test_node_critical_pod_gets_guaranteed_score() -> None:
    pod = make_pod([res()], priority=2_000_001_000, priorityClassName="system-node-critical")
    assert qos.container_oom_score_adj(pod, pod.spec.containers[0], 8 * GiB) == -997
    # Critical by priority but not node-critical: the QoS class decides (kubelet IsNodeCriticalPod).
    cluster_critical = make_pod([res()], priority=2_000_000_000, priorityClassName="system-cluster-critical")
    assert qos.is_critical_pod(cluster_critical)
    assert not qos.is_node_critical_pod(cluster_critical)
    assert qos.container_oom_score_adj(cluster_critical, cluster_critical.spec.containers[0], 8 * GiB) == 1000


def test_static_pod_is_critical() -> None:
    pod = make_pod([res()])
    pod.metadata.annotations["kubernetes.io/config.source"] = "file"
    assert qos.is_static_pod(pod) and qos.is_critical_pod(pod)


def test_multi_container_burstable_scores_differ() -> None:
    pod = make_pod([res({"memory": "1Gi"}), res({"memory": "4Gi"})])
    scores = [qos.container_oom_score_adj(pod, c, 8 * GiB) for c in pod.spec.containers]
    assert scores == [875, 500]


def test_sidecar_score_not_above_smallest_regular_container() -> None:
    pod = make_pod(
        [res({"memory": "4Gi"}), res({"memory": "2Gi"})], [{**res({"cpu": "1"}), "restartPolicy": "Always"}]
    )
    sidecar = pod.spec.init_containers[0]
    # Own request 0 -> 1000 -> but the smallest regular request (2Gi) gives 750.
    assert qos.container_oom_score_adj(pod, sidecar, 8 * GiB) == 750


def test_oom_score_adj_needs_positive_capacity() -> None:
    pod = make_pod([res({"memory": "1Gi"})])
    with pytest.raises(ValueError, match="memory_capacity_bytes"):
        qos.container_oom_score_adj(pod, pod.spec.containers[0], 0)


# ---- effective requests / limits -----------------------------------------------------------------------


def q(text: str) -> quantity.Quantity:
    return quantity.Quantity.parse(text)


def test_effective_requests_sum_app_containers() -> None:
    pod = make_pod([res({"cpu": "100m", "memory": "64Mi"}), res({"cpu": "200m"})])
    assert qos.pod_effective_requests(pod) == {"cpu": q("300m"), "memory": q("64Mi")}


def test_effective_requests_take_init_maximum() -> None:
    pod = make_pod([res({"cpu": "100m", "memory": "64Mi"})], [res({"cpu": "2"}), res({"memory": "32Mi"})])
    assert qos.pod_effective_requests(pod) == {"cpu": q("2"), "memory": q("64Mi")}


def test_effective_requests_add_overhead() -> None:
    pod = make_pod([res({"cpu": "100m"})], overhead={"cpu": "10m", "memory": "1Mi"})
    assert qos.pod_effective_requests(pod) == {"cpu": q("110m"), "memory": q("1Mi")}


def test_effective_requests_with_sidecar() -> None:
    # The sidecar runs with the app (100m + 50m) and alongside the later init container (50m + 1).
    pod = make_pod(
        [res({"cpu": "100m"})],
        [{**res({"cpu": "50m"}), "restartPolicy": "Always"}, res({"cpu": "1"})],
    )
    assert qos.pod_effective_requests(pod) == {"cpu": q("1050m")}


def test_effective_limits() -> None:
    pod = make_pod([res(limits={"cpu": "1"}), res(limits={"memory": "1Gi"})], [res(limits={"cpu": "3"})])
    assert qos.pod_effective_limits(pod) == {"cpu": q("3"), "memory": q("1Gi")}
