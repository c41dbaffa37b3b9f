"""One pod's lifecycle on the node: start, restart per policy with CrashLoopBackOff, probes, status, termination.

``sync()`` is one step (the kubelet's syncPod): it looks at every container, starts or restarts what the
restart policy and the backoff allow, and rebuilds the pod's status.  ``run()`` only repeats it when a
container exits or a backoff ends.  Time comes from an injected clock, so tests can step through backoff.

Probes: one ``prober.worker.ProbeWorker`` per container and probe kind, created with the pod worker and run by
``start_probes()`` (``run()`` calls it).  A liveness or startup state of Failure kills the container (events
``Unhealthy`` from the probe, then ``Killing``) with the probe's or the pod's grace, and the restart policy
and backoff take it from there; startup gates the other two; readiness only changes the container's ``ready``
and the pod's ``ContainersReady``/``Ready`` conditions.  Every state change calls ``on_synced`` so the
agent reports it; ``probe_history()`` has the last results of every probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from minikube_py import errors
from minikube_py.api import qos, types
from minikube_py.node import backoff as backoff_mod
from minikube_py.node import kuberuntime
from minikube_py.node.prober import results as probe_results
from minikube_py.node.prober import runners as probe_runners
from minikube_py.node.prober.results import Kind, Result
from minikube_py.node.prober.worker import ContainerView, ProbeWorker
from minikube_py.node.runtime import logs
from minikube_py.node.runtime.model import Container, ContainerExit, OomRecord, Sandbox
from minikube_py.node.runtime.runtime import Runtime
from minikube_py.util.clock import Clock

log = logging.getLogger(__name__)

START_ERROR_EXIT_CODE = 128  # containerd's errorStartExitCode
MIN_GRACE_SECONDS = 2.0  # kubelet minimumGracePeriodInSeconds


def rfc3339(ts: float | None) -> str | None:
    if ts is None:
        return None
    return datetime.datetime.fromtimestamp(ts, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class PodEvent:
    type: str  # Normal | Warning
    reason: str
    message: str
    container: str = ""
    at: float = 0.0  # the worker's clock when it happened


@dataclass
class _Slot:
    """Everything about one container name across its instances."""

    spec: types.Container
    instance: Container | None = None
    restart_count: int = 0
    terminated: types.ContainerStateTerminated | None = None  # of the latest instance, once it ended
    last_terminated: types.ContainerStateTerminated | None = None
    observed_exit_at: float | None = None  # clock time we saw the latest instance end (backoff reference)
    waiting_reason: str = "ContainerCreating"
    oom_history: list[OomRecord] = field(default_factory=list)  # of ended instances (newest last)
    waiting_message: str = ""
    handled_exit: bool = False


@dataclass
class PodWorker:
    runtime: Runtime
    pod: types.Pod
    clock: Clock
    backoff: backoff_mod.Backoff
    log_root: str
    memory_capacity_bytes: int
    single_process_oom_kill: bool = False
    on_event: Callable[[PodEvent], None] | None = None
    on_synced: Callable[[], None] | None = None  # after every sync(): the status may have changed
    sandbox: Sandbox | None = None
    prober: probe_runners.Prober | None = None  # default: the runtime's shared RuntimeProber
    probe_history_size: int = probe_results.HISTORY_SIZE
    events: list[PodEvent] = field(default_factory=list)
    _slots: dict[str, _Slot] = field(default_factory=dict)
    _init_slots: list[_Slot] = field(default_factory=list)
    _wakeup: asyncio.Event = field(default_factory=asyncio.Event)
    _terminating: bool = False
    started_at: float | None = None
    probe_workers: dict[tuple[str, Kind], ProbeWorker] = field(default_factory=dict)
    _probe_tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _probe_kills: set[asyncio.Task[None]] = field(default_factory=set)
    _adopted: bool = False
    _condition_since: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    _sync_lock: asyncio.Lock = field(default_factory=asyncio.Lock)  # terminate() waits out a sync() in progress

    def __post_init__(self) -> None:
        for spec in self.pod.spec.containers:
            self._slots[spec.name] = _Slot(
                spec=spec, waiting_reason="PodInitializing" if self.pod.spec.init_containers else "ContainerCreating"
            )
        self._init_slots = [_Slot(spec=spec) for spec in self.pod.spec.init_containers]
        # Probes of the app containers and of sidecars (validation forbids them on plain init containers).
        for slot in [*self._init_slots, *self._slots.values()]:
            for kind, probe in (
                (Kind.STARTUP, slot.spec.startup_probe),
                (Kind.LIVENESS, slot.spec.liveness_probe),
                (Kind.READINESS, slot.spec.readiness_probe),
            ):
                if probe is not None:
                    self.probe_workers[(slot.spec.name, kind)] = self._new_probe_worker(slot, kind, probe)

    @property
    def _policy(self) -> str:
        return self.pod.spec.restart_policy or "Always"

    @property
    def _init_policy(self) -> str:
        # Init containers that succeeded never run again; failed ones restart unless the pod says Never.
        return "Never" if self._policy == "Never" else "OnFailure"

    @staticmethod
    def _is_sidecar(slot: _Slot) -> bool:
        return slot.spec.restart_policy == "Always"

    def _init_failed(self) -> bool:
        """A regular init container failed for good (restartPolicy Never): the pod fails."""
        return any(
            not self._is_sidecar(s)
            and s.terminated is not None
            and s.terminated.exit_code != 0
            and not backoff_mod.should_restart(self._init_policy, s.terminated.exit_code)
            for s in self._init_slots
        )

    def initialized(self) -> bool:
        for slot in self._init_slots:
            if self._is_sidecar(slot):
                if slot.instance is None or not slot.instance.running:
                    return False
            elif slot.terminated is None or slot.terminated.exit_code != 0:
                return False
        return True

    # --- identity

    @property
    def uid(self) -> str:
        return self.pod.metadata.uid

    def _backoff_key(self, name: str) -> str:
        return f"{self.pod.metadata.namespace}/{self.pod.metadata.name}/{self.uid}/{name}"

    def log_path(self, name: str, restart_count: int) -> str:
        meta = self.pod.metadata
        return logs.container_log_path(
            self.log_root, meta.namespace or "default", meta.name, self.uid, name, restart_count
        )

    def _event(self, type_: str, reason: str, message: str, container: str = "") -> None:
        event = PodEvent(type_, reason, message, container, at=self.clock.now())
        self.events.append(event)
        if self.on_event is not None:
            self.on_event(event)

    # --- the step

    async def sync(self) -> None:
        async with self._sync_lock:
            await self._sync()

    async def _sync(self) -> None:
        if self._terminating:
            return
        if self.sandbox is None:
            self.sandbox = await self.runtime.run_pod_sandbox(kuberuntime.sandbox_config(self.pod))
            self.started_at = self.clock.now()
        if not await self._sync_init_containers():
            return
        for slot in self._slots.values():
            if slot.waiting_reason == "PodInitializing":
                slot.waiting_reason = "ContainerCreating"
            await self._sync_container(slot)

    async def _sync_init_containers(self) -> bool:
        """Run init containers one by one; True once all have completed (sidecars: are running)."""
        for slot in self._init_slots:
            policy = "Always" if self._is_sidecar(slot) else self._init_policy
            await self._sync_container(slot, policy)
            if self._is_sidecar(slot):
                if slot.instance is None or not slot.instance.running:
                    return False
                continue
            running = slot.instance is not None and slot.instance.running
            if running or slot.terminated is None or slot.terminated.exit_code != 0:
                return False
        return True

    async def _sync_container(self, slot: _Slot, policy: str | None = None) -> None:
        name = slot.spec.name
        if slot.instance is not None and slot.instance.running:
            return
        if slot.instance is not None and not slot.handled_exit:
            self._observe_exit(slot, slot.instance.exit)
        if slot.terminated is None and slot.instance is None:
            await self._start(slot)  # first start
            return
        exit_code = slot.terminated.exit_code if slot.terminated else None
        if not backoff_mod.should_restart(policy or self._policy, exit_code):
            return
        key = self._backoff_key(name)
        assert slot.observed_exit_at is not None
        if self.backoff.is_in_backoff_since(key, slot.observed_exit_at):
            delay = self.backoff.get(key)
            meta = self.pod.metadata
            message = backoff_mod.backoff_message(delay, name, meta.name, meta.namespace or "default", self.uid)
            if slot.waiting_reason != "CrashLoopBackOff" or slot.waiting_message != message:
                self._event(
                    "Warning", "BackOff", f"Back-off restarting failed container {name} in pod {meta.name}", name
                )
            slot.waiting_reason, slot.waiting_message = "CrashLoopBackOff", message
            return
        self.backoff.next(key)
        slot.restart_count += 1
        slot.last_terminated, slot.terminated = slot.terminated, None
        await self._start(slot)

    def _observe_exit(self, slot: _Slot, exit_: ContainerExit | None) -> None:
        assert exit_ is not None
        slot.handled_exit = True
        if slot.instance is not None:
            slot.oom_history.extend(slot.instance.oom_records)
            del slot.oom_history[:-10]
        slot.observed_exit_at = self.clock.now()
        code = exit_.exit_code if exit_.exit_code is not None else 137
        message = exit_.message
        if exit_.exit_code is None:
            message = message or "exit code unknown"
        slot.terminated = types.ContainerStateTerminated(
            exit_code=code,
            signal=exit_.signal or 0,
            reason=exit_.reason,
            message=message,
            started_at=rfc3339(exit_.started_at),
            finished_at=rfc3339(exit_.finished_at),
            container_id=self._container_id(slot),
        )
        if exit_.reason == "OOMKilled":
            self._event("Warning", "OOMKilled", f"Container {slot.spec.name} was OOM-killed: {message}", slot.spec.name)

    def _container_id(self, slot: _Slot) -> str:
        return f"minikube-py://{self.uid}/{slot.spec.name}/{slot.restart_count}"

    async def _start(self, slot: _Slot) -> None:
        assert self.sandbox is not None
        name = slot.spec.name
        config = kuberuntime.container_config(
            self.pod,
            slot.spec,
            memory_capacity_bytes=self.memory_capacity_bytes,
            log_path=self.log_path(name, slot.restart_count),
            single_process_oom_kill=self.single_process_oom_kill,
            pod_ip=self.pod_ip,
        )
        slot.handled_exit = False
        now = self.clock.now()
        try:
            slot.instance = await self.runtime.start_container(self.sandbox, config)
        except errors.SpawnError as err:
            # containerd: StartError with exit code 128 and the runtime's message; the pod carries on.
            slot.instance = None
            slot.handled_exit = True
            slot.observed_exit_at = now
            slot.terminated = types.ContainerStateTerminated(
                exit_code=START_ERROR_EXIT_CODE,
                reason="StartError",
                message=str(err),
                started_at=rfc3339(now),
                finished_at=rfc3339(now),
                container_id=self._container_id(slot),
            )
            self._event("Warning", "Failed", f"Error: {err}", name)
            return
        self._event("Normal", "Created", f"Created container {name}", name)
        self._event("Normal", "Started", f"Started container {name}", name)
        readiness = self.probe_workers.get((name, Kind.READINESS))
        if readiness is not None:
            readiness.trigger()  # the kubelet probes readiness at once for a started, unready container
        instance = slot.instance
        asyncio.get_running_loop().create_task(self._notify_on_exit(instance))

    async def _notify_on_exit(self, instance: Container) -> None:
        with contextlib.suppress(Exception):
            await self.runtime.wait_container(instance)
        self._wakeup.set()

    # --- recovery and lookups

    def adopt(self, sandbox: Sandbox, restart_counts: dict[str, int]) -> None:
        """Take over a sandbox a previous agent started (re-adopted by the runtime from its state dir)."""
        self.sandbox = sandbox
        self.started_at = sandbox.created_at
        self._adopted = True  # probe workers start after a random part of their period
        for slot in [*self._init_slots, *self._slots.values()]:
            slot.restart_count = restart_counts.get(slot.spec.name, 0)
            instance = sandbox.containers.get(slot.spec.name)
            if instance is None:
                continue
            slot.instance = instance
            slot.handled_exit = False
            if slot.waiting_reason == "PodInitializing":
                slot.waiting_reason = "ContainerCreating"
            asyncio.get_running_loop().create_task(self._notify_on_exit(instance))

    def container(self, name: str) -> tuple[Container | None, int]:
        """The current instance of a container (if any) and its restart count."""
        for slot in [*self._init_slots, *self._slots.values()]:
            if slot.spec.name == name:
                return slot.instance, slot.restart_count
        raise KeyError(name)

    def oom_records(self) -> list[OomRecord]:
        """Every OOM record of this pod's containers, ended instances included, oldest first."""
        records: list[OomRecord] = []
        for slot in [*self._init_slots, *self._slots.values()]:
            records += slot.oom_history
            if slot.instance is not None and not slot.handled_exit:
                records += slot.instance.oom_records
        return sorted(records, key=lambda r: r.detected_at)

    def instances(self) -> list[Container]:
        return [s.instance for s in [*self._init_slots, *self._slots.values()] if s.instance is not None]

    # --- probes

    def _new_probe_worker(self, slot: _Slot, kind: Kind, probe: types.Probe) -> ProbeWorker:
        name = slot.spec.name

        def on_event(type_: str, reason: str, message: str) -> None:
            self._event(type_, reason, message, name)

        return ProbeWorker(
            kind=kind,
            probe=probe,
            container_name=name,
            clock=self.clock,
            prober=self._prober(),
            view=lambda: self._probe_view(slot),
            on_change=self._on_probe_change,
            on_event=on_event,
            history_size=self.probe_history_size,
        )

    def _prober(self) -> probe_runners.Prober:
        if self.prober is None:
            self.prober = probe_runners.shared_prober(self.runtime)
        return self.prober

    def _probe_view(self, slot: _Slot) -> ContainerView | None:
        if self.sandbox is None:
            return None  # no status yet
        instance = slot.instance
        running = instance is not None and instance.running and not slot.handled_exit
        started_at = instance.started_at if running and instance is not None else None
        target = probe_runners.Target(
            pod=self.pod, spec=slot.spec, container=instance, sandbox=self.sandbox, pod_ip=self.pod_ip
        )
        # The phase is only terminal when no container runs: skip building every status on each probe.
        finished = not any(self._running(s) for s in self._slots.values()) and self.phase() in ("Succeeded", "Failed")
        return ContainerView(
            container_id=self._container_id(slot) if instance is not None or slot.terminated else "",
            running=running,
            terminated=not running and slot.terminated is not None,
            started_at=started_at,
            started=self._started(slot),
            target=target,
            restart_policy="Always" if self._is_sidecar(slot) else self._policy,
            pod_terminating=self._terminating,
            pod_finished=finished,
        )

    def _probe_state(self, slot: _Slot, kind: Kind) -> Result | None:
        """The container's current state for one probe kind; None when it has no such probe."""
        worker = self.probe_workers.get((slot.spec.name, kind))
        if worker is None:
            return None
        return worker.current(self._container_id(slot))

    def _running(self, slot: _Slot) -> bool:
        return slot.instance is not None and slot.instance.running and not slot.handled_exit

    def _started(self, slot: _Slot) -> bool:
        """kubelet: running, and the startup probe has succeeded for this instance (or there is none)."""
        return self._running(slot) and self._probe_state(slot, Kind.STARTUP) in (None, Result.SUCCESS)

    def _ready(self, slot: _Slot) -> bool:
        return self._started(slot) and self._probe_state(slot, Kind.READINESS) in (None, Result.SUCCESS)

    def _on_probe_change(self, worker: ProbeWorker) -> None:
        slot = self._slot(worker.container_name)
        if worker.result is Result.FAILURE and worker.kind in (Kind.LIVENESS, Kind.STARTUP):
            instance = slot.instance
            if (
                instance is not None
                and self._running(slot)
                and worker.container_id == self._container_id(slot)
                and not self._terminating
            ):
                task = asyncio.get_running_loop().create_task(self._kill_for_probe(slot, instance, worker))
                self._probe_kills.add(task)
                task.add_done_callback(self._probe_kills.discard)
        if worker.kind is Kind.STARTUP and worker.result is Result.SUCCESS:
            readiness = self.probe_workers.get((worker.container_name, Kind.READINESS))
            if readiness is not None:
                readiness.trigger()
        if self.on_synced is not None:
            self.on_synced()  # ready/started changed: report the status

    async def _kill_for_probe(self, slot: _Slot, instance: Container, worker: ProbeWorker) -> None:
        """kubelet computePodActions + killContainer for a container that failed liveness or startup."""
        name = slot.spec.name
        restart = self._is_sidecar(slot) or self._policy != "Never"
        message = f"Container {name} failed {worker.kind.value} probe"
        self._event("Normal", "Killing", f"{message}, will be restarted" if restart else message, name)
        grace = worker.probe.termination_grace_period_seconds
        if grace is None:
            grace = self.pod.spec.termination_grace_period_seconds
        seconds = max(float(30 if grace is None else grace), MIN_GRACE_SECONDS)
        try:
            await self.runtime.stop_container(instance, seconds)
        finally:
            self._wakeup.set()  # the exit is seen by sync(): restart policy and backoff apply

    def _slot(self, name: str) -> _Slot:
        for slot in [*self._init_slots, *self._slots.values()]:
            if slot.spec.name == name:
                return slot
        raise KeyError(name)

    def start_probes(self) -> None:
        """Start every probe worker's loop (idempotent)."""
        if self._probe_tasks or self._terminating:
            return
        loop = asyncio.get_running_loop()
        for (name, kind), worker in self.probe_workers.items():
            # After an agent restart, containers were already running: spread the first probes over a period.
            jitter = self._adopted and self._running(self._slot(name))
            self._probe_tasks.append(
                loop.create_task(worker.run(initial_jitter=jitter), name=f"probe-{kind.value}-{name}")
            )

    async def stop_probes(self) -> None:
        """Stop every probe worker and pending probe kill; idempotent."""
        for worker in self.probe_workers.values():
            worker.stop()
        tasks = [*self._probe_tasks, *self._probe_kills]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def probe_history(self) -> dict[str, dict[str, Any]]:
        """The last results of every probe, JSON-able: ``{container: {liveness|readiness|startup: {...}}}``.

        Each probe has ``state`` (Success/Failure/Unknown for the current instance), ``containerID``,
        ``consecutive`` (the current run of equal results), ``onHold``, and ``history``: the last results,
        oldest first, each with ``time`` (unix seconds), ``latencyMs``, ``result``, ``output`` (shortened) and
        ``containerID``.
        """
        out: dict[str, dict[str, Any]] = {}
        for (name, kind), worker in self.probe_workers.items():
            out.setdefault(name, {})[kind.value] = worker.snapshot()
        return out

    # --- the loop

    async def run(self) -> None:
        """Repeat ``sync()`` whenever a container exits or a backoff may have ended; probes run alongside."""
        self.start_probes()
        try:
            while not self._terminating:
                await self.sync()
                if self.on_synced is not None:
                    self.on_synced()
                self._wakeup.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._next_deadline())
        finally:
            await self.stop_probes()

    def _next_deadline(self) -> float:
        waits = []
        for slot in [*self._init_slots, *self._slots.values()]:
            if slot.waiting_reason == "CrashLoopBackOff" and slot.observed_exit_at is not None:
                key = self._backoff_key(slot.spec.name)
                waits.append(self.backoff.remaining(key, slot.observed_exit_at))
        return max(0.05, min(waits)) if waits else 3600.0

    async def terminate(self, grace: float | None = None) -> None:
        """Graceful deletion: SIGTERM, SIGKILL at the deadline, then the sandbox and its cgroups go."""
        self._terminating = True
        self._wakeup.set()
        await self.stop_probes()
        async with self._sync_lock:
            pass  # a sync() that was starting a container has finished: the removal below sees it
        if grace is None:
            grace = float(self.pod.spec.termination_grace_period_seconds or 30)
            grace = max(grace, MIN_GRACE_SECONDS) if grace > 0 else 0.0
        if self.sandbox is None:
            return
        slots = [*self._init_slots, *self._slots.values()]
        for slot in slots:
            if slot.instance is not None and slot.instance.running:
                self._event("Normal", "Killing", f"Stopping container {slot.spec.name}", slot.spec.name)
        await self.runtime.remove_pod_sandbox(self.sandbox, grace=grace)
        for slot in slots:
            if slot.instance is not None and not slot.handled_exit:
                self._observe_exit(slot, slot.instance.exit)

    # --- status

    def container_statuses(self) -> list[types.ContainerStatus]:
        return [self._status_of(slot, self._policy) for slot in self._slots.values()]

    def init_container_statuses(self) -> list[types.ContainerStatus]:
        return [
            self._status_of(slot, "Always" if self._is_sidecar(slot) else self._init_policy)
            for slot in self._init_slots
        ]

    def _status_of(self, slot: _Slot, policy: str) -> types.ContainerStatus:
        state = types.ContainerState()
        if slot.instance is not None and slot.instance.running:
            state.running = types.ContainerStateRunning(started_at=rfc3339(slot.instance.started_at))
        elif slot.terminated is not None and (
            self._terminating or not backoff_mod.should_restart(policy, slot.terminated.exit_code)
        ):
            state.terminated = slot.terminated
        else:
            # Not started yet, or waiting to restart (the ended instance shows as lastState, as the kubelet does).
            state.waiting = types.ContainerStateWaiting(slot.waiting_reason, slot.waiting_message)
        last = types.ContainerState()
        shown_last = slot.terminated if state.waiting is not None and slot.terminated else slot.last_terminated
        if shown_last is not None:
            last.terminated = shown_last
        running = state.running is not None
        return types.ContainerStatus(
            name=slot.spec.name,
            state=state,
            last_state=last,
            ready=running and self._ready(slot),
            started=running and self._started(slot),
            restart_count=slot.restart_count,
            image=slot.spec.image,
            container_id=self._container_id(slot) if slot.instance or slot.terminated else "",
        )

    def phase(self) -> str:
        """kubelet getPhase over the app containers (reference §11)."""
        if self._init_failed():
            return "Failed"
        if not self.initialized():
            return "Pending"
        statuses = self.container_statuses()
        running = sum(1 for s in statuses if s.state.running)
        waiting = sum(1 for s in statuses if s.state.waiting and not s.last_state.terminated)
        stopped = [s for s in statuses if s.state.terminated or (s.state.waiting and s.last_state.terminated)]
        succeeded = sum(1 for s in stopped if s.state.terminated and s.state.terminated.exit_code == 0)
        policy = self.pod.spec.restart_policy or "Always"
        if waiting:
            return "Pending"
        if running:
            return "Running"
        if len(stopped) == len(statuses):
            if policy == "Always":
                return "Running"
            if succeeded == len(statuses):
                return "Succeeded"
            if policy == "Never":
                return "Failed"
            return "Running"  # OnFailure with a failure: it will be restarted
        return "Pending"

    def _condition(self, type_: str, ok: bool, reason: str = "", message: str = "") -> types.PodCondition:
        """A condition whose lastTransitionTime moves only when its status does."""
        status = "True" if ok else "False"
        previous = self._condition_since.get(type_)
        if previous is None or previous[0] != status:
            previous = self._condition_since[type_] = (status, rfc3339(self.clock.now()))
        return types.PodCondition(
            type=type_, status=status, reason=reason, message=message, last_transition_time=previous[1]
        )

    def status(self) -> types.PodStatus:
        statuses = self.container_statuses()
        phase = self.phase()
        initialized = self.initialized()
        incomplete = [
            s.spec.name
            for s in self._init_slots
            if not (
                self._running(s) if self._is_sidecar(s) else s.terminated is not None and s.terminated.exit_code == 0
            )
        ]
        # kubelet GenerateContainersReadyCondition / GeneratePodReadyCondition.
        unready = [s.name for s in statuses if not s.ready]
        if phase == "Succeeded":
            ready, reason, message = False, "PodCompleted", ""
        elif unready or not statuses:
            ready, reason, message = (
                False,
                "ContainersNotReady",
                f"containers with unready status: [{' '.join(unready)}]",
            )
        else:
            ready, reason, message = True, "", ""
        pod_ready, pod_reason, pod_message = ready, reason, message
        if ready:
            missing = self._unmet_readiness_gates()
            if missing:
                pod_ready, pod_reason, pod_message = False, "ReadinessGatesNotReady", "; ".join(missing)
        conditions = [
            self._condition("PodScheduled", True),
            self._condition(
                "Initialized",
                initialized,
                "" if initialized else "ContainersNotInitialized",
                "" if initialized else f"containers with incomplete status: [{' '.join(incomplete)}]",
            ),
            self._condition("ContainersReady", ready, reason, message),
            self._condition("Ready", pod_ready, pod_reason, pod_message),
        ]
        return types.PodStatus(
            phase=phase,
            conditions=conditions,
            container_statuses=statuses,
            init_container_statuses=self.init_container_statuses(),
            qos_class=qos.pod_qos_class(self.pod).value,
            start_time=rfc3339(self.started_at),
            pod_ip=self.pod_ip,
            pod_ips=[types.PodIP(ip=self.pod_ip)] if self.pod_ip else [],
        )

    @property
    def pod_ip(self) -> str:
        """The pod's IP on the node's pod network; empty without one (then probes use the pod's loopback)."""
        return self.sandbox.ip if self.sandbox is not None else ""

    def _unmet_readiness_gates(self) -> list[str]:
        """Readiness gates whose condition is not True in the pod as this worker last saw it (kubelet text)."""
        known = {c.type: c.status for c in self.pod.status.conditions}
        problems = []
        for gate in self.pod.spec.readiness_gates:
            kind = str(gate.get("conditionType", ""))
            if kind not in known:
                problems.append(f'corresponding condition of pod readiness gate "{kind}" does not exist.')
            elif known[kind] != "True":
                problems.append(f'the status of pod readiness gate "{kind}" is not "True", but {known[kind]}')
        return problems
