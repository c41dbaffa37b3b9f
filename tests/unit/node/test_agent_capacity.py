"""Node capacity the agent advertises: the machine, the cgroup it lives in, or an override."""

from __future__ import annotations

import psutil

from minikube_py.node.agent import AgentConfig, machine_capacity


def test_capacity_prefers_a_smaller_own_cgroup_limit_and_honours_overrides() -> None:
    config = AgentConfig(server="http://x", node_name="n")
    total = psutil.virtual_memory().total
    assert machine_capacity(config)["memory"] == str(total)
    assert machine_capacity(config, own_memory_limit=1 << 30)["memory"] == str(1 << 30)
    assert machine_capacity(config, own_memory_limit=total * 2)["memory"] == str(total)
    overridden = machine_capacity(AgentConfig(server="http://x", node_name="n", cpu="1500m", memory="2Gi", max_pods=5))
    assert overridden == {"cpu": "1500m", "memory": "2Gi", "pods": "5"}
