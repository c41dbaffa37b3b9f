"""NodeName filter (``plugins/nodename``): a pod naming ``spec.nodeName`` fits only that node.

PreFilter returns Skip for pods without ``spec.nodeName`` so the filter costs nothing for them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from minikube_py.api import types
from minikube_py.control.scheduler.framework import ClusterEvent, Code, CycleState, Handle, Status
from minikube_py.control.scheduler.nodeinfo import NodeInfo
from minikube_py.control.scheduler.plugins.args import no_args

ERR_REASON = "node(s) didn't match the requested node name"


class NodeName:
    NAME: ClassVar[str] = "NodeName"

    def __init__(self) -> None:
        self._skip = Status(Code.SKIP, (), self.NAME)
        self._rejected = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON,), self.NAME)

    def pre_filter(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        return None if pod.spec.node_name else self._skip

    def filter(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> Status | None:
        wanted = pod.spec.node_name
        if not wanted or wanted == node.name:
            return None
        return self._rejected

    def events_to_register(self) -> ClusterEvent:
        return ClusterEvent.NODE_ADD


def new(args: Mapping[str, Any] | None, handle: Handle) -> NodeName:
    no_args(NodeName.NAME, args)
    return NodeName()
