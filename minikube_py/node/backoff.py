"""CrashLoopBackOff, as the kubelet computes it (client-go flowcontrol.Backoff driven by doBackOff).

Per container key (namespace/name/uid/container):
- the first restart happens at once, and ``next()`` records a 10 s backoff;
- while ``now - finishedAt < backoff`` the container waits (state Waiting, reason CrashLoopBackOff);
- every ``next()`` doubles the backoff, capped at 300 s;
- an entry not updated for more than 2 × max (600 s) has expired: the next crash starts over at 10 s
  (so a container that ran ~10 minutes cleanly is forgiven), and ``gc()`` drops such entries.
"""

from __future__ import annotations

from dataclasses import dataclass

from minikube_py.util.clock import Clock

INITIAL_BACKOFF = 10.0  # kubelet backOffPeriod
MAX_BACKOFF = 300.0  # kubelet MaxContainerBackOff


@dataclass
class _Entry:
    backoff: float
    last_update: float


class Backoff:
    def __init__(self, clock: Clock, *, initial: float = INITIAL_BACKOFF, maximum: float = MAX_BACKOFF) -> None:
        self._clock = clock
        self._initial = initial
        self._max = maximum
        self._entries: dict[str, _Entry] = {}

    def _expired(self, event_time: float, last_update: float) -> bool:
        return event_time - last_update > 2 * self._max

    def next(self, key: str, event_time: float | None = None) -> float:
        """Record a restart at ``event_time`` (default now); returns the backoff now in force for ``key``."""
        at = self._clock.now() if event_time is None else event_time
        entry = self._entries.get(key)
        if entry is None or self._expired(at, entry.last_update):
            entry = self._entries[key] = _Entry(self._initial, at)
        else:
            entry.backoff = min(entry.backoff * 2, self._max)
            entry.last_update = at
        return entry.backoff

    def get(self, key: str) -> float:
        entry = self._entries.get(key)
        return entry.backoff if entry else 0.0

    def is_in_backoff_since(self, key: str, event_time: float) -> bool:
        """True while fewer than ``backoff`` seconds have passed since ``event_time`` (last finishedAt)."""
        entry = self._entries.get(key)
        if entry is None:
            return False
        now = self._clock.now()
        if self._expired(now, entry.last_update):
            return False
        return now - event_time < entry.backoff

    def remaining(self, key: str, event_time: float) -> float:
        """Seconds until a container that finished at ``event_time`` may restart (0 if it may now)."""
        if not self.is_in_backoff_since(key, event_time):
            return 0.0
        return max(0.0, event_time + self._entries[key].backoff - self._clock.now())

    def reset(self, key: str) -> None:
        self._entries.pop(key, None)

    def gc(self) -> None:
        now = self._clock.now()
        for key in [k for k, e in self._entries.items() if self._expired(now, e.last_update)]:
            del self._entries[key]


def should_restart(restart_policy: str, exit_code: int | None) -> bool:
    """Always → yes; OnFailure → iff the exit code is not 0 (OOMKilled's 137 counts); Never → no.

    An unknown exit code (the container ended while nobody watched) counts as a failure.
    """
    if restart_policy == "Always":
        return True
    if restart_policy == "OnFailure":
        return exit_code != 0
    return False


def backoff_message(seconds: float, container: str, pod_name: str, namespace: str, uid: str) -> str:
    """The kubelet's CrashLoopBackOff waiting message."""
    delay = _go_duration(seconds)
    return f"back-off {delay} restarting failed container={container} pod={pod_name}_{namespace}({uid})"


def _go_duration(seconds: float) -> str:
    # Go's time.Duration.String for whole seconds: 10s, 1m20s, 5m0s
    total = int(seconds)
    minutes, secs = divmod(total, 60)
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"
