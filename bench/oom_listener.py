"""The raw peer for OOM detection: a minimal eventfd (memory.oom_control) + pidfd listener.

Run as ``python -S -I oom_listener.py <memory cgroup dir> <pid>``: registers the eventfd, prints
"ready", then prints one JSON line with the CLOCK_MONOTONIC ns at which each fd became readable.
Standard library only, no project imports: this is the floor the runtime is compared with.
"""

from __future__ import annotations

import json
import os
import select
import sys
import time

TIMEOUT_S = 30.0


def main() -> None:
    memcg, pid = sys.argv[1], int(sys.argv[2])
    efd = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
    ctl = os.open(os.path.join(memcg, "memory.oom_control"), os.O_RDONLY | os.O_CLOEXEC)
    with open(os.path.join(memcg, "cgroup.event_control"), "w") as f:
        f.write(f"{efd} {ctl}")
    pidfd = os.pidfd_open(pid)
    poller = select.poll()
    poller.register(efd, select.POLLIN)
    poller.register(pidfd, select.POLLIN)
    names = {efd: "eventfd_ns", pidfd: "pidfd_ns"}
    seen: dict[str, int] = {}
    print("ready", flush=True)
    deadline = time.monotonic() + TIMEOUT_S
    while names and time.monotonic() < deadline:
        for fd, _ in poller.poll(1000):
            seen[names.pop(fd)] = time.monotonic_ns()
            poller.unregister(fd)
            if fd == efd:
                seen["eventfd_count"] = os.eventfd_read(efd)
    print(json.dumps(seen), flush=True)


if __name__ == "__main__":
    main()
