"""PrioritySort: the default QueueSort (``plugins/queuesort/priority_sort.go``).

Higher ``spec.priority`` first; equal priorities in the order they were (re-)queued.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from minikube_py.control.scheduler.framework import Handle, QueuedPodInfo
from minikube_py.control.scheduler.plugins.args import no_args


class PrioritySort:
    NAME: ClassVar[str] = "PrioritySort"

    def less(self, a: QueuedPodInfo, b: QueuedPodInfo) -> bool:
        pa, pb = a.priority, b.priority
        return pa > pb or (pa == pb and a.timestamp < b.timestamp)


def new(args: Mapping[str, Any] | None, handle: Handle) -> PrioritySort:
    no_args(PrioritySort.NAME, args)
    return PrioritySort()
