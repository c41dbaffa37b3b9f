"""The runtime's data: what is asked for (configs) and what exists (sandboxes, containers, exits)."""

from __future__ import annotations

import asyncio
import collections
import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field

from minikube_py.node.cgroups.driver import CgroupResources, OomNotifier, QOSTier

PAUSE_OOM_SCORE_ADJ = -998  # containerd's defaultSandboxOOMAdj
PAUSE_CPU_SHARES = 2  # containerd's defaultSandboxCPUshares
PAUSE_CGROUP = "pause"
NAMESPACE_TYPES = ("pid", "net", "ipc", "uts", "mnt")


@dataclass(frozen=True)
class VolumeConfig:
    """A pod-level scratch volume (``emptyDir``): a directory on the node's disk, or a tmpfs for ``Memory``."""

    name: str
    medium: str = ""  # "" = the data directory's disk; "Memory" = tmpfs
    size_limit_bytes: int | None = None  # tmpfs size for Memory; on disk, enforced by local-storage eviction


@dataclass(frozen=True)
class Mount:
    """One volume made visible in one container at ``container_path`` (its private mount namespace)."""

    volume: str
    container_path: str
    read_only: bool = False
    sub_path: str = ""  # a directory inside the volume (created when missing), instead of its root


@dataclass(frozen=True)
class PodSandboxConfig:
    uid: str
    name: str
    namespace: str
    hostname: str
    share_process_namespace: bool = False
    tier: QOSTier = QOSTier.BESTEFFORT
    resources: CgroupResources = field(default_factory=CgroupResources)
    volumes: tuple[VolumeConfig, ...] = ()


@dataclass(frozen=True)
class ContainerConfig:
    name: str
    argv: Sequence[str]
    env: Sequence[tuple[str, str]] = ()
    working_dir: str | None = None
    resources: CgroupResources = field(default_factory=CgroupResources)
    oom_score_adj: int | None = None
    log_path: str | None = None  # CRI-format log (both streams), written by the node shim
    log_max_size: int = 10 << 20
    log_max_files: int = 5
    mounts: tuple[Mount, ...] = ()


@dataclass(frozen=True)
class ExecResult:
    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool = False


@dataclass
class OomRecord:
    """One memcg OOM kill in a container's cgroup, with what we could learn about it."""

    container: str
    kill_number: int  # the cgroup's oom_kill counter value for this kill (1, 2, ...)
    detected_at: float  # wall clock
    limit_bytes: int | None
    peak_bytes: int | None
    victim_pid: int | None = None  # host pid, from the kernel log when readable
    victim_command: str | None = None
    victim_anon_rss_bytes: int | None = None
    main_process_killed: bool = False
    # (seconds relative to detected_at, bytes): the container's memory usage over the last 30 s.
    memory_curve: list[tuple[float, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, object]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class ContainerExit:
    exit_code: int | None  # Kubernetes convention: 128+signal when signalled; None when unknown
    signal: int | None
    reason: str  # Completed | Error | OOMKilled | Unknown
    message: str
    started_at: float
    finished_at: float
    oom_kills: int


@dataclass
class Container:
    config: ContainerConfig
    sandbox: Sandbox
    pid: int
    cgroup: str
    started_at: float
    start_ticks: int | None = None
    oom_records: list[OomRecord] = field(default_factory=list)
    samples: collections.deque[tuple[float, int]] = field(default_factory=lambda: collections.deque(maxlen=128))
    exit: ContainerExit | None = None
    _notifier: OomNotifier | None = None
    _usage_fd: int = -1  # memory usage file, kept open for the sampler (one pread per sample)
    _task: asyncio.Task[ContainerExit] | None = None  # supervision, including cleanup
    _exited: asyncio.Future[ContainerExit] | None = None  # resolved as soon as the exit is classified
    _oom_check: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self.exit is None


@dataclass
class Sandbox:
    config: PodSandboxConfig
    pause_pid: int
    cgroup: str
    namespaces: dict[str, int]  # namespace type -> inode number
    created_at: float
    pause_start_ticks: int | None = None
    containers: dict[str, Container] = field(default_factory=dict)
    pause_alive: bool = True
    ip: str = ""  # from the pod network, when the runtime has one (the pod's eth0)
    pause_supervised: bool = True  # the node shim is the pause's parent and will report its exit
