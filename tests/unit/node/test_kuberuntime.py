"""Pod → runtime config translation (kubelet ResourceConfigForPod, container cgroups, env, oom_score_adj)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from minikube_py.api import codec, defaults, types
from minikube_py.node import kuberuntime
from minikube_py.node.cgroups.driver import CgroupResources, QOSTier

GI = 1 << 30


def _pod(containers: list[dict[str, Any]], **spec: Any) -> types.Pod:
    pod = codec.decode(
        types.Pod,
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "p", "uid": "u-1"},
            "spec": {"containers": containers, **spec},
        },
    )
    defaults.default_pod(pod)
    return pod


def _c(name: str, requests: dict[str, str] | None = None, limits: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "command": ["true"],
        "resources": {"requests": requests or {}, "limits": limits or {}},
    }


@pytest.mark.parametrize(
    ("containers", "tier", "expected"),
    [
        ([_c("a")], QOSTier.BESTEFFORT, CgroupResources(cpu_shares=2)),
        (
            [
                _c("a", limits={"cpu": "500m", "memory": "128Mi"}),
                _c("b", limits={"cpu": "1", "memory": "64Mi"}),
            ],
            QOSTier.GUARANTEED,
            CgroupResources(cpu_shares=1536, cpu_quota_us=150000, memory_limit=192 << 20),
        ),
        # Burstable: quota only because every container has a cpu limit; no memory limit since b has none.
        (
            [_c("a", requests={"cpu": "100m"}, limits={"cpu": "200m"}), _c("b", limits={"cpu": "300m"})],
            QOSTier.BURSTABLE,
            CgroupResources(cpu_shares=409, cpu_quota_us=50000),
        ),
        # One container without any cpu limit: no pod-level quota at all.
        (
            [
                _c("a", requests={"cpu": "250m"}, limits={"memory": "1Gi"}),
                _c("b", requests={"memory": "1Mi"}),
            ],
            QOSTier.BURSTABLE,
            CgroupResources(cpu_shares=256),
        ),
    ],
)
def test_pod_cgroup_follows_resource_config_for_pod(
    containers: list[dict[str, Any]], tier: QOSTier, expected: CgroupResources
) -> None:
    pod = _pod(containers)
    assert kuberuntime.qos_tier(pod) is tier
    assert kuberuntime.pod_cgroup_resources(pod) == expected


def test_init_containers_count_by_max() -> None:
    pod = _pod(
        [_c("app", limits={"cpu": "1", "memory": "100Mi"})],
        initContainers=[_c("init", limits={"cpu": "2", "memory": "50Mi"})],
    )
    assert kuberuntime.pod_cgroup_resources(pod) == CgroupResources(
        cpu_shares=2048, cpu_quota_us=200000, memory_limit=100 << 20
    )


def test_container_config_expands_env_and_args() -> None:
    pod = _pod(
        [
            {
                "name": "app",
                "command": ["sh", "-c"],
                "args": ["echo $(MSG) $$(MSG) $(NOPE) in $(POD)"],
                "workingDir": "/tmp",
                "env": [
                    {"name": "GREETING", "value": "hello"},
                    {"name": "MSG", "value": "$(GREETING) world"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "resources": {"requests": {"memory": "1Gi"}, "limits": {"cpu": "200m"}},
            }
        ],
        hostname="web-1",
    )
    cfg = kuberuntime.container_config(
        pod, pod.spec.containers[0], memory_capacity_bytes=8 * GI, log_path="/logs/app/0.log"
    )
    assert cfg.argv == ["sh", "-c", "echo hello world $(MSG) $(NOPE) in p"]
    env = dict(cfg.env)
    assert env["MSG"] == "hello world" and env["POD"] == "p" and env["HOSTNAME"] == "web-1"
    assert env["PATH"] == kuberuntime.DEFAULT_PATH
    assert cfg.working_dir == "/tmp"
    assert cfg.oom_score_adj == 875  # Burstable, 1Gi request on an 8Gi node (reference §5 example)
    assert cfg.resources == CgroupResources(
        cpu_shares=204, cpu_quota_us=20000, memory_limit=None, oom_kill_whole_group=True
    )
    assert cfg.log_path == "/logs/app/0.log"


def test_sandbox_config_from_yaml_manifest() -> None:
    doc = yaml.safe_load(
        """
apiVersion: v1
kind: Pod
metadata: {name: a-very-long-pod-name-that-goes-on-and-on-beyond-the-sixty-three-character-limit, uid: u-9}
spec:
  shareProcessNamespace: true
  containers: [{name: c, command: [sleep, "1"], resources: {limits: {cpu: 100m, memory: 10Mi}}}]
"""
    )
    pod = codec.decode(types.Pod, doc)
    defaults.default_pod(pod)
    cfg = kuberuntime.sandbox_config(pod)
    assert cfg.share_process_namespace
    assert cfg.tier is QOSTier.GUARANTEED
    assert len(cfg.hostname) <= 63 and pod.metadata.name.startswith(cfg.hostname)
    assert cfg.resources == CgroupResources(cpu_shares=102, cpu_quota_us=10000, memory_limit=10 << 20)
