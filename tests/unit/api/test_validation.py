# Long lines below hold Kubernetes' messages verbatim, one case per entry.
# ruff: noqa: E501
from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from minikube_py.api import codec, defaults, field, quantity, types, validation

LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and "
    "end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for "
    "validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
KEY_NAME_MSG = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
ENV_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and "
    "must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for "
    "validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')"
)
COMMAND_MSG = (
    "Required value: minikube_py runs processes from the node's filesystem and does not read image "
    "entrypoints; set command"
)


def base_pod() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web", "labels": {"app": "web"}},
        "spec": {
            "containers": [
                {
                    "name": "app",
                    "command": ["sleep", "3600"],
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "resources": {"requests": {"cpu": "100m"}, "limits": {"cpu": "1", "memory": "64Mi"}},
                }
            ]
        },
    }


def errors_for(data: dict[str, Any]) -> list[str]:
    pod = codec.decode(types.Pod, data)
    defaults.default_pod(pod)
    return [e.message() for e in validation.validate_pod(pod)]


def app(data: dict[str, Any]) -> dict[str, Any]:
    container: dict[str, Any] = data["spec"]["containers"][0]
    return container


Mutation = Callable[[dict[str, Any]], object]

CASES: list[tuple[str, Mutation, list[str]]] = [
    # ---- metadata
    ("name required", lambda d: d["metadata"].pop("name"),
     ["metadata.name: Required value: name or generateName is required"]),
    ("generateName alone is accepted", lambda d: d["metadata"].update(name="", generateName="web-"), []),
    ("bad generateName", lambda d: d["metadata"].update(name="", generateName="Web-"),
     [f'metadata.generateName: Invalid value: "Web-": {SUBDOMAIN_MSG}']),
    ("name not a subdomain", lambda d: d["metadata"].update(name="Web_1"),
     [f'metadata.name: Invalid value: "Web_1": {SUBDOMAIN_MSG}']),
    ("name too long", lambda d: d["metadata"].update(name="a" * 254),
     [f'metadata.name: Invalid value: "{"a" * 254}": must be no more than 253 characters']),
    ("bad namespace", lambda d: d["metadata"].update(namespace="a.b"),
     ['metadata.namespace: Invalid value: "a.b": must not contain dots']),
    ("bad label key", lambda d: d["metadata"].update(labels={"-x": "v"}),
     [f'metadata.labels: Invalid value: "-x": {KEY_NAME_MSG}']),
    ("bad label prefix", lambda d: d["metadata"].update(labels={"Ex.com/x": "v"}),
     [f'metadata.labels: Invalid value: "Ex.com/x": prefix part {SUBDOMAIN_MSG}']),
    ("empty label prefix", lambda d: d["metadata"].update(labels={"/x": "v"}),
     ['metadata.labels: Invalid value: "/x": prefix part must be non-empty']),
    ("label name too long", lambda d: d["metadata"].update(labels={"a" * 64: "v"}),
     [f'metadata.labels: Invalid value: "{"a" * 64}": name part must be no more than 63 characters']),
    ("bad label value", lambda d: d["metadata"].update(labels={"app": "-web"}),
     [f'metadata.labels: Invalid value: "-web": {LABEL_VALUE_MSG}']),
    ("label value too long", lambda d: d["metadata"].update(labels={"app": "v" * 64}),
     [f'metadata.labels: Invalid value: "{"v" * 64}": must be no more than 63 characters']),
    ("bad annotation key", lambda d: d["metadata"].update(annotations={"a/b/c": ""}),
     ["metadata.annotations: Invalid value: \"a/b/c\": a valid label key must consist of alphanumeric characters, "
      "'-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or "
      "'123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
      "subdomain prefix and '/' (e.g. 'example.com/MyName')"]),
    ("annotation keys ignore case", lambda d: d["metadata"].update(annotations={"Example.COM/Key": "v"}), []),
    ("annotations too large", lambda d: d["metadata"].update(annotations={"big": "x" * (256 * 1024)}),
     ["metadata.annotations: Too long: must have at most 262144 bytes"]),
    ("bad finalizer", lambda d: d["metadata"].update(finalizers=["custom"]),
     ['metadata.finalizers[0]: Invalid value: "custom": '
      "name is neither a standard finalizer name nor is it fully qualified"]),
    # ---- containers
    ("no containers", lambda d: d["spec"].update(containers=[]), ["spec.containers: Required value"]),
    ("container name required", lambda d: app(d).update(name=""), ["spec.containers[0].name: Required value"]),
    ("container name not a label", lambda d: app(d).update(name="App"),
     [f'spec.containers[0].name: Invalid value: "App": {LABEL_MSG}']),
    ("container name with dot", lambda d: app(d).update(name="a.b"),
     ['spec.containers[0].name: Invalid value: "a.b": must not contain dots']),
    ("duplicate container name", lambda d: d["spec"]["containers"].append({"name": "app", "command": ["x"]}),
     ['spec.containers[1].name: Duplicate value: "app"']),
    ("init container name clashes", lambda d: d["spec"].update(initContainers=[{"name": "app", "command": ["x"]}]),
     ['spec.initContainers[0].name: Duplicate value: "app"']),
    ("command required", lambda d: app(d).pop("command"), [f"spec.containers[0].command: {COMMAND_MSG}"]),
    ("init command required", lambda d: d["spec"].update(initContainers=[{"name": "init"}]),
     [f"spec.initContainers[0].command: {COMMAND_MSG}"]),
    ("image is optional", lambda d: app(d).update(image=""), []),
    ("bad pull policy", lambda d: app(d).update(imagePullPolicy="Sometimes"),
     ['spec.containers[0].imagePullPolicy: Unsupported value: "Sometimes": '
      'supported values: "Always", "IfNotPresent", "Never"']),
    ("bad termination message policy", lambda d: app(d).update(terminationMessagePolicy="Log"),
     ['spec.containers[0].terminationMessagePolicy: Unsupported value: "Log": '
      'supported values: "File", "FallbackToLogsOnError"']),
    ("restartPolicy on app container", lambda d: app(d).update(restartPolicy="Always"),
     ["spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers"]),
    ("init restartPolicy must be Always",
     lambda d: d["spec"].update(initContainers=[{"name": "i", "command": ["x"], "restartPolicy": "Never"}]),
     ['spec.initContainers[0].restartPolicy: Unsupported value: "Never": supported values: "Always"']),
    # ---- resources
    ("request above limit", lambda d: app(d)["resources"].update(requests={"cpu": "2"}),
     ['spec.containers[0].resources.requests: Invalid value: "2": must be less than or equal to cpu limit of 1']),
    ("memory request above limit", lambda d: app(d)["resources"].update(requests={"memory": "128Mi"}),
     ['spec.containers[0].resources.requests: Invalid value: "128Mi": '
      "must be less than or equal to memory limit of 64Mi"]),
    ("negative request", lambda d: app(d)["resources"].update(requests={"cpu": "-1"}),
     ['spec.containers[0].resources.requests[cpu]: Invalid value: "-1": must be greater than or equal to 0']),
    ("negative limit", lambda d: app(d)["resources"].update(limits={"memory": "-64Mi"}, requests={}),
     # The limit is copied into the missing request by defaulting, so both are reported.
     ['spec.containers[0].resources.limits[memory]: Invalid value: "-64Mi": must be greater than or equal to 0',
      'spec.containers[0].resources.requests[memory]: Invalid value: "-64Mi": must be greater than or equal to 0']),
    ("non-standard resource", lambda d: app(d)["resources"].update(requests={"cpu": "1m", "gpu": "1"}),
     ['spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": '
      "must be a standard resource type or fully qualified",
      'spec.containers[0].resources.requests[gpu]: Invalid value: "gpu": must be a standard resource for containers']),
    ("quota-only resource in container", lambda d: app(d)["resources"].update(requests={"cpu": "1m", "pods": "1"}),
     ['spec.containers[0].resources.requests[pods]: Invalid value: "pods": '
      "must be a standard resource for containers"]),
    ("extended resource request must equal limit",
     lambda d: app(d)["resources"].update(requests={"example.com/gpu": "1"}, limits={"example.com/gpu": "2"}),
     ['spec.containers[0].resources.requests: Invalid value: "1": must be equal to example.com/gpu limit of 2']),
    ("extended resource request needs a limit",
     lambda d: app(d)["resources"].update(requests={"cpu": "1m", "example.com/gpu": "1"}),
     ["spec.containers[0].resources.limits: Required value: Limit must be set for non overcommitable resources"]),
    ("extended resource must be an integer",
     lambda d: app(d)["resources"].update(requests={"example.com/gpu": "500m"}, limits={"example.com/gpu": "500m"}),
     ["spec.containers[0].resources.limits[example.com/gpu]: Invalid value: 500m: must be an integer",
      "spec.containers[0].resources.requests[example.com/gpu]: Invalid value: 500m: must be an integer"]),
    ("bad extended resource name",
     lambda d: app(d)["resources"].update(requests={"example.com/a/b": "1"}, limits={"example.com/a/b": "1"}),
     ['spec.containers[0].resources.limits[example.com/a/b]: Invalid value: "example.com/a/b": a valid label key '
      "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
      "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
      "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
      "(e.g. 'example.com/MyName')",
      'spec.containers[0].resources.limits[example.com/a/b]: Invalid value: "example.com/a/b": '
      "doesn't follow extended resource name standard",
      'spec.containers[0].resources.requests[example.com/a/b]: Invalid value: "example.com/a/b": a valid label key '
      "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric "
      "character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
      "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' "
      "(e.g. 'example.com/MyName')",
      'spec.containers[0].resources.requests[example.com/a/b]: Invalid value: "example.com/a/b": '
      "doesn't follow extended resource name standard"]),
    ("hugepages request must equal limit",
     lambda d: app(d)["resources"].update(requests={"hugepages-2Mi": "2Mi"}, limits={"cpu": "1", "hugepages-2Mi": "4Mi"}),
     ['spec.containers[0].resources.requests: Invalid value: "2Mi": must be equal to hugepages-2Mi limit of 4Mi']),
    ("hugepages need cpu or memory",
     lambda d: app(d).update(resources={"limits": {"hugepages-2Mi": "2Mi"}}),
     ["spec.containers[0].resources: Forbidden: HugePages require cpu or memory"]),
    ("hugepages multiple of page size",
     lambda d: app(d).update(resources={"limits": {"cpu": "1", "hugepages-2Mi": "3Mi"}}),
     ['spec.containers[0].resources.limits[hugepages-2Mi]: Invalid value: "3Mi": '
      "3Mi is not positive integer multiple of hugepages-2Mi",
      'spec.containers[0].resources.requests[hugepages-2Mi]: Invalid value: "3Mi": '
      "3Mi is not positive integer multiple of hugepages-2Mi"]),
    ("negative overhead", lambda d: d["spec"].update(overhead={"cpu": "-1"}),
     ['spec.overhead.limits[cpu]: Invalid value: "-1": must be greater than or equal to 0']),
    # ---- pod-level fields
    ("bad restartPolicy", lambda d: d["spec"].update(restartPolicy="Sometimes"),
     ['spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"']),
    ("negative grace period", lambda d: d["spec"].update(terminationGracePeriodSeconds=-1),
     ["spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0"]),
    ("zero grace period is fine", lambda d: d["spec"].update(terminationGracePeriodSeconds=0), []),
    ("zero activeDeadlineSeconds", lambda d: d["spec"].update(activeDeadlineSeconds=0),
     ["spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive"]),
    ("bad dnsPolicy", lambda d: d["spec"].update(dnsPolicy="Cluster"),
     ['spec.dnsPolicy: Unsupported value: "Cluster": '
      'supported values: "ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"']),
    ("shareProcessNamespace with hostPID", lambda d: d["spec"].update(shareProcessNamespace=True, hostPID=True),
     ["spec.securityContext.shareProcessNamespace: Invalid value: true: "
      "ShareProcessNamespace and HostPID cannot both be enabled"]),
    ("shareProcessNamespace alone", lambda d: d["spec"].update(shareProcessNamespace=True), []),
    ("bad hostname", lambda d: d["spec"].update(hostname="my_host"),
     [f'spec.hostname: Invalid value: "my_host": {LABEL_MSG}']),
    ("hostname too long", lambda d: d["spec"].update(hostname="h" * 64),
     [f'spec.hostname: Invalid value: "{"h" * 64}": must be no more than 63 characters']),
    ("bad subdomain", lambda d: d["spec"].update(subdomain="a.b"),
     ['spec.subdomain: Invalid value: "a.b": must not contain dots']),
    ("bad nodeName", lambda d: d["spec"].update(nodeName="Node_1"),
     [f'spec.nodeName: Invalid value: "Node_1": {SUBDOMAIN_MSG}']),
    ("bad priorityClassName", lambda d: d["spec"].update(priorityClassName="High"),
     [f'spec.priorityClassName: Invalid value: "High": {SUBDOMAIN_MSG}']),
    ("bad preemptionPolicy", lambda d: d["spec"].update(preemptionPolicy="Always"),
     ['spec.preemptionPolicy: Unsupported value: "Always": supported values: "PreemptLowerPriority", "Never"']),
    ("bad nodeSelector value", lambda d: d["spec"].update(nodeSelector={"disk": "ssd!"}),
     [f'spec.nodeSelector: Invalid value: "ssd!": {LABEL_VALUE_MSG}']),
    # ---- ports and env
    ("port zero", lambda d: app(d).update(ports=[{"containerPort": 0}]),
     ["spec.containers[0].ports[0].containerPort: Required value"]),
    ("port too big", lambda d: app(d).update(ports=[{"containerPort": 70000}]),
     ["spec.containers[0].ports[0].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
    ("bad host port", lambda d: app(d).update(ports=[{"containerPort": 80, "hostPort": -1}]),
     ["spec.containers[0].ports[0].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive"]),
    ("duplicate port name",
     lambda d: app(d).update(ports=[{"name": "http", "containerPort": 80}, {"name": "http", "containerPort": 81}]),
     ['spec.containers[0].ports[1].name: Duplicate value: "http"']),
    ("bad port name", lambda d: app(d).update(ports=[{"name": "HTTP", "containerPort": 80}]),
     ['spec.containers[0].ports[0].name: Invalid value: "HTTP": '
      "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
      'spec.containers[0].ports[0].name: Invalid value: "HTTP": must contain at least one letter (a-z)']),
    ("bad protocol", lambda d: app(d).update(ports=[{"containerPort": 80, "protocol": "HTTP"}]),
     ['spec.containers[0].ports[0].protocol: Unsupported value: "HTTP": supported values: "SCTP", "TCP", "UDP"']),
    ("host port conflict",
     lambda d: d["spec"]["containers"].append(
         {"name": "b", "command": ["x"], "ports": [{"containerPort": 90, "hostPort": 8080}]})
     or app(d).update(ports=[{"containerPort": 80, "hostPort": 8080}]),
     ['spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"']),
    ("hostNetwork host port mismatch",
     lambda d: d["spec"].update(hostNetwork=True) or app(d).update(ports=[{"containerPort": 80, "hostPort": 81}]),
     ["spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true"]),
    ("env name required", lambda d: app(d).update(env=[{"value": "x"}]), ["spec.containers[0].env[0].name: Required value"]),
    ("bad env name", lambda d: app(d).update(env=[{"name": "1ABC", "value": "x"}]),
     [f'spec.containers[0].env[0].name: Invalid value: "1ABC": {ENV_MSG}']),
    ("env name dots", lambda d: app(d).update(env=[{"name": "..x"}]),
     ['spec.containers[0].env[0].name: Invalid value: "..x": must not start with \'..\'']),
    ("env valueFrom with value",
     lambda d: app(d).update(env=[{"name": "A", "value": "x", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]),
     ['spec.containers[0].env[0].valueFrom: Invalid value: "": may not be specified when `value` is not empty']),
    ("env valueFrom empty", lambda d: app(d).update(env=[{"name": "A", "valueFrom": {}}]),
     ['spec.containers[0].env[0].valueFrom: Invalid value: "": must specify one of: `fieldRef`, '
      "`resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"]),
    ("env valueFrom two sources",
     lambda d: app(d).update(env=[{"name": "A", "valueFrom": {"fieldRef": {}, "secretKeyRef": {}}}]),
     ['spec.containers[0].env[0].valueFrom: Invalid value: "": may not have more than one field specified at a time']),
    # ---- volumes
    ("volume name not a label", lambda d: d["spec"].update(volumes=[{"name": "Data", "emptyDir": {}}]),
     [f'spec.volumes[0].name: Invalid value: "Data": {LABEL_MSG}']),
    ("duplicate volume", lambda d: d["spec"].update(volumes=[{"name": "a"}, {"name": "a"}]),
     ['spec.volumes[1].name: Duplicate value: "a"']),
    ("two volume sources", lambda d: d["spec"].update(volumes=[{"name": "a", "emptyDir": {}, "hostPath": {"path": "/"}}]),
     ["spec.volumes[0].hostPath: Forbidden: may not specify more than 1 volume type"]),
    ("negative emptyDir sizeLimit", lambda d: d["spec"].update(volumes=[{"name": "a", "emptyDir": {"sizeLimit": "-1"}}]),
     ["spec.volumes[0].emptyDir.sizeLimit: Forbidden: SizeLimit field must be a valid resource quantity"]),
    ("mount of undeclared volume", lambda d: app(d).update(volumeMounts=[{"name": "data", "mountPath": "/d"}]),
     ['spec.containers[0].volumeMounts[0].name: Not found: "data"']),
    ("mount path required and unique",
     lambda d: d["spec"].update(volumes=[{"name": "a"}, {"name": "b"}])
     or app(d).update(volumeMounts=[{"name": "a", "mountPath": "/x"}, {"name": "b", "mountPath": "/x"},
                                    {"name": "a"}]),
     ['spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/x": must be unique',
      "spec.containers[0].volumeMounts[2].mountPath: Required value"]),
    # ---- probes
    ("probe without handler", lambda d: app(d).update(livenessProbe={"periodSeconds": 5}),
     ["spec.containers[0].livenessProbe: Required value: must specify a handler type"]),
    ("probe with two handlers",
     lambda d: app(d).update(livenessProbe={"exec": {"command": ["true"]}, "tcpSocket": {"port": 8080}}),
     ["spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type"]),
    ("exec command required", lambda d: app(d).update(readinessProbe={"exec": {}}),
     ["spec.containers[0].readinessProbe.exec.command: Required value"]),
    ("liveness successThreshold must be 1",
     lambda d: app(d).update(livenessProbe={"exec": {"command": ["x"]}, "successThreshold": 2}),
     ["spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"]),
    ("startup successThreshold must be 1",
     lambda d: app(d).update(startupProbe={"exec": {"command": ["x"]}, "successThreshold": 3}),
     ["spec.containers[0].startupProbe.successThreshold: Invalid value: 3: must be 1"]),
    ("readiness successThreshold may be higher",
     lambda d: app(d).update(readinessProbe={"exec": {"command": ["x"]}, "successThreshold": 3}), []),
    ("negative probe fields",
     lambda d: app(d).update(readinessProbe={"exec": {"command": ["x"]}, "initialDelaySeconds": -1,
                                             "periodSeconds": -2, "timeoutSeconds": -3, "failureThreshold": -4}),
     ["spec.containers[0].readinessProbe.initialDelaySeconds: Invalid value: -1: must be greater than or equal to 0",
      "spec.containers[0].readinessProbe.timeoutSeconds: Invalid value: -3: must be greater than or equal to 0",
      "spec.containers[0].readinessProbe.periodSeconds: Invalid value: -2: must be greater than or equal to 0",
      "spec.containers[0].readinessProbe.failureThreshold: Invalid value: -4: must be greater than or equal to 0"]),
    ("probe port out of range", lambda d: app(d).update(livenessProbe={"tcpSocket": {"port": 0}}),
     ["spec.containers[0].livenessProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, inclusive"]),
    ("probe named port resolves", lambda d: app(d).update(livenessProbe={"httpGet": {"port": "http"}}), []),
    ("probe named port undeclared", lambda d: app(d).update(livenessProbe={"httpGet": {"port": "metrics"}}),
     ['spec.containers[0].livenessProbe.httpGet.port: Not found: "metrics": '
      "must be the name of a port declared by this container"]),
    ("probe port name invalid", lambda d: app(d).update(livenessProbe={"tcpSocket": {"port": "my--port"}}),
     ['spec.containers[0].livenessProbe.tcpSocket.port: Invalid value: "my--port": '
      "must not contain consecutive hyphens"]),
    ("bad http scheme", lambda d: app(d).update(livenessProbe={"httpGet": {"port": 80, "scheme": "FTP"}}),
     ['spec.containers[0].livenessProbe.httpGet.scheme: Unsupported value: "FTP": '
      'supported values: "HTTP", "HTTPS"']),
    ("bad http header", lambda d: app(d).update(
        livenessProbe={"httpGet": {"port": 80, "httpHeaders": [{"name": "X A", "value": "1"}]}}),
     ['spec.containers[0].livenessProbe.httpGet.httpHeaders: Invalid value: "X A": a valid HTTP header must '
      "consist of alphanumeric characters or '-' (e.g. 'X-Header-Name', regex used for validation is "
      "'[-A-Za-z0-9]+')"]),
    ("grpc port", lambda d: app(d).update(livenessProbe={"grpc": {"port": 70000}}),
     ["spec.containers[0].livenessProbe.grpc.port: Invalid value: 70000: must be between 1 and 65535, inclusive"]),
    ("readiness probe grace refused",
     lambda d: app(d).update(readinessProbe={"exec": {"command": ["x"]}, "terminationGracePeriodSeconds": 5}),
     ["spec.containers[0].readinessProbe.terminationGracePeriodSeconds: Invalid value: 5: "
      "must not be set for readinessProbes"]),
    ("liveness probe grace must be positive",
     lambda d: app(d).update(livenessProbe={"exec": {"command": ["x"]}, "terminationGracePeriodSeconds": 0}),
     ["spec.containers[0].livenessProbe.terminationGracePeriodSeconds: Invalid value: 0: must be greater than 0"]),
    ("probe on plain init container",
     lambda d: d["spec"].update(initContainers=[{"name": "i", "command": ["x"],
                                                 "readinessProbe": {"exec": {"command": ["x"]}}}]),
     ["spec.initContainers[0].readinessProbe: Forbidden: "
      "may not be set for init containers without restartPolicy=Always"]),
    ("probe on sidecar is validated",
     lambda d: d["spec"].update(initContainers=[{"name": "i", "command": ["x"], "restartPolicy": "Always",
                                                 "livenessProbe": {"exec": {"command": ["x"]}, "successThreshold": 2}}]),
     ["spec.initContainers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1"]),
    # ---- tolerations and affinity
    ("toleration Exists with value",
     lambda d: d["spec"].update(tolerations=[{"key": "k", "operator": "Exists", "value": "v"}]),
     ['spec.tolerations[0].operator: Invalid value: "v": value must be empty when `operator` is \'Exists\'']),
    ("toleration without key needs Exists", lambda d: d["spec"].update(tolerations=[{"operator": "Equal"}]),
     ['spec.tolerations[0].operator: Invalid value: "Equal": operator must be Exists when `key` is empty, which '
      'means "match all values and all keys"']),
    ("toleration bad operator", lambda d: d["spec"].update(tolerations=[{"key": "k", "operator": "In"}]),
     ['spec.tolerations[0].operator: Unsupported value: "In": supported values: "Equal", "Exists"']),
    ("toleration bad effect", lambda d: d["spec"].update(tolerations=[{"key": "k", "effect": "NoRun"}]),
     ['spec.tolerations[0].effect: Unsupported value: "NoRun": '
      'supported values: "NoSchedule", "PreferNoSchedule", "NoExecute"']),
    ("tolerationSeconds needs NoExecute",
     lambda d: d["spec"].update(tolerations=[{"key": "k", "effect": "NoSchedule", "tolerationSeconds": 5}]),
     ['spec.tolerations[0].effect: Invalid value: "NoSchedule": '
      "effect must be 'NoExecute' when `tolerationSeconds` is set"]),
    ("toleration match-all is fine", lambda d: d["spec"].update(tolerations=[{"operator": "Exists"}]), []),
    ("affinity needs a term",
     lambda d: d["spec"].update(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
         "nodeSelectorTerms": []}}}),
     ["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: "
      "Required value: must have at least one node selector term"]),
    ("affinity In without values",
     lambda d: d["spec"].update(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
         "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "In"}]}]}}}),
     ["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
      ".matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"]),
    ("affinity Exists with values",
     lambda d: d["spec"].update(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
         "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Exists", "values": ["a"]}]}]}}}),
     ["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
      ".matchExpressions[0].values: Forbidden: may not be specified when `operator` is 'Exists' or 'DoesNotExist'"]),
    ("affinity Gt needs one value",
     lambda d: d["spec"].update(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
         "nodeSelectorTerms": [{"matchExpressions": [{"key": "cores", "operator": "Gt", "values": ["1", "2"]}]}]}}}),
     ["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
      ".matchExpressions[0].values: Required value: must be specified single value when `operator` is 'Lt' or 'Gt'"]),
    ("affinity bad operator",
     lambda d: d["spec"].update(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
         "nodeSelectorTerms": [{"matchExpressions": [{"key": "zone", "operator": "Near", "values": ["a"]}]}]}}}),
     ["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
      '.matchExpressions[0].operator: Invalid value: "Near": not a valid selector operator']),
    ("affinity match field key",
     lambda d: d["spec"].update(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
         "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.uid", "operator": "In", "values": ["a"]}]}]}}}),
     ["spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0]"
      '.matchFields[0].key: Invalid value: "metadata.uid": not a valid field selector key']),
    ("preferred weight range",
     lambda d: d["spec"].update(affinity={"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
         {"weight": 0, "preference": {"matchExpressions": [{"key": "z", "operator": "In", "values": ["!"]}]}}]}}),
     ["spec.affinity.nodeAffinity.preferredDuringSchedulingIgnoredDuringExecution[0].weight: Invalid value: 0: "
      "must be in the range 1-100"]),
]  # fmt: skip


@pytest.mark.parametrize(("name", "mutate", "expected"), CASES, ids=[c[0] for c in CASES])
def test_pod_rule(name: str, mutate: Mutation, expected: list[str]) -> None:
    del name
    data = base_pod()
    mutate(data)
    assert errors_for(data) == expected


def test_base_pod_is_valid() -> None:
    assert errors_for(base_pod()) == []


def test_all_errors_reported_at_once() -> None:
    data = base_pod()
    data["spec"]["restartPolicy"] = "Sometimes"
    app(data).pop("command")
    app(data)["resources"]["requests"] = {"cpu": "2"}
    data["metadata"]["name"] = ""
    assert len(errors_for(data)) == 4


def test_undefaulted_pod_reports_missing_defaults() -> None:
    pod = codec.decode(types.Pod, base_pod())
    pod.spec.containers[0].liveness_probe = types.Probe(exec=types.ExecAction(["true"]))
    messages = [e.message() for e in validation.validate_pod(pod)]
    assert "metadata.namespace: Required value" in messages
    assert "spec.restartPolicy: Required value" in messages
    assert "spec.terminationGracePeriodSeconds: Required value" in messages
    assert (
        "spec.containers[0].livenessProbe.periodSeconds: Invalid value: 0: must be greater than or equal to 1"
        in (messages)
    )


# ---- other kinds ---------------------------------------------------------------------------------------


def q(text: str) -> quantity.Quantity:
    return quantity.Quantity.parse(text)


def test_validate_namespace() -> None:
    good = types.Namespace(metadata=types.ObjectMeta(name="team"))
    assert validation.validate_namespace(good) == []
    bad = types.Namespace(
        metadata=types.ObjectMeta(name="team.a", namespace="x"), spec=types.NamespaceSpec(["foo"])
    )
    assert [e.message() for e in validation.validate_namespace(bad)] == [
        'metadata.name: Invalid value: "team.a": must not contain dots',
        "metadata.namespace: Forbidden: not allowed on this type",
        'spec.finalizers: Invalid value: "foo": name is neither a standard finalizer name nor is it fully qualified',
    ]


def test_validate_node() -> None:
    node = types.Node(metadata=types.ObjectMeta(name="node-1"))
    node.spec.taints = [
        types.Taint("k", "v", "NoSchedule"),
        types.Taint("k", "w", "NoSchedule"),
        types.Taint("k2", "", ""),
        types.Taint("k3", "", "Never"),
    ]
    node.spec.pod_cidrs = ["10.0.0.0/24", "10.1.0.0/24", "bogus"]
    node.status.capacity = {"cpu": q("-1"), "pods": q("1.5")}
    assert [e.message() for e in validation.validate_node(node)] == [
        'spec.taints[1]: Duplicate value: {"effect": "NoSchedule", "key": "k", "value": "w"}: '
        "taints must be unique by key and effect pair",
        "spec.taints[2].effect: Required value",
        'spec.taints[3].effect: Unsupported value: "Never": supported values: "NoSchedule", "PreferNoSchedule", '
        '"NoExecute"',
        'status.capacity.cpu: Invalid value: "-1": must be greater than or equal to 0',
        "status.capacity.pods: Invalid value: 1500m: must be an integer",
        'spec.podCIDRs[2]: Invalid value: "bogus": must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)',
        'spec.podCIDRs: Invalid value: ["10.0.0.0/24", "10.1.0.0/24", "bogus"]: '
        "may specify no more than one CIDR for each IP family",
    ]


def test_validate_node_rejects_namespace_and_bad_name() -> None:
    node = types.Node(metadata=types.ObjectMeta(name="Node_1", namespace="default"))
    assert [e.message() for e in validation.validate_node(node)] == [
        f'metadata.name: Invalid value: "Node_1": {SUBDOMAIN_MSG}',
        "metadata.namespace: Forbidden: not allowed on this type",
    ]


def test_validate_resource_quota() -> None:
    quota = types.ResourceQuota(metadata=types.ObjectMeta(name="q", namespace="default"))
    quota.spec.hard = {"pods": q("10"), "requests.cpu": q("2"), "cpus": q("1"), "services": q("500m")}
    quota.spec.scopes = ["BestEffort", "NotBestEffort", "Sometimes"]
    scopes = 'spec.scopes: Invalid value: ["BestEffort", "NotBestEffort", "Sometimes"]'
    assert [e.message() for e in validation.validate_resource_quota(quota)] == [
        'spec.hard[cpus]: Invalid value: "cpus": must be a standard resource type or fully qualified',
        'spec.hard[cpus]: Invalid value: "cpus": must be a standard resource for quota',
        "spec.hard[services]: Invalid value: 500m: must be an integer",
        # BestEffort cannot count requests.cpu or services; NotBestEffort cannot count services.
        f"{scopes}: unsupported scope applied to resource",
        f"{scopes}: unsupported scope applied to resource",
        f"{scopes}: unsupported scope applied to resource",
        f"{scopes}: unsupported scope",
        f"{scopes}: conflicting scopes",
    ]


def test_validate_object_dispatch() -> None:
    assert validation.validate_object(types.Event()) == []
    assert validation.validate_object(types.Namespace())[0].message() == (
        "metadata.name: Required value: name or generateName is required"
    )


# ---- format helpers ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "valid"),
    [("a", True), ("a-b", True), ("0", True), ("-a", False), ("a-", False), ("A", False), ("a" * 63, True),
     ("a" * 64, False), ("a\n", False)],
)  # fmt: skip
def test_is_dns1123_label(value: str, valid: bool) -> None:
    assert (validation.is_dns1123_label(value) == []) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [("example.com", True), ("a" * 253, True), ("a" * 254, False), ("a..b", False), ("a.-b", False)],
)
def test_is_dns1123_subdomain(value: str, valid: bool) -> None:
    assert (validation.is_dns1123_subdomain(value) == []) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [("app", True), ("example.com/App_1.x", True), ("a/b/c", False), ("", False), ("example.com/", False),
     ("_x", False)],
)  # fmt: skip
def test_is_qualified_name(value: str, valid: bool) -> None:
    assert (validation.is_qualified_name(value) == []) is valid


@pytest.mark.parametrize(
    ("value", "valid"), [("", True), ("v1.2_3-a", True), ("-a", False), ("a" * 64, False), ("a b", False)]
)
def test_is_valid_label_value(value: str, valid: bool) -> None:
    assert (validation.is_valid_label_value(value) == []) is valid


@pytest.mark.parametrize(
    ("value", "valid"),
    [("HOME", True), ("my.env-name", True), ("_x", True), ("1x", False), ("a=b", False), (".", False),
     ("..", False), ("..x", False)],
)  # fmt: skip
def test_is_env_var_name(value: str, valid: bool) -> None:
    assert (validation.is_env_var_name(value) == []) is valid


@pytest.mark.parametrize(
    ("value", "errors"),
    [("http", []), ("h-2", []), ("a" * 16, ["must be no more than 15 characters"]), ("80", ["must contain at least one letter (a-z)"]),
     ("-a", ["must not begin or end with a hyphen"])],
)  # fmt: skip
def test_is_valid_port_name(value: str, errors: list[str]) -> None:
    assert validation.is_valid_port_name(value) == errors


# ---- FieldError and InvalidObject ----------------------------------------------------------------------


def test_field_error_bodies() -> None:
    path = field.Path("spec").child("containers").index(0).child("resources").child("limits").key("cpu")
    assert str(path) == "spec.containers[0].resources.limits[cpu]"
    assert field.required("spec.containers").message() == "spec.containers: Required value"
    assert field.required("a", "why").message() == "a: Required value: why"
    assert field.invalid("a", 2, "d").message() == "a: Invalid value: 2: d"
    assert field.invalid("a", True, "d").message() == "a: Invalid value: true: d"
    assert field.invalid("a", None, "d").message() == "a: Invalid value: null: d"
    assert field.invalid("a", 'say "hi"', "d").message() == 'a: Invalid value: "say \\"hi\\"": d'
    assert field.invalid("a", q("1500m"), "d").message() == "a: Invalid value: 1500m: d"
    assert field.duplicate("a", "app").message() == 'a: Duplicate value: "app"'
    assert field.forbidden("a", "no").message() == "a: Forbidden: no"
    assert field.not_found("a", "x").message() == 'a: Not found: "x"'
    assert field.too_long("a", 10).message() == "a: Too long: must have at most 10 bytes"
    assert field.not_supported(
        "spec.restartPolicy", "Sometimes", ["Always", "OnFailure", "Never"]
    ).message() == (
        'spec.restartPolicy: Unsupported value: "Sometimes": supported values: "Always", "OnFailure", "Never"'
    )
    assert (
        field.FieldError(field.ErrorType.INVALID, "a", field.OMITTED, "d").message() == "a: Invalid value: d"
    )


def test_invalid_object_message_shapes() -> None:
    one = field.required("spec.containers")
    two = field.invalid("spec.x", 1, "bad")
    assert str(field.InvalidObject("Pod", "x", [])) == 'Pod "x" is invalid'
    assert (
        str(field.InvalidObject("Pod", "x", [one])) == 'Pod "x" is invalid: spec.containers: Required value'
    )
    assert str(field.InvalidObject("Pod", "x", [one, two, one])) == (
        'Pod "x" is invalid: [spec.containers: Required value, spec.x: Invalid value: 1: bad]'
    )


def test_invalid_object_status() -> None:
    error = field.InvalidObject("Pod", "x", [field.required("spec.containers")])
    status = error.status()
    assert status["code"] == 422 and status["reason"] == "Invalid"
    assert status["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.containers"}
    ]
    decoded = codec.decode(types.Status, copy.deepcopy(status))
    assert decoded.details is not None and decoded.details.causes[0].field == "spec.containers"
