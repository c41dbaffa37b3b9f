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


async def test_the_collector_reads_events_a_page_at_a_time(tmp_path: Path) -> None:
    store = await SQLiteStore.open(str(tmp_path / "s.db"))
    clock = FakeClock(start=1_800_000_000.0)
    now = clock.now()
    for i in range(23):
        last = now - 4000 if i % 2 == 0 else now - 10  # 12 expired, 11 recent, interleaved across pages
        await store.create(Key("events", "default", f"e{i:02d}"), _event(f"e{i:02d}", last, last))
    pages: list[int] = []
    real_list = store.list

    async def counting_list(*args: object, **kwargs: object) -> object:
        result = await real_list(*args, **kwargs)  # type: ignore[arg-type]
        pages.append(len(result.items))
        return result

    store.list = counting_list  # type: ignore[method-assign,assignment]
    collector = eventgc.EventCollector(store, clock=clock, ttl=3600, page_size=5)
    assert await collector.collect_once() == 12
    assert pages and max(pages) <= 5 and sum(pages) == 23  # every event seen once, never more than a page
    store.list = real_list  # type: ignore[method-assign]
    assert len((await store.list("events")).items) == 11
    await store.close()
