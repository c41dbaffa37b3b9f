"""The node-pressure eviction manager: one ``synchronize()`` pass, and a loop that only schedules it.

Modelled on ``pkg/kubelet/eviction/eviction_manager.go``. The manager is handed its clock, stats provider,
active-pods function and kill function (architecture §8 rules 5-8); it builds none of them. The pass is
split into a pure evaluation (:meth:`EvictionManager.evaluate`, shared with the dry-run :meth:`plan`) and
the commit + kill in :meth:`synchronize`.

Each pass first evicts pods over a local-storage limit (emptyDir ``sizeLimit``, pod or container
``ephemeral-storage`` limits), as the kubelet does, then evaluates the thresholds.

Left out on purpose: node-level reclaim (image/container GC) before evicting — there are no images or dead
containers to delete here — and the containerfs.* signals. Kernel notifications don't live here: the agent's
watcher calls :meth:`wake`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

from minikube_py.api import types
from minikube_py.node.eviction import helpers
from minikube_py.node.eviction import types as et
from minikube_py.util.clock import Clock

__all__ = ["EvictionManager", "EvictionResult", "KillPodFunc", "Outcome", "StatsProvider", "ThresholdStatus"]

log = logging.getLogger(__name__)

StatsProvider = Callable[[], et.NodeStats | Awaitable[et.NodeStats]]
"""Returns a fresh snapshot; may be sync or async. Raising skips the pass (logged), as the kubelet does."""
ActivePodsFunc = Callable[[], Sequence[types.Pod]]
KillPodFunc = Callable[[types.Pod, int | None, str, str], Awaitable[bool] | bool]
"""``kill_pod(pod, grace_seconds, reason, message)``; ``grace_seconds=None`` means the pod's own. Should
return once the pod's containers are stopped; the result (False or an exception = failed) is reported."""
PodCleanedUpFunc = Callable[[types.Pod], bool]

# eviction_manager.go: after an eviction, wait up to 30 s (polling every second) for the pod's cleanup.
POD_CLEANUP_TIMEOUT = 30.0
POD_CLEANUP_POLL = 1.0


class Outcome:
    """What a pass that had a starved resource did (string constants, JSON-friendly)."""

    EVICTED = "evicted"
    NO_ACTIVE_PODS = "no-active-pods"
    ONLY_CRITICAL_PODS = "no-evictable-pod"
    LOCAL_STORAGE = "local-storage-limit"


@dataclasses.dataclass(frozen=True, slots=True)
class _State:
    """Everything the kubelet carries from one pass to the next."""

    thresholds_first_observed_at: Mapping[et.Threshold, float] = dataclasses.field(default_factory=dict)
    node_conditions_last_observed_at: Mapping[et.NodeCondition, float] = dataclasses.field(default_factory=dict)
    thresholds_met: tuple[et.Threshold, ...] = ()
    last_observations: Mapping[et.Signal, helpers.Observation] = dataclasses.field(default_factory=dict)
    node_conditions: tuple[et.NodeCondition, ...] = ()


@dataclasses.dataclass(frozen=True, slots=True)
class ThresholdStatus:
    """A threshold met in this pass (ignoring grace), with its observation and grace timer."""

    threshold: et.Threshold
    observation: helpers.Observation
    first_observed_at: float
    now: float
    grace_met: bool
    reclaim_pending: bool
    """Only kept because available is still below threshold + minReclaim."""

    def to_dict(self) -> dict[str, Any]:
        t, obs = self.threshold, self.observation
        quantity = helpers.threshold_quantity(t, obs)
        return {
            "signal": t.signal.value,
            "threshold": str(t.value),
            "thresholdQuantity": quantity,
            "thresholdQuantityText": t.value.resolve_quantity(obs.capacity).canonical(),
            "available": obs.available,
            "availableText": obs.available_quantity().canonical(),
            "capacity": obs.capacity,
            "hard": t.is_hard,
            "gracePeriodSeconds": t.grace_period,
            "firstObservedAt": self.first_observed_at,
            "metForSeconds": self.now - self.first_observed_at,
            "graceRemainingSeconds": helpers.grace_remaining(t, self.first_observed_at, self.now),
            "graceMet": self.grace_met,
            "minReclaim": None if t.min_reclaim is None else str(t.min_reclaim),
            "reclaimTarget": helpers.threshold_quantity(t, obs, enforce_min_reclaim=True),
            "reclaimPending": self.reclaim_pending,
        }


@dataclasses.dataclass(frozen=True, slots=True)
class EvictionResult:
    """The explanation of one pass that acted on a starved resource."""

    time: float
    outcome: str
    threshold: ThresholdStatus | None
    """The threshold acted on; ``None`` for a local-storage limit eviction."""
    resource: str
    candidates: tuple[helpers.Candidate, ...]
    evicted: types.Pod | None = None
    grace_period_seconds: int | None = None
    reason: str = ""
    message: str = ""
    annotations: Mapping[str, str] = dataclasses.field(default_factory=dict)
    kill_succeeded: bool | None = None
    skipped_critical: tuple[str, ...] = ()
    node_conditions: tuple[et.NodeCondition, ...] = ()
    thresholds: tuple[ThresholdStatus, ...] = ()
    dry_run: bool = False
    local_storage: helpers.LocalStorageViolation | None = None

    @property
    def signal(self) -> et.Signal | None:
        return None if self.threshold is None else self.threshold.threshold.signal

    def to_dict(self) -> dict[str, Any]:
        pod = self.evicted
        return {
            "time": self.time,
            "dryRun": self.dry_run,
            "outcome": self.outcome,
            "signal": None if self.signal is None else self.signal.value,
            "resource": self.resource,
            "threshold": None if self.threshold is None else self.threshold.to_dict(),
            "localStorage": None if self.local_storage is None else self.local_storage.to_dict(),
            "evicted": None if pod is None else f"{pod.metadata.namespace}/{pod.metadata.name}",
            "gracePeriodSeconds": self.grace_period_seconds,
            "reason": self.reason,
            "message": self.message,
            "annotations": dict(self.annotations),
            "killSucceeded": self.kill_succeeded,
            "skippedCritical": list(self.skipped_critical),
            "nodeConditions": [c.value for c in self.node_conditions],
            "thresholdsMet": [s.to_dict() for s in self.thresholds],
            "candidates": [c.to_dict() for c in self.candidates],
        }


@dataclasses.dataclass(frozen=True, slots=True)
class _Evaluation:
    state: _State
    thresholds: tuple[ThresholdStatus, ...]
    result: EvictionResult | None
    victim: types.Pod | None


class EvictionManager:
    """Watches node stats against the configured thresholds and evicts at most one pod per pass."""

    def __init__(
        self,
        config: et.EvictionConfig,
        *,
        clock: Clock,
        stats: StatsProvider,
        active_pods: ActivePodsFunc,
        kill_pod: KillPodFunc,
        pod_cleaned_up: PodCleanedUpFunc | None = None,
    ) -> None:
        self.config = config
        self._clock = clock
        self._stats = stats
        self._active_pods = active_pods
        self._kill_pod = kill_pod
        self._pod_cleaned_up = pod_cleaned_up
        self._state = _State()
        self._wake = asyncio.Event()
        self.last_result: EvictionResult | None = None
        self.last_thresholds: tuple[ThresholdStatus, ...] = ()
        self.evicting: EvictionResult | None = None
        """The decision being carried out while ``kill_pod`` runs (so the killer can record the explanation)."""
        self.on_conditions_changed: Callable[[], None] | None = None
        """Called after a pass that changed :meth:`node_conditions` (the agent reports the node at once)."""

    # ---- what the agent reads -----------------------------------------------------------------

    def node_conditions(self) -> list[et.NodeCondition]:
        """The pressure conditions to report True on the node (in MemoryPressure, DiskPressure, PID order)."""
        return list(self._state.node_conditions)

    def is_under_memory_pressure(self) -> bool:
        return et.NodeCondition.MEMORY_PRESSURE in self._state.node_conditions

    def is_under_disk_pressure(self) -> bool:
        return et.NodeCondition.DISK_PRESSURE in self._state.node_conditions

    def is_under_pid_pressure(self) -> bool:
        return et.NodeCondition.PID_PRESSURE in self._state.node_conditions

    def admit(self, pod: types.Pod) -> tuple[bool, str, str]:
        """Admission under pressure: ``(admit, reason, message)``; see :func:`helpers.admit`."""
        result = helpers.admit(self._state.node_conditions, pod)
        return result.admit, result.reason, result.message

    # ---- one pass -----------------------------------------------------------------------------

    async def _snapshot(self) -> et.NodeStats | None:
        try:
            got = self._stats()
            return await got if inspect.isawaitable(got) else got
        except Exception:
            log.exception("Eviction manager: failed to get summary stats")
            return None

    def evaluate(self, stats: et.NodeStats, pods: Sequence[types.Pod], now: float, *, dry_run: bool) -> _Evaluation:
        """The pure part of ``synchronize``: new state, threshold statuses, and the pod to evict (if any)."""
        state = self._state
        config = self.config
        observations = helpers.make_observations(stats)
        # 1. thresholds met now, plus previously acted-on ones still short of threshold + minReclaim.
        met_now = helpers.thresholds_met(config.thresholds, observations, enforce_min_reclaim=False)
        not_resolved = helpers.thresholds_met(state.thresholds_met, observations, enforce_min_reclaim=True)
        met = helpers.merge_thresholds(met_now, not_resolved)
        # 2. grace timers and node conditions (reported at once; cleared after the transition period).
        first_observed = helpers.thresholds_first_observed_at(met, state.thresholds_first_observed_at, now)
        observed_conditions = helpers.node_conditions(met)
        conditions_seen = helpers.node_conditions_last_observed_at(
            observed_conditions, state.node_conditions_last_observed_at, now
        )
        conditions = helpers.node_conditions_observed_since(
            conditions_seen, config.eviction_pressure_transition_period, now
        )
        # 3. thresholds whose grace has passed drive eviction, if their stats are new since the last pass.
        grace_met = helpers.thresholds_met_grace_period(first_observed, now)
        statuses = tuple(
            ThresholdStatus(
                threshold=t,
                observation=observations[t.signal],
                first_observed_at=first_observed[t],
                now=now,
                grace_met=t in grace_met,
                reclaim_pending=t not in met_now,
            )
            for t in met
        )
        new_state = _State(
            thresholds_first_observed_at=first_observed,
            node_conditions_last_observed_at=conditions_seen,
            thresholds_met=tuple(grace_met),
            last_observations=observations,
            node_conditions=tuple(conditions),
        )
        acting = helpers.thresholds_updated_stats(grace_met, observations, state.last_observations)
        # 4. memory first; then rank the pods and pick the first non-critical one.
        acting = helpers.sort_by_eviction_priority(acting)
        picked = helpers.reclaimable_threshold(acting)
        if picked is None:
            return _Evaluation(new_state, statuses, None, None)
        threshold, resource = picked
        status = next(s for s in statuses if s.threshold == threshold)
        common: dict[str, Any] = {
            "time": now,
            "threshold": status,
            "resource": resource,
            "node_conditions": tuple(conditions),
            "thresholds": statuses,
            "dry_run": dry_run,
        }
        if not pods:
            log.error("Eviction manager: eviction thresholds have been met, but no pods are active to evict")
            return _Evaluation(
                new_state, statuses, EvictionResult(outcome=Outcome.NO_ACTIVE_PODS, candidates=(), **common), None
            )
        stats_of = helpers.pod_stats_func(stats)
        ranked = helpers.rank_for_signal(threshold.signal, stats.image_fs_dedicated)(pods, stats_of)
        table = tuple(helpers.candidate_table(ranked, threshold.signal, stats_of, stats.image_fs_dedicated))
        skipped: list[str] = []
        for pod in ranked:
            if helpers.is_critical(pod):
                log.error(
                    "Eviction manager: cannot evict a critical pod %s/%s", pod.metadata.namespace, pod.metadata.name
                )
                skipped.append(f"{pod.metadata.namespace}/{pod.metadata.name}")
                continue
            grace = helpers.eviction_grace_period(threshold, pod, config.eviction_max_pod_grace_period)
            message, annotations = helpers.eviction_message(resource, pod, stats_of, acting, observations)
            result = EvictionResult(
                outcome=Outcome.EVICTED,
                candidates=table,
                evicted=pod,
                grace_period_seconds=grace,
                reason=helpers.REASON,
                message=message,
                annotations=annotations,
                skipped_critical=tuple(skipped),
                **common,
            )
            return _Evaluation(new_state, statuses, result, pod)
        log.info("Eviction manager: unable to evict any pods from the node")
        result = EvictionResult(
            outcome=Outcome.ONLY_CRITICAL_PODS, candidates=table, skipped_critical=tuple(skipped), **common
        )
        return _Evaluation(new_state, statuses, result, None)

    async def synchronize(self) -> EvictionResult | None:
        """One pass. Returns ``None`` when no threshold (past its grace period, with fresh stats) needs
        action, or when stats could not be read; otherwise what was done and why."""
        pods = list(self._active_pods())
        local_storage = any(helpers.has_local_storage_limits(p) for p in pods)
        if not self.config.thresholds and not local_storage:
            return None
        stats = await self._snapshot()
        if stats is None:
            return None
        if local_storage:
            evicted = await self._local_storage_evictions(pods, stats)
            if evicted is not None:
                return evicted
        if not self.config.thresholds:
            return None
        evaluation = self.evaluate(stats, pods, self._clock.now(), dry_run=False)
        conditions_before = self._state.node_conditions
        self._state = evaluation.state
        if evaluation.state.node_conditions != conditions_before and self.on_conditions_changed is not None:
            self.on_conditions_changed()
        self.last_thresholds = evaluation.thresholds
        result = evaluation.result
        if result is not None and evaluation.victim is not None:
            result = await self._kill(evaluation.victim, result)
        elif result is not None:
            self.last_result = result
        return result

    async def _local_storage_evictions(self, pods: Sequence[types.Pod], stats: et.NodeStats) -> EvictionResult | None:
        """``localStorageEviction``: every pod over a local-storage limit is evicted now with grace 0 (critical
        pods excepted); the thresholds wait for the next pass. Returns the last such eviction."""
        stats_of = helpers.pod_stats_func(stats)
        last: EvictionResult | None = None
        for pod in pods:
            pod_stats = stats_of(pod)
            if pod_stats is None:
                continue
            violation = helpers.local_storage_violation(pod, pod_stats)
            if violation is None:
                continue
            if helpers.is_critical(pod):
                log.error(
                    "Eviction manager: cannot evict a critical pod %s/%s", pod.metadata.namespace, pod.metadata.name
                )
                continue
            result = EvictionResult(
                time=self._clock.now(),
                outcome=Outcome.LOCAL_STORAGE,
                threshold=None,
                resource="ephemeral-storage",
                candidates=(),
                evicted=pod,
                grace_period_seconds=0,
                reason=helpers.REASON,
                message=violation.message,
                node_conditions=self._state.node_conditions,
                local_storage=violation,
            )
            last = await self._kill(pod, result)
        return last

    async def _kill(self, pod: types.Pod, result: EvictionResult) -> EvictionResult:
        """Evict ``pod``; the decision is ``last_result`` from before the kill (``kill_succeeded`` None while it
        runs), so whoever sees the pod Evicted finds the decision that explains it."""
        name = f"{pod.metadata.namespace}/{pod.metadata.name}"
        log.info("Eviction manager: evicting pod %s: %s", name, result.message)
        self.evicting = self.last_result = result
        ok = False
        try:
            done = self._kill_pod(pod, result.grace_period_seconds, result.reason, result.message)
            ok = bool(await done if inspect.isawaitable(done) else done)
        except Exception:
            # The kubelet logs a failed termination and still counts the pod as this pass's eviction.
            log.exception("Eviction manager: pod %s failed to evict", name)
        finally:
            self.evicting = None
        self.last_result = dataclasses.replace(result, kill_succeeded=ok)
        return self.last_result

    async def plan(self) -> dict[str, Any]:
        """Dry run: who would be evicted next and why, from fresh stats, changing nothing and killing nobody.

        The grace timers are those of the last real pass; a threshold first met now counts from now."""
        stats = await self._snapshot()
        if stats is None:
            return {"dryRun": True, "error": "stats unavailable"}
        now = self._clock.now()
        evaluation = self.evaluate(stats, list(self._active_pods()), now, dry_run=True)
        if evaluation.result is not None:
            return evaluation.result.to_dict()
        return {
            "time": now,
            "dryRun": True,
            "outcome": "none",
            "nodeConditions": [c.value for c in evaluation.state.node_conditions],
            "thresholdsMet": [s.to_dict() for s in evaluation.thresholds],
            "candidates": [],
        }

    # ---- the loop -----------------------------------------------------------------------------

    def wake(self) -> None:
        """Run the next pass now (e.g. on a memory.events / PSI notification). Safe from the event loop only."""
        self._wake.set()

    async def _wait_for_cleanup(self, pod: types.Pod, stop: asyncio.Event) -> None:
        if self._pod_cleaned_up is None:
            return
        waited = 0.0
        while waited < POD_CLEANUP_TIMEOUT and not stop.is_set():
            await self._sleep(POD_CLEANUP_POLL, stop)
            waited += POD_CLEANUP_POLL
            if self._pod_cleaned_up(pod):
                return
        log.info("Eviction manager: timed out waiting for pod %s to be cleaned up", pod.metadata.name)

    async def _sleep(self, seconds: float, stop: asyncio.Event) -> None:
        """Sleep until the timeout, :meth:`wake` or ``stop``, whichever comes first."""
        waiters = [asyncio.ensure_future(self._wake.wait()), asyncio.ensure_future(stop.wait())]
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        self._wake.clear()

    async def run(self, stop: asyncio.Event) -> None:
        """Loop until ``stop`` is set: a pass, then wait for the evicted pod's cleanup (if any) or sleep the
        housekeeping interval. A failing pass is logged and does not end the loop."""
        while not stop.is_set():
            try:
                result = await self.synchronize()
            except Exception:
                log.exception("Eviction manager: failed to synchronize")
                result = None
            if result is not None and result.evicted is not None:
                await self._wait_for_cleanup(result.evicted, stop)
            else:
                await self._sleep(self.config.housekeeping_interval, stop)
