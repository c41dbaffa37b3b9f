"""Events expire after the TTL from their last occurrence (kube-apiserver --event-ttl)."""

from __future__ import annotations

from pathlib import Path

from minikube_py.control import eventgc
from minikube_py.control.nodelifecycle import format_time
from minikube_py.control.store import Key, SQLiteStore
from minikube_py.util.clock import FakeClock


def _event(name: str, last: float | None, created: float) -> dict[str, object]:
    body: dict[str, object] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": name, "namespace": "default", "creationTimestamp": format_time(created)},
        "reason": "Started",
    }
    if last is not None:
        body["lastTimestamp"] = format_time(last)
    return body


async def test_events_older_than_the_ttl_go_and_recent_ones_stay(tmp_path: Path) -> None:
    store = await SQLiteStore.open(str(tmp_path / "s.db"))
    clock = FakeClock(start=1_800_000_000.0)
    now = clock.now()
    events = {
        "old": _event("old", now - 3700, now - 4000),
        "repeated": _event("repeated", now - 60, now - 9000),  # created long ago, seen a minute ago
        "fresh": _event("fresh", now - 5, now - 5),
        "no-last": _event("no-last", None, now - 7200),  # falls back to its creation time
    }
    for name, body in events.items():
        await store.create(Key("events", "default", name), body)
    collector = eventgc.EventCollector(store, clock=clock, ttl=3600)
    assert await collector.collect_once() == 2
    left = sorted(e["metadata"]["name"] for e in (await store.list("events")).items)
    assert left == ["fresh", "repeated"]
    clock.step(3600)
    assert await collector.collect_once() == 2
    assert (await store.list("events")).items == []
    await store.close()
