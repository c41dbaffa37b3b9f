"""`describe pod` and `describe node` explain evictions from real EvictionManager decisions (fake clock)."""

from __future__ import annotations

import json

from minikube_py.cli import output
from minikube_py.node.agent import _eviction_explanation
from minikube_py.node.eviction.manager import EvictionManager
from minikube_py.node.eviction.types import EvictionConfig
from minikube_py.util.clock import FakeClock
from tests.unit.node.eviction.fakes import (
    FakeStats,
    Gi,
    Mi,
    PodKiller,
    best_effort,
    burstable,
    guaranteed,
    mem_stats,
    memory_summary,
)


async def _decision() -> tuple[EvictionManager, dict[str, object]]:
    clock = FakeClock(start=1_800_000_000.0)
    pods = [guaranteed("db", "1Gi"), burstable("web", "100Mi"), best_effort("batch")]
    stats = FakeStats(clock)
    stats.result = memory_summary(
        100 * Mi, 4 * Gi, (mem_stats(pods[0], 500 * Mi), mem_stats(pods[1], 300 * Mi), mem_stats(pods[2], 250 * Mi))
    )
    manager = EvictionManager(
        EvictionConfig(eviction_hard={"memory.available": "128Mi"}),
        clock=clock,
        stats=stats,
        active_pods=lambda: pods,
        kill_pod=PodKiller(),
    )
    result = await manager.synchronize()
    assert result is not None and result.evicted is pods[2]
    clock.step(1)  # fresh stats for a later dry run
    return manager, result.to_dict()


async def test_describe_pod_shows_signal_threshold_and_the_ranking() -> None:
    _, decision = await _decision()
    pod = {
        "metadata": {
            "name": "batch",
            "namespace": "default",
            "annotations": {output.EVICTION_ANNOTATION: json.dumps(_eviction_explanation(decision))},
        },
        "spec": {"containers": [{"name": "app", "image": "busybox"}]},
        "status": {"phase": "Failed", "reason": "Evicted", "message": decision["message"]},
    }
    text = output.describe_pod(pod, [], 1_800_000_005.0)
    section = text[text.index("Eviction:") :]
    assert "Signal:" in section and "memory.available: available 100Mi < 128Mi (hard)" in section
    assert "Evicted:" not in section  # the pod itself; the annotation keeps the ranking, not a self-reference
    lines = [line.split() for line in section.splitlines() if line.strip()[:1].isdigit()]
    assert [row[1] for row in lines] == ["default/batch", "default/web", "default/db"]
    assert lines[0][2:] == ["BestEffort", "0", "250Mi", "0", "yes"]
    assert lines[1][2:] == ["Burstable", "0", "300Mi", "100Mi", "yes"]
    assert lines[2][-1] == "no"
    assert "Grace Period:" in section and "The node was low on resource: memory." in section


async def test_describe_node_shows_thresholds_last_decision_and_the_dry_run() -> None:
    manager, decision = await _decision()
    plan = await manager.plan()
    info = {
        "enabled": True,
        "thresholds": [t.describe() for t in manager.config.thresholds],
        "housekeepingIntervalSeconds": 10.0,
        "memoryWatcher": {"wakes": 3, "kernelEvents": 2, "notifier": "usage-threshold", "error": None},
        "last": decision,
        "plan": plan,
    }
    node = {"metadata": {"name": "n1"}, "spec": {}, "status": {}}
    text = output.describe_node(node, None, None, 1_800_000_005.0, eviction=info)
    section = text[text.index("Eviction:") :]
    assert "memory.available<128Mi (hard)" in section and "every 10s" in section
    assert "kernel notifier usage-threshold, 3 wakes (2 from the kernel)" in section
    assert "Thresholds Met:" in section and "available 100Mi < 128Mi" in section and "5s ago" in section
    assert "Would Evict:" in section
    assert "Last Eviction:" in section and "Evicted:" in section and "default/batch" in section
    assert "Next (dry run):" in section
    # The dry run ranks the same pods again (the killer did not remove them from the active set).
    assert section.count("default/web") == 2


def test_describe_node_without_thresholds_and_with_an_unreadable_pod_annotation() -> None:
    info = {"enabled": False, "thresholds": [], "last": None, "plan": {"outcome": "none", "thresholdsMet": []}}
    text = output.describe_node({"metadata": {"name": "n"}}, None, None, 0.0, eviction=info)
    assert "only local-storage limits are enforced" in text and "nobody" in text
    pod = {
        "metadata": {"name": "p", "annotations": {output.EVICTION_ANNOTATION: "{not json"}},
        "spec": {},
        "status": {},
    }
    assert "Eviction:" in output.describe_pod(pod, None, 0.0) and "<unreadable annotation>" in output.describe_pod(
        pod, None, 0.0
    )


def test_local_storage_decision_is_explained_by_its_limit() -> None:
    decision = {
        "time": 10.0,
        "outcome": "local-storage-limit",
        "localStorage": {"kind": "emptyDir", "subject": "scratch", "usedBytes": 12 * Mi, "limit": "8Mi"},
        "gracePeriodSeconds": 0,
        "message": 'Usage of EmptyDir volume "scratch" exceeds the limit "8Mi". ',
        "candidates": [],
    }
    w = output.Lines()
    output.describe_eviction_decision(w, decision, 20.0, level=0)
    text = w.render()
    assert "emptyDir scratch used 12Mi, limit 8Mi" in text and "Grace Period:  0s" in text.replace("\t", "  ")
