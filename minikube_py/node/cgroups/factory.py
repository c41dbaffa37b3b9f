"""The only place that chooses between the cgroup v1 and v2 drivers."""

from __future__ import annotations

from dataclasses import dataclass

from minikube_py import errors
from minikube_py.node.cgroups import detect
from minikube_py.node.cgroups.driver import CgroupDriver
from minikube_py.node.cgroups.v1 import V1Driver
from minikube_py.node.cgroups.v2 import V2Driver


@dataclass(frozen=True)
class CgroupConfig:
    parent: str | None = None
    """Hierarchy path under which the node's cgroups go; default: the cgroup the agent runs in."""
    node_dir: str = "minikube_py"
    """Directory created under the parent that holds kubepods; one per node agent."""
    delegated: bool = False
    """The parent is a cgroup delegated to this agent alone (systemd ``Delegate=yes``): on v2 the agent may move
    the processes in it (its own and its shim's) into a leaf ``agent/`` so controllers can be enabled below it
    (what systemd ≥ 254 does with ``DelegateSubgroup=``). v1 has no such rule and ignores it."""
    cgroupfs: str = "/sys/fs/cgroup"
    mountinfo_path: str = "/proc/self/mountinfo"
    proc_cgroup_path: str = "/proc/self/cgroup"


def new_driver(config: CgroupConfig | None = None) -> CgroupDriver:
    config = config or CgroupConfig()
    layout = detect.detect_layout(
        cgroupfs=config.cgroupfs,
        mountinfo_path=config.mountinfo_path,
        proc_cgroup_path=config.proc_cgroup_path,
    )
    if layout.mode is detect.Mode.UNIFIED:
        return V2Driver(layout, parent=config.parent, node_dir=config.node_dir, delegated=config.delegated)
    if layout.mode in (detect.Mode.LEGACY, detect.Mode.HYBRID):
        return V1Driver(layout, parent=config.parent, node_dir=config.node_dir)
    raise errors.CgroupUnavailable(f"no usable cgroup hierarchy under {config.cgroupfs}")
