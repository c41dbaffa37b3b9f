"""NodeUnschedulable filter (``plugins/nodeunschedulable``).

A node with ``spec.unschedulable`` (cordoned) takes only pods that tolerate the
``node.kubernetes.io/unschedulable:NoSchedule`` taint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from minikube_py.api import types
from minikube_py.control.scheduler.framework import ClusterEvent, Code, CycleState, Handle, Status
from minikube_py.control.scheduler.nodeinfo import NO_SCHEDULE, NodeInfo
from minikube_py.control.scheduler.plugins.args import no_args
from minikube_py.control.scheduler.plugins.helpers import tolerations_tolerate

ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
TAINT_NODE_UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
_UNSCHEDULABLE_TAINT = types.Taint(key=TAINT_NODE_UNSCHEDULABLE, effect=NO_SCHEDULE)


class NodeUnschedulable:
    NAME: ClassVar[str] = "NodeUnschedulable"

    def __init__(self) -> None:
        self._rejected = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_UNSCHEDULABLE,), self.NAME)

    def filter(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> Status | None:
        if not node.unschedulable:
            return None
        if tolerations_tolerate(pod.spec.tolerations, _UNSCHEDULABLE_TAINT):
            return None
        return self._rejected

    def filter_nodes(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> list[Status | None]:
        return [self.filter(state, pod, node) if node.unschedulable else None for node in nodes]

    def events_to_register(self) -> ClusterEvent:
        return ClusterEvent.NODE_ADD | ClusterEvent.NODE_SCHEDULABLE | ClusterEvent.NODE_TAINT


def new(args: Mapping[str, Any] | None, handle: Handle) -> NodeUnschedulable:
    no_args(NodeUnschedulable.NAME, args)
    return NodeUnschedulable()
