"""The scheduler: one scheduling step (``schedule_one``), the binding cycle, and the loop that repeats them.

``schedule_one(pod, nodes)`` is kube-scheduler's ``schedulePod`` (``schedule_one.go``) as a pure function of
the pod and the node infos: PreFilter, Filter (stopping at ``numFeasibleNodesToFind``), PostFilter when
nothing fits, PreScore, Score + NormalizeScore + weights, then ``selectHost`` (the highest total; ties broken
by reservoir sampling with the injected ``random.Random``).  It changes nothing but the round-robin start
index, and returns a :class:`ScheduleResult` with a decision trace.

``schedule_next()`` is ``scheduleOne``: pop the queue, decide, *assume* the pod on the chosen node in the
cache (so the next decision counts it), Reserve, Permit, then the binding cycle (PreBind, Bind, PostBind).
A failure requeues the pod (unschedulable pool, or backoff after an error) and undoes the assumption.
``run()`` only repeats ``schedule_next()``.

Everything that comes from outside is injected: profiles (plugins, including the binder's ``bind``
callable), the clock, the random generator.  The API server feeds cluster changes through the ``on_*``
methods.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import random
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from minikube_py.api import types
from minikube_py.control.scheduler import profile as profile_mod
from minikube_py.control.scheduler.cache import Cache
from minikube_py.control.scheduler.framework import (
    MAX_NODE_SCORE,
    MIN_NODE_SCORE,
    BatchFilterPlugin,
    ClusterEvent,
    Code,
    CycleState,
    FilterPlugin,
    Handle,
    QueuedPodInfo,
    Status,
    pod_key,
)
from minikube_py.control.scheduler.nodeinfo import NodeInfo, PodResources, node_allocatable
from minikube_py.control.scheduler.plugins.noderesources import POD_RESOURCES_KEY
from minikube_py.control.scheduler.profile import Profile
from minikube_py.control.scheduler.queue import SchedulingQueue
from minikube_py.control.scheduler.trace import DecisionTrace, ScoreRecord
from minikube_py.util.clock import Clock

# schedule_one.go: below this many nodes every node is filtered; never look for fewer feasible nodes.
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5

NO_NODES_AVAILABLE = "no nodes available to schedule pods"
NO_NODE_AVAILABLE_FORMAT = "0/{} nodes are available"
ONLY_ONE_FEASIBLE = "only one feasible node"


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """``numFeasibleNodesToFind``: how many feasible nodes to look for before scoring.

    Fewer than 100 nodes, or ``percentage >= 100``: all of them.  ``percentage == 0`` (the default) is
    adaptive: ``max(5, 50 - numNodes/125)`` percent.  Never fewer than 100.
    """
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND or percentage >= 100:
        return num_all_nodes
    if percentage == 0:
        percentage = max(MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND, 50 - num_all_nodes // 125)
    return max(MIN_FEASIBLE_NODES_TO_FIND, num_all_nodes * percentage // 100)


def fit_error_message(
    num_all_nodes: int,
    rejections: Mapping[str, Status],
    *,
    pre_filter_message: str = "",
    post_filter_message: str = "",
) -> str:
    """``FitError.Error()``: ``0/N nodes are available: <count> <reason>, ... .``

    Each reason of each node's rejection is counted; the ``"<count> <reason>"`` strings are sorted as strings
    (so the count leads the order).  A PreFilter rejection replaces the histogram; a PostFilter message
    (preemption) is appended after a space.
    """
    message = NO_NODE_AVAILABLE_FORMAT.format(num_all_nodes) + ":"
    if pre_filter_message:
        message += f" {pre_filter_message}."
    else:
        counts = Counter(reason for status in rejections.values() for reason in status.reasons)
        histogram = sorted(f"{count} {reason}" for reason, count in counts.items())
        if histogram:
            message += " " + ", ".join(histogram) + "."
    if post_filter_message:
        message += f" {post_filter_message}"
    return message


@dataclass(slots=True)
class ScheduleResult:
    """What ``schedule_one`` decided.

    ``node_name`` is the chosen node, or ``None``; then ``status`` says why: ``Unschedulable`` with the
    ``0/N nodes are available`` message (``status.message()``), or ``Error`` for a plugin failure.
    ``rejected_by`` names the plugins that rejected the pod somewhere (they decide which cluster events
    requeue it).
    """

    node_name: str | None
    status: Status
    trace: DecisionTrace
    evaluated_nodes: int = 0
    feasible_nodes: int = 0
    nominated_node_name: str | None = None
    rejected_by: frozenset[str] = frozenset()
    state: CycleState = field(default_factory=CycleState, repr=False)

    @property
    def message(self) -> str:
        return self.status.message()


@dataclass(slots=True)
class CycleOutcome:
    """What ``schedule_next`` did with one pod: bound it, or requeued it (``queue`` says where)."""

    pod: types.Pod
    result: ScheduleResult
    bound: bool
    # For a failure: the status to report (PodScheduled=False; reason Unschedulable or SchedulerError).
    status: Status
    queue: str | None = None

    @property
    def node_name(self) -> str | None:
        return self.result.node_name if self.bound else None

    @property
    def reason(self) -> str:
        """The PodScheduled condition reason kube-scheduler would set."""
        if self.bound:
            return "Scheduled"
        return "Unschedulable" if self.status.is_rejected() else "SchedulerError"


OutcomeCallback = Callable[[CycleOutcome], "Awaitable[None] | None"]

_TERMINAL_PHASES = ("Succeeded", "Failed")


def node_change_events(old: types.Node, new: types.Node) -> ClusterEvent:
    """``nodeSchedulingPropertiesChange``: the events a node update amounts to (none for a heartbeat)."""
    event = ClusterEvent(0)
    if old.spec.unschedulable != new.spec.unschedulable and not new.spec.unschedulable:
        event |= ClusterEvent.NODE_SCHEDULABLE
    if node_allocatable(old) != node_allocatable(new):
        event |= ClusterEvent.NODE_ALLOCATABLE
    if old.metadata.labels != new.metadata.labels:
        event |= ClusterEvent.NODE_LABEL
    if old.spec.taints != new.spec.taints:
        event |= ClusterEvent.NODE_TAINT
    old_conditions = [(c.type, c.status) for c in old.status.conditions]
    if old_conditions != [(c.type, c.status) for c in new.status.conditions]:
        event |= ClusterEvent.NODE_CONDITION
    return event


class Scheduler:
    def __init__(
        self,
        profiles: Sequence[Profile],
        *,
        rng: random.Random,
        clock: Clock,
        cache: Cache | None = None,
        percentage_of_nodes_to_score: int = 0,
        pod_initial_backoff: float = 1.0,
        pod_max_backoff: float = 10.0,
    ) -> None:
        if not profiles:
            raise ValueError("at least one profile is required")
        self.profiles: dict[str, Profile] = {p.scheduler_name: p for p in profiles}
        self.rng = rng
        self.clock = clock
        self.cache = cache if cache is not None else Cache()
        self.percentage_of_nodes_to_score = percentage_of_nodes_to_score
        self._next_start_node_index = 0
        first = profiles[0]
        self.queue = SchedulingQueue(
            first.queue_sort.less,
            clock,
            events_for=self._events_for,
            initial_backoff=pod_initial_backoff,
            max_backoff=pod_max_backoff,
        )
        self._wake: asyncio.Event | None = None
        # When every node gets filtered anyway (small clusters), filter plugin by plugin instead of node by
        # node; same verdicts, fewer Python calls.  Exposed so tests can compare both.
        self.column_wise_filters = True

    @classmethod
    def from_config(
        cls,
        config: str | Mapping[str, object] | None = None,
        *,
        bind: Callable[[types.Pod, str], Awaitable[None] | None] | None,
        rng: random.Random,
        clock: Clock,
    ) -> Scheduler:
        """Build from a KubeSchedulerConfiguration (text or dict; ``None`` = the defaults)."""
        cfg = profile_mod.load_config(config)
        profiles = profile_mod.build_profiles(cfg, Handle(bind=bind))
        return cls(
            profiles,
            rng=rng,
            clock=clock,
            percentage_of_nodes_to_score=cfg.percentage_of_nodes_to_score,
            pod_initial_backoff=float(cfg.pod_initial_backoff_seconds),
            pod_max_backoff=float(cfg.pod_max_backoff_seconds),
        )

    def _events_for(self, plugin_name: str) -> ClusterEvent:
        events = ClusterEvent(0)
        for prof in self.profiles.values():
            if plugin_name in prof.plugins:
                events |= prof.events_for(plugin_name)
        return events if events else ~ClusterEvent(0)

    def profile_for(self, pod: types.Pod) -> Profile | None:
        return self.profiles.get(pod.spec.scheduler_name or profile_mod.DEFAULT_SCHEDULER_NAME)

    def responsible_for(self, pod: types.Pod) -> bool:
        return self.profile_for(pod) is not None

    # ---- cluster events (called by the API server's watch) -----------------------------------

    def on_pod_added(self, pod: types.Pod) -> None:
        if pod.spec.node_name:
            self.queue.delete(pod)  # e.g. a re-list after someone else bound it
            if pod.status.phase in _TERMINAL_PHASES:
                self._remove_assigned(pod)
            else:
                self.cache.add_pod(pod)
        elif self.responsible_for(pod) and pod.status.phase not in _TERMINAL_PHASES:
            self.queue.add(pod)
            self._poke()

    def on_pod_updated(self, old: types.Pod, new: types.Pod) -> None:
        if new.spec.node_name:
            if not old.spec.node_name:
                self.queue.delete(new)
                self.queue.done(pod_key(new))
            if new.status.phase in _TERMINAL_PHASES:
                self._remove_assigned(new)
            elif self.cache.pod_node(new) is None or self.cache.is_assumed(new):
                self.cache.add_pod(new)
            else:
                self.cache.update_pod(new)
        elif self.responsible_for(new):
            self.queue.update(new)
            self._poke()

    def on_pod_deleted(self, pod: types.Pod) -> None:
        if pod.spec.node_name or self.cache.pod_node(pod) is not None:
            self._remove_assigned(pod)
        self.queue.delete(pod)

    def on_node_added(self, node: types.Node) -> None:
        self.cache.add_node(node)
        self.move_all(ClusterEvent.NODE_ADD)

    def on_node_updated(self, old: types.Node, new: types.Node) -> None:
        self.cache.update_node(new)
        event = node_change_events(old, new)
        if event:
            self.move_all(event)

    def on_node_deleted(self, node: types.Node) -> None:
        self.cache.remove_node(node.metadata.name)

    def move_all(self, event: ClusterEvent) -> int:
        moved = self.queue.move_all(event)
        if moved:
            self._poke()
        return moved

    def _remove_assigned(self, pod: types.Pod) -> None:
        if self.cache.remove_pod(pod):
            self.move_all(ClusterEvent.ASSIGNED_POD_DELETE)

    # ---- assume / forget ------------------------------------------------------------------------

    def assume(self, pod: types.Pod, node_name: str, *, resources: PodResources | None = None) -> None:
        """Account ``pod`` on ``node_name`` now, before the binding is confirmed."""
        self.cache.assume_pod(pod, node_name, resources)

    def forget(self, pod: types.Pod) -> None:
        """Undo ``assume`` (binding failed).  Frees the requests, which may help pods waiting for room."""
        self.cache.forget_pod(pod)

    # ---- one scheduling decision ---------------------------------------------------------------

    def schedule_one(self, pod: types.Pod, nodes: Sequence[NodeInfo] | None = None) -> ScheduleResult:
        """Choose a node for ``pod`` among ``nodes`` (default: the cache's nodes).  No side effects besides
        the round-robin start index used when only part of a large cluster is filtered."""
        prof = self.profile_for(pod)
        name = f"{pod.metadata.namespace}/{pod.metadata.name}"
        if prof is None:
            trace = DecisionTrace(name, pod.spec.scheduler_name)
            return self._failed(
                trace, Status.new(Code.ERROR, f"profile not found for scheduler name {pod.spec.scheduler_name!r}")
            )
        if nodes is None:
            nodes = self.cache.node_infos()
        trace = DecisionTrace(name, prof.scheduler_name, len(nodes))
        state = CycleState()
        try:
            return self._schedule(prof, pod, nodes, state, trace)
        except _PluginFailure as failure:  # a plugin bug: fail this pod, keep the scheduler alive
            return self._failed(trace, failure.status(), state=state)

    def _failed(
        self,
        trace: DecisionTrace,
        status: Status,
        *,
        state: CycleState | None = None,
        evaluated: int = 0,
        rejected_by: frozenset[str] = frozenset(),
        nominated: str | None = None,
    ) -> ScheduleResult:
        trace.message = status.message()
        return ScheduleResult(
            None,
            status,
            trace,
            evaluated_nodes=evaluated,
            feasible_nodes=0,
            nominated_node_name=nominated,
            rejected_by=rejected_by,
            state=state if state is not None else CycleState(),
        )

    def _schedule(
        self, prof: Profile, pod: types.Pod, nodes: Sequence[NodeInfo], state: CycleState, trace: DecisionTrace
    ) -> ScheduleResult:
        num_nodes = len(nodes)
        if num_nodes == 0:
            return self._failed(trace, Status.new(Code.UNSCHEDULABLE_AND_UNRESOLVABLE, NO_NODES_AVAILABLE), state=state)

        # PreFilter.
        for plugin in prof.pre_filter:
            status = _call(plugin.NAME, plugin.pre_filter, state, pod, nodes)
            trace.pre_filter.append((plugin.NAME, status))
            if status is None or status.code is Code.SUCCESS:
                continue
            if status.code is Code.SKIP:
                state.skip_filter_plugins.add(plugin.NAME)
                continue
            status = status.with_plugin(plugin.NAME)
            if status.code is Code.ERROR:
                return self._failed(trace, _plugin_error("PreFilter", status), state=state)
            # Rejected before looking at any node: every node gets this status.
            trace.rejected_at_pre_filter = plugin.NAME
            everywhere = {ni.name: status for ni in nodes}
            trace.evaluated = list(everywhere)
            trace.rejections = everywhere
            return self._unschedulable(prof, pod, state, trace, everywhere, pre_filter_message=status.message())

        # Filter, round-robin from where the previous cycle stopped, until enough feasible nodes are found.
        active = [p for p in prof.filter if p.NAME not in state.skip_filter_plugins]
        run_filters = [p.filter for p in active]
        trace.filter_plugins = [p.NAME for p in active]
        percentage = prof.percentage_of_nodes_to_score
        if percentage is None:
            percentage = self.percentage_of_nodes_to_score
        to_find = num_feasible_nodes_to_find(percentage, num_nodes)
        start = self._next_start_node_index % num_nodes
        order = nodes if start == 0 else [*nodes[start:], *nodes[:start]]
        feasible: list[NodeInfo] = []
        rejections: dict[str, Status] = {}
        processed = 0
        if to_find >= num_nodes and self.column_wise_filters:
            # Every node will be filtered anyway: run plugin by plugin over the remaining nodes (same
            # verdicts as node by node), letting plugins with ``filter_nodes`` do a whole column in one call.
            failure = self._filter_columns(active, state, pod, order, feasible, rejections)
            if failure is not None:
                return self._failed(trace, failure, state=state)
            processed = num_nodes
        else:
            success = Code.SUCCESS
            # The hot loop: every node through every Filter plugin until one rejects it.
            run_filter = None
            try:
                for processed, node in enumerate(order, 1):  # noqa: B007 -- processed is used after the loop
                    for run_filter in run_filters:
                        status = run_filter(state, pod, node)
                        if status is not None and status.code is not success:
                            break
                    else:
                        feasible.append(node)
                        if len(feasible) >= to_find:
                            break
                        continue
                    plugin_name = active[run_filters.index(run_filter)].NAME
                    status = status.with_plugin(plugin_name)
                    if status.code is Code.ERROR:
                        return self._failed(trace, _plugin_error("Filter", status), state=state)
                    rejections[node.name] = status
            except Exception as err:
                owner = getattr(run_filter, "__self__", None)
                raise _PluginFailure(getattr(owner, "NAME", "?"), err) from err
        self._next_start_node_index = (start + processed) % num_nodes
        trace.evaluated = [node.name for node in order[:processed]]
        trace.rejections = rejections
        trace.feasible = [node.name for node in feasible]

        if not feasible:
            return self._unschedulable(prof, pod, state, trace, rejections, evaluated=processed)

        if len(feasible) == 1:
            trace.scoring_skipped = ONLY_ONE_FEASIBLE
            return self._selected(trace, feasible[0].name, 1, state, processed, 1)

        # PreScore.
        for pre_score in prof.pre_score:
            status = _call(pre_score.NAME, pre_score.pre_score, state, pod, feasible)
            trace.pre_score.append((pre_score.NAME, status))
            if status is None or status.code is Code.SUCCESS:
                continue
            if status.code is Code.SKIP:
                state.skip_score_plugins.add(pre_score.NAME)
                continue
            return self._failed(trace, _plugin_error("PreScore", status.with_plugin(pre_score.NAME)), state=state)

        # Score, NormalizeScore, weights.
        totals = [0] * len(feasible)
        for entry in prof.score:
            plugin_name = entry.name
            if plugin_name in state.skip_score_plugins:
                continue
            try:
                if entry.batch is not None:
                    raw = entry.batch.score_nodes(state, pod, feasible)
                else:
                    run_score = entry.plugin.score
                    raw = [run_score(state, pod, node) for node in feasible]
                normalized = raw.copy()
                if entry.normalizer is not None:
                    status = entry.normalizer.normalize_score(state, pod, normalized)
                    if status is not None and status.code is not Code.SUCCESS:
                        return self._failed(
                            trace, _plugin_error("NormalizeScore", status.with_plugin(plugin_name)), state=state
                        )
            except _PluginFailure:
                raise
            except Exception as err:
                raise _PluginFailure(plugin_name, err) from err
            for score in normalized:
                if not MIN_NODE_SCORE <= score <= MAX_NODE_SCORE:
                    return self._failed(
                        trace,
                        Status.new(
                            Code.ERROR,
                            f"plugin {plugin_name!r} returns an invalid score {score}, it should in the range of "
                            f"[{MIN_NODE_SCORE}, {MAX_NODE_SCORE}] after normalizing",
                            plugin=plugin_name,
                        ),
                        state=state,
                    )
            weight = entry.weight
            totals = [total + score * weight for total, score in zip(totals, normalized, strict=True)]
            trace.scores.append(ScoreRecord(plugin_name, weight, raw, normalized))
        trace.totals = totals

        index, tied = select_host(totals, self.rng)
        return self._selected(trace, feasible[index].name, tied, state, processed, len(feasible))

    def _filter_columns(
        self,
        active: Sequence[FilterPlugin],
        state: CycleState,
        pod: types.Pod,
        order: Sequence[NodeInfo],
        feasible: list[NodeInfo],
        rejections: dict[str, Status],
    ) -> Status | None:
        remaining = list(order)
        for plugin in active:
            if not remaining:
                break
            name = plugin.NAME
            try:
                if _has_batch_filter(plugin):
                    statuses = cast(BatchFilterPlugin, plugin).filter_nodes(state, pod, remaining)
                else:
                    run_filter = plugin.filter
                    statuses = [run_filter(state, pod, node) for node in remaining]
            except Exception as err:
                raise _PluginFailure(name, err) from err
            if not any(statuses):
                continue  # every node passed (None)
            kept: list[NodeInfo] = []
            for node, status in zip(remaining, statuses, strict=True):
                if status is None or status.code is Code.SUCCESS:
                    kept.append(node)
                    continue
                status = status.with_plugin(name)
                if status.code is Code.ERROR:
                    return _plugin_error("Filter", status)
                rejections[node.name] = status
            remaining = kept
        feasible.extend(remaining)
        return None

    def _selected(
        self, trace: DecisionTrace, node_name: str, tied: int, state: CycleState, evaluated: int, feasible: int
    ) -> ScheduleResult:
        trace.selected = node_name
        trace.tied_nodes = tied
        return ScheduleResult(
            node_name, Status(Code.SUCCESS), trace, evaluated_nodes=evaluated, feasible_nodes=feasible, state=state
        )

    def _unschedulable(
        self,
        prof: Profile,
        pod: types.Pod,
        state: CycleState,
        trace: DecisionTrace,
        rejections: dict[str, Status],
        *,
        pre_filter_message: str = "",
        evaluated: int = 0,
    ) -> ScheduleResult:
        nominated: str | None = None
        post_filter_message = ""
        for plugin in prof.post_filter:
            node_name, status = _call(plugin.NAME, plugin.post_filter, state, pod, rejections)
            trace.post_filter.append((plugin.NAME, node_name, status))
            if status.code is Code.SUCCESS:
                nominated = node_name
                break
            if status.code is Code.ERROR:
                return self._failed(trace, _plugin_error("PostFilter", status.with_plugin(plugin.NAME)), state=state)
            if status.message():
                post_filter_message = status.message()
            if status.code is not Code.UNSCHEDULABLE:
                break  # UnschedulableAndUnresolvable: the remaining PostFilter plugins are not tried
        message = fit_error_message(
            trace.num_all_nodes,
            rejections,
            pre_filter_message=pre_filter_message,
            post_filter_message=post_filter_message,
        )
        rejected_by = frozenset(s.plugin for s in rejections.values() if s.is_rejected() and s.plugin)
        return self._failed(
            trace,
            Status(Code.UNSCHEDULABLE, (message,)),
            state=state,
            evaluated=evaluated or len(rejections),
            rejected_by=rejected_by,
            nominated=nominated,
        )

    # ---- the scheduling + binding cycle --------------------------------------------------------

    async def schedule_next(self) -> CycleOutcome | None:
        """Pop one pod and take it through a whole cycle.  ``None`` when no pod is ready."""
        info = self.queue.pop()
        if info is None:
            return None
        return await self.schedule_queued(info)

    async def schedule_queued(self, info: QueuedPodInfo) -> CycleOutcome:
        pod = info.pod
        prof = self.profile_for(pod)
        result = self.schedule_one(pod)
        node_name = result.node_name
        if prof is None or node_name is None:
            rejectors = set(result.rejected_by) if result.status.is_rejected() else set()
            where = self.queue.add_unschedulable(info, rejectors)
            return CycleOutcome(pod, result, False, result.status, where)

        state = result.state
        resources: PodResources | None = state.get(POD_RESOURCES_KEY)
        self.assume(pod, node_name, resources=resources)

        failure: Status | None = None
        try:
            failure = self._reserve_and_permit(prof, state, pod, node_name)
        except _PluginFailure as err:
            failure = err.status()
        binding_failed = False
        if failure is None:
            failure = await self._binding_cycle(prof, state, pod, node_name)
            binding_failed = failure is not None
        if failure is None:
            self.queue.done(info.key)
            for post_bind in prof.post_bind:
                with contextlib.suppress(Exception):  # informational only
                    post_bind.post_bind(state, pod, node_name)
            return CycleOutcome(pod, result, True, Status(Code.SUCCESS))

        # Undo: Unreserve in reverse order, forget the assumption, requeue.
        for plugin in reversed(prof.reserve):
            with contextlib.suppress(Exception):  # Unreserve must not fail; a buggy one cannot stop the undo
                plugin.unreserve(state, pod, node_name)
        if self.cache.is_assumed(pod):
            self.forget(pod)
            if binding_failed:
                # handleBindingCycleError: the forgotten requests may let another pod fit.
                self.move_all(ClusterEvent.ASSIGNED_POD_DELETE)
        rejected: set[str] = set()
        if failure.is_rejected():
            # A Reserve/Permit rejection reads like a fit error on the one node that was tried.
            rejected = {failure.plugin} if failure.plugin else set()
            message = fit_error_message(1, {node_name: failure})
            failure = Status(failure.code, (message,), failure.plugin)
        where = self.queue.add_unschedulable(info, rejected)
        return CycleOutcome(pod, result, False, failure, where)

    def _reserve_and_permit(self, prof: Profile, state: CycleState, pod: types.Pod, node_name: str) -> Status | None:
        for reserve in prof.reserve:
            status: Status | None = _call(reserve.NAME, reserve.reserve, state, pod, node_name)
            if status is not None and status.code is not Code.SUCCESS:
                return status.with_plugin(reserve.NAME)
        for permit in prof.permit:
            status = _call(permit.NAME, permit.permit, state, pod, node_name)
            if status is None or status.code is Code.SUCCESS:
                continue
            if status.code is Code.WAIT:
                status = Status.new(Code.UNSCHEDULABLE, "waiting in Permit is not supported")
            return status.with_plugin(permit.NAME)
        return None

    async def _binding_cycle(self, prof: Profile, state: CycleState, pod: types.Pod, node_name: str) -> Status | None:
        for pre_bind in prof.pre_bind:
            status = await _acall(pre_bind.NAME, pre_bind.pre_bind, state, pod, node_name)
            if status is not None and status.code is not Code.SUCCESS:
                return _plugin_error("PreBind", status.with_plugin(pre_bind.NAME))
        for binder in prof.bind:
            status = await _acall(binder.NAME, binder.bind, state, pod, node_name)
            if status is not None and status.code is Code.SKIP:
                continue
            if status is not None and status.code is not Code.SUCCESS:
                return _plugin_error("Bind", status.with_plugin(binder.NAME))
            return None
        return Status.new(Code.ERROR, "no bind plugin handled the pod")

    async def run(self, stop: asyncio.Event, *, on_outcome: OutcomeCallback | None = None) -> None:
        """Repeat ``schedule_next`` until ``stop`` is set; sleep while nothing is ready.

        Wakes on a queue change (a new pod, a cluster event) or, at the latest, after 1 s (the backoff
        flush period of kube-scheduler).
        """
        self._wake = asyncio.Event()
        while not stop.is_set():
            outcome = await self.schedule_next()
            if outcome is not None:
                if on_outcome is not None:
                    result = on_outcome(outcome)
                    if inspect.isawaitable(result):
                        await result
                continue
            self._wake.clear()
            wait = 1.0
            wakeup = self.queue.next_wakeup()
            if wakeup is not None:
                wait = min(wait, max(0.0, wakeup - self.clock.now()))
            stopper = asyncio.ensure_future(stop.wait())
            waker = asyncio.ensure_future(self._wake.wait())
            try:
                await asyncio.wait({stopper, waker}, timeout=wait, return_when=asyncio.FIRST_COMPLETED)
            finally:
                stopper.cancel()
                waker.cancel()

    def _poke(self) -> None:
        if self._wake is not None:
            self._wake.set()


_BATCH_FILTER_TYPES: dict[type, bool] = {}


def _has_batch_filter(plugin: object) -> bool:
    """``isinstance(plugin, BatchFilterPlugin)``, memoized per class: runtime protocol checks are slow."""
    cls = type(plugin)
    known = _BATCH_FILTER_TYPES.get(cls)
    if known is None:
        known = _BATCH_FILTER_TYPES[cls] = isinstance(plugin, BatchFilterPlugin)
    return known


def select_host(totals: Sequence[int], rng: random.Random) -> tuple[int, int]:
    """``selectHost``: the index of a highest total, and how many nodes share it.

    Walks the list keeping the best so far; the k-th node tying the best replaces the choice with
    probability 1/k (reservoir sampling, Go's ``rand.Intn(k) == 0``), so every tied node is equally likely.
    The draw is ``rng.random() * k < 1``: one cheap call per tie (a float with 53 random bits, so the
    probability is 1/k to within 2**-53).
    """
    best = totals[0]
    selected = 0
    count = 1
    draw = rng.random
    for i in range(1, len(totals)):
        score = totals[i]
        if score > best:
            best, selected, count = score, i, 1
        elif score == best:
            count += 1
            if draw() * count < 1.0:
                selected = i
    return selected, count


def _plugin_error(point: str, status: Status) -> Status:
    text = status.message() or status.code.value
    return Status.new(Code.ERROR, f"running {point} plugin {status.plugin!r}: {text}", plugin=status.plugin)


class _PluginFailure(Exception):
    """A plugin raised: carried up to the cycle, which fails the pod with an Error status."""

    def __init__(self, plugin: str, cause: Exception) -> None:
        super().__init__(plugin, cause)
        self.plugin = plugin
        self.cause = cause

    def status(self) -> Status:
        text = f"running plugin {self.plugin!r}: {type(self.cause).__name__}: {self.cause}"
        return Status.new(Code.ERROR, text, plugin=self.plugin)


def _call(plugin_name: str, fn: Callable[..., Any], *args: object) -> Any:
    try:
        return fn(*args)
    except Exception as err:
        raise _PluginFailure(plugin_name, err) from err


async def _acall(plugin_name: str, fn: Callable[..., Awaitable[Status | None]], *args: object) -> Status | None:
    try:
        return await fn(*args)
    except Exception as err:
        return Status.new(Code.ERROR, f"{type(err).__name__}: {err}", plugin=plugin_name)
