"""One probe worker per (container, probe kind), as the kubelet's ``prober/worker.go``.

``do_probe()`` is one step: look at the container, maybe run the probe once, count consecutive results and
store a new state when a threshold is crossed; it returns whether the worker should keep going.  ``run()`` only
schedules it: every ``periodSeconds`` on the injected clock (ticks missed while a probe runs are dropped, as a
Go ticker does), at once when ``trigger()`` is called, and after a random part of one period first when the
worker starts on a container that was already running (an agent restart: do not probe everything at once).

State (``result`` for ``container_id``), kubelet semantics:
- a new container instance starts from the kind's initial value (readiness Failure, liveness Success,
  startup Unknown) and clears a hold;
- the state flips only after ``failureThreshold`` consecutive failures or ``successThreshold`` consecutive
  successes; a Warning counts as a Success; an Unknown (the prober could not probe) is thrown away;
- until the startup probe has succeeded (``started``), liveness and readiness do not run; once it has, the
  startup probe rests until the next container instance;
- a liveness or startup failure puts the worker on hold until a new container instance appears (the pod
  worker kills and restarts the container);
- a container that is not running has readiness Failure; a deleting pod has liveness/startup forced to Success
  and those workers stop; a pod that has finished stops every worker.
Every run is kept in a short history (time, latency, result, output) — beyond Kubernetes.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from minikube_py.api import types
from minikube_py.node.prober import results
from minikube_py.node.prober.results import INITIAL_RESULT, Kind, Result
from minikube_py.node.prober.runners import Prober, Target
from minikube_py.util.clock import Clock


@dataclass(frozen=True)
class ContainerView:
    """What the worker needs to know of its container and pod, taken fresh before every step."""

    container_id: str  # "" until the container was first created; changes with every new instance
    running: bool
    terminated: bool  # the latest instance ended
    started_at: float | None  # of the running instance (wall clock)
    started: bool  # the startup probe has succeeded for this instance (or there is none)
    target: Target
    restart_policy: str = "Always"
    pod_terminating: bool = False
    pod_finished: bool = False  # phase Succeeded or Failed


ViewFn = Callable[[], ContainerView | None]
EventFn = Callable[[str, str, str], None]  # (type, reason, message)


class ProbeWorker:
    def __init__(
        self,
        *,
        kind: Kind,
        probe: types.Probe,
        container_name: str,
        clock: Clock,
        prober: Prober,
        view: ViewFn,
        on_change: Callable[[ProbeWorker], None] | None = None,
        on_event: EventFn | None = None,
        history_size: int = results.HISTORY_SIZE,
        rand: Callable[[], float] = random.random,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.kind = kind
        self.probe = probe
        self.container_name = container_name
        self._clock = clock
        self._prober = prober
        self._view = view
        self._on_change = on_change
        self._on_event = on_event
        self._rand = rand
        self._sleep = sleep
        self.container_id = ""
        self.result: Result | None = None  # the stored state for container_id (None before any container)
        self.last_result: Result | None = None
        self.result_run = 0
        self.on_hold = False
        self.history: collections.deque[results.HistoryEntry] = results.new_history(history_size)
        self._wake = asyncio.Event()
        self._stopped = False

    # --- the state others read

    def current(self, container_id: str) -> Result:
        """The state for one container instance: the stored one if it is ours, else the initial value."""
        if container_id and container_id == self.container_id and self.result is not None:
            return self.result
        return INITIAL_RESULT[self.kind]

    def _set(self, result: Result) -> None:
        if result is self.result:
            return
        self.result = result
        if self._on_change is not None:
            self._on_change(self)

    def _event(self, type_: str, reason: str, message: str) -> None:
        if self._on_event is not None:
            self._on_event(type_, reason, message)

    # --- the step

    async def do_probe(self) -> bool:
        """Probe once if the container's state allows it; returns False when the worker should stop."""
        view = self._view()
        if view is None:
            return True  # no status yet
        if view.pod_finished:
            return False
        if not view.container_id:
            return True  # not created yet
        if view.container_id != self.container_id:
            # A new instance: start from the initial value and resume probing (kubelet keeps resultRun).
            self.container_id = view.container_id
            self.on_hold = False
            self._set(INITIAL_RESULT[self.kind])
        if self.on_hold:
            return True
        if not view.running:
            self._set(Result.FAILURE)
            # Keep going unless the container ended for good.
            return not view.terminated or view.restart_policy != "Never"
        if view.pod_terminating and self.kind in (Kind.LIVENESS, Kind.STARTUP):
            self._set(Result.SUCCESS)
            return False
        now = self._clock.now()
        if view.started_at is not None and int(now - view.started_at) < self.probe.initial_delay_seconds:
            return True
        if view.started:
            if self.kind is Kind.STARTUP:
                return True  # started: the startup probe rests until the next instance
        elif self.kind is not Kind.STARTUP:
            return True  # liveness and readiness wait for the startup probe

        began = time.perf_counter()
        outcome = await self._prober.probe(self.kind, self.probe, view.target)
        latency = time.perf_counter() - began
        self.history.append(
            results.HistoryEntry(
                at=now,
                latency=latency,
                result=outcome.result,
                output=results.shorten(outcome.output),
                container_id=view.container_id,
            )
        )
        title = self.kind.title
        if outcome.result is Result.UNKNOWN:
            self._event("Warning", "Unhealthy", f"{title} probe errored: {outcome.output}")
            return True  # a prober error: the result is thrown away
        if outcome.result is Result.WARNING:
            self._event("Warning", "ProbeWarning", f"{title} probe warning: {outcome.output}")
        elif outcome.result is Result.FAILURE:
            self._event("Warning", "Unhealthy", f"{title} probe failed: {outcome.output}")
        result = Result.FAILURE if outcome.result is Result.FAILURE else Result.SUCCESS

        if self.last_result is result:
            self.result_run += 1
        else:
            self.last_result = result
            self.result_run = 1
        if (result is Result.FAILURE and self.result_run < self.probe.failure_threshold) or (
            result is Result.SUCCESS and self.result_run < self.probe.success_threshold
        ):
            return True
        self._set(result)
        if self.kind in (Kind.LIVENESS, Kind.STARTUP) and result is Result.FAILURE:
            # The container will be killed: stop probing until a new instance appears.
            self.on_hold = True
            self.result_run = 0
        return True

    # --- the loop

    def trigger(self) -> None:
        """Probe now instead of at the next tick (the kubelet's manualTriggerCh)."""
        self._wake.set()

    def stop(self) -> None:
        """Ask the loop to end; safe to call more than once."""
        self._stopped = True
        self._wake.set()

    @property
    def stopped(self) -> bool:
        return self._stopped

    async def _wait(self, seconds: float) -> None:
        if self._wake.is_set():
            self._wake.clear()
            return
        if self._sleep is asyncio.sleep:
            # The real clock: one timed wait on the wake-up event (no extra tasks per tick; 100 probes/s).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(seconds, 0.0)):
                    await self._wake.wait()
            self._wake.clear()
            return
        sleeper = asyncio.ensure_future(self._sleep(max(seconds, 0.0)))
        waker = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({sleeper, waker}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (sleeper, waker):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._wake.clear()

    async def run(self, *, initial_jitter: bool = False) -> None:
        period = float(self.probe.period_seconds or 10)
        if initial_jitter:
            await self._wait(self._rand() * period)
        next_tick = self._clock.now()
        while not self._stopped and await self.do_probe():
            now = self._clock.now()
            next_tick += period
            while next_tick <= now:
                next_tick += period  # ticks missed while the probe ran are dropped
            await self._wait(next_tick - now)

    # --- what `describe pod` shows

    def snapshot(self) -> dict[str, Any]:
        return {
            "state": self.current(self.container_id).value,
            "containerID": self.container_id,
            "consecutive": {"result": self.last_result.value if self.last_result else None, "count": self.result_run},
            "onHold": self.on_hold,
            "history": [entry.to_dict() for entry in self.history],
        }
