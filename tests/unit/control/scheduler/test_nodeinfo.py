"""Integer pod requests, NodeInfo accounting, and the scheduler cache (assume / forget / confirm)."""

from __future__ import annotations

import pytest

from minikube_py.api import qos, types
from minikube_py.control.scheduler.cache import Cache
from minikube_py.control.scheduler.nodeinfo import (
    DEFAULT_MEMORY_REQUEST,
    NodeInfo,
    PodInfo,
    PodResources,
    is_scalar_resource_name,
    pod_requests,
)
from minikube_py.errors import AlreadyExists, NotFound

from .builders import MI, container, node, pod


def sidecar(name: str, **requests: str) -> types.Container:
    c = container(name, **requests)
    c.restart_policy = "Always"
    return c


COMPLEX = pod(
    "complex",
    containers=[container("a", cpu="200m", memory="100Mi"), container("b", cpu="300m")],
    init_containers=[
        container("init-1", cpu="2", memory="50Mi"),
        sidecar("proxy", cpu="100m", memory="30Mi"),
        container("init-2", cpu="1", memory="400Mi", ephemeral_storage="1Gi"),
    ],
)
COMPLEX.spec.overhead = {"cpu": COMPLEX.spec.containers[0].resources.requests["cpu"]}  # 200m of overhead


def test_pod_requests_match_the_api_helper() -> None:
    expected = qos.pod_effective_requests(COMPLEX)
    got = pod_requests(COMPLEX)
    assert got == {
        "cpu": expected["cpu"].milli_value(),
        "memory": expected["memory"].value(),
        "ephemeral-storage": expected["ephemeral-storage"].value(),
    }
    # By hand: app 500m + sidecar 100m = 600m; init peak max(2000, 100 + 1000) = 2000m; + 200m overhead.
    assert got["cpu"] == 2200
    # memory: app 100Mi + sidecar 30Mi = 130Mi; init peak max(50Mi, 30 + 400Mi) = 430Mi
    assert got["memory"] == 430 * MI


def test_non_zero_requests_default_only_missing_cpu_and_memory() -> None:
    # b has no memory request: counts 200Mi there; init-2 & co. all have both.
    non_zero = pod_requests(COMPLEX, non_missing=True)
    # app: a 100Mi + b 200Mi + sidecar 30Mi = 330Mi < init peak 430Mi; init-1 cpu 2000 still the max
    assert non_zero["memory"] == 430 * MI
    assert non_zero["cpu"] == 2200
    best_effort = PodResources.of(pod("be"))
    assert best_effort.requests == {}
    assert (best_effort.non_zero_cpu, best_effort.non_zero_memory) == (100, DEFAULT_MEMORY_REQUEST)
    # An explicit zero is not "missing".
    zero_cpu = PodResources.of(pod("z", cpu="0"))
    assert (zero_cpu.non_zero_cpu, zero_cpu.non_zero_memory) == (0, DEFAULT_MEMORY_REQUEST)
    # Init containers get the defaults too: max(app 50m/10Mi, init 100m/200Mi).
    with_init = PodResources.of(
        pod("i", containers=[container(cpu="50m", memory="10Mi")], init_containers=[container("init")])
    )
    assert with_init.requests == {"cpu": 50, "memory": 10 * MI}
    assert (with_init.non_zero_cpu, with_init.non_zero_memory) == (100, 200 * MI)


def test_fractional_memory_rounds_up_like_quantity_value() -> None:
    assert pod_requests(pod("f", memory="1500m")) == {"memory": 2}


@pytest.mark.parametrize(
    ("name", "scalar"),
    [
        ("example.com/gpu", True),
        ("nvidia.com/gpu", True),
        ("hugepages-2Mi", True),
        ("attachable-volumes-aws-ebs", True),
        ("kubernetes.io/something", True),
        ("cpu", False),
        ("pods", False),
        ("requests.example.com/x", False),
        ("unknown", False),
    ],
)
def test_scalar_resource_names(name: str, scalar: bool) -> None:
    assert is_scalar_resource_name(name) is scalar


def test_node_info_accounts_pods_incrementally() -> None:
    ni = NodeInfo(node("n", cpu="4", memory="8Gi", taints=[]))
    assert (ni.alloc_cpu, ni.alloc_memory, ni.allowed_pod_number) == (4000, 8 * 1024**3, 110)
    a = PodInfo.of(pod("a", cpu="1", memory="1Gi"))
    b = PodInfo.of(pod("b"))
    ni.add_pod(a)
    ni.add_pod(b)
    assert (ni.req_cpu, ni.req_memory) == (1000, 1024**3)
    assert (ni.non_zero_cpu, ni.non_zero_memory) == (1100, 1024**3 + 200 * MI)
    assert ni.pod_count == 2
    generation = ni.generation
    ni.remove_pod(a.key)
    assert (ni.req_cpu, ni.non_zero_cpu, ni.pod_count) == (0, 100, 1)
    assert ni.generation > generation
    assert ni.remove_pod("missing") is None


def test_cache_assume_confirm_forget() -> None:
    cache = Cache()
    cache.add_node(node("a"))
    p = pod("p", cpu="1")
    cache.assume_pod(p, "a")
    assert cache.is_assumed(p)
    with pytest.raises(AlreadyExists):
        cache.assume_pod(p, "a")
    # Confirmation by the watch keeps the accounting, once.
    cache.add_pod(pod("p", cpu="1", node_name="a"))
    assert not cache.is_assumed(p)
    assert cache.get("a").req_cpu == 1000  # type: ignore[union-attr]
    with pytest.raises(NotFound):
        cache.forget_pod(p)
    # Bound somewhere other than assumed: moved.
    q = pod("q", cpu="500m")
    cache.add_node(node("b"))
    cache.assume_pod(q, "a")
    cache.add_pod(pod("q", cpu="500m", node_name="b"))
    assert (cache.get("a").req_cpu, cache.get("b").req_cpu) == (1000, 500)  # type: ignore[union-attr]
    r = pod("r", cpu="2")
    cache.assume_pod(r, "b")
    cache.forget_pod(r)
    assert cache.get("b").req_cpu == 500  # type: ignore[union-attr]


def test_cache_pods_before_their_node_and_node_removal() -> None:
    cache = Cache()
    cache.add_pod(pod("early", cpu="1", node_name="late"))
    assert cache.node_infos() == []  # a placeholder is not schedulable
    cache.add_node(node("late"))
    assert [ni.name for ni in cache.node_infos()] == ["late"]
    assert cache.get("late").req_cpu == 1000  # type: ignore[union-attr]
    cache.remove_node("late")
    assert cache.node_infos() == []
    assert cache.remove_pod(pod("early", node_name="late"))
    assert cache.get("late") is None


def test_cache_update_pod_reaccounts_and_node_update_keeps_pods() -> None:
    cache = Cache()
    cache.add_node(node("a", cpu="4"))
    cache.add_pod(pod("p", cpu="1", node_name="a"))
    cache.update_pod(pod("p", cpu="2", node_name="a"))
    assert cache.get("a").req_cpu == 2000  # type: ignore[union-attr]
    cache.update_node(node("a", cpu="8", labels={"zone": "x"}))
    info = cache.get("a")
    assert info is not None and info.alloc_cpu == 8000 and info.labels == {"zone": "x"} and info.req_cpu == 2000
