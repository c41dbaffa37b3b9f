"""Injectable clocks: policy code never calls time.time() or sleeps on its own."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    def now(self) -> float:
        """Seconds (wall clock, so they can be shown to users and compared with finishedAt)."""


class RealClock:
    def now(self) -> float:
        return time.time()


class FakeClock:
    """A clock tests move by hand: ``clock.step(10)``."""

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self._now = start

    def now(self) -> float:
        return self._now

    def step(self, seconds: float) -> None:
        self._now += seconds
