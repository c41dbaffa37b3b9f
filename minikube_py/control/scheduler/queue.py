"""The scheduling queue: activeQ, backoffQ and the unschedulable pool (``internal/queue/scheduling_queue.go``).

* **activeQ** is a heap ordered by the profile's QueueSort ``less`` (PrioritySort: priority, then the time
  the pod was queued).  ``pop`` takes its head.
* A pod that failed is timestamped and goes to the **unschedulable pool**, unless a cluster event arrived
  while it was being scheduled, or no plugin rejected it (an internal error); then it is requeued right away
  -- to **backoffQ** while its backoff runs, else to activeQ.
* Backoff: ``initial * 2^(attempts-1)`` capped at ``max`` (1 s doubling to 10 s by default), counted from
  the failure; a pod that was never attempted has none.
* A cluster event (:class:`~framework.ClusterEvent`) moves the pods in the pool whose rejecting plugins
  registered for it (a wildcard moves all) to backoffQ or activeQ.
* Pods left in the pool for 5 minutes are moved back anyway (``podMaxInUnschedulablePodsDuration``).

Time comes from the injected clock and nothing runs on its own: the expired backoffs and the 5-minute
leftovers are flushed at every ``pop`` (and by ``flush``).  kube-scheduler flushes them from goroutines every
1 s and 30 s; checking on each pop is the same rule, applied without those polling delays.
"""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from minikube_py.api import types
from minikube_py.control.scheduler.framework import ClusterEvent, QueuedPodInfo, pod_key
from minikube_py.util.clock import Clock

DEFAULT_POD_INITIAL_BACKOFF = 1.0
DEFAULT_POD_MAX_BACKOFF = 10.0
# DefaultPodMaxInUnschedulablePodsDuration.
DEFAULT_POD_MAX_IN_UNSCHEDULABLE = 300.0

ACTIVE = "active"
BACKOFF = "backoff"
UNSCHEDULABLE = "unschedulable"
GONE = "gone"

LessFunc = Callable[[QueuedPodInfo, QueuedPodInfo], bool]
# plugin name -> the events that can undo its rejection.
EventsFunc = Callable[[str], ClusterEvent]


class _Ordered:
    """Heap entry for activeQ: ordered by the QueueSort plugin, then FIFO."""

    __slots__ = ("info", "less", "seq", "valid")

    def __init__(self, info: QueuedPodInfo, less: LessFunc, seq: int) -> None:
        self.info = info
        self.less = less
        self.seq = seq
        self.valid = True

    def __lt__(self, other: _Ordered) -> bool:
        if self.less(self.info, other.info):
            return True
        if self.less(other.info, self.info):
            return False
        return self.seq < other.seq


@dataclass(slots=True)
class _Backoff:
    expiry: float
    seq: int
    info: QueuedPodInfo
    valid: bool = True

    def __lt__(self, other: _Backoff) -> bool:
        return (self.expiry, self.seq) < (other.expiry, other.seq)


class SchedulingQueue:
    def __init__(
        self,
        less: LessFunc,
        clock: Clock,
        *,
        events_for: EventsFunc | None = None,
        initial_backoff: float = DEFAULT_POD_INITIAL_BACKOFF,
        max_backoff: float = DEFAULT_POD_MAX_BACKOFF,
        max_in_unschedulable: float = DEFAULT_POD_MAX_IN_UNSCHEDULABLE,
    ) -> None:
        self._less = less
        self._clock = clock
        self._events_for = events_for or (lambda _name: ~ClusterEvent(0))
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_in_unschedulable = max_in_unschedulable
        self._seq = itertools.count()
        self._active: list[_Ordered] = []
        self._active_index: dict[str, _Ordered] = {}
        self._backoff: list[_Backoff] = []
        self._backoff_index: dict[str, _Backoff] = {}
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        # Popped and not yet requeued or done: key -> the scheduling cycle that popped it.
        self._in_flight: dict[str, int] = {}
        # Pods deleted while in flight: their failed attempt must not requeue them.
        self._gone: set[str] = set()
        self.scheduling_cycle = 0
        # The scheduling cycle at the last cluster event (moveRequestCycle).
        self._move_request_cycle = -1

    # ---- adding and removing pods -------------------------------------------------------------

    def add(self, pod: types.Pod) -> None:
        """A new pending pod (or one that changed): into activeQ."""
        key = pod_key(pod)
        existing = self._find(key)
        if existing is not None:
            self.update(pod)
            return
        self._push_active(QueuedPodInfo(pod, key, self._clock.now()))

    def update(self, pod: types.Pod) -> None:
        """The pending pod changed.  In activeQ/backoffQ it is updated in place; in the unschedulable pool
        it is moved back (the change may make it schedulable); while in flight the next failure requeues
        it at once."""
        key = pod_key(pod)
        if key in self._active_index:
            # Re-insert: the change may move it in the QueueSort order (e.g. a new priority).
            entry = self._active_index.pop(key)
            entry.valid = False
            entry.info.pod = pod
            self._push_active(entry.info)
        elif key in self._backoff_index:
            self._backoff_index[key].info.pod = pod
        elif key in self._unschedulable:
            info = self._unschedulable.pop(key)
            info.pod = pod
            self._requeue(info)
        elif key in self._in_flight:
            self._move_request_cycle = self.scheduling_cycle
        else:
            self._push_active(QueuedPodInfo(pod, key, self._clock.now()))

    def delete(self, pod: types.Pod) -> None:
        key = pod_key(pod)
        entry = self._active_index.pop(key, None)
        if entry is not None:
            entry.valid = False
        backoff = self._backoff_index.pop(key, None)
        if backoff is not None:
            backoff.valid = False
        self._unschedulable.pop(key, None)
        if self._in_flight.pop(key, None) is not None:
            self._gone.add(key)

    # ---- the scheduling loop's side -----------------------------------------------------------

    def pop(self) -> QueuedPodInfo | None:
        """The next pod to schedule, or ``None`` when activeQ is empty (after flushing)."""
        self.flush()
        while self._active:
            entry = heapq.heappop(self._active)
            if not entry.valid:
                continue
            info = entry.info
            del self._active_index[info.key]
            info.attempts += 1
            if info.initial_attempt_timestamp is None:
                info.initial_attempt_timestamp = self._clock.now()
            self.scheduling_cycle += 1
            self._in_flight[info.key] = self.scheduling_cycle
            return info
        return None

    def done(self, key: str) -> None:
        """The popped pod was scheduled (or deleted): stop tracking it."""
        self._in_flight.pop(key, None)
        self._gone.discard(key)

    def add_unschedulable(self, info: QueuedPodInfo, rejected_by: set[str]) -> str:
        """Requeue a pod whose attempt failed; returns where it went (``active``/``backoff``/``unschedulable``).

        ``rejected_by`` names the plugins that rejected it; empty for an internal error.  A pod deleted during
        its attempt is dropped (``gone``).
        """
        if info.key in self._gone:
            self._gone.discard(info.key)
            return GONE
        cycle = self._in_flight.pop(info.key, self.scheduling_cycle)
        info.timestamp = self._clock.now()
        info.unschedulable_plugins = set(rejected_by)
        if not rejected_by or self._move_request_cycle >= cycle:
            return self._requeue(info)
        self._unschedulable[info.key] = info
        return UNSCHEDULABLE

    def move_all(self, event: ClusterEvent) -> int:
        """A cluster event: move the unschedulable pods it may help.  Returns how many moved."""
        self._move_request_cycle = self.scheduling_cycle
        moved = 0
        for key, info in list(self._unschedulable.items()):
            if self._matches(info, event):
                del self._unschedulable[key]
                self._requeue(info)
                moved += 1
        return moved

    def flush(self) -> None:
        """Move expired backoffs to activeQ and 5-minute leftovers out of the unschedulable pool."""
        now = self._clock.now()
        while self._backoff and self._backoff[0].expiry <= now:
            entry = heapq.heappop(self._backoff)
            if entry.valid:
                del self._backoff_index[entry.info.key]
                self._push_active(entry.info)
        # The pool is in insertion order, which is timestamp order: stop at the first pod not yet due.
        while self._unschedulable:
            key, info = next(iter(self._unschedulable.items()))
            if now - info.timestamp <= self.max_in_unschedulable:
                break
            del self._unschedulable[key]
            self._requeue(info)

    # ---- introspection ------------------------------------------------------------------------

    def backoff_duration(self, info: QueuedPodInfo) -> float:
        """``calculateBackoffDuration``: initial * 2^(attempts-1), capped; 0 before the first attempt."""
        if info.attempts == 0:
            return 0.0
        duration = self.initial_backoff
        for _ in range(1, info.attempts):
            if duration > self.max_backoff - duration:
                return self.max_backoff
            duration += duration
        return min(duration, self.max_backoff)

    def backoff_expiry(self, info: QueuedPodInfo) -> float:
        return info.timestamp + self.backoff_duration(info)

    def is_backing_off(self, info: QueuedPodInfo) -> bool:
        return self.backoff_expiry(info) > self._clock.now()

    def next_wakeup(self) -> float | None:
        """When something will become ready without an event: the earliest backoff expiry or leftover flush."""
        times = [e.expiry for e in self._backoff if e.valid]
        times.extend(info.timestamp + self.max_in_unschedulable for info in self._unschedulable.values())
        return min(times, default=None)

    def where(self, pod: types.Pod) -> str | None:
        key = pod_key(pod)
        if key in self._active_index:
            return ACTIVE
        if key in self._backoff_index:
            return BACKOFF
        if key in self._unschedulable:
            return UNSCHEDULABLE
        return None

    def pending(self) -> dict[str, list[QueuedPodInfo]]:
        """Every queued pod by sub-queue; activeQ in pop order."""
        active = sorted(e for e in self._active if e.valid)
        return {
            ACTIVE: [e.info for e in active],
            BACKOFF: [e.info for e in sorted(e for e in self._backoff if e.valid)],
            UNSCHEDULABLE: list(self._unschedulable.values()),
        }

    def __len__(self) -> int:
        return len(self._active_index) + len(self._backoff_index) + len(self._unschedulable)

    def __iter__(self) -> Iterator[QueuedPodInfo]:
        for infos in self.pending().values():
            yield from infos

    # ---- internals ----------------------------------------------------------------------------

    def _find(self, key: str) -> QueuedPodInfo | None:
        if key in self._active_index:
            return self._active_index[key].info
        if key in self._backoff_index:
            return self._backoff_index[key].info
        return self._unschedulable.get(key)

    def _push_active(self, info: QueuedPodInfo) -> None:
        entry = _Ordered(info, self._less, next(self._seq))
        self._active_index[info.key] = entry
        heapq.heappush(self._active, entry)

    def _requeue(self, info: QueuedPodInfo) -> str:
        if self.is_backing_off(info):
            entry = _Backoff(self.backoff_expiry(info), next(self._seq), info)
            self._backoff_index[info.key] = entry
            heapq.heappush(self._backoff, entry)
            return BACKOFF
        self._push_active(info)
        return ACTIVE

    def _matches(self, info: QueuedPodInfo, event: ClusterEvent) -> bool:
        if event & ClusterEvent.WILDCARD or not info.unschedulable_plugins:
            return True
        return any(self._events_for(name) & event for name in info.unschedulable_plugins)
