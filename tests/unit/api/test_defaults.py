from __future__ import annotations

import copy
from typing import Any

import pytest

from minikube_py.api import codec, defaults, quantity, types


def defaulted(data: dict[str, Any]) -> types.Pod:
    pod = codec.decode(types.Pod, data)
    defaults.default_pod(pod)
    return pod


def minimal(**container: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "command": ["true"], **container}]},
    }


def q(text: str) -> quantity.Quantity:
    return quantity.Quantity.parse(text)


def test_pod_spec_defaults() -> None:
    pod = defaulted(minimal())
    spec = pod.spec
    assert pod.metadata.namespace == "default"
    assert spec.restart_policy == "Always"
    assert spec.termination_grace_period_seconds == 30
    assert spec.dns_policy == "ClusterFirst"
    assert spec.scheduler_name == "default-scheduler"
    assert spec.enable_service_links is True
    assert spec.security_context == {}
    assert spec.hostname == ""  # the runtime falls back to metadata.name


def test_explicit_values_are_kept() -> None:
    data = minimal()
    data["metadata"]["namespace"] = "team"
    data["spec"].update(
        restartPolicy="Never",
        terminationGracePeriodSeconds=0,
        dnsPolicy="None",
        schedulerName="mine",
        enableServiceLinks=False,
        securityContext={"runAsUser": 1},
    )
    spec = defaulted(data).spec
    assert (spec.restart_policy, spec.termination_grace_period_seconds, spec.dns_policy) == (
        "Never",
        0,
        "None",
    )
    assert (spec.scheduler_name, spec.enable_service_links, spec.security_context) == (
        "mine",
        False,
        {"runAsUser": 1},
    )


def test_container_defaults() -> None:
    container = defaulted(minimal(image="busybox:1.36", ports=[{"containerPort": 80}])).spec.containers[0]
    assert container.image_pull_policy == "IfNotPresent"
    assert container.termination_message_path == "/dev/termination-log"
    assert container.termination_message_policy == "File"
    assert container.ports[0].protocol == "TCP"
    assert container.ports[0].host_port == 0


@pytest.mark.parametrize(
    ("image", "policy"),
    [
        ("busybox", "Always"),
        ("busybox:latest", "Always"),
        ("registry.local:5000/busybox", "Always"),
        ("registry.local:5000/busybox:1.2", "IfNotPresent"),
        ("busybox@sha256:" + "a" * 64, "IfNotPresent"),
        ("busybox:latest@sha256:" + "a" * 64, "Always"),
        ("", "IfNotPresent"),
    ],
)
def test_image_pull_policy_by_tag(image: str, policy: str) -> None:
    assert defaults.default_image_pull_policy(image) == policy


def test_explicit_pull_policy_kept() -> None:
    container = defaulted(minimal(image="busybox", imagePullPolicy="Never")).spec.containers[0]
    assert container.image_pull_policy == "Never"


def test_limits_copied_into_missing_requests_per_resource() -> None:
    data = minimal(resources={"limits": {"cpu": "1", "memory": "128Mi"}, "requests": {"memory": "64Mi"}})
    data["spec"]["initContainers"] = [
        {"name": "i", "command": ["true"], "resources": {"limits": {"cpu": "2"}}}
    ]
    pod = defaulted(data)
    assert pod.spec.containers[0].resources.requests == {"memory": q("64Mi"), "cpu": q("1")}
    assert pod.spec.init_containers[0].resources.requests == {"cpu": q("2")}


def test_quantities_rounded_up_to_milli() -> None:
    data = minimal(resources={"limits": {"cpu": "0.0001"}, "requests": {"memory": "0.1m"}})
    data["spec"]["overhead"] = {"cpu": "0.5m"}
    pod = defaulted(data)
    resources = pod.spec.containers[0].resources
    assert resources.limits["cpu"].milli_value() == 1
    assert codec.encode(pod)["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "1m"}
    assert resources.requests["memory"] == q("1m")
    assert pod.spec.overhead["cpu"] == q("1m")


def test_probe_defaults_treat_zero_as_unset() -> None:
    container = defaulted(
        minimal(
            livenessProbe={"httpGet": {"port": 80}, "periodSeconds": 0, "failureThreshold": 5},
            readinessProbe={"exec": {"command": ["true"]}, "timeoutSeconds": 4},
        )
    ).spec.containers[0]
    live = container.liveness_probe
    assert live is not None and live.http_get is not None
    assert (live.timeout_seconds, live.period_seconds, live.success_threshold, live.failure_threshold) == (
        1,
        10,
        1,
        5,
    )
    assert (live.http_get.path, live.http_get.scheme) == ("/", "HTTP")
    ready = container.readiness_probe
    assert ready is not None
    assert (
        ready.timeout_seconds,
        ready.period_seconds,
        ready.success_threshold,
        ready.failure_threshold,
    ) == (4, 10, 1, 3)


def test_host_network_copies_container_ports_to_host_ports() -> None:
    data = minimal(ports=[{"containerPort": 8080}, {"containerPort": 9090, "hostPort": 9091}])
    data["spec"]["hostNetwork"] = True
    ports = defaulted(data).spec.containers[0].ports
    assert [(p.container_port, p.host_port) for p in ports] == [(8080, 8080), (9090, 9091)]


def test_volume_without_source_becomes_empty_dir() -> None:
    data = minimal()
    data["spec"]["volumes"] = [{"name": "a"}, {"name": "b", "hostPath": {"path": "/x"}}]
    volumes = defaulted(data).spec.volumes
    assert volumes[0].empty_dir == types.EmptyDirVolumeSource()
    assert volumes[1].empty_dir is None


def test_field_ref_api_version_defaults_to_v1() -> None:
    env = defaulted(minimal(env=[{"name": "N", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]))
    assert env.spec.containers[0].env[0].value_from == {
        "fieldRef": {"fieldPath": "metadata.name", "apiVersion": "v1"}
    }


def test_default_pod_is_idempotent() -> None:
    data = minimal(
        image="nginx",
        resources={"limits": {"cpu": "0.00011"}},
        livenessProbe={"httpGet": {"port": 80}},
        ports=[{"containerPort": 80}],
    )
    pod = defaulted(data)
    once = codec.encode(pod)
    defaults.default_pod(pod)
    assert codec.encode(pod) == once
    assert once == codec.encode(defaulted(copy.deepcopy(codec.encode(pod))))


def test_default_object_dispatch_for_other_kinds() -> None:
    namespace = types.Namespace(metadata=types.ObjectMeta(name="team"))
    defaults.default_object(namespace)
    assert namespace.metadata.labels == {"kubernetes.io/metadata.name": "team"}
    assert namespace.status.phase == "Active"
    node = types.Node(metadata=types.ObjectMeta(name="n"))
    node.status.capacity = {"cpu": q("4"), "memory": q("8Gi")}
    defaults.default_object(node)
    assert node.status.allocatable == {"cpu": q("4"), "memory": q("8Gi")}
    quota = types.ResourceQuota(metadata=types.ObjectMeta(name="q"))
    defaults.default_object(quota)
    assert quota.metadata.namespace == "default"
