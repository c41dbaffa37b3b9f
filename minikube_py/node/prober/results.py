"""What a probe says, and what is remembered of it."""

from __future__ import annotations

import collections
import enum
from dataclasses import dataclass
from typing import Any

HISTORY_SIZE = 10  # results kept per probe (beyond Kubernetes: shown by `describe pod`)
HISTORY_OUTPUT_CHARS = 200  # output kept per history entry


class Kind(enum.Enum):
    LIVENESS = "liveness"
    READINESS = "readiness"
    STARTUP = "startup"

    @property
    def title(self) -> str:
        """As the kubelet's probeType.String() writes it in events: ``Liveness``."""
        return self.value.capitalize()


class Result(enum.Enum):
    """A probe run's result (``pkg/probe``).  The stored per-container state only takes SUCCESS or FAILURE
    (or the initial UNKNOWN of a startup probe); WARNING counts as SUCCESS; UNKNOWN means the prober itself
    failed, and the run is thrown away."""

    SUCCESS = "Success"
    WARNING = "Warning"
    FAILURE = "Failure"
    UNKNOWN = "Unknown"


INITIAL_RESULT = {
    # kubelet worker.go: the value a container has until its probe first crosses a threshold.
    Kind.READINESS: Result.FAILURE,
    Kind.LIVENESS: Result.SUCCESS,
    Kind.STARTUP: Result.UNKNOWN,
}


@dataclass(frozen=True)
class Outcome:
    """One probe run: its result and its output (command output, response body or error text)."""

    result: Result
    output: str = ""


@dataclass(frozen=True)
class HistoryEntry:
    at: float  # wall clock when the probe started
    latency: float  # seconds the probe took
    result: Result
    output: str  # shortened
    container_id: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "time": round(self.at, 3),
            "latencyMs": round(self.latency * 1000, 1),
            "result": self.result.value,
            "output": self.output,
            "containerID": self.container_id,
        }


def shorten(text: str, limit: int = HISTORY_OUTPUT_CHARS) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def new_history(size: int = HISTORY_SIZE) -> collections.deque[HistoryEntry]:
    return collections.deque(maxlen=size)
