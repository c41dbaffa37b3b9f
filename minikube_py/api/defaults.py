"""API defaulting, as the Kubernetes API server applies it on create (``pkg/apis/core/v1/defaults.go``).

Every function mutates the object in place, returns nothing, and is idempotent: defaulting a defaulted object
changes nothing. Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

from minikube_py.api import quantity, types

DEFAULT_NAMESPACE = "default"
DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS = 30
DEFAULT_SCHEDULER_NAME = "default-scheduler"
TERMINATION_MESSAGE_PATH_DEFAULT = "/dev/termination-log"
# SetDefaults_ResourceList: every resource quantity is rounded up to milli precision (0.1m -> 1m).
MILLI_SCALE = -3
# SetDefaults_Namespace labels every named namespace with its own name.
NAMESPACE_NAME_LABEL = "kubernetes.io/metadata.name"


def image_tag(image: str) -> str:
    """The tag of an image reference as ``parsers.ParseImageName`` sees it.

    No tag and no digest means ``latest``; a digest without a tag means no tag; an empty or unparsable
    reference gives ``""``.
    """
    if not image or image != image.strip():
        return ""
    name, _, digest = image.partition("@")
    last_component = name.rsplit("/", 1)[-1]
    if ":" in last_component:
        return last_component.rsplit(":", 1)[1]
    return "" if digest else "latest"


def default_image_pull_policy(image: str) -> str:
    # SetDefaults_Container: Always for the "latest" tag (which includes no tag), IfNotPresent otherwise.
    return "Always" if image_tag(image) == "latest" else "IfNotPresent"


def round_resource_list(resources: dict[str, quantity.Quantity]) -> None:
    for name, value in resources.items():
        resources[name] = value.round_up(MILLI_SCALE)


def default_probe(probe: types.Probe) -> None:
    # SetDefaults_Probe: a zero value counts as unset.
    if probe.timeout_seconds == 0:
        probe.timeout_seconds = 1
    if probe.period_seconds == 0:
        probe.period_seconds = 10
    if probe.success_threshold == 0:
        probe.success_threshold = 1
    if probe.failure_threshold == 0:
        probe.failure_threshold = 3
    if probe.http_get is not None:
        # SetDefaults_HTTPGetAction.
        if probe.http_get.path == "":
            probe.http_get.path = "/"
        if probe.http_get.scheme == "":
            probe.http_get.scheme = "HTTP"


def _default_field_ref(env: types.EnvVar) -> None:
    # SetDefaults_ObjectFieldSelector: fieldRef.apiVersion defaults to "v1".
    if env.value_from is None:
        return
    field_ref: Any = env.value_from.get("fieldRef")
    if isinstance(field_ref, dict) and not field_ref.get("apiVersion"):
        field_ref["apiVersion"] = "v1"


def default_container(container: types.Container, *, host_network: bool = False) -> None:
    resources = container.resources
    # SetDefaults_Pod: a limit without a request copies into the request, per resource.
    for name, limit in resources.limits.items():
        resources.requests.setdefault(name, limit)
    round_resource_list(resources.limits)
    round_resource_list(resources.requests)

    if container.image_pull_policy == "":
        container.image_pull_policy = default_image_pull_policy(container.image)
    if container.termination_message_path == "":
        container.termination_message_path = TERMINATION_MESSAGE_PATH_DEFAULT
    if container.termination_message_policy == "":
        container.termination_message_policy = "File"
    for port in container.ports:
        if port.protocol == "":
            port.protocol = "TCP"
        if host_network and port.host_port == 0:
            # defaultHostNetworkPorts: with host networking every container port is a host port.
            port.host_port = port.container_port
    for env in container.env:
        _default_field_ref(env)
    for probe in (container.liveness_probe, container.readiness_probe, container.startup_probe):
        if probe is not None:
            default_probe(probe)


def default_pod(pod: types.Pod) -> None:
    """Apply Kubernetes' create-time defaults to a Pod (reference §2), in place."""
    meta = pod.metadata
    if meta.namespace == "":
        meta.namespace = DEFAULT_NAMESPACE
    spec = pod.spec
    for container in (*spec.init_containers, *spec.containers):
        default_container(container, host_network=spec.host_network)

    # SetDefaults_PodSpec.
    if spec.restart_policy == "":
        spec.restart_policy = "Always"
    if spec.termination_grace_period_seconds is None:
        spec.termination_grace_period_seconds = DEFAULT_TERMINATION_GRACE_PERIOD_SECONDS
    if spec.dns_policy == "":
        spec.dns_policy = "ClusterFirst"
    if spec.scheduler_name == "":
        spec.scheduler_name = DEFAULT_SCHEDULER_NAME
    if spec.security_context is None:
        spec.security_context = {}
    # SetDefaults_Pod.
    if spec.enable_service_links is None:
        spec.enable_service_links = True
    # spec.hostname stays unset: the runtime uses metadata.name when it is empty.

    for volume in spec.volumes:
        # SetDefaults_Volume: a volume without any source is an emptyDir.
        if volume.empty_dir is None and not volume.other_sources:
            volume.empty_dir = types.EmptyDirVolumeSource()
    round_resource_list(spec.overhead)


def default_namespace(namespace: types.Namespace) -> None:
    if namespace.metadata.name:
        namespace.metadata.labels[NAMESPACE_NAME_LABEL] = namespace.metadata.name
    if namespace.status.phase == "":
        namespace.status.phase = "Active"


def default_node(node: types.Node) -> None:
    round_resource_list(node.status.capacity)
    round_resource_list(node.status.allocatable)
    # SetDefaults_NodeStatus: allocatable defaults to capacity.
    if not node.status.allocatable and node.status.capacity:
        node.status.allocatable = dict(node.status.capacity)


def default_resource_quota(quota: types.ResourceQuota) -> None:
    if quota.metadata.namespace == "":
        quota.metadata.namespace = DEFAULT_NAMESPACE
    round_resource_list(quota.spec.hard)
    round_resource_list(quota.status.hard)
    round_resource_list(quota.status.used)


def default_object(obj: object) -> None:
    """Default any supported object (no-op for kinds without defaults)."""
    if isinstance(obj, types.Pod):
        default_pod(obj)
    elif isinstance(obj, types.Namespace):
        default_namespace(obj)
    elif isinstance(obj, types.Node):
        default_node(obj)
    elif isinstance(obj, types.ResourceQuota):
        default_resource_quota(obj)
