"""TaintToleration (``plugins/tainttoleration``).

Filter: the first NoSchedule/NoExecute taint (in node order) that no toleration tolerates rejects the node,
UnschedulableAndUnresolvable, reason ``node(s) had untolerated taint {key: value}`` (the 1.25-1.33 wording;
newer releases drop the key and value).  PreferNoSchedule taints never reject.

Score: the number of PreferNoSchedule taints not tolerated by the pod's tolerations whose effect is empty or
PreferNoSchedule; NormalizeScore reverses it (fewest untolerated taints -> 100; none anywhere -> all 100).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from minikube_py.api import types
from minikube_py.control.scheduler.framework import ClusterEvent, Code, CycleState, Handle, Status
from minikube_py.control.scheduler.nodeinfo import PREFER_NO_SCHEDULE, NodeInfo
from minikube_py.control.scheduler.plugins.args import no_args
from minikube_py.control.scheduler.plugins.helpers import (
    default_normalize_score,
    find_untolerated_taint,
    tolerations_tolerate,
)

ERR_REASON_FORMAT = "node(s) had untolerated taint {{{key}: {value}}}"
PRE_SCORE_KEY = "PreScoreTaintToleration"


def untolerated_reason(taint: types.Taint) -> str:
    return ERR_REASON_FORMAT.format(key=taint.key, value=taint.value)


class TaintToleration:
    NAME: ClassVar[str] = "TaintToleration"

    def filter(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> Status | None:
        taints = node.no_schedule_taints
        if not taints:
            return None
        taint = find_untolerated_taint(taints, pod.spec.tolerations)
        if taint is None:
            return None
        return Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (untolerated_reason(taint),), self.NAME)

    def filter_nodes(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> list[Status | None]:
        return [self.filter(state, pod, node) if node.no_schedule_taints else None for node in nodes]

    def pre_score(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        prefer = tuple(t for t in pod.spec.tolerations if t.effect in ("", PREFER_NO_SCHEDULE))
        state.write(PRE_SCORE_KEY, prefer)
        return None

    def score(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> int:
        taints = node.prefer_no_schedule_taints
        if not taints:
            return 0
        tolerations: tuple[types.Toleration, ...] = state.read(PRE_SCORE_KEY)
        return sum(1 for taint in taints if not tolerations_tolerate(tolerations, taint))

    def score_nodes(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> list[int]:
        return [self.score(state, pod, node) if node.prefer_no_schedule_taints else 0 for node in nodes]

    def normalize_score(self, state: CycleState, pod: types.Pod, scores: list[int]) -> Status | None:
        default_normalize_score(scores, reverse=True)
        return None

    def events_to_register(self) -> ClusterEvent:
        return ClusterEvent.NODE_ADD | ClusterEvent.NODE_TAINT


def new(args: Mapping[str, Any] | None, handle: Handle) -> TaintToleration:
    no_args(TaintToleration.NAME, args)
    return TaintToleration()
