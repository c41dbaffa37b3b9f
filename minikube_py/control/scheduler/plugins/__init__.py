"""In-tree plugins and their registry: plugin name -> validating factory ``(args, handle) -> plugin``."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from minikube_py.control.scheduler.framework import Handle
from minikube_py.control.scheduler.plugins import (
    defaultbinder,
    nodeaffinity,
    nodename,
    noderesources,
    nodeunschedulable,
    queuesort,
    tainttoleration,
)

# A factory validates its args (raising framework.InvalidArgs) and builds the plugin.
Factory = Callable[[Mapping[str, Any] | None, Handle], Any]

REGISTRY: Mapping[str, Factory] = {
    queuesort.PrioritySort.NAME: queuesort.new,
    nodeunschedulable.NodeUnschedulable.NAME: nodeunschedulable.new,
    nodename.NodeName.NAME: nodename.new,
    tainttoleration.TaintToleration.NAME: tainttoleration.new,
    nodeaffinity.NodeAffinity.NAME: nodeaffinity.new,
    noderesources.Fit.NAME: noderesources.new_fit,
    noderesources.BalancedAllocation.NAME: noderesources.new_balanced_allocation,
    defaultbinder.DefaultBinder.NAME: defaultbinder.new,
}
