"""CI-sized churn soak: 200 pod lifecycles through ``minikube-py up`` (4 in flight), then nothing may be left.

Counted by ``bench/leaks.py`` (the soak benchmark uses the same counters), all attributable to this one
cluster, so root tests running concurrently on the machine do not show up here:

* cgroup dirs and processes below the node's cgroup dirs, mounts below the data dir, pod namespaces (the
  inodes from each pod's sandbox annotation) still held by a process older than the pod's deletion or by an
  nsfs mount, links and named netns this cluster would have named: none beyond the baseline taken after
  a short warm-up, and after ``up`` exits none at all (not even the node cgroup dirs);
* open fds of ``up`` and of the node agent, by kind (files, pipes, eventfds, unix sockets, listening
  sockets, both ends of each HTTP connection to the API server): no kind above its baseline count, no
  tolerance.  Both snapshots are taken with the test's own connections closed (each would be a socket of
  ``up``) and once the count has held still for a second.  A kind may end *below* its baseline: the agent's
  HTTP client keeps pooled connections to the API server for 15 s after their last use (aiohttp's default
  keep-alive), so the baseline, taken right after the warm-up, may hold a few that have closed since;
* the store (read-only): no pod rows once every pod is deleted, also after ``up`` exited; the event log is
  bounded by design (10 000 revisions) and only checked against that bound.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import aiohttp
import pytest

from bench import leaks
from bench.bench_soak import FINAL_SETTLE_S, settled
from bench.churn import PodTracker, churn, delete_all, sandbox_namespaces
from minikube_py.control.store import Key, SQLiteStore
from tests.privileged.test_up_e2e import run_up

pytestmark = [pytest.mark.root]

CYCLES = 200
CONCURRENCY = 4
WARMUP = 4


async def _churn(probe: leaks.Probe, base: str, first: int, cycles: int, prefix: str) -> float:
    """Run cycles with a session of their own, closed afterwards (so ``up`` holds none of our sockets)."""

    def running(pod: dict[str, object]) -> None:
        uid = pod["metadata"]["uid"]  # type: ignore[index]
        probe.pod_uids.add(uid)
        if len(probe.pod_uids) % 25 == 1:  # the counters look where the pods really are
            assert any(d.endswith(f"/pod{uid}") for d in leaks.pod_cgroup_dirs(probe.roots)), probe.roots

    def gone(pod: dict[str, object], last: dict[str, object]) -> None:
        probe.pod_gone(sandbox_namespaces(pod) or sandbox_namespaces(last))

    async with aiohttp.ClientSession() as session:
        tracker = PodTracker(session, base)
        await tracker.start()
        try:
            stats = await churn(
                session, base, tracker, first=first, cycles=cycles, concurrency=CONCURRENCY, prefix=prefix,
                on_running=running, on_gone=gone, timeout=30,
            )  # fmt: skip
        except BaseException:
            await delete_all(session, base)
            raise
        finally:
            await tracker.close()
    assert stats.cycles == cycles
    return stats.per_s


async def test_churn_leaves_nothing_behind(tmp_path: Path) -> None:
    t0 = time.monotonic()
    probe: leaks.Probe | None = None
    try:
        async with run_up(tmp_path) as c:
            await c.session.close()  # its keep-alive connection would be a socket of `up` in one snapshot only
            probe = leaks.Probe(str(tmp_path), c.proc.pid, api_port=int(c.base.rsplit(":", 1)[1]))
            probe.discover()
            await _churn(probe, c.base, 0, WARMUP, "warm")
            before, _ = await settled(probe, 0, None)
            assert before.pod_cgroups == [] and before.db is not None and before.db.pod_names == []
            rate = await _churn(probe, c.base, 0, CYCLES, "soak")
            after, found = await settled(probe, CYCLES, before, FINAL_SETTLE_S)
            assert len(probe.pod_uids) == WARMUP + CYCLES
            assert probe.pods_gone == WARMUP + CYCLES, "every pod's sandbox namespaces were recorded"
            assert {k: v for k, v in found.items() if v} == {}, f"leaked after {CYCLES} cycles ({rate:.1f}/s)"
            assert after.fd_total <= before.fd_total, (before.fds, before.agent_fds, after.fds, after.agent_fds)
            assert after.db is not None and after.db.event_log <= 10_000
        assert c.proc.returncode == 0
        gone = probe.snapshot(CYCLES, up_alive=False)
        left = {k: v for k, v in probe.leaks(gone, None).items() if v}
        assert left == {}, "left behind after `up` exited"
        assert subprocess.run(["pgrep", "-f", str(tmp_path)], capture_output=True, text=True).stdout == ""
        print(f"\n{CYCLES} cycles at {rate:.1f}/s; whole test {time.monotonic() - t0:.1f} s", file=sys.stderr)
    finally:
        if probe is not None:  # `up` has exited: whatever of this cluster is still there goes now
            leftovers = leaks.clean_up(probe)
            if leftovers:
                print(f"\nremoved after the test: {leftovers}", file=sys.stderr)


# --- the counters themselves must see a leak ------------------------------------------------------------------


async def test_probe_counts_what_a_cluster_would_leak(tmp_path: Path) -> None:
    """Fake leftovers of a cluster under ``tmp_path``: a pod cgroup with a process in it, a tmpfs below the data
    dir, a pod namespace held by an old process, an extra fd, a pod row in the store.  Each must be counted."""
    data_dir = tmp_path / "data"
    (data_dir / "control-plane").mkdir(parents=True)
    probe = leaks.Probe(str(data_dir), os.getpid())
    store = await SQLiteStore.open(data_dir / "control-plane" / "state.db")
    await store.close()
    before = probe.snapshot(0)
    assert not any(probe.leaks(before, before).values())
    created: list[str] = []
    mount = data_dir / "pods" / "x" / "volumes"
    ns_file = data_dir / "netns-held"
    netns = f"mkpy-leaktest-{uuid.uuid4().hex[:6]}"
    probe.cluster_netns = {netns}  # as if `up` had created it
    sleeper = subprocess.Popen(["unshare", "--net", "--fork", "--kill-child", "sleep", "60"])
    extra_fd = -1
    try:
        pod_dir = f"pod{uuid.uuid4()}"
        for root in probe.roots:
            for d in (root, os.path.join(root, pod_dir)):
                os.makedirs(d, exist_ok=True)
                created.append(d)
        target = leaks.pids_below([])  # nothing below no roots
        assert target == []
        # unshare's child, in the new network namespace: it must have been forked before unshare moves into the
        # pod cgroup (a child forked later would be born there and counted as a second node process).
        deadline = time.monotonic() + 30
        while not (kids := Path(f"/proc/{sleeper.pid}/task/{sleeper.pid}/children").read_text().split()):
            assert sleeper.poll() is None, "unshare --net --fork failed"
            assert time.monotonic() < deadline, "unshare never forked its child"
            await asyncio.sleep(0.02)
        child = int(kids[0])
        with open(os.path.join(probe.roots[0], pod_dir, "cgroup.procs"), "w") as f:
            f.write(str(sleeper.pid))
        mount.mkdir(parents=True)
        subprocess.run(["mount", "-t", "tmpfs", "tmpfs", str(mount)], check=True)
        probe.pod_gone({"net": os.stat(f"/proc/{child}/ns/net").st_ino})
        ns_file.touch()
        subprocess.run(["mount", "--bind", f"/proc/{child}/ns/net", str(ns_file)], check=True)
        subprocess.run(["ip", "netns", "add", netns], check=True)
        subprocess.run(["ip", "-n", netns, "link", "add", "va", "type", "veth", "peer", "name", "vb"], check=True)
        probe.node_netns = netns  # as if it were the node agent's
        extra_fd = os.open("/dev/null", os.O_RDONLY)
        store = await SQLiteStore.open(data_dir / "control-plane" / "state.db")
        await store.create(Key("pods", "default", "leaked"), {"metadata": {"name": "leaked"}})
        await store.close()

        found = probe.leaks(probe.snapshot(1), before)
        assert len(found["cgroups"]) == len(probe.roots)  # the pod dir in each hierarchy
        assert len(found["pod_cgroups"]) == len(probe.roots)
        assert [p.split(":")[0] for p in found["node_processes"]] == [str(sleeper.pid)]
        assert found["mounts"] == sorted([str(mount.resolve()), str(ns_file.resolve())])
        holders = " ".join(found["pod_namespaces"])
        assert f"pid {child} in net:" in holders and f"nsfs mount {ns_file.resolve()}" in holders, holders
        assert found["netns"] == []  # while `up` runs, its namespaces are expected
        assert found["fds"] == ["up /dev: +1"]
        assert found["links"] == [f"{netns}: {n}" for n in ("lo", "va", "vb")]  # all new in the node's namespace
        assert found["pod_rows"] == ["default/leaked"]
        gone = probe.leaks(probe.snapshot(1, up_alive=False), None)
        assert set(gone["cgroups"]) == set(created)  # after `up` exited even the node dirs count
        assert gone["netns"] == [netns]
    finally:
        if extra_fd >= 0:
            os.close(extra_fd)
        sleeper.kill()
        sleeper.wait()
        subprocess.run(["umount", str(mount)], check=False)
        subprocess.run(["umount", str(ns_file)], check=False)
        subprocess.run(["ip", "netns", "del", netns], check=False, capture_output=True)
        deadline = time.monotonic() + 10  # the killed processes leave the cgroups before these can go
        while leaks.pids_below(probe.roots) and time.monotonic() < deadline:
            await asyncio.sleep(0.02)
        for d in reversed(created):
            os.rmdir(d)
