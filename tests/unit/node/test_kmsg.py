"""Parsing OOM-killer reports from kernel log records (format as measured on 6.1 and 6.18)."""

from __future__ import annotations

from minikube_py.node.runtime.kmsg import KmsgWatcher

OOM_KILL = (
    "6,2301,5934123,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,mems_allowed=0,"
    "oom_memcg=/mkpy/kubepods/burstable/podx/hog,task_memcg=/mkpy/kubepods/burstable/podx/hog,"
    "task=python3.11,pid=16048,uid=0\n"
)
KILLED = (
    "3,2302,5934130,-;Memory cgroup out of memory: Killed process 16048 (python3.11) total-vm:216184kB, "
    "anon-rss:65280kB, file-rss:5720kB, shmem-rss:0kB, UID:0 pgtables:184kB oom_score_adj:0\n"
)


def test_oom_report_is_assembled_from_two_records() -> None:
    watcher = KmsgWatcher(path="/nonexistent")
    watcher.feed(OOM_KILL)
    assert watcher.find("/mkpy/kubepods/burstable/podx/hog", 0) == []
    watcher.feed(KILLED)
    (report,) = watcher.find("/mkpy/kubepods/burstable/podx/hog", 0)
    assert (report.pid, report.command, report.anon_rss_bytes) == (16048, "python3.11", 65280 * 1024)
    assert watcher.find("/other", 0) == []


def test_unrelated_records_are_ignored() -> None:
    watcher = KmsgWatcher(path="/nonexistent")
    watcher.feed("6,1,1,-;eth0: link up\n")
    assert watcher.find("", 0) == []


def test_rate_limited_header_falls_back_to_the_victim_pid() -> None:
    watcher = KmsgWatcher(path="/nonexistent")
    watcher.feed(KILLED)  # no oom-kill: header before it (the kernel rate-limited it)
    assert watcher.find("/mkpy/kubepods/burstable/podx/hog", 0) == []
    (report,) = watcher.find("/mkpy/kubepods/burstable/podx/hog", 0, frozenset({16048}))
    assert report.pid == 16048 and report.memcg == ""
