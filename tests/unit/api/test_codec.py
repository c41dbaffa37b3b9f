from __future__ import annotations

import copy
from typing import Any

import pytest

from minikube_py.api import codec, field, quantity, types

QUANTITY_REGEX_ERROR = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)

FULL_POD: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {
        "name": "web",
        "namespace": "team",
        "labels": {"app": "web"},
        "annotations": {"note": "x"},
        "ownerReferences": [
            {"apiVersion": "v1", "kind": "Node", "name": "n1", "uid": "u1", "controller": True}
        ],
        "finalizers": ["example.com/f"],
        "creationTimestamp": "2024-01-01T00:00:00Z",
        "deletionGracePeriodSeconds": 30,
    },
    "spec": {
        "volumes": [
            {"name": "scratch", "emptyDir": {"medium": "Memory", "sizeLimit": "64Mi"}},
            {"name": "host", "hostPath": {"path": "/srv", "type": "Directory"}},
        ],
        "initContainers": [{"name": "init", "command": ["true"], "resources": {}, "restartPolicy": "Always"}],
        "containers": [
            {
                "name": "app",
                "image": "busybox:1.36",
                "command": ["sh", "-c"],
                "args": ["echo $(GREETING)"],
                "workingDir": "/srv",
                "ports": [{"name": "http", "containerPort": 8080, "protocol": "TCP", "hostIP": "0.0.0.0"}],
                "env": [
                    {"name": "GREETING", "value": "hi"},
                    {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                ],
                "resources": {"limits": {"cpu": "1500m", "memory": "1Gi"}, "requests": {"cpu": "250m"}},
                "volumeMounts": [{"name": "scratch", "mountPath": "/scratch", "readOnly": True}],
                "livenessProbe": {
                    "httpGet": {
                        "path": "/healthz",
                        "port": "http",
                        "scheme": "HTTPS",
                        "httpHeaders": [{"name": "X-A", "value": "1"}],
                    },
                    "initialDelaySeconds": 5,
                    "periodSeconds": 7,
                    "terminationGracePeriodSeconds": 3,
                },
                "readinessProbe": {"tcpSocket": {"port": 8080}},
                "startupProbe": {"exec": {"command": ["true"]}},
                "securityContext": {"runAsUser": 1000},
            }
        ],
        "restartPolicy": "OnFailure",
        "terminationGracePeriodSeconds": 10,
        "activeDeadlineSeconds": 600,
        "nodeSelector": {"disk": "ssd"},
        "nodeName": "n1",
        "hostPID": True,
        "shareProcessNamespace": False,
        "enableServiceLinks": False,
        "affinity": {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a"]}]}
                    ]
                },
                "preferredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "weight": 10,
                        "preference": {
                            "matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]
                        },
                    }
                ],
            },
            "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": []},
        },
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 60}],
        "priority": 5,
        "priorityClassName": "high",
        "overhead": {"cpu": "10m"},
    },
    "status": {
        "phase": "Running",
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": "2024-01-01T00:00:01Z"}],
        "containerStatuses": [
            {
                "name": "app",
                "state": {"running": {"startedAt": "2024-01-01T00:00:01Z"}},
                "lastState": {"terminated": {"exitCode": 0, "reason": "Completed"}},
                "ready": True,
                "restartCount": 2,
                "image": "busybox:1.36",
                "imageID": "",
                "containerID": "proc://123",
                "started": True,
            }
        ],
        "qosClass": "Burstable",
        "podIP": "10.0.0.5",
        "podIPs": [{"ip": "10.0.0.5"}],
        "hostIP": "192.168.1.2",
        "startTime": "2024-01-01T00:00:00Z",
    },
}


def decode_pod(data: object, warnings: list[str] | None = None) -> types.Pod:
    return codec.decode(types.Pod, data, warnings=warnings)


def decode_errors(cls: type[Any], data: object) -> list[str]:
    with pytest.raises(codec.DecodeError) as info:
        codec.decode(cls, data)
    return [e.message() for e in info.value.errors]


# ---- names ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("python_name", "expected"),
    [
        ("termination_grace_period_seconds", "terminationGracePeriodSeconds"),
        ("host_ip", "hostIP"),
        ("pod_ips", "podIPs"),
        ("pod_cidrs", "podCIDRs"),
        ("container_id", "containerID"),
        ("host_pid", "hostPID"),
        ("host_ipc", "hostIPC"),
        ("http_get", "httpGet"),
        ("uid", "uid"),
        ("api_version", "apiVersion"),
        ("continue_", "continue"),
    ],
)
def test_json_name(python_name: str, expected: str) -> None:
    assert codec.json_name(python_name) == expected


# ---- decoding ------------------------------------------------------------------------------------------


def test_decode_full_pod_types() -> None:
    pod = decode_pod(copy.deepcopy(FULL_POD))
    assert pod.metadata.name == "web"
    assert pod.metadata.owner_references[0].controller is True
    container = pod.spec.containers[0]
    assert container.resources.limits["cpu"] == quantity.Quantity.parse("1.5")
    assert container.resources.limits["memory"].value() == 1024**3
    assert container.ports[0].host_ip == "0.0.0.0"
    assert container.env[1].value_from == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert container.liveness_probe is not None and container.liveness_probe.http_get is not None
    assert container.liveness_probe.http_get.port == "http"
    assert container.readiness_probe is not None and container.readiness_probe.tcp_socket is not None
    assert container.readiness_probe.tcp_socket.port == 8080
    assert pod.spec.init_containers[0].restart_policy == "Always"
    assert pod.spec.volumes[0].empty_dir is not None
    assert pod.spec.volumes[0].empty_dir.size_limit == quantity.Quantity.parse("64Mi")
    assert pod.spec.volumes[1].other_sources == {"hostPath": {"path": "/srv", "type": "Directory"}}
    assert pod.spec.host_pid is True
    assert pod.spec.enable_service_links is False
    assert pod.spec.affinity is not None and pod.spec.affinity.node_affinity is not None
    required = pod.spec.affinity.node_affinity.required_during_scheduling_ignored_during_execution
    assert required is not None
    assert required.node_selector_terms[0].match_expressions[0].values == ["a"]
    assert pod.spec.affinity.pod_anti_affinity == {"requiredDuringSchedulingIgnoredDuringExecution": []}
    assert pod.spec.tolerations[0].toleration_seconds == 60
    assert pod.status.container_statuses[0].restart_count == 2
    assert pod.status.container_statuses[0].last_state.terminated is not None
    assert pod.status.container_statuses[0].last_state.terminated.exit_code == 0
    assert pod.status.pod_ips[0].ip == "10.0.0.5"


def test_round_trip_is_lossless_for_a_full_pod() -> None:
    original = copy.deepcopy(FULL_POD)
    encoded = codec.encode(decode_pod(original))
    assert encoded == FULL_POD


def test_encode_writes_canonical_quantities() -> None:
    pod = decode_pod(
        {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": 1.5, "memory": "1.5Gi"}}}]}}
    )
    limits = codec.encode(pod)["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": "1500m", "memory": "1536Mi"}


def test_encode_omits_empty_but_keeps_required_and_explicit_false() -> None:
    pod = types.Pod(metadata=types.ObjectMeta(name="p"))
    pod.spec.containers.append(types.Container(name="c"))
    pod.spec.enable_service_links = False
    pod.status.container_statuses.append(types.ContainerStatus(name="c"))
    encoded = codec.encode(pod)
    assert encoded["metadata"] == {"name": "p"}
    assert encoded["spec"] == {"containers": [{"name": "c", "resources": {}}], "enableServiceLinks": False}
    # Kubernetes always writes these ContainerStatus fields.
    assert encoded["status"]["containerStatuses"][0] == {
        "name": "c",
        "state": {},
        "lastState": {},
        "ready": False,
        "restartCount": 0,
        "image": "",
        "imageID": "",
    }


def test_encode_keeps_empty_dir_marker_object() -> None:
    pod = types.Pod()
    pod.spec.volumes.append(types.Volume(name="v", empty_dir=types.EmptyDirVolumeSource()))
    assert codec.encode(pod)["spec"]["volumes"] == [{"name": "v", "emptyDir": {}}]


def test_quantity_surrounding_whitespace_is_ignored() -> None:
    pod = decode_pod({"spec": {"overhead": {"memory": " 1Gi "}}})
    assert pod.spec.overhead["memory"].value() == 1024**3


def test_null_means_unset() -> None:
    pod = decode_pod({"metadata": None, "spec": {"containers": None, "terminationGracePeriodSeconds": None}})
    assert pod.metadata == types.ObjectMeta()
    assert pod.spec.containers == []
    assert pod.spec.termination_grace_period_seconds is None


def test_integral_float_is_accepted_as_integer() -> None:
    assert (
        decode_pod({"spec": {"terminationGracePeriodSeconds": 30.0}}).spec.termination_grace_period_seconds
        == 30
    )


def test_unknown_fields_are_warnings_with_full_paths() -> None:
    warnings: list[str] = []
    pod = decode_pod(
        {"spec": {"foo": 1, "containers": [{"name": "a", "bogus": True}]}, "extra": {}},
        warnings,
    )
    assert pod.spec.containers[0].name == "a"
    # In input order.
    assert warnings == [
        'unknown field "spec.foo"',
        'unknown field "spec.containers[0].bogus"',
        'unknown field "extra"',
    ]


# ---- decode errors -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"spec": {"containers": "abc"}}, ['spec.containers: Invalid value: "string": must be a list']),
        ({"spec": "x"}, ['spec: Invalid value: "string": must be an object']),
        ({"spec": {"containers": [5]}}, ['spec.containers[0]: Invalid value: "integer": must be an object']),
        (
            {"spec": {"terminationGracePeriodSeconds": "30"}},
            ['spec.terminationGracePeriodSeconds: Invalid value: "string": must be an integer'],
        ),
        (
            {"spec": {"terminationGracePeriodSeconds": True}},
            ['spec.terminationGracePeriodSeconds: Invalid value: "boolean": must be an integer'],
        ),
        ({"spec": {"hostPID": "yes"}}, ['spec.hostPID: Invalid value: "string": must be a boolean']),
        (
            {"metadata": {"labels": {"v": 1}}},
            ['metadata.labels[v]: Invalid value: "integer": must be a string'],
        ),
        (
            {"spec": {"containers": [{"name": "a", "resources": {"limits": {"cpu": "abc"}}}]}},
            [f'spec.containers[0].resources.limits[cpu]: Invalid value: "abc": {QUANTITY_REGEX_ERROR}'],
        ),
        (
            {"spec": {"containers": [{"name": "a", "resources": {"limits": {"memory": "1 Gi"}}}]}},
            [f'spec.containers[0].resources.limits[memory]: Invalid value: "1 Gi": {QUANTITY_REGEX_ERROR}'],
        ),
        (
            {"spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": True}}}]}},
            [
                'spec.containers[0].resources.requests[cpu]: Invalid value: "boolean": '
                "must be a quantity (a string or a number)"
            ],
        ),
        (
            {"spec": {"containers": [{"name": "a", "livenessProbe": {"tcpSocket": {"port": [1]}}}]}},
            [
                'spec.containers[0].livenessProbe.tcpSocket.port: Invalid value: "array": '
                "must be an integer or a string"
            ],
        ),
        (
            {"spec": {"securityContext": []}},
            ['spec.securityContext: Invalid value: "array": must be an object'],
        ),
        ([1, 2], [': Invalid value: "array": must be an object'.lstrip(": ")]),
    ],
)
def test_decode_errors(data: object, expected: list[str]) -> None:
    assert decode_errors(types.Pod, data) == expected


def test_decode_reports_every_error_at_once_with_object_identity() -> None:
    data = {
        "kind": "Pod",
        "metadata": {"name": "x"},
        "spec": {"containers": "abc", "overhead": {"cpu": "zz"}, "hostNetwork": 1},
    }
    with pytest.raises(codec.DecodeError) as info:
        decode_pod(data)
    error = info.value
    assert isinstance(error, field.InvalidObject)
    assert (error.kind, error.name) == ("Pod", "x")
    assert len(error.errors) == 3
    assert str(error).startswith(
        'Pod "x" is invalid: [spec.containers: Invalid value: "string": must be a list, '
    )


def test_decode_error_keeps_warnings() -> None:
    with pytest.raises(codec.DecodeError) as info:
        decode_pod({"spec": {"nope": 1, "hostPID": "x"}})
    assert info.value.warnings == ['unknown field "spec.nope"']


def test_deeply_nested_raw_data_does_not_recurse() -> None:
    deep: dict[str, Any] = {}
    node = deep
    for _ in range(100_000):
        node["a"] = {}
        node = node["a"]
    pod = decode_pod({"spec": {"securityContext": deep}})
    assert pod.spec.security_context is not None and "a" in pod.spec.security_context


def test_huge_list_decodes() -> None:
    data = {"spec": {"containers": [{"name": f"c{i}"} for i in range(5000)]}}
    assert len(decode_pod(data).spec.containers) == 5000


# ---- kind dispatch and other kinds ---------------------------------------------------------------------


def test_decode_object_by_kind() -> None:
    node = codec.decode_object(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "n1"},
            "spec": {
                "podCIDR": "10.0.0.0/24",
                "podCIDRs": ["10.0.0.0/24"],
                "taints": [{"key": "k", "effect": "NoSchedule"}],
            },
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "pods": "110"}},
        }
    )
    assert isinstance(node, types.Node)
    assert node.spec.pod_cidrs == ["10.0.0.0/24"]
    assert node.status.capacity["pods"].value() == 110
    pc = codec.decode_object({"apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass", "value": 0})
    assert isinstance(pc, types.PriorityClass)
    assert codec.encode(pc)["value"] == 0


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"apiVersion": "v1"}, ["kind: Required value: the object's kind must be set"]),
        ({"kind": "Pod"}, ["apiVersion: Required value: the object's apiVersion must be set"]),
        (
            {"apiVersion": "apps/v1", "kind": "Pod"},
            ['apiVersion: Unsupported value: "apps/v1": supported values: "v1"'],
        ),
        (
            {"apiVersion": "v1", "kind": "Deployment"},
            [
                'kind: Unsupported value: "Deployment": supported values: "Binding", "Event", "List", '
                '"Namespace", "Node", "Pod", "PriorityClass", "ResourceQuota", "Status"'
            ],
        ),
    ],
)
def test_decode_object_rejects_unknown_kinds(data: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(codec.DecodeError) as info:
        codec.decode_object(data)
    assert [e.message() for e in info.value.errors] == expected


def test_status_event_binding_quota_round_trip() -> None:
    samples: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Status",
            "metadata": {},
            "status": "Failure",
            "message": "m",
            "reason": "Invalid",
            "details": {
                "name": "x",
                "kind": "Pod",
                "causes": [
                    {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}
                ],
            },
            "code": 422,
        },
        {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": "e", "namespace": "default"},
            "involvedObject": {"kind": "Pod", "name": "web", "namespace": "default"},
            "reason": "Started",
            "message": "Started container app",
            "source": {"component": "kubelet", "host": "n1"},
            "firstTimestamp": "2024-01-01T00:00:00Z",
            "lastTimestamp": "2024-01-01T00:00:00Z",
            "count": 1,
            "type": "Normal",
            "reportingComponent": "kubelet",
            "reportingInstance": "n1",
        },
        {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": "web"},
            "target": {"kind": "Node", "name": "n1"},
        },
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "q"},
            "spec": {"hard": {"pods": "10", "requests.cpu": "2"}, "scopes": ["NotBestEffort"]},
            "status": {"hard": {"pods": "10"}, "used": {"pods": "1"}},
        },
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "ns"},
            "spec": {"finalizers": ["kubernetes"]},
            "status": {"phase": "Active"},
        },
        {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": [{"kind": "Pod"}]},
    ]
    for sample in samples:
        assert codec.encode(codec.decode_object(copy.deepcopy(sample))) == sample


def test_encode_requires_a_dataclass_instance() -> None:
    with pytest.raises(TypeError):
        codec.encode({"kind": "Pod"})
