"""Our own /dev/kmsg reader: the kernel's timestamp of an OOM kill, put on CLOCK_MONOTONIC.

printk timestamps come from local_clock(), which is not guaranteed to equal CLOCK_MONOTONIC, so we
calibrate: write a tagged line to /dev/kmsg between two CLOCK_MONOTONIC reads and compare with the
timestamp the kernel gave it (the uncertainty is half the write's duration; the best of a few is kept).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from dataclasses import dataclass

from bench.session import TOKEN

_KILLED = re.compile(r"Killed process (\d+) ")
_OOM_KILL = re.compile(r"oom-kill:.*,pid=(\d+),")


@dataclass(frozen=True)
class KmsgRecord:
    seq: int
    ts_us: int
    message: str


@dataclass(frozen=True)
class Calibration:
    offset_s: float  # kmsg seconds - CLOCK_MONOTONIC seconds
    uncertainty_s: float


class KmsgTail:
    def __init__(self, path: str = "/dev/kmsg") -> None:
        self._path = path
        self._fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        os.lseek(self._fd, 0, os.SEEK_END)
        self.missed = 0  # records overwritten before we read them
        self._pending: list[KmsgRecord] = []

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def drain(self) -> list[KmsgRecord]:
        out, self._pending = self._pending, []
        while True:
            try:
                data = os.read(self._fd, 8192)
            except BlockingIOError:
                return out
            except BrokenPipeError:
                self.missed += 1
                continue
            if not data:
                return out
            record = _parse(data.decode(errors="replace"))
            if record is not None:
                out.append(record)

    def oom_report(self, pid: int) -> tuple[int | None, bool]:
        """(timestamp of "Killed process <pid>", whether its "oom-kill:" line was logged too).

        "Killed process" is printed right after the SIGKILL is sent, always; the header with the
        "oom-kill:" line (the only one naming the memcg) is rate-limited to 10 per 5 s by the kernel.
        """
        kill_us: int | None = None
        header = False
        for r in self.drain():
            m = _KILLED.search(r.message)
            if m and int(m.group(1)) == pid:
                kill_us = r.ts_us
            m = _OOM_KILL.search(r.message)
            header = header or bool(m and int(m.group(1)) == pid)
        return kill_us, header

    def calibrate(self, tries: int = 7) -> Calibration:
        best: Calibration | None = None
        with open(self._path, "wb", buffering=0) as w:
            for k in range(tries):
                tag = f"mkpy-bench {TOKEN}: clock sync {k}"
                t0 = time.monotonic_ns()
                w.write(f"<6>{tag}\n".encode())
                t1 = time.monotonic_ns()
                ts = self._find(tag)
                if ts is None:
                    continue
                cal = Calibration(offset_s=ts / 1e6 - (t0 + t1) / 2e9, uncertainty_s=(t1 - t0) / 2e9)
                if best is None or cal.uncertainty_s < best.uncertainty_s:
                    best = cal
        if best is None:
            raise RuntimeError("could not find our own calibration lines in /dev/kmsg")
        return best

    def _find(self, tag: str) -> int | None:
        for _ in range(100):
            records = self.drain()
            for r in records:
                if r.message.endswith(tag):
                    return r.ts_us
            self._pending.extend(records)
            time.sleep(0.001)
        return None


def _parse(text: str) -> KmsgRecord | None:
    prefix, _, message = text.partition(";")
    fields = prefix.split(",")
    if len(fields) < 3:
        return None
    with contextlib.suppress(ValueError):
        return KmsgRecord(seq=int(fields[1]), ts_us=int(fields[2]), message=message.split("\n", 1)[0])
    return None
