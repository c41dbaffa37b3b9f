"""The pod runtime: sandboxes held by a pause PID 1, containers joining them, cgroups, OOM truth.

It plays the role of a CRI runtime for the node agent: the agent translates Pods into
``PodSandboxConfig``/``ContainerConfig`` and drives this object; tests drive it directly.

Sandbox: new pid, net, ipc, uts and mount namespaces, held by ``catatonit -P`` (≈48 KiB of anonymous
memory) as PID 1, with the pod's hostname, loopback up and a private /proc.  Containers join the pod's net,
ipc and uts namespaces, get a mount namespace of their own with their own /proc, and either the pod's PID
namespace (``shareProcessNamespace``) or a new one where they are PID 1, as in Kubernetes.

OOM truth: the cgroup's OOM notifier only says "look"; an OOM kill is recorded when the container cgroup's
``oom_kill`` counter has risen, and a container ends ``OOMKilled`` only when its main process died of
SIGKILL *and* the counter rose — a ``kill -9`` by hand is ``Error``/137.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import os
import shutil
import signal
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from minikube_py import errors
from minikube_py.node.cgroups.driver import (
    CgroupDriver,
    CgroupResources,
    CgroupStats,
    OomNotifier,
    pod_cgroup_path,
)
from minikube_py.node.runtime import kmsg as kmsg_mod
from minikube_py.node.runtime import libc, state
from minikube_py.node.runtime import spawner as spawner_mod
from minikube_py.node.runtime.model import (
    NAMESPACE_TYPES,
    PAUSE_CGROUP,
    PAUSE_CPU_SHARES,
    PAUSE_OOM_SCORE_ADJ,
    Container,
    ContainerConfig,
    ContainerExit,
    ExecResult,
    OomRecord,
    PodSandboxConfig,
    Sandbox,
)
from minikube_py.util.diskusage import disk_usage

log = logging.getLogger(__name__)

EMPTY_DIR_PLUGIN = "kubernetes.io~empty-dir"

OomListener = Callable[[Container, OomRecord], None]


def _start_ticks(pid: int) -> int | None:
    """A process's start time (clock ticks since boot, /proc/PID/stat field 22): tells a pid from its reuse."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


class PodNetworkPlugin(Protocol):
    """What the runtime asks of a pod network (CNI's ADD and DEL): an IP on the pod's eth0, and its release."""

    async def add_pod(self, uid: str, netns_pid: int, *, netns_inode: int | None = None) -> str: ...

    async def remove_pod(self, uid: str, *, delete_link: bool = True) -> str | None: ...


class Runtime:
    def __init__(
        self,
        driver: CgroupDriver,
        *,
        state_dir: str,
        volume_root: str | None = None,
        pause_argv: Sequence[str] = ("catatonit", "-P"),
        spawner: spawner_mod.Spawner | None = None,
        kmsg: kmsg_mod.KmsgWatcher | None = None,
        clock: Callable[[], float] = time.time,
        sample_interval: float = 0.25,
        curve_window: float = 30.0,
    ) -> None:
        self.driver = driver
        self._state = state.StateStore(state_dir)
        # <volume_root>/<pod uid>/volumes/kubernetes.io~empty-dir/<name> (the kubelet's layout)
        self.volume_root = volume_root or os.path.join(state_dir, "pods")
        self._pause_argv = list(pause_argv)
        self._spawner = spawner or spawner_mod.Spawner(os.path.join(state_dir, "shim.sock"))
        self._kmsg = kmsg if kmsg is not None else kmsg_mod.KmsgWatcher()
        self._clock = clock
        self._sample_interval = sample_interval
        self._curve_window = curve_window
        self._sandboxes: dict[str, Sandbox] = {}
        self.network: PodNetworkPlugin | None = None  # set once the node's pod network is ready
        self._sampler: asyncio.Task[None] | None = None
        self._oom_listeners: list[OomListener] = []

    # --- lifecycle of the runtime itself

    async def start(self) -> None:
        """Set up the node's cgroups, connect to (or start) the node shim, and re-adopt surviving pods."""
        self.driver.setup_node()
        await self._spawner.start()
        self._kmsg.start()
        await self._recover()
        self._sampler = asyncio.create_task(self._sample_forever(), name="memory-sampler")

    async def close(self, *, shutdown_shim: bool = False) -> None:
        """Stop the runtime's own helpers.  Pods keep running (they outlive the agent) unless removed first."""
        if self._sampler:
            self._sampler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._sampler
        for sandbox in self._sandboxes.values():
            for container in sandbox.containers.values():
                if container._task is not None and not container._task.done():
                    container._task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await container._task
                self._stop_watching(container)
        self._kmsg.stop()
        await self._spawner.close(shutdown_shim=shutdown_shim)

    def add_oom_listener(self, listener: OomListener) -> None:
        self._oom_listeners.append(listener)

    @property
    def sandboxes(self) -> dict[str, Sandbox]:
        return dict(self._sandboxes)

    # --- sandboxes

    async def run_pod_sandbox(self, config: PodSandboxConfig) -> Sandbox:
        if config.uid in self._sandboxes:
            raise errors.AlreadyExists(f"pod sandbox {config.uid} exists")
        pod_cg = pod_cgroup_path(config.tier, config.uid)
        pause_cg = f"{pod_cg}/{PAUSE_CGROUP}"
        self._setup_volumes(config)
        try:
            self.driver.create(pod_cg, config.resources)
        except BaseException:
            self._teardown_volumes(config)
            raise
        try:
            self.driver.create(pause_cg, CgroupResources(cpu_shares=PAUSE_CPU_SHARES))
            pid = await self._spawner.spawn(
                spawner_mod.SpawnRequest(
                    argv=self._pause_argv,
                    cgroup_procs=self.driver.join_files(pause_cg),
                    cgroup_dir=self.driver.spawn_dir(pause_cg),
                    unshare=list(NAMESPACE_TYPES),
                    mount_proc=True,
                    hostname=config.hostname,
                    loopback_up=True,
                    oom_score_adj=PAUSE_OOM_SCORE_ADJ,
                )
            )
        except BaseException:
            with contextlib.suppress(errors.CgroupError):
                self.driver.remove(pod_cg)
            self._teardown_volumes(config)
            raise
        sandbox = Sandbox(
            config=config,
            pause_pid=pid,
            cgroup=pod_cg,
            namespaces={ns: os.stat(f"/proc/{pid}/ns/{ns}").st_ino for ns in NAMESPACE_TYPES},
            created_at=self._clock(),
            pause_start_ticks=_start_ticks(pid),
        )
        if self.network is not None:
            try:
                sandbox.ip = await self.network.add_pod(config.uid, pid, netns_inode=sandbox.namespaces["net"])
            except BaseException:
                # No half-made sandbox: the pause (and with it the pod's netns and veth) and the cgroups go.
                spawner_mod.signal_process(pid, signal.SIGKILL)
                with contextlib.suppress(errors.SpawnError):
                    await self._wait_pause(sandbox)
                with contextlib.suppress(errors.CgroupError):
                    await self._kill_and_wait_empty(pod_cg)
                    self.driver.remove(pod_cg)
                self._teardown_volumes(config)
                raise
        self._sandboxes[config.uid] = sandbox
        self._state.save(sandbox)
        return sandbox

    async def remove_pod_sandbox(self, sandbox: Sandbox, grace: float = 0.0) -> None:
        """Stop every container (SIGTERM, SIGKILL after ``grace``), kill the pause, remove the cgroups."""
        await asyncio.gather(*(self.stop_container(c, grace) for c in sandbox.containers.values() if c.running))
        for c in sandbox.containers.values():
            if c._task is not None:
                await c._task
        if spawner_mod.signal_process(sandbox.pause_pid, signal.SIGKILL) or sandbox.pause_alive:
            with contextlib.suppress(errors.SpawnError):
                await self._wait_pause(sandbox)
        # Anything still in the pod's cgroups (e.g. escaped children) goes too.
        await self._kill_and_wait_empty(sandbox.cgroup)
        self.driver.remove(sandbox.cgroup)
        self._teardown_volumes(sandbox.config)
        if self.network is not None:
            # The pause is gone, so is the pod's netns; the kernel removed the veth pair with it.
            await self.network.remove_pod(sandbox.config.uid, delete_link=False)
        self._sandboxes.pop(sandbox.config.uid, None)
        self._state.delete(sandbox.config.uid)

    # --- volumes (emptyDir)

    def pod_dir(self, uid: str) -> str:
        return os.path.join(self.volume_root, uid)

    def volume_path(self, uid: str, name: str) -> str:
        return os.path.join(self.pod_dir(uid), "volumes", EMPTY_DIR_PLUGIN, name)

    def _staging_dir(self, uid: str) -> str:
        return os.path.join(self.pod_dir(uid), "staging")

    def _setup_volumes(self, config: PodSandboxConfig) -> None:
        if not config.volumes:
            return
        os.makedirs(self._staging_dir(config.uid), mode=0o700, exist_ok=True)
        try:
            for volume in config.volumes:
                path = self.volume_path(config.uid, volume.name)
                os.makedirs(path, exist_ok=True)
                os.chmod(path, 0o777)  # the kubelet's emptyDir mode: any container user may write
                if volume.medium == "Memory" and not os.path.ismount(path):
                    # tmpfs pages are charged to the memory cgroup of the process that writes them.
                    size = f",size={volume.size_limit_bytes}" if volume.size_limit_bytes else ""
                    libc.mount("tmpfs", path, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, f"mode=0777{size}")
        except BaseException:
            self._teardown_volumes(config)
            raise

    def _teardown_volumes(self, config: PodSandboxConfig) -> None:
        """Unmount memory-backed volumes and remove the pod's directory (its volumes' data goes with it)."""
        for volume in config.volumes:
            path = self.volume_path(config.uid, volume.name)
            if volume.medium == "Memory" and os.path.ismount(path):
                try:
                    libc.umount2(path, libc.MNT_DETACH)
                except OSError:
                    log.exception("could not unmount volume %s of pod %s", volume.name, config.uid)
                    return  # never delete through a mount we could not take away
        pod_dir = self.pod_dir(config.uid)
        if os.path.isdir(pod_dir):
            shutil.rmtree(pod_dir, ignore_errors=True)

    def volume_usage(self, sandbox: Sandbox) -> dict[str, tuple[int, int]]:
        """Per volume: (bytes, inodes) in use, counting each inode once (``du`` semantics)."""
        return {v.name: disk_usage(self.volume_path(sandbox.config.uid, v.name)) for v in sandbox.config.volumes}

    async def _wait_pause(self, sandbox: Sandbox) -> None:
        if sandbox.pause_supervised:
            await self._spawner.wait_exit(sandbox.pause_pid)
            await self._spawner.forget([sandbox.pause_pid])
        else:
            await spawner_mod.watch_pid_exit(sandbox.pause_pid)
        sandbox.pause_alive = False

    # --- containers

    async def start_container(self, sandbox: Sandbox, config: ContainerConfig) -> Container:
        previous = sandbox.containers.get(config.name)
        if previous is not None and previous.running:
            raise errors.AlreadyExists(f"container {config.name} is running")
        if previous is not None and previous._task is not None and not previous._task.done():
            # Its exit is known, but its supervisor may still be removing its cgroup (this same path) and
            # recording the exit: a new instance starts after that, or its fresh cgroup would be removed.
            with contextlib.suppress(Exception):
                await asyncio.shield(previous._task)
        cg = f"{sandbox.cgroup}/{config.name}"
        if self.driver.exists(cg):
            self.driver.remove(cg)  # the previous instance's cgroup: start counters from zero
        self.driver.create(cg, config.resources)
        notifier = self.driver.open_oom_notifier(cg)
        join = {"net": sandbox.pause_pid, "ipc": sandbox.pause_pid, "uts": sandbox.pause_pid}
        if sandbox.config.share_process_namespace:
            join["pid"] = sandbox.pause_pid
            unshare = ["mnt"]
        else:
            unshare = ["pid", "mnt"]
        if config.log_path:
            os.makedirs(os.path.dirname(config.log_path), exist_ok=True)
        try:
            mounts = self._mounts_for(sandbox, config)
            pid = await self._spawner.spawn(
                spawner_mod.SpawnRequest(
                    argv=list(config.argv),
                    env=list(config.env),
                    cwd=config.working_dir,
                    cgroup_procs=self.driver.join_files(cg),
                    cgroup_dir=self.driver.spawn_dir(cg),
                    join=join,
                    unshare=unshare,
                    mount_proc=True,
                    oom_score_adj=config.oom_score_adj,
                    log_path=config.log_path,
                    log_max_size=config.log_max_size,
                    log_max_files=config.log_max_files,
                    mounts=mounts,
                    mount_staging=self._staging_dir(sandbox.config.uid) if mounts else None,
                )
            )
        except BaseException:
            notifier.close()
            with contextlib.suppress(errors.CgroupError):
                self.driver.remove(cg)
            raise
        container = Container(
            config=config,
            sandbox=sandbox,
            pid=pid,
            cgroup=cg,
            started_at=self._clock(),
            start_ticks=_start_ticks(pid),
        )
        self._adopt(container, notifier, self._spawner.wait_exit(pid), supervised=True)
        sandbox.containers[config.name] = container
        self._state.save(sandbox)
        return container

    def _adopt(
        self,
        container: Container,
        notifier: OomNotifier | None,
        exit_source: Awaitable[spawner_mod.ExitStatus],
        *,
        supervised: bool,
    ) -> None:
        container.samples = collections.deque(maxlen=int(self._curve_window / self._sample_interval) + 2)
        if notifier is not None:
            container._notifier = notifier
            asyncio.get_running_loop().add_reader(notifier.fileno(), self._on_oom_signal, container)
        with contextlib.suppress(OSError):
            container._usage_fd = os.open(self.driver.memory_usage_file(container.cgroup), os.O_RDONLY | os.O_CLOEXEC)
        exited: asyncio.Future[ContainerExit] = asyncio.get_running_loop().create_future()
        container._exited = exited
        task = asyncio.create_task(
            self._supervise(container, exit_source, supervised=supervised),
            name=f"container-{container.config.name}",
        )
        container._task = task

        def propagate_failure(t: asyncio.Task[ContainerExit]) -> None:
            if exited.done():
                return
            if t.cancelled():
                exited.cancel()
            elif (exc := t.exception()) is not None:
                exited.set_exception(exc)

        task.add_done_callback(propagate_failure)

    def _mounts_for(self, sandbox: Sandbox, config: ContainerConfig) -> list[dict[str, object]]:
        volumes = {v.name for v in sandbox.config.volumes}
        mounts: list[dict[str, object]] = []
        for m in config.mounts:
            if m.volume not in volumes:
                raise errors.SpawnError(f'mount "{m.container_path}": no volume named "{m.volume}"', stage="mount")
            source = self.volume_path(sandbox.config.uid, m.volume)
            if m.sub_path:
                # Validation forbids absolute subPaths and ".."; a symlink planted by a container must not
                # lead outside the volume either.
                volume_root = os.path.realpath(source)
                source = os.path.realpath(os.path.join(source, m.sub_path))
                if os.path.commonpath([volume_root, source]) != volume_root:
                    raise errors.SpawnError(f'subPath "{m.sub_path}" leaves volume "{m.volume}"', stage="mount")
                os.makedirs(source, mode=0o777, exist_ok=True)
            mounts.append({"source": source, "target": m.container_path, "read_only": m.read_only})
        return mounts

    async def wait_container(self, container: Container) -> ContainerExit:
        """The container's exit, as soon as it is known (its cgroup may still be being removed)."""
        assert container._exited is not None
        return await asyncio.shield(container._exited)

    async def stop_container(self, container: Container, grace: float) -> ContainerExit:
        """SIGTERM the main process; after ``grace`` seconds SIGKILL everything in the container's cgroup."""
        assert container._task is not None
        if container.running:
            spawner_mod.signal_process(container.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(asyncio.shield(container._task), grace)
            except TimeoutError:
                with contextlib.suppress(errors.CgroupNotFound):
                    self.driver.kill_all(container.cgroup)
        return await container._task

    async def exec_in_container(
        self,
        container: Container,
        argv: Sequence[str],
        *,
        timeout: float | None = None,
        env: Sequence[tuple[str, str]] | None = None,
        stop_signal: int = signal.SIGKILL,
        stop_grace: float = 1.0,
    ) -> ExecResult:
        """Run ``argv`` in the container's namespaces and cgroup; returns its exit code and output.

        The process is forked by a helper that joined the container's cgroup first, so everything it and its
        children use is charged to the container.  On ``timeout`` the whole process group is SIGKILLed and
        the process reaped, and ``timed_out`` is set.  With another ``stop_signal`` (SIGTERM for a process that
        cleans up below itself, such as the probe reaper) that signal goes to the process first, and the
        group is SIGKILLed only if it has not exited ``stop_grace`` seconds later.

        Kernel fact: the shim reaps the exec'd process itself, but whatever *that* process forked is orphaned
        to the container's PID 1 (a subreaper only adopts orphans of its own PID-namespace level); a PID 1
        that never reaps keeps them as zombies.  Callers that must leave nothing behind run ``argv`` under a
        reaper inside the container (``minikube_py.node.prober.reaper``).
        """
        if not container.running:
            raise errors.NotFound(f"container {container.config.name} is not running")
        pid = await self._spawner.spawn(
            spawner_mod.SpawnRequest(
                argv=list(argv),
                env=list(container.config.env if env is None else env),
                cwd=container.config.working_dir,
                cgroup_procs=self.driver.join_files(container.cgroup),
                cgroup_dir=self.driver.spawn_dir(container.cgroup),
                join={ns: container.pid for ns in ("ipc", "uts", "net", "pid", "mnt")},
                capture=True,
            )
        )
        timed_out = False
        status: spawner_mod.ExitStatus | None = None
        try:
            status = await asyncio.wait_for(asyncio.shield(self._spawner.wait_exit(pid)), timeout)
        except TimeoutError:
            timed_out = True
            if stop_signal != signal.SIGKILL:
                spawner_mod.signal_process(pid, stop_signal)
                with contextlib.suppress(TimeoutError):
                    status = await asyncio.wait_for(asyncio.shield(self._spawner.wait_exit(pid)), stop_grace)
        if status is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)  # the exec'd process leads its own session and group
            status = await self._spawner.wait_exit(pid)
        await self._spawner.forget([pid])
        return ExecResult(status.container_exit_code, status.stdout, status.stderr, timed_out)

    def container_stats(self, container: Container) -> CgroupStats:
        return self.driver.stats(container.cgroup)

    # --- recovery after an agent restart

    async def _recover(self) -> None:
        alive, exited = await self._spawner.known_processes()
        for record in self._state.load_all():
            uid = record["config"]["uid"]
            if uid in self._sandboxes:
                continue
            sandbox = state.sandbox_from_record(record)
            pause_same = _start_ticks(sandbox.pause_pid) == sandbox.pause_start_ticks
            sandbox.pause_supervised = sandbox.pause_pid in alive or sandbox.pause_pid in exited
            sandbox.pause_alive = sandbox.pause_pid in alive or (pause_same and sandbox.pause_pid not in exited)
            self._sandboxes[uid] = sandbox
            for crecord in record.get("containers", {}).values():
                container = state.container_from_record(crecord, sandbox)
                sandbox.containers[container.config.name] = container
                if crecord.get("exit"):
                    container.exit = state.exit_from_record(crecord["exit"])
                    continue
                pid = container.pid
                notifier = None
                with contextlib.suppress(errors.CgroupError):
                    notifier = self.driver.open_oom_notifier(container.cgroup)
                source: Awaitable[spawner_mod.ExitStatus]
                if pid in alive or pid in exited:
                    # The shim kept watching: the exit status is exact, even if it ended while we were away.
                    source = self._spawner.wait_exit(pid)
                    supervised = True
                elif _start_ticks(pid) == container.start_ticks:
                    source = _unknown_when_gone(pid)  # alive but not our shim's child: exit code unknowable
                    supervised = False
                else:
                    source = _already_gone()
                    supervised = False
                self._adopt(container, notifier, source, supervised=supervised)

    # --- supervision

    async def _supervise(
        self, container: Container, exit_source: Awaitable[spawner_mod.ExitStatus], *, supervised: bool
    ) -> ContainerExit:
        status = await exit_source
        finished = status.finished_at or self._clock()
        # The container is over when its main process is; whatever it left behind goes with it.
        await self._kill_and_wait_empty(container.cgroup)
        if container._oom_check is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await container._oom_check
        count = 0
        with contextlib.suppress(errors.CgroupNotFound):
            count = self.driver.oom_kill_count(container.cgroup)
        await self._record_ooms(container, count)
        killed = status.signal == signal.SIGKILL
        if container.oom_records and killed:
            container.oom_records[-1].main_process_killed = True
        exit_ = _classify(container, status, count, finished)
        container.exit = exit_
        if container._exited is not None and not container._exited.done():
            container._exited.set_result(exit_)
            # Let wait_container's callers act on the exit (status reports) before the bookkeeping below;
            # its shield passes the result on one loop turn later, so that is two turns.
            for _ in range(2):
                await asyncio.sleep(0)
        self._stop_watching(container)
        with contextlib.suppress(errors.CgroupError):
            self.driver.remove(container.cgroup)
        if container.sandbox.config.uid in self._sandboxes:
            self._state.save(container.sandbox)
        if supervised:
            with contextlib.suppress(errors.SpawnError):
                await self._spawner.forget([container.pid])
        return exit_

    def _stop_watching(self, container: Container) -> None:
        # Close the notifier before rmdir: the v1 eventfd also fires when its cgroup is removed.
        notifier = container._notifier
        if notifier is not None:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(notifier.fileno())
            notifier.close()
            container._notifier = None
        if container._usage_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(container._usage_fd)
            container._usage_fd = -1

    async def _kill_and_wait_empty(self, cgroup: str, timeout: float = 5.0) -> None:
        try:
            if not self.driver.pids(cgroup):
                return
            self.driver.kill_all(cgroup)
        except errors.CgroupNotFound:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if not self.driver.pids(cgroup):
                    return
            except errors.CgroupNotFound:
                return
            await asyncio.sleep(0.005)
        raise errors.CgroupBusy(f"processes still in {cgroup} {timeout}s after SIGKILL", path=cgroup)

    def _on_oom_signal(self, container: Container) -> None:
        notifier = container._notifier
        if notifier is None:
            return
        notifier.drain()
        # The usage met the limit just now.  On v1 the eventfd fires before the kill completes, but a late loop
        # reads the usage after the victim's memory was freed: the high-water mark keeps the approach to the
        # limit in the curve (each container instance has its own cgroup, so the mark is this instance's).
        with contextlib.suppress(errors.CgroupError):
            usage = self.driver.memory_usage(container.cgroup)
            peak = self.driver.stats(container.cgroup).memory_peak
            container.samples.append((self._clock(), max(usage, peak or 0)))
        if container._oom_check is None or container._oom_check.done():
            container._oom_check = asyncio.create_task(self._confirm_oom(container))

    async def _confirm_oom(self, container: Container) -> None:
        # The notifier fires before the kill completes; the counter moves a few ms later.
        for delay in (0.002, 0.02, 0.1, 0.4):
            await asyncio.sleep(delay)
            try:
                count = self.driver.oom_kill_count(container.cgroup)
            except errors.CgroupNotFound:
                return
            if count > len(container.oom_records):
                await self._record_ooms(container, count)
                return

    async def _record_ooms(self, container: Container, count: int) -> None:
        if count <= len(container.oom_records):
            return
        now = self._clock()
        limit = container.config.resources.memory_limit
        peak: int | None = None
        with contextlib.suppress(errors.CgroupError):
            peak = self.driver.stats(container.cgroup).memory_peak
        # The curve up to the detection, taken before waiting for the kernel's report (the sampler goes on).
        curve = [(round(t - now, 3), b) for t, b in container.samples if now - self._curve_window <= t <= now]
        memcg = self.driver.kernel_memory_path(container.cgroup)
        reports = await self._kmsg.wait_for(memcg, container.started_at - 1, 0.25, frozenset({container.pid}))
        for number in range(len(container.oom_records) + 1, count + 1):
            report = reports[number - 1] if number - 1 < len(reports) else None
            record = OomRecord(
                container=container.config.name,
                kill_number=number,
                detected_at=now,
                limit_bytes=limit,
                peak_bytes=peak,
                victim_pid=report.pid if report else None,
                victim_command=report.command if report else None,
                victim_anon_rss_bytes=report.anon_rss_bytes if report else None,
                memory_curve=list(curve),
            )
            container.oom_records.append(record)
            for listener in self._oom_listeners:
                try:
                    listener(container, record)
                except Exception:  # a listener's bug must not stop supervision
                    log.exception("OOM listener failed")

    async def _sample_forever(self) -> None:
        """The memory curve kept for OOM records.  Containers with a memory limit (the ones a memcg OOM can
        hit) are sampled every tick, the others every fourth; each sample is one pread() of an open file."""
        tick = 0
        while True:
            now = self._clock()
            for sandbox in list(self._sandboxes.values()):
                for container in list(sandbox.containers.values()):
                    if not container.running or container._usage_fd < 0:
                        continue
                    if container.config.resources.memory_limit is None and tick % 4:
                        continue
                    with contextlib.suppress(OSError, ValueError):
                        container.samples.append((now, int(os.pread(container._usage_fd, 32, 0))))
            tick += 1
            await asyncio.sleep(self._sample_interval)


async def _unknown_when_gone(pid: int) -> spawner_mod.ExitStatus:
    await spawner_mod.watch_pid_exit(pid)
    return spawner_mod.ExitStatus(exit_code=None, signal=None)


async def _already_gone() -> spawner_mod.ExitStatus:
    return spawner_mod.ExitStatus(exit_code=None, signal=None)


def _classify(container: Container, status: spawner_mod.ExitStatus, oom_count: int, finished: float) -> ContainerExit:
    code = status.container_exit_code
    if not status.known:
        reason = "ContainerStatusUnknown"
        message = "the container ended while no one was watching; its exit code is unknown"
        if oom_count:
            reason = "OOMKilled"  # the counter proves the kernel killed it for memory
    elif status.signal == signal.SIGKILL and oom_count > 0:
        reason = "OOMKilled"
        message = f"killed by the kernel OOM killer at memory limit {container.config.resources.memory_limit} bytes"
    elif code == 0:
        reason, message = "Completed", ""
    else:
        reason = "Error"
        message = f"killed by signal {signal.Signals(status.signal).name}" if status.signal else ""
    if oom_count and reason != "OOMKilled":
        message = (message + "; " if message else "") + f"{oom_count} process(es) OOM-killed in the container"
    return ContainerExit(
        exit_code=code,
        signal=status.signal,
        reason=reason,
        message=message,
        started_at=container.started_at,
        finished_at=finished,
        oom_kills=oom_count,
    )
