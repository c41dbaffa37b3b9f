"""``python -m bench.run [--quick] [--only start|pause|oom]``: run the runtime benchmarks, print the table,
write bench/results/latest.json and latest.md.  Benchmarks report numbers; nothing here passes or fails.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import platform
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from bench import (
    bench_density,
    bench_e2e,
    bench_eviction,
    bench_network,
    bench_oom,
    bench_pause,
    bench_probes,
    bench_scheduler,
    bench_soak,
    bench_start,
    bench_watch,
    report,
)
from bench.report_model import Section
from bench.session import TOKEN, log

BenchFn = Callable[[argparse.Namespace], Awaitable[Section]]
BENCHES: dict[str, BenchFn] = {
    bench_start.NAME: lambda a: bench_start.run(a.quick, a.runs),
    bench_pause.NAME: lambda a: bench_pause.run(a.quick),
    bench_oom.NAME: lambda a: bench_oom.run(a.quick, a.trials),
    bench_watch.NAME: lambda a: bench_watch.run(a.quick),
    bench_scheduler.NAME: lambda a: bench_scheduler.run(a.quick),
    bench_e2e.NAME: lambda a: bench_e2e.run(a.quick),
    bench_eviction.NAME: lambda a: bench_eviction.run(a.quick, a.rounds),
    bench_density.NAME: lambda a: bench_density.run(a.quick, a.pods, a.idle_window),
    bench_network.NAME: lambda a: bench_network.run(a.quick),
    bench_probes.NAME: lambda a: bench_probes.run(a.quick),
    bench_soak.NAME: lambda a: bench_soak.run(a.quick, a.cycles, a.concurrency),
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--quick", action="store_true", help="fewer repeats (start: 15 rounds, pause: N=10, oom: 10)")
    p.add_argument(
        "--only",
        action="append",
        choices=sorted(BENCHES),
        metavar="NAME",
        help=f"run only this benchmark (repeatable): {', '.join(BENCHES)}",
    )
    p.add_argument("--runs", type=int, help="start: rounds per side (default 200, --quick 15)")
    p.add_argument("--trials", type=int, help="oom: trials (default 20, --quick 10)")
    p.add_argument("--rounds", type=int, help="eviction: crossings per variant (default 20, --quick 8)")
    p.add_argument("--pods", type=int, help="density: pods on the node (default 110, also with --quick)")
    p.add_argument("--idle-window", type=float, help="density: idle CPU window in s (default 30, --quick 10)")
    p.add_argument("--cycles", type=int, help="soak: pod lifecycles (default 10000, --quick 500)")
    p.add_argument("--concurrency", type=int, default=8, help="soak: cycles in flight at once (default 8)")
    return p.parse_args(argv)


async def run_all(args: argparse.Namespace) -> tuple[list[Section], dict[str, str]]:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    sections: list[Section] = []
    errors: dict[str, str] = {}
    for name in args.only or list(BENCHES):
        log.info("bench: running %s", name)
        t0 = time.monotonic()
        try:
            sections.append(await BENCHES[name](args))
        except Exception as err:  # one benchmark's failure must not hide the others' numbers
            log.exception("bench %s failed", name)
            errors[name] = f"{type(err).__name__}: {err}"
        log.info("bench: %s took %.1f s", name, time.monotonic() - t0)
    return sections, errors


def leftovers() -> list[str]:
    """Anything of this run still around: cgroups, processes, mounts (all carry the run's token)."""
    found: list[str] = []
    for dirpath, dirnames, _ in os.walk("/sys/fs/cgroup"):
        found += [os.path.join(dirpath, d) for d in dirnames if TOKEN in d]
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if TOKEN in cmdline and int(pid) != os.getpid():
            found.append(f"process {pid}: {cmdline}")
    with open("/proc/self/mounts") as f:
        found += [f"mount: {line.strip()}" for line in f if TOKEN in line]
    return found


def _version(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=5).stdout.splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "unknown"


def metadata(args: argparse.Namespace, started: float, elapsed: float) -> dict[str, Any]:
    return {
        "command": " ".join([os.path.relpath(sys.executable), "-m", "bench.run", *sys.argv[1:]]),
        "token": TOKEN,
        "started": time.strftime("%Y-%m-%d %H:%M:%S %z", time.localtime(started)),
        "finished": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "elapsed_s": round(elapsed, 1),
        "quick": args.quick,
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "loadavg_end": os.getloadavg(),
        "crun": _version(["crun", "--version"]),
        "catatonit": _version(["catatonit", "--version"]),
        "git_head": _version(["git", "rev-parse", "--short", "HEAD"]),
    }


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
    if os.geteuid() != 0:
        print("bench: needs root (cgroups, namespaces, /dev/kmsg)", file=sys.stderr)
        return 2
    started = time.time()
    try:
        sections, errors = asyncio.run(run_all(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        left = leftovers()
        print(
            "\nbench: interrupted; nothing written.  leftovers: " + (", ".join(left) or "none"),
            file=sys.stderr,
        )
        return 130
    meta = metadata(args, started, time.time() - started)
    left = leftovers()
    meta["leftovers"] = left
    print()
    print(report.render_text(sections, errors))
    json_path, md_path = report.write(sections, errors, meta)
    print(f"\nwrote {os.path.relpath(json_path)} and {os.path.relpath(md_path)} ({meta['elapsed_s']} s)")
    print("leftovers: " + ("none" if not left else "\n  " + "\n  ".join(left)))
    return 1 if errors or left else 0


if __name__ == "__main__":
    sys.exit(main())
