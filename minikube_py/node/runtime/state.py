"""The runtime's state directory: one JSON file per pod sandbox, so a restarted agent can re-adopt its pods.

Files are replaced atomically (write to a temp file, rename), so an agent crash leaves either the old or the
new record, never half of one.  There is no fsync: the records only matter while the machine keeps running
(after a reboot no pod survives anyway), and the kernel's page cache outlives any process.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
from typing import Any

from minikube_py.node.cgroups.driver import CgroupResources, QOSTier
from minikube_py.node.runtime.model import (
    Container,
    ContainerConfig,
    ContainerExit,
    Mount,
    PodSandboxConfig,
    Sandbox,
    VolumeConfig,
)


class StateStore:
    def __init__(self, state_dir: str) -> None:
        self._dir = os.path.join(state_dir, "pods")
        os.makedirs(self._dir, exist_ok=True)

    def _path(self, uid: str) -> str:
        return os.path.join(self._dir, f"{uid}.json")

    def save(self, sandbox: Sandbox) -> None:
        path = self._path(sandbox.config.uid)
        tmp = f"{path}.tmp"
        text = json.dumps(sandbox_to_record(sandbox))  # dumps, not dump: only it uses the C encoder
        with open(tmp, "w") as f:
            f.write(text)
        os.replace(tmp, path)

    def delete(self, uid: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path(uid))

    def load_all(self) -> list[dict[str, Any]]:
        records = []
        for name in sorted(os.listdir(self._dir)):
            if name.endswith(".json"):
                with open(os.path.join(self._dir, name)) as f:
                    records.append(json.load(f))
        return records


def _resources(data: dict[str, Any]) -> CgroupResources:
    return CgroupResources(**data)


def _plain(value: Any) -> Any:
    """``dataclasses.asdict`` without its deep copies (records are serialised at once, never kept)."""
    names = getattr(type(value), "__dataclass_fields__", None)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, enum.Enum):
        return value.value
    return value


def sandbox_to_record(sandbox: Sandbox) -> dict[str, Any]:
    config = _plain(sandbox.config)
    return {
        "config": config,
        "pause_pid": sandbox.pause_pid,
        "pause_start_ticks": sandbox.pause_start_ticks,
        "cgroup": sandbox.cgroup,
        "namespaces": sandbox.namespaces,
        "created_at": sandbox.created_at,
        "ip": sandbox.ip,
        "containers": {name: container_to_record(c) for name, c in sandbox.containers.items()},
    }


def container_to_record(container: Container) -> dict[str, Any]:
    config = _plain(container.config)
    return {
        "config": config,
        "pid": container.pid,
        "start_ticks": container.start_ticks,
        "cgroup": container.cgroup,
        "started_at": container.started_at,
        "exit": _plain(container.exit) if container.exit else None,
    }


def sandbox_config_from(data: dict[str, Any]) -> PodSandboxConfig:

    fields = dict(data)
    fields["tier"] = QOSTier(fields["tier"])
    fields["resources"] = _resources(fields["resources"])
    fields["volumes"] = tuple(VolumeConfig(**v) for v in fields.get("volumes", ()))
    return PodSandboxConfig(**fields)


def container_config_from(data: dict[str, Any]) -> ContainerConfig:

    fields = dict(data)
    fields["env"] = [tuple(kv) for kv in fields["env"]]
    fields["resources"] = _resources(fields["resources"])
    fields["mounts"] = tuple(Mount(**m) for m in fields.get("mounts", ()))
    return ContainerConfig(**fields)


def sandbox_from_record(record: dict[str, Any]) -> Sandbox:

    return Sandbox(
        config=sandbox_config_from(record["config"]),
        pause_pid=int(record["pause_pid"]),
        cgroup=record["cgroup"],
        namespaces={k: int(v) for k, v in record["namespaces"].items()},
        created_at=float(record["created_at"]),
        pause_start_ticks=record.get("pause_start_ticks"),
        ip=str(record.get("ip", "")),
    )


def container_from_record(record: dict[str, Any], sandbox: Sandbox) -> Container:

    return Container(
        config=container_config_from(record["config"]),
        sandbox=sandbox,
        pid=int(record["pid"]),
        cgroup=record["cgroup"],
        started_at=float(record["started_at"]),
        start_ticks=record.get("start_ticks"),
    )


def exit_from_record(data: dict[str, Any]) -> ContainerExit:

    return ContainerExit(**data)
