"""The agent's /metrics: container stats named as cAdvisor and kube-state-metrics name them.

Values are read from the cgroups when Prometheus scrapes (a custom collector), so an idle agent does no
metrics work between scrapes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from minikube_py.node.agent import Agent

LABELS = ["namespace", "pod", "container"]


class AgentCollector(Collector):
    def __init__(self, agent: Agent) -> None:
        self.agent = agent

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        cpu = CounterMetricFamily("container_cpu_usage_seconds", "Cumulative cpu time consumed", labels=LABELS)
        periods = CounterMetricFamily(
            "container_cpu_cfs_periods", "Number of elapsed enforcement periods", labels=LABELS
        )
        throttled = CounterMetricFamily(
            "container_cpu_cfs_throttled_periods", "Number of throttled period intervals", labels=LABELS
        )
        throttled_s = CounterMetricFamily(
            "container_cpu_cfs_throttled_seconds", "Total time duration the container has been throttled", labels=LABELS
        )
        working_set = GaugeMetricFamily(
            "container_memory_working_set_bytes", "Current working set in bytes", labels=LABELS
        )
        usage = GaugeMetricFamily("container_memory_usage_bytes", "Current memory usage in bytes", labels=LABELS)
        limit = GaugeMetricFamily("container_spec_memory_limit_bytes", "Memory limit for the container", labels=LABELS)
        ooms = CounterMetricFamily("container_oom_events", "Count of out of memory events observed", labels=LABELS)
        restarts = CounterMetricFamily(
            "kube_pod_container_status_restarts", "The number of container restarts per container", labels=LABELS
        )
        running_pods = GaugeMetricFamily("kubelet_running_pods", "Number of pods that have a running pod sandbox")
        running_containers = GaugeMetricFamily("kubelet_running_containers", "Number of containers currently running")
        n_pods = n_containers = 0
        for worker in list(self.agent.workers.values()):
            meta = worker.pod.metadata
            if worker.sandbox is not None:
                n_pods += 1
            oom_by_container: dict[str, int] = {}
            for record in worker.oom_records():
                oom_by_container[record.container] = oom_by_container.get(record.container, 0) + 1
            for status in worker.container_statuses():
                labels = [meta.namespace, meta.name, status.name]
                restarts.add_metric(labels, status.restart_count)
                ooms.add_metric(labels, oom_by_container.get(status.name, 0))
            for container in worker.instances():
                if not container.running:
                    continue
                n_containers += 1
                labels = [meta.namespace, meta.name, container.config.name]
                with contextlib.suppress(Exception):
                    s = self.agent.runtime.container_stats(container)
                    cpu.add_metric(labels, s.cpu_usage_ns / 1e9)
                    periods.add_metric(labels, s.cpu_nr_periods)
                    throttled.add_metric(labels, s.cpu_nr_throttled)
                    throttled_s.add_metric(labels, s.cpu_throttled_ns / 1e9)
                    working_set.add_metric(labels, s.memory_working_set)
                    usage.add_metric(labels, s.memory_usage)
                    if s.memory_limit is not None:
                        limit.add_metric(labels, s.memory_limit)
        running_pods.add_metric([], n_pods)
        running_containers.add_metric([], n_containers)
        yield from (cpu, periods, throttled, throttled_s, working_set, usage, limit, ooms, restarts)
        yield from (running_pods, running_containers)


def agent_registry(agent: Agent) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(AgentCollector(agent))
    return registry
