"""What the API serves: each resource's names, scope, type, and its defaulting and validation."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from minikube_py.api import defaults, types, validation
from minikube_py.api import field as api_field


@dataclass(frozen=True)
class Resource:
    plural: str
    kind: str
    namespaced: bool
    cls: type[Any]
    group: str = ""
    version: str = "v1"
    short_names: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    default: Callable[[Any], None] = lambda obj: None
    validate: Callable[[Any], list[api_field.FieldError]] = field(default=lambda obj: [])

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"


def _validate_event(event: types.Event) -> list[api_field.FieldError]:
    errs = validation.validate_object_meta(event.metadata, True)
    if not event.involved_object.name and not event.involved_object.kind:
        errs.append(api_field.required("involvedObject", "the object this event is about"))
    return errs


def _validate_priority_class(pc: types.PriorityClass) -> list[api_field.FieldError]:
    errs = validation.validate_object_meta(pc.metadata, False)
    if pc.value > 1_000_000_000 and not pc.metadata.name.startswith("system-"):
        errs.append(api_field.forbidden("value", "maximum allowed value of a user defined priority is 1000000000"))
    return errs


RESOURCES: dict[str, Resource] = {
    r.plural: r
    for r in (
        Resource(
            "pods",
            "Pod",
            True,
            types.Pod,
            short_names=("po",),
            subresources=("status", "binding", "log", "exec", "scheduling"),
            default=defaults.default_pod,
            validate=validation.validate_pod,
        ),
        Resource(
            "namespaces",
            "Namespace",
            False,
            types.Namespace,
            short_names=("ns",),
            subresources=("status",),
            default=defaults.default_namespace,
            validate=validation.validate_namespace,
        ),
        Resource(
            "nodes",
            "Node",
            False,
            types.Node,
            short_names=("no",),
            subresources=("status",),
            default=defaults.default_node,
            validate=validation.validate_node,
        ),
        Resource(
            "resourcequotas",
            "ResourceQuota",
            True,
            types.ResourceQuota,
            short_names=("quota",),
            subresources=("status",),
            default=defaults.default_resource_quota,
            validate=validation.validate_resource_quota,
        ),
        Resource("events", "Event", True, types.Event, short_names=("ev",), validate=_validate_event),
        Resource(
            "priorityclasses",
            "PriorityClass",
            False,
            types.PriorityClass,
            group="scheduling.k8s.io",
            short_names=("pc",),
            validate=_validate_priority_class,
        ),
    )
}
