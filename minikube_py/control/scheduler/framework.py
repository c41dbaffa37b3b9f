"""The scheduler framework's vocabulary: status codes, cycle state, queued pods and one protocol per extension point.

Modelled on kube-scheduler's ``pkg/scheduler/framework/interface.go`` (now ``k8s.io/kube-scheduler/framework``):

* every plugin has a ``NAME`` and is built by a validating factory (``plugins.REGISTRY``);
* each extension point is its own small protocol; a plugin implements the ones it needs, and the profile puts
  it at every point it implements (``multiPoint``);
* expected outcomes ("node too small", "taint not tolerated") come back as :class:`Status` values, never as
  exceptions; ``None`` means success, like Go's nil ``*Status``.  An exception escaping a plugin is a bug: the
  scheduler turns it into ``Status(Code.ERROR)`` for that pod and carries on;
* node scores are integers in ``[0, MAX_NODE_SCORE]`` after normalization.

Extension points in order: QueueSort -> PreFilter -> Filter -> PostFilter (only when no node fits) -> PreScore
-> Score (+ NormalizeScore) -> Reserve (Unreserve on a later failure) -> Permit -> PreBind -> Bind -> PostBind.

Pure: no I/O.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

from minikube_py.api import types

if TYPE_CHECKING:
    from minikube_py.control.scheduler.nodeinfo import NodeInfo

# framework.MaxNodeScore: the highest score a Score plugin may give a node after NormalizeScore.
MAX_NODE_SCORE = 100
MIN_NODE_SCORE = 0


class Code(enum.Enum):
    """framework.Code.  The value is the name Kubernetes prints (``Code.String()``)."""

    SUCCESS = "Success"
    # An internal error: the pod goes to the backoff queue; the message is not a "0/N nodes" message.
    ERROR = "Error"
    # The pod does not fit this node, but preemption might help.
    UNSCHEDULABLE = "Unschedulable"
    # The pod does not fit this node and preemption cannot help (a taint, a selector...).
    UNSCHEDULABLE_AND_UNRESOLVABLE = "UnschedulableAndUnresolvable"
    # Permit only: hold the pod until approved, rejected or timed out.
    WAIT = "Wait"
    # PreFilter/PreScore: this plugin has nothing to do for this pod; its Filter/Score is skipped.
    # Bind: this plugin does not handle the pod, ask the next binder.
    SKIP = "Skip"


_REJECTED = frozenset({Code.UNSCHEDULABLE, Code.UNSCHEDULABLE_AND_UNRESOLVABLE})


@dataclass(frozen=True, slots=True)
class Status:
    """The result of running a plugin: a code, human-readable reasons, and the plugin that produced it.

    ``reasons`` are the strings that end up counted in the ``0/N nodes are available`` message, so a plugin
    must use stable wording (no node names, no numbers that differ per node).
    """

    code: Code
    reasons: tuple[str, ...] = ()
    plugin: str = ""

    @classmethod
    def new(cls, code: Code, *reasons: str, plugin: str = "") -> Status:
        return cls(code, tuple(reasons), plugin)

    def is_success(self) -> bool:
        return self.code is Code.SUCCESS

    def is_skip(self) -> bool:
        return self.code is Code.SKIP

    def is_rejected(self) -> bool:
        """Unschedulable or UnschedulableAndUnresolvable (``Status.IsRejected``)."""
        return self.code in _REJECTED

    def message(self) -> str:
        """``Status.Message()``: the reasons joined by ``", "``."""
        return ", ".join(self.reasons)

    def with_plugin(self, plugin: str) -> Status:
        return self if self.plugin == plugin else Status(self.code, self.reasons, plugin)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"code": self.code.value}
        if self.reasons:
            out["reasons"] = list(self.reasons)
        if self.plugin:
            out["plugin"] = self.plugin
        return out


SUCCESS = Status(Code.SUCCESS)


def is_success(status: Status | None) -> bool:
    """``nil`` counts as success, as in Go."""
    return status is None or status.code is Code.SUCCESS


class CycleState:
    """Per-pod scratch space shared by the plugins during one scheduling cycle (``framework.CycleState``).

    Plugins store what PreFilter/PreScore computed once under a key of their own (by convention
    ``"PreFilter" + NAME``) and read it back for every node.  ``read`` raises ``KeyError`` for a missing key;
    Filter/Score run only after their PreFilter/PreScore, so a missing key is a bug.

    ``skip_filter_plugins`` / ``skip_score_plugins`` hold the plugins whose PreFilter / PreScore returned Skip.
    """

    __slots__ = ("_data", "read", "skip_filter_plugins", "skip_score_plugins")

    def __init__(self) -> None:
        self._data: dict[str, Any] = {}
        # A bound builtin: Filter and Score call this once per node, so it must be cheap.
        self.read: Callable[[str], Any] = self._data.__getitem__
        self.skip_filter_plugins: set[str] = set()
        self.skip_score_plugins: set[str] = set()

    def write(self, key: str, value: Any) -> None:
        self._data[key] = value

    def get(self, key: str) -> Any:
        """Like ``read`` but ``None`` when absent (for plugins whose PreFilter may have been disabled)."""
        return self._data.get(key)

    def delete(self, key: str) -> None:
        self._data.pop(key, None)

    def __contains__(self, key: object) -> bool:
        return key in self._data


@dataclass(slots=True)
class QueuedPodInfo:
    """A pending pod as the scheduling queue holds it (``framework.QueuedPodInfo``)."""

    pod: types.Pod
    key: str
    # When the pod was (re-)added to the queue; PrioritySort breaks priority ties with it, and the
    # backoff expires at ``timestamp + backoff(attempts)``.
    timestamp: float
    # Scheduling attempts so far (incremented when the pod is popped).
    attempts: int = 0
    initial_attempt_timestamp: float | None = None
    # Plugins that rejected the pod in its last attempt; only cluster events they registered for move it.
    unschedulable_plugins: set[str] = field(default_factory=set)

    @property
    def priority(self) -> int:
        return pod_priority(self.pod)


def pod_priority(pod: types.Pod) -> int:
    """``corev1helpers.PodPriority``: ``spec.priority``, 0 when unset."""
    return pod.spec.priority if pod.spec.priority is not None else 0


def pod_key(pod: types.Pod) -> str:
    """The identity the scheduler tracks a pod by: its UID, or ``namespace/name`` before it has one."""
    meta = pod.metadata
    return meta.uid or f"{meta.namespace}/{meta.name}"


class ClusterEvent(enum.Flag):
    """Cluster changes that may make a rejected pod schedulable (``framework.ClusterEvent`` action types).

    Plugins declare which of them can undo their rejection (:class:`EnqueueExtensions`); the queue moves an
    unschedulable pod back only on an event one of its rejecting plugins registered for.
    """

    NODE_ADD = enum.auto()
    NODE_LABEL = enum.auto()
    NODE_TAINT = enum.auto()
    NODE_ALLOCATABLE = enum.auto()
    # spec.unschedulable went from true to false.
    NODE_SCHEDULABLE = enum.auto()
    NODE_CONDITION = enum.auto()
    # A pod bound to a node (or assumed on it) went away, freeing its requests.
    ASSIGNED_POD_DELETE = enum.auto()
    # Not a real event: moves every pod (the 5-minute leftover flush, a forced retry).
    WILDCARD = enum.auto()


ALL_NODE_EVENTS = (
    ClusterEvent.NODE_ADD
    | ClusterEvent.NODE_LABEL
    | ClusterEvent.NODE_TAINT
    | ClusterEvent.NODE_ALLOCATABLE
    | ClusterEvent.NODE_SCHEDULABLE
    | ClusterEvent.NODE_CONDITION
)


# The callable DefaultBinder is given: write the binding (``pods/binding``) for ``pod`` to ``node_name``.
# It may be a plain function or a coroutine function; raising means the bind failed.
BindFunc = Callable[[types.Pod, str], "Awaitable[None] | None"]


@dataclass(frozen=True, slots=True)
class Handle:
    """What the scheduler gives plugin factories (``framework.Handle``, reduced to what our plugins use)."""

    bind: BindFunc | None = None


# ----------------------------------------------------------------------------------------------------
# Extension point protocols.  A plugin class sets NAME and implements any subset of them.


class Plugin(Protocol):
    NAME: ClassVar[str]


@runtime_checkable
class QueueSortPlugin(Plugin, Protocol):
    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        """True if ``a`` must be scheduled before ``b``."""


@runtime_checkable
class PreFilterPlugin(Plugin, Protocol):
    def pre_filter(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        """Once per cycle, before Filter.  Skip = this plugin's Filter does not run for this pod;
        Unschedulable* = the pod fits no node at all (the message names this status only)."""


@runtime_checkable
class FilterPlugin(Plugin, Protocol):
    def filter(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> Status | None:
        """Can ``pod`` run on ``node``?  ``None`` = yes.  Must not modify ``node``."""


@runtime_checkable
class BatchFilterPlugin(Plugin, Protocol):
    """Optional, not in kube-scheduler: a Filter plugin may also filter many nodes in one call.

    The result must equal ``[filter(state, pod, n) for n in nodes]``.  The scheduler uses it when every node
    is filtered anyway (clusters under 100 nodes), to save a Python call per node and plugin."""

    def filter_nodes(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> list[Status | None]: ...


@runtime_checkable
class PostFilterPlugin(Plugin, Protocol):
    def post_filter(
        self, state: CycleState, pod: types.Pod, filtered: Mapping[str, Status]
    ) -> tuple[str | None, Status]:
        """Runs only when no node passed Filter (``filtered``: node name -> its rejection).

        Returns a node to nominate (or ``None``) and a status whose message is appended to the failure
        message (``... preemption: ...``)."""


@runtime_checkable
class PreScorePlugin(Plugin, Protocol):
    def pre_score(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> Status | None:
        """Once per cycle over the feasible nodes.  Skip = this plugin's Score does not run for this pod."""


@runtime_checkable
class ScorePlugin(Plugin, Protocol):
    def score(self, state: CycleState, pod: types.Pod, node: NodeInfo) -> int:
        """Raw score of a feasible node.

        Scoring has no expected failure, so this returns a bare int; an exception is an internal error.
        Without NormalizeScore the raw score must already be within ``[0, MAX_NODE_SCORE]``."""


@runtime_checkable
class BatchScorePlugin(Plugin, Protocol):
    """Optional, not in kube-scheduler: a Score plugin may also score all feasible nodes in one call.

    The result must equal ``[score(state, pod, n) for n in nodes]``; the scheduler prefers this method
    because it saves a Python call per node and plugin."""

    def score_nodes(self, state: CycleState, pod: types.Pod, nodes: Sequence[NodeInfo]) -> list[int]: ...


@runtime_checkable
class NormalizeScorePlugin(Plugin, Protocol):
    """``ScoreExtensions``: a Score plugin that also implements this has its scores normalized."""

    def normalize_score(self, state: CycleState, pod: types.Pod, scores: list[int]) -> Status | None:
        """Rewrite ``scores`` (one per feasible node, in node order) in place into ``[0, MAX_NODE_SCORE]``."""


@runtime_checkable
class ReservePlugin(Plugin, Protocol):
    def reserve(self, state: CycleState, pod: types.Pod, node_name: str) -> Status | None:
        """The pod was assumed on ``node_name``; claim whatever the plugin tracks."""

    def unreserve(self, state: CycleState, pod: types.Pod, node_name: str) -> None:
        """Undo ``reserve`` after a later failure.  Must be idempotent and must not fail."""


@runtime_checkable
class PermitPlugin(Plugin, Protocol):
    def permit(self, state: CycleState, pod: types.Pod, node_name: str) -> Status | None:
        """Last check before binding.  Unschedulable* rejects the pod (it is requeued).

        ``Code.WAIT`` is not supported by this scheduler and is treated as a rejection."""


@runtime_checkable
class PreBindPlugin(Plugin, Protocol):
    async def pre_bind(self, state: CycleState, pod: types.Pod, node_name: str) -> Status | None:
        """Work that must finish before the binding is written (e.g. volumes)."""


@runtime_checkable
class BindPlugin(Plugin, Protocol):
    async def bind(self, state: CycleState, pod: types.Pod, node_name: str) -> Status | None:
        """Write the binding.  Return Skip to let the next Bind plugin handle the pod."""


@runtime_checkable
class PostBindPlugin(Plugin, Protocol):
    def post_bind(self, state: CycleState, pod: types.Pod, node_name: str) -> None:
        """Informational: the pod was bound."""


@runtime_checkable
class EnqueueExtensions(Plugin, Protocol):
    def events_to_register(self) -> ClusterEvent:
        """The cluster events that may make a pod this plugin rejected schedulable."""


# Every extension point, in the order a cycle runs them, as named in KubeSchedulerConfiguration.
EXTENSION_POINTS: Mapping[str, type[Any]] = {
    "queueSort": QueueSortPlugin,
    "preFilter": PreFilterPlugin,
    "filter": FilterPlugin,
    "postFilter": PostFilterPlugin,
    "preScore": PreScorePlugin,
    "score": ScorePlugin,
    "reserve": ReservePlugin,
    "permit": PermitPlugin,
    "preBind": PreBindPlugin,
    "bind": BindPlugin,
    "postBind": PostBindPlugin,
}


def implements(plugin: object, extension_point: str) -> bool:
    """Whether ``plugin`` has the method(s) of ``extension_point`` (Go's interface assertion)."""
    return isinstance(plugin, EXTENSION_POINTS[extension_point])


def extension_points_of(plugin: object) -> Collection[str]:
    return [name for name in EXTENSION_POINTS if implements(plugin, name)]


class InvalidArgs(ValueError):
    """A plugin factory refused its args.  Each entry of ``errors`` reads ``<field>: <problem>``, with the
    field relative to the args object; the profile loader prefixes the path to the args."""

    def __init__(self, errors: Sequence[str]) -> None:
        super().__init__("; ".join(errors))
        self.errors = list(errors)
