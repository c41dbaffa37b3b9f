"""Typed Kubernetes v1 objects, as users write them in manifests.

Plain mutable dataclasses (``slots=True``): the defaulter fills them in place. Python names are
snake_case; the codec (``minikube_py.api.codec``) maps them to Kubernetes' camelCase automatically
(``host_ip`` -> ``hostIP``), and the field metadata key ``JSON_NAME`` overrides the rare name the rule
cannot produce.

Conventions that mirror Go's API types:

* a field Kubernetes declares as a pointer (``*int64``, ``*bool``) is ``X | None = None`` here, so "unset" and
  "zero" stay distinct (``enableServiceLinks: false`` survives a round trip);
* scalars and collections with Go's ``omitempty`` default to their zero value and are left out when encoding;
  ``metadata=KEEP`` marks the few that Kubernetes always writes (``exitCode``, ``restartCount``...);
* parts minikube_py does not interpret stay raw JSON (``dict[str, Any]``): security contexts, ``valueFrom``,
  non-emptyDir volume sources, pod affinity;
* timestamps are RFC 3339 strings.

Pure data: no I/O.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from minikube_py.api import quantity

# Field metadata keys understood by the codec.
JSON_NAME = "json"
KEEP_EMPTY = "keep"
INLINE_REST = "rest"


# Metadata for fields Kubernetes always writes, even when zero or empty (no ``omitempty``).
KEEP: dict[str, Any] = {KEEP_EMPTY: True}


# ----------------------------------------------------------------------------------------------------
# Metadata


@dataclasses.dataclass(slots=True)
class OwnerReference:
    api_version: str = dataclasses.field(default="", metadata=KEEP)
    kind: str = dataclasses.field(default="", metadata=KEEP)
    name: str = dataclasses.field(default="", metadata=KEEP)
    uid: str = dataclasses.field(default="", metadata=KEEP)
    controller: bool | None = None
    block_owner_deletion: bool | None = None


@dataclasses.dataclass(slots=True)
class ObjectMeta:
    name: str = ""
    generate_name: str = ""
    namespace: str = ""
    self_link: str = ""
    uid: str = ""
    resource_version: str = ""
    generation: int = 0
    creation_timestamp: str | None = None
    deletion_timestamp: str | None = None
    deletion_grace_period_seconds: int | None = None
    labels: dict[str, str] = dataclasses.field(default_factory=dict)
    annotations: dict[str, str] = dataclasses.field(default_factory=dict)
    owner_references: list[OwnerReference] = dataclasses.field(default_factory=list)
    finalizers: list[str] = dataclasses.field(default_factory=list)
    managed_fields: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class ListMeta:
    resource_version: str = ""
    continue_: str = dataclasses.field(default="", metadata={JSON_NAME: "continue"})
    remaining_item_count: int | None = None
    self_link: str = ""


@dataclasses.dataclass(slots=True)
class ObjectReference:
    kind: str = ""
    namespace: str = ""
    name: str = ""
    uid: str = ""
    api_version: str = ""
    resource_version: str = ""
    field_path: str = ""


# ----------------------------------------------------------------------------------------------------
# Containers


@dataclasses.dataclass(slots=True)
class EnvVar:
    name: str = dataclasses.field(default="", metadata=KEEP)
    value: str = ""
    # configMapKeyRef / secretKeyRef / fieldRef / resourceFieldRef, kept as written.
    value_from: dict[str, Any] | None = None


@dataclasses.dataclass(slots=True)
class ContainerPort:
    name: str = ""
    host_port: int = 0
    container_port: int = dataclasses.field(default=0, metadata=KEEP)
    protocol: str = ""
    host_ip: str = ""


@dataclasses.dataclass(slots=True)
class ResourceRequirements:
    limits: dict[str, quantity.Quantity] = dataclasses.field(default_factory=dict)
    requests: dict[str, quantity.Quantity] = dataclasses.field(default_factory=dict)
    claims: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class VolumeMount:
    name: str = dataclasses.field(default="", metadata=KEEP)
    read_only: bool = False
    mount_path: str = dataclasses.field(default="", metadata=KEEP)
    sub_path: str = ""
    mount_propagation: str | None = None
    sub_path_expr: str = ""
    recursive_read_only: str | None = None


@dataclasses.dataclass(slots=True)
class ExecAction:
    command: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class HTTPHeader:
    name: str = dataclasses.field(default="", metadata=KEEP)
    value: str = dataclasses.field(default="", metadata=KEEP)


@dataclasses.dataclass(slots=True)
class HTTPGetAction:
    path: str = ""
    # IntOrString: a number, or the name of a port declared by the container (IANA_SVC_NAME).
    port: int | str = dataclasses.field(default=0, metadata=KEEP)
    host: str = ""
    scheme: str = ""
    http_headers: list[HTTPHeader] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class TCPSocketAction:
    port: int | str = dataclasses.field(default=0, metadata=KEEP)
    host: str = ""


@dataclasses.dataclass(slots=True)
class GRPCAction:
    port: int = dataclasses.field(default=0, metadata=KEEP)
    service: str | None = None


@dataclasses.dataclass(slots=True)
class Probe:
    exec: ExecAction | None = None
    http_get: HTTPGetAction | None = None
    tcp_socket: TCPSocketAction | None = None
    grpc: GRPCAction | None = None
    initial_delay_seconds: int = 0
    timeout_seconds: int = 0
    period_seconds: int = 0
    success_threshold: int = 0
    failure_threshold: int = 0
    termination_grace_period_seconds: int | None = None


@dataclasses.dataclass(slots=True)
class Container:
    name: str = dataclasses.field(default="", metadata=KEEP)
    image: str = ""
    command: list[str] = dataclasses.field(default_factory=list)
    args: list[str] = dataclasses.field(default_factory=list)
    working_dir: str = ""
    ports: list[ContainerPort] = dataclasses.field(default_factory=list)
    env_from: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    env: list[EnvVar] = dataclasses.field(default_factory=list)
    resources: ResourceRequirements = dataclasses.field(default_factory=ResourceRequirements)
    resize_policy: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    # Only init containers may set it, and only to "Always" (a sidecar).
    restart_policy: str | None = None
    volume_mounts: list[VolumeMount] = dataclasses.field(default_factory=list)
    volume_devices: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    liveness_probe: Probe | None = None
    readiness_probe: Probe | None = None
    startup_probe: Probe | None = None
    lifecycle: dict[str, Any] | None = None
    termination_message_path: str = ""
    termination_message_policy: str = ""
    image_pull_policy: str = ""
    security_context: dict[str, Any] | None = None
    stdin: bool = False
    stdin_once: bool = False
    tty: bool = False


# ----------------------------------------------------------------------------------------------------
# Pod spec


@dataclasses.dataclass(slots=True)
class EmptyDirVolumeSource:
    medium: str = ""
    size_limit: quantity.Quantity | None = None


@dataclasses.dataclass(slots=True)
class Volume:
    name: str = dataclasses.field(default="", metadata=KEEP)
    empty_dir: EmptyDirVolumeSource | None = None
    # Every other volume source (hostPath, configMap, secret, ...) exactly as written.
    other_sources: dict[str, Any] = dataclasses.field(default_factory=dict, metadata={INLINE_REST: True})


@dataclasses.dataclass(slots=True)
class NodeSelectorRequirement:
    key: str = dataclasses.field(default="", metadata=KEEP)
    operator: str = dataclasses.field(default="", metadata=KEEP)
    values: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class NodeSelectorTerm:
    match_expressions: list[NodeSelectorRequirement] = dataclasses.field(default_factory=list)
    match_fields: list[NodeSelectorRequirement] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class NodeSelector:
    node_selector_terms: list[NodeSelectorTerm] = dataclasses.field(default_factory=list, metadata=KEEP)


@dataclasses.dataclass(slots=True)
class PreferredSchedulingTerm:
    weight: int = dataclasses.field(default=0, metadata=KEEP)
    preference: NodeSelectorTerm = dataclasses.field(default_factory=NodeSelectorTerm)


@dataclasses.dataclass(slots=True)
class NodeAffinity:
    required_during_scheduling_ignored_during_execution: NodeSelector | None = None
    preferred_during_scheduling_ignored_during_execution: list[PreferredSchedulingTerm] = dataclasses.field(
        default_factory=list
    )


@dataclasses.dataclass(slots=True)
class Affinity:
    node_affinity: NodeAffinity | None = None
    pod_affinity: dict[str, Any] | None = None
    pod_anti_affinity: dict[str, Any] | None = None


@dataclasses.dataclass(slots=True)
class Toleration:
    key: str = ""
    operator: str = ""
    value: str = ""
    effect: str = ""
    toleration_seconds: int | None = None


@dataclasses.dataclass(slots=True)
class PodSpec:
    volumes: list[Volume] = dataclasses.field(default_factory=list)
    init_containers: list[Container] = dataclasses.field(default_factory=list)
    containers: list[Container] = dataclasses.field(default_factory=list, metadata=KEEP)
    restart_policy: str = ""
    termination_grace_period_seconds: int | None = None
    active_deadline_seconds: int | None = None
    dns_policy: str = ""
    node_selector: dict[str, str] = dataclasses.field(default_factory=dict)
    service_account_name: str = ""
    service_account: str = ""
    automount_service_account_token: bool | None = None
    node_name: str = ""
    host_network: bool = False
    host_pid: bool = False
    host_ipc: bool = False
    share_process_namespace: bool | None = None
    security_context: dict[str, Any] | None = None
    image_pull_secrets: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    hostname: str = ""
    subdomain: str = ""
    affinity: Affinity | None = None
    scheduler_name: str = ""
    tolerations: list[Toleration] = dataclasses.field(default_factory=list)
    host_aliases: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    priority_class_name: str = ""
    priority: int | None = None
    dns_config: dict[str, Any] | None = None
    readiness_gates: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    runtime_class_name: str | None = None
    enable_service_links: bool | None = None
    preemption_policy: str | None = None
    overhead: dict[str, quantity.Quantity] = dataclasses.field(default_factory=dict)
    topology_spread_constraints: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    os: dict[str, Any] | None = None


# ----------------------------------------------------------------------------------------------------
# Pod status


@dataclasses.dataclass(slots=True)
class PodCondition:
    type: str = dataclasses.field(default="", metadata=KEEP)
    status: str = dataclasses.field(default="", metadata=KEEP)
    last_probe_time: str | None = None
    last_transition_time: str | None = None
    reason: str = ""
    message: str = ""


@dataclasses.dataclass(slots=True)
class ContainerStateWaiting:
    reason: str = ""
    message: str = ""


@dataclasses.dataclass(slots=True)
class ContainerStateRunning:
    started_at: str | None = None


@dataclasses.dataclass(slots=True)
class ContainerStateTerminated:
    exit_code: int = dataclasses.field(default=0, metadata=KEEP)
    signal: int = 0
    reason: str = ""
    message: str = ""
    started_at: str | None = None
    finished_at: str | None = None
    container_id: str = ""


@dataclasses.dataclass(slots=True)
class ContainerState:
    waiting: ContainerStateWaiting | None = None
    running: ContainerStateRunning | None = None
    terminated: ContainerStateTerminated | None = None


@dataclasses.dataclass(slots=True)
class ContainerStatus:
    name: str = dataclasses.field(default="", metadata=KEEP)
    state: ContainerState = dataclasses.field(default_factory=ContainerState)
    last_state: ContainerState = dataclasses.field(default_factory=ContainerState)
    ready: bool = dataclasses.field(default=False, metadata=KEEP)
    restart_count: int = dataclasses.field(default=0, metadata=KEEP)
    image: str = dataclasses.field(default="", metadata=KEEP)
    image_id: str = dataclasses.field(default="", metadata=KEEP)
    container_id: str = ""
    started: bool | None = None


@dataclasses.dataclass(slots=True)
class PodIP:
    ip: str = ""


@dataclasses.dataclass(slots=True)
class HostIP:
    ip: str = ""


@dataclasses.dataclass(slots=True)
class PodStatus:
    phase: str = ""
    conditions: list[PodCondition] = dataclasses.field(default_factory=list)
    message: str = ""
    reason: str = ""
    nominated_node_name: str = ""
    host_ip: str = ""
    host_ips: list[HostIP] = dataclasses.field(default_factory=list)
    pod_ip: str = ""
    pod_ips: list[PodIP] = dataclasses.field(default_factory=list)
    start_time: str | None = None
    init_container_statuses: list[ContainerStatus] = dataclasses.field(default_factory=list)
    container_statuses: list[ContainerStatus] = dataclasses.field(default_factory=list)
    qos_class: str = ""


@dataclasses.dataclass(slots=True)
class Pod:
    api_version: str = "v1"
    kind: str = "Pod"
    metadata: ObjectMeta = dataclasses.field(default_factory=ObjectMeta)
    spec: PodSpec = dataclasses.field(default_factory=PodSpec)
    status: PodStatus = dataclasses.field(default_factory=PodStatus)


# ----------------------------------------------------------------------------------------------------
# Namespace


@dataclasses.dataclass(slots=True)
class NamespaceSpec:
    finalizers: list[str] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class NamespaceStatus:
    phase: str = ""
    conditions: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class Namespace:
    api_version: str = "v1"
    kind: str = "Namespace"
    metadata: ObjectMeta = dataclasses.field(default_factory=ObjectMeta)
    spec: NamespaceSpec = dataclasses.field(default_factory=NamespaceSpec)
    status: NamespaceStatus = dataclasses.field(default_factory=NamespaceStatus)


# ----------------------------------------------------------------------------------------------------
# Node


@dataclasses.dataclass(slots=True)
class Taint:
    key: str = dataclasses.field(default="", metadata=KEEP)
    value: str = ""
    effect: str = dataclasses.field(default="", metadata=KEEP)
    time_added: str | None = None


@dataclasses.dataclass(slots=True)
class NodeSpec:
    pod_cidr: str = ""
    pod_cidrs: list[str] = dataclasses.field(default_factory=list)
    provider_id: str = ""
    unschedulable: bool = False
    taints: list[Taint] = dataclasses.field(default_factory=list)


@dataclasses.dataclass(slots=True)
class NodeCondition:
    type: str = dataclasses.field(default="", metadata=KEEP)
    status: str = dataclasses.field(default="", metadata=KEEP)
    last_heartbeat_time: str | None = None
    last_transition_time: str | None = None
    reason: str = ""
    message: str = ""


@dataclasses.dataclass(slots=True)
class NodeAddress:
    type: str = dataclasses.field(default="", metadata=KEEP)
    address: str = dataclasses.field(default="", metadata=KEEP)


@dataclasses.dataclass(slots=True)
class NodeStatus:
    capacity: dict[str, quantity.Quantity] = dataclasses.field(default_factory=dict)
    allocatable: dict[str, quantity.Quantity] = dataclasses.field(default_factory=dict)
    phase: str = ""
    conditions: list[NodeCondition] = dataclasses.field(default_factory=list)
    addresses: list[NodeAddress] = dataclasses.field(default_factory=list)
    daemon_endpoints: dict[str, Any] | None = None
    node_info: dict[str, Any] | None = None


@dataclasses.dataclass(slots=True)
class Node:
    api_version: str = "v1"
    kind: str = "Node"
    metadata: ObjectMeta = dataclasses.field(default_factory=ObjectMeta)
    spec: NodeSpec = dataclasses.field(default_factory=NodeSpec)
    status: NodeStatus = dataclasses.field(default_factory=NodeStatus)


# ----------------------------------------------------------------------------------------------------
# ResourceQuota


@dataclasses.dataclass(slots=True)
class ResourceQuotaSpec:
    hard: dict[str, quantity.Quantity] = dataclasses.field(default_factory=dict)
    scopes: list[str] = dataclasses.field(default_factory=list)
    scope_selector: dict[str, Any] | None = None


@dataclasses.dataclass(slots=True)
class ResourceQuotaStatus:
    hard: dict[str, quantity.Quantity] = dataclasses.field(default_factory=dict)
    used: dict[str, quantity.Quantity] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(slots=True)
class ResourceQuota:
    api_version: str = "v1"
    kind: str = "ResourceQuota"
    metadata: ObjectMeta = dataclasses.field(default_factory=ObjectMeta)
    spec: ResourceQuotaSpec = dataclasses.field(default_factory=ResourceQuotaSpec)
    status: ResourceQuotaStatus = dataclasses.field(default_factory=ResourceQuotaStatus)


# ----------------------------------------------------------------------------------------------------
# Event, Binding, Status, PriorityClass, List


@dataclasses.dataclass(slots=True)
class EventSource:
    component: str = ""
    host: str = ""


@dataclasses.dataclass(slots=True)
class Event:
    api_version: str = "v1"
    kind: str = "Event"
    metadata: ObjectMeta = dataclasses.field(default_factory=ObjectMeta)
    involved_object: ObjectReference = dataclasses.field(default_factory=ObjectReference, metadata=KEEP)
    reason: str = ""
    message: str = ""
    source: EventSource = dataclasses.field(default_factory=EventSource)
    first_timestamp: str | None = None
    last_timestamp: str | None = None
    count: int = 0
    type: str = ""
    event_time: str | None = None
    action: str = ""
    reporting_component: str = dataclasses.field(default="", metadata=KEEP)
    reporting_instance: str = dataclasses.field(default="", metadata=KEEP)


@dataclasses.dataclass(slots=True)
class Binding:
    api_version: str = "v1"
    kind: str = "Binding"
    metadata: ObjectMeta = dataclasses.field(default_factory=ObjectMeta)
    target: ObjectReference = dataclasses.field(default_factory=ObjectReference, metadata=KEEP)


@dataclasses.dataclass(slots=True)
class StatusCause:
    reason: str = ""
    message: str = ""
    field: str = ""


@dataclasses.dataclass(slots=True)
class StatusDetails:
    name: str = ""
    group: str = ""
    kind: str = ""
    uid: str = ""
    causes: list[StatusCause] = dataclasses.field(default_factory=list)
    retry_after_seconds: int = 0


@dataclasses.dataclass(slots=True)
class Status:
    api_version: str = "v1"
    kind: str = "Status"
    metadata: ListMeta = dataclasses.field(default_factory=ListMeta)
    status: str = ""
    message: str = ""
    reason: str = ""
    details: StatusDetails | None = None
    code: int = 0


@dataclasses.dataclass(slots=True)
class PriorityClass:
    api_version: str = "scheduling.k8s.io/v1"
    kind: str = "PriorityClass"
    metadata: ObjectMeta = dataclasses.field(default_factory=ObjectMeta)
    value: int = dataclasses.field(default=0, metadata=KEEP)
    global_default: bool = False
    description: str = ""
    preemption_policy: str | None = None


@dataclasses.dataclass(slots=True)
class ObjectList:
    """Kubernetes' generic ``kind: List``; items stay raw so each can be decoded by its own kind."""

    api_version: str = "v1"
    kind: str = "List"
    metadata: ListMeta = dataclasses.field(default_factory=ListMeta)
    items: list[dict[str, Any]] = dataclasses.field(default_factory=list, metadata=KEEP)


# kind -> class, for decoding objects whose kind is only known at run time.
KINDS: dict[str, type[Any]] = {
    "Pod": Pod,
    "Namespace": Namespace,
    "Node": Node,
    "ResourceQuota": ResourceQuota,
    "Event": Event,
    "Binding": Binding,
    "Status": Status,
    "PriorityClass": PriorityClass,
    "List": ObjectList,
}

KubeObject = Pod | Namespace | Node | ResourceQuota | Event | Binding | Status | PriorityClass | ObjectList
