"""NodeAffinity (``plugins/nodeaffinity``).

Filter: ``spec.nodeSelector`` (every label equal) AND ``requiredDuringSchedulingIgnoredDuringExecution``
(terms ORed; within a term every matchExpressions/matchFields entry ANDed; operators In, NotIn, Exists,
DoesNotExist, Gt, Lt; matchFields only ``metadata.name`` In/NotIn).  A miss is UnschedulableAndUnresolvable,
``node(s) didn't match Pod's node affinity/selector``.  The optional ``addedAffinity`` arg applies to every
pod and is checked first (``node(s) didn't match scheduler-enforced node affinity``).

Score: the sum of the weights of the matching preferred terms (pod's and added), normalized so the best
node gets 100.  PreFilter / PreScore return Skip when the pod (and the args) have nothing to check.

Unlike kube-scheduler, PreFilter does not narrow the node list for ``metadata.name`` terms
(``PreFilterResult``): every node is filtered, so each one reports the affinity reason.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from minikube_py.api import codec, types
from minikube_py.control.scheduler.framework import ClusterEvent, Code, CycleState, Handle, InvalidArgs, Status
from minikube_py.control.scheduler.nodeinfo import NodeInfo
from minikube_py.control.scheduler.plugins.args import check_fields
from minikube_py.control.scheduler.plugins.helpers import (
    CompiledPreferred,
    CompiledTerm,
    compile_preferred,
    compile_terms,
    default_normalize_score,
    preferred_score,
    terms_match,
)

ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
ERR_REASON_ENFORCED = "node(s) didn't match scheduler-enforced node affinity"
PRE_FILTER_KEY = "PreFilterNodeAffinity"
PRE_SCORE_KEY = "PreScoreNodeAffinity"


@dataclass(frozen=True, slots=True)
class _Required:
    selector: tuple[tuple[str, str], ...]
    # None: the pod has no required node affinity (only the nodeSelector applies).
    terms: tuple[CompiledTerm, ...] | None


def _pod_node_affinity(pod: types.Pod) -> types.NodeAffinity | None:
    affinity = pod.spec.affinity
    return affinity.node_affinity if affinity is not None else None


class NodeAffinity:
    NAME: ClassVar[str] = "NodeAffinity"

    def __init__(
        self,
        added_required: tuple[CompiledTerm, ...] | None = None,
        added_preferred: tuple[CompiledPreferred, ...] = (),
    ) -> None:
        self._added_required = added_required
        self._added_preferred = added_preferred
        self._skip = Status(Code.SKIP, (), self.NAME)
        self._rejected = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_POD,), self.NAME)
        self._enforced = Status(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, (ERR_REASON_ENFORCED,), self.NAME)

    def pre_filter(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        node_affinity = _pod_node_affinity(pod)
        required = node_affinity.required_during_scheduling_ignored_during_execution if node_affinity else None
        if required is None and self._added_required is None and not pod.spec.node_selector:
            return self._skip
        terms = compile_terms(required.node_selector_terms) if required is not None else None
        state.write(PRE_FILTER_KEY, _Required(tuple(pod.spec.node_selector.items()), terms))
        return None

    def filter(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> Status | None:
        labels = node.labels
        if self._added_required is not None and not terms_match(self._added_required, labels, node.name):
            return self._enforced
        required: _Required = state.read(PRE_FILTER_KEY)
        for key, value in required.selector:
            if labels.get(key) != value:
                return self._rejected
        if required.terms is not None and not terms_match(required.terms, labels, node.name):
            return self._rejected
        return None

    def pre_score(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        node_affinity = _pod_node_affinity(pod)
        terms = node_affinity.preferred_during_scheduling_ignored_during_execution if node_affinity else []
        if not terms and not self._added_preferred:
            return self._skip
        state.write(PRE_SCORE_KEY, compile_preferred(terms) + self._added_preferred)
        return None

    def score(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> int:
        terms: tuple[CompiledPreferred, ...] = state.read(PRE_SCORE_KEY)
        return preferred_score(terms, node.labels, node.name)

    def normalize_score(self, state: CycleState, pod: types.Pod, scores: list[int]) -> Status | None:
        default_normalize_score(scores, reverse=False)
        return None

    def events_to_register(self) -> ClusterEvent:
        return ClusterEvent.NODE_ADD | ClusterEvent.NODE_LABEL


def new(args: Mapping[str, Any] | None, handle: Handle) -> NodeAffinity:
    """Args (``NodeAffinityArgs``): ``addedAffinity``, a NodeAffinity object applied to every pod."""
    args = args or {}
    errors = check_fields(args, ["addedAffinity"])
    added = args.get("addedAffinity")
    if errors:
        raise InvalidArgs(errors)
    if added is None:
        return NodeAffinity()
    try:
        affinity = codec.decode(types.NodeAffinity, added, "addedAffinity")
    except codec.DecodeError as err:
        raise InvalidArgs([f"{e.field}: {e.body()}" for e in err.errors]) from err
    required = affinity.required_during_scheduling_ignored_during_execution
    problems: list[str] = []
    added_required = None
    if required is not None:
        added_required = compile_terms(required.node_selector_terms)
        path = "addedAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms"
        if not added_required:
            problems.append(f"{path}: Required value: must have at least one node selector term")
        problems.extend(
            f"{path}[{i}]: Invalid value: invalid term" for i, term in enumerate(added_required) if not term.valid
        )
    preferred = compile_preferred(affinity.preferred_during_scheduling_ignored_during_execution)
    if problems:
        raise InvalidArgs(problems)
    return NodeAffinity(added_required, preferred)
