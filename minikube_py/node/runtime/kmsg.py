"""Follow the kernel log (/dev/kmsg) for OOM-killer reports, to name the victim of each memcg OOM.

Kernel facts (6.x): each OOM kill logs an ``oom-kill:constraint=...,oom_memcg=...,task_memcg=<path>,
task=<comm>,pid=<pid>,uid=<uid>`` line and then ``Memory cgroup out of memory: Killed process <pid>
(<comm>) total-vm:...kB, anon-rss:...kB, ...``.  The ring buffer holds only ~30 OOM reports, so we read
continuously; one read() returns one record; EPIPE means records were overwritten (we skip ahead).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import re
import time
from dataclasses import dataclass

_OOM_KILL = re.compile(r"oom-kill:.*?task_memcg=(?P<memcg>[^,]*),task=(?P<task>[^,]*),pid=(?P<pid>\d+)")
_KILLED = re.compile(r"Killed process (?P<pid>\d+) \((?P<comm>[^)]*)\).*?anon-rss:(?P<anon>\d+)kB")


@dataclass(frozen=True)
class KernelOomReport:
    memcg: str
    pid: int
    command: str
    anon_rss_bytes: int | None
    seen_at: float  # wall clock of the kernel's record


class KmsgWatcher:
    def __init__(self, path: str = "/dev/kmsg", history: int = 256) -> None:
        self._path = path
        self._fd = -1
        self._reports: collections.deque[KernelOomReport] = collections.deque(maxlen=history)
        self._pending: dict[int, tuple[str, str]] = {}  # pid -> (memcg, task) waiting for its "Killed" line
        self._changed = asyncio.Event()

    @property
    def available(self) -> bool:
        return self._fd >= 0

    def start(self) -> bool:
        """Open the log and read what it still holds (OOM kills while no agent ran are named too).

        Returns False if the log is not readable; then victims stay unnamed.
        """
        try:
            self._fd = os.open(self._path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            self._fd = -1
            return False
        self._on_readable()
        asyncio.get_running_loop().add_reader(self._fd, self._on_readable)
        return True

    def stop(self) -> None:
        if self._fd >= 0:
            with contextlib.suppress(Exception):
                asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = -1

    def _on_readable(self) -> None:
        while True:
            try:
                record = os.read(self._fd, 8192)
            except BlockingIOError:
                break
            except BrokenPipeError:
                continue  # overwritten records; the next read resumes at the oldest kept one
            except OSError:
                break
            if not record:
                break
            self.feed(record.decode(errors="replace"))

    def feed(self, record: str) -> None:
        prefix, _, message = record.partition(";")
        fields = prefix.split(",")
        # The third prefix field is the kernel's timestamp in µs since boot (CLOCK_MONOTONIC).
        try:
            when = time.time() - (time.monotonic() - int(fields[2]) / 1e6)
        except (IndexError, ValueError):
            when = time.time()
        message = message.split("\n", 1)[0]
        m = _OOM_KILL.search(message)
        if m:
            self._pending[int(m["pid"])] = (m["memcg"], m["task"])
            return
        m = _KILLED.search(message)
        if m:
            pid = int(m["pid"])
            memcg, task = self._pending.pop(pid, ("", m["comm"]))
            self._reports.append(KernelOomReport(memcg, pid, m["comm"] or task, int(m["anon"]) * 1024, when))
            self._changed.set()

    def find(self, memcg: str, since: float, pids: frozenset[int] = frozenset()) -> list[KernelOomReport]:
        """Reports for this memory cgroup since ``since``.

        The kernel rate-limits the ``oom-kill:`` header that names the cgroup (at most 10 per 5 s) but always
        logs "Killed process": a report without a cgroup is matched by the victim's pid instead.
        """
        return [
            r for r in self._reports if r.seen_at >= since and (r.memcg == memcg or (not r.memcg and r.pid in pids))
        ]

    async def wait_for(
        self, memcg: str, since: float, timeout: float, pids: frozenset[int] = frozenset()
    ) -> list[KernelOomReport]:
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(memcg, since, pids)
            remaining = deadline - time.monotonic()
            if found or remaining <= 0 or not self.available:
                return found
            self._changed.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._changed.wait(), remaining)
