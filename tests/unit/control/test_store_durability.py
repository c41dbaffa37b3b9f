"""Acknowledged writes survive kill -9, for real: a child process writes, we SIGKILL it mid-stream, reopen, check.

The child is sequential, so at most one write is in flight at the kill: committed or not, never acknowledged.  It
prints ``<op> <name> <revision>`` (flushed) only after the store call returned.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

from minikube_py.control.store import Key, SQLiteStore

REPO = Path(__file__).resolve().parents[3]

CHILD = """
import asyncio, sys
from minikube_py.control.store import Key, SQLiteStore

async def main(path: str, prefix: str) -> None:
    store = await SQLiteStore.open(path)
    i = 0
    while True:
        name = f"{prefix}-{i:06d}"
        obj = {"kind": "Pod", "metadata": {"name": name}, "spec": {"i": i}}
        obj = await store.create(Key("pods", "default", name), obj)
        print("ADDED", name, obj["metadata"]["resourceVersion"], flush=True)
        if i % 3 == 0:
            obj = await store.update(Key("pods", "default", name), {**obj, "status": {"phase": "Running"}})
            print("MODIFIED", name, obj["metadata"]["resourceVersion"], flush=True)
        if i % 5 == 4:
            victim = f"{prefix}-{i - 1:06d}"
            obj = await store.delete(Key("pods", "default", victim))
            print("DELETED", victim, obj["metadata"]["resourceVersion"], flush=True)
        i += 1

asyncio.run(main(sys.argv[1], sys.argv[2]))
"""

Op = tuple[str, str, int]  # (event type, name, revision)


def run_and_kill(path: Path, prefix: str, acknowledged: int) -> list[Op]:
    """Run the writer until it has acknowledged ``acknowledged`` writes, SIGKILL it, return every acknowledged op."""
    errors = path.parent / f"{prefix}.stderr"
    with errors.open("wb") as stderr:
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(path), prefix], cwd=REPO, stdout=subprocess.PIPE, stderr=stderr
        )
    assert child.stdout is not None
    lines: list[bytes] = []
    try:
        while len(lines) < acknowledged:
            line = child.stdout.readline()
            assert line, f"writer died early ({child.wait()}): {errors.read_text()}"
            lines.append(line)
        os.kill(child.pid, signal.SIGKILL)  # mid-stream: the child is in the middle of its next write
        rest = child.stdout.read()  # through the same buffered reader: what it read ahead is not lost
        child.wait(timeout=30)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
    assert child.returncode == -signal.SIGKILL
    # Complete lines only: a line cut by the kill was never fully acknowledged.
    lines += [line + b"\n" for line in rest.split(b"\n")[:-1]]
    ops = []
    for line in lines:
        kind, name, revision = line.decode().split()
        ops.append((kind, name, int(revision)))
    return ops


async def test_acknowledged_writes_survive_kill_9(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    expected: dict[str, int] = {}  # name -> revision, from acknowledged writes and the one in flight
    previous_head = 0
    for round_, acknowledged in enumerate((150, 400, 250)):  # three crashes on the same database
        ops = run_and_kill(path, f"r{round_}", acknowledged)
        revisions = [r for _, _, r in ops]
        assert revisions == list(range(previous_head + 1, previous_head + 1 + len(ops))), "the counter continued"
        last_acked = revisions[-1]

        store = await SQLiteStore.open(path)
        try:
            head = await store.current_revision()
            assert head in (last_acked, last_acked + 1), "at most the one write in flight committed unacknowledged"

            # Replay from a revision before the kill: exactly the acknowledged writes after it (+ the one in flight).
            since = revisions[len(revisions) // 3]
            events = []
            async for event in store.watch("pods", since=since):
                events.append(event)
                if event.resource_version == head:
                    break
            replayed = [(e.type, e.object["metadata"]["name"], e.resource_version) for e in events]
            after = [op for op in ops if op[2] > since]
            assert replayed[: len(after)] == after
            assert len(replayed) == len(after) + (head - last_acked)

            for kind, name, revision in ops + replayed[len(after) :]:
                if kind == "DELETED":
                    expected.pop(name)
                else:
                    expected[name] = revision
            stored = {
                o["metadata"]["name"]: int(o["metadata"]["resourceVersion"]) for o in (await store.list("pods")).items
            }
            assert stored == expected, "every acknowledged object, at its acknowledged revision"

            probe = await store.create(Key("nodes", "", f"probe-{round_}"), {"kind": "Node", "metadata": {}})
            assert int(probe["metadata"]["resourceVersion"]) == head + 1 > last_acked
            previous_head = head + 1
        finally:
            await store.close()


async def test_the_database_is_in_wal_mode(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "store.db", synchronous="FULL")
    await store.create(Key("pods", "default", "a"), {"metadata": {}})
    await store.close()
    conn = sqlite3.connect(tmp_path / "store.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"  # persistent, set by open()
    finally:
        conn.close()
