"""A scripted ``Prober`` for unit tests (next to the interface, as the kubelet's prober/testing)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from minikube_py.api import types
from minikube_py.node.prober.results import Kind, Outcome, Result
from minikube_py.node.prober.runners import Target


class FakeProber:
    """Returns ``default`` unless outcomes were queued with ``script()``; records every call."""

    def __init__(self, default: Outcome | None = None) -> None:
        self.default = default or Outcome(Result.SUCCESS)
        self.queued: deque[Outcome] = deque()
        self.calls: list[tuple[Kind, Target]] = []

    def script(self, outcomes: Iterable[Outcome | Result]) -> None:
        for item in outcomes:
            self.queued.append(item if isinstance(item, Outcome) else Outcome(item))

    async def probe(self, kind: Kind, probe: types.Probe, target: Target) -> Outcome:
        self.calls.append((kind, target))
        return self.queued.popleft() if self.queued else self.default
