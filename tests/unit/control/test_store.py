"""The control plane's object store: CRUD, revisions, pagination, watch (etcd/apiserver semantics)."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from minikube_py import errors
from minikube_py.control import store as st
from minikube_py.control.store import Key, SQLiteStore, WatchEvent

Obj = dict[str, Any]


def pod(name: str, namespace: str = "default", **labels: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "namespace": namespace, "labels": dict(labels)},
        "spec": {"containers": [{"name": "app", "image": "busybox"}]},
    }


def node(name: str) -> Obj:
    return {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}, "spec": {}}


def rv(obj: Obj) -> int:
    return int(obj["metadata"]["resourceVersion"])


def names(items: list[Obj]) -> list[str]:
    return [f"{o['metadata'].get('namespace', '')}/{o['metadata']['name']}" for o in items]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    s = await SQLiteStore.open(tmp_path / "store.db")
    yield s
    await s.close()


async def collect(watch: AsyncIterator[WatchEvent], count: int, timeout: float = 10.0) -> list[WatchEvent]:
    async def run() -> list[WatchEvent]:
        got: list[WatchEvent] = []
        async for event in watch:
            got.append(event)
            if len(got) == count:
                break
        return got

    return await asyncio.wait_for(run(), timeout)


async def no_event(watch: AsyncIterator[WatchEvent], wait: float = 0.1) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(anext(watch), wait)


# ------------------------------------------------------------------------------------------------- CRUD


async def test_create_sets_resource_version_and_get_returns_the_stored_object(store: SQLiteStore) -> None:
    given = pod("web")
    created = await store.create(Key("pods", "default", "web"), given)
    assert created["metadata"]["resourceVersion"] == "1"
    assert created["spec"] == given["spec"]
    assert "resourceVersion" not in given["metadata"], "the caller's dict is not mutated"
    assert await store.get(Key("pods", "default", "web")) == created
    assert await store.current_revision() == 1


async def test_returned_objects_are_copies(store: SQLiteStore) -> None:
    key = Key("pods", "default", "web")
    created = await store.create(key, pod("web"))
    created["spec"]["containers"].clear()
    (await store.get(key))["metadata"]["name"] = "changed"
    assert (await store.get(key))["spec"]["containers"] == pod("web")["spec"]["containers"]
    assert (await store.get(key))["metadata"]["name"] == "web"


async def test_create_of_an_existing_key_raises_already_exists(store: SQLiteStore) -> None:
    key = Key("pods", "default", "web")
    await store.create(key, pod("web"))
    with pytest.raises(st.AlreadyExists) as info:
        await store.create(key, pod("web"))
    assert (info.value.resource, info.value.namespace, info.value.name) == ("pods", "default", "web")
    assert isinstance(info.value, errors.AlreadyExists), "maps through the project's one error table"
    assert await store.current_revision() == 1, "a failed write takes no revision"


async def test_get_update_delete_of_a_missing_key_raise_not_found(store: SQLiteStore) -> None:
    key = Key("pods", "default", "ghost")
    for call in (store.get(key), store.update(key, pod("ghost")), store.delete(key)):
        with pytest.raises(st.NotFound) as info:
            await call
        assert info.value.name == "ghost"
        assert isinstance(info.value, errors.NotFound)


async def test_update_replaces_the_object_with_a_new_revision(store: SQLiteStore) -> None:
    key = Key("pods", "default", "web")
    created = await store.create(key, pod("web"))
    changed = {**created, "status": {"phase": "Running"}}
    updated = await store.update(key, changed)
    assert rv(updated) == rv(created) + 1
    assert updated["status"] == {"phase": "Running"}
    assert await store.get(key) == updated


async def test_update_with_a_stale_resource_version_in_the_object_conflicts(store: SQLiteStore) -> None:
    key = Key("pods", "default", "web")
    first = await store.create(key, pod("web"))
    await store.update(key, {**first, "status": {"phase": "Pending"}})
    with pytest.raises(st.Conflict) as info:
        await store.update(key, {**first, "status": {"phase": "Running"}})  # carries resourceVersion "1"
    assert (info.value.expected, info.value.actual) == ("1", "2")
    assert info.value.name == "web"
    assert (await store.get(key))["status"] == {"phase": "Pending"}
    assert await store.current_revision() == 2


async def test_expected_resource_version_wins_over_the_objects_own(store: SQLiteStore) -> None:
    key = Key("pods", "default", "web")
    first = await store.create(key, pod("web"))
    with pytest.raises(st.Conflict):
        await store.update(key, {**first, "status": {}}, expected_resource_version="99")
    stale = {**first, "metadata": {**first["metadata"], "resourceVersion": "99"}, "status": {}}
    updated = await store.update(key, stale, expected_resource_version="1")
    assert rv(updated) == 2


async def test_update_without_any_resource_version_is_unconditional(store: SQLiteStore) -> None:
    key = Key("pods", "default", "web")
    await store.create(key, pod("web"))
    await store.update(key, {**pod("web"), "status": {"phase": "Pending"}})
    updated = await store.update(key, {**pod("web"), "status": {"phase": "Running"}})
    assert rv(updated) == 3


async def test_update_that_changes_nothing_takes_no_revision_and_emits_no_event(store: SQLiteStore) -> None:
    key = Key("pods", "default", "web")
    created = await store.create(key, pod("web"))
    watch = store.watch("pods")
    same = await store.update(key, dict(created))
    assert same == created
    assert await store.current_revision() == 1
    await no_event(watch)
    await watch.aclose()


async def test_delete_returns_the_last_state_at_the_delete_revision(store: SQLiteStore) -> None:
    key = Key("pods", "default", "web")
    created = await store.create(key, pod("web"))
    deleted = await store.delete(key)
    assert rv(deleted) == rv(created) + 1
    assert deleted["spec"] == created["spec"]
    with pytest.raises(st.NotFound):
        await store.get(key)
    with pytest.raises(st.NotFound):
        await store.delete(key)


async def test_delete_with_a_stale_precondition_conflicts(store: SQLiteStore) -> None:
    key = Key("pods", "default", "web")
    created = await store.create(key, pod("web"))
    await store.update(key, {**created, "status": {"phase": "Running"}})
    with pytest.raises(st.Conflict):
        await store.delete(key, expected_resource_version=created["metadata"]["resourceVersion"])
    deleted = await store.delete(key, expected_resource_version="2")
    assert rv(deleted) == 3


async def test_invalid_objects_are_refused_without_taking_a_revision(store: SQLiteStore) -> None:
    with pytest.raises(TypeError):
        await store.create(Key("pods", "default", "a"), {"metadata": "nope"})
    with pytest.raises(ValueError):
        await store.create(Key("pods", "default", "a"), {"metadata": {}, "spec": {"x": float("nan")}})
    with pytest.raises(ValueError):
        Key("pods", "default", "")
    assert await store.current_revision() == 0
    assert (await store.list("pods")).items == []


# ------------------------------------------------------------------------------------------------- revisions


async def test_revisions_are_one_counter_across_resources_and_never_reused(store: SQLiteStore) -> None:
    a = await store.create(Key("pods", "default", "a"), pod("a"))
    n = await store.create(Key("nodes", "", "n1"), node("n1"))
    deleted = await store.delete(Key("pods", "default", "a"))
    again = await store.create(Key("pods", "default", "a"), pod("a"))
    assert [rv(a), rv(n), rv(deleted), rv(again)] == [1, 2, 3, 4]


async def test_revision_counter_and_objects_survive_a_restart(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    s = await SQLiteStore.open(path)
    await s.create(Key("pods", "default", "a"), pod("a"))
    await s.delete(Key("pods", "default", "a"))  # the highest revision now belongs to no object
    await s.create(Key("nodes", "", "n1"), node("n1"))
    await s.close()
    s = await SQLiteStore.open(path)
    try:
        assert await s.current_revision() == 3
        assert rv(await s.get(Key("nodes", "", "n1"))) == 3
        assert rv(await s.create(Key("pods", "default", "a"), pod("a"))) == 4
    finally:
        await s.close()


async def test_one_store_per_database_file(tmp_path: Path) -> None:
    first = await SQLiteStore.open(tmp_path / "store.db")
    with pytest.raises(st.StoreError, match="another process"):
        await SQLiteStore.open(tmp_path / "store.db")
    await first.close()
    second = await SQLiteStore.open(tmp_path / "store.db")  # the lock went with close()
    await second.close()


async def test_200_concurrent_creates_get_distinct_increasing_revisions(store: SQLiteStore) -> None:
    await store.create(Key("nodes", "", "n1"), node("n1"))
    watch = store.watch("pods")
    created = await asyncio.gather(
        *(store.create(Key("pods", "ns", f"p{i:03}"), pod(f"p{i:03}", "ns")) for i in range(200))
    )
    revisions = [rv(o) for o in created]
    assert revisions == list(range(2, 202)), "distinct, contiguous, and in call order (writes are FIFO)"
    events = await collect(watch, 200)
    assert [e.resource_version for e in events] == revisions
    assert [e.object["metadata"]["name"] for e in events] == [f"p{i:03}" for i in range(200)]
    assert len((await store.list("pods")).items) == 200


async def test_concurrent_updates_of_one_object_exactly_one_wins_per_revision(store: SQLiteStore) -> None:
    key = Key("pods", "default", "web")
    base = await store.create(key, pod("web"))
    outcomes = await asyncio.gather(
        *(store.update(key, {**base, "status": {"writer": i}}) for i in range(20)), return_exceptions=True
    )
    winners = [o for o in outcomes if isinstance(o, dict)]
    assert len(winners) == 1
    assert all(isinstance(o, st.Conflict) for o in outcomes if not isinstance(o, dict))


async def test_a_failed_commit_acknowledges_nothing_and_takes_no_revision(store: SQLiteStore) -> None:
    await store.create(Key("pods", "default", "first"), pod("first"))
    # A full disk, for real: cap the database at its current size.  (Poking the writer's connection is safe here:
    # its thread is idle between calls.)
    pages = store._writer.execute("PRAGMA page_count").fetchone()[0]
    store._writer.execute(f"PRAGMA max_page_count = {pages}")
    big = {**pod("big"), "spec": {"blob": "x" * 200_000}}
    keys = [Key("pods", "default", name) for name in ("a", "big", "b")]
    outcomes = await asyncio.gather(
        *(store.create(key, big if key.name == "big" else pod(key.name)) for key in keys), return_exceptions=True
    )
    assert isinstance(outcomes[1], st.StoreError), "the write that cannot fit fails..."
    assert "full" in str(outcomes[1])
    acknowledged = [o for o in outcomes if isinstance(o, dict)]
    for key, outcome in zip(keys, outcomes, strict=True):
        if isinstance(outcome, dict):
            assert await store.get(key) == outcome
        else:
            assert isinstance(outcome, st.StoreError)
            with pytest.raises(st.NotFound):  # ...and so does every write of its batch: nothing half-done
                await store.get(key)
    assert sorted(rv(o) for o in acknowledged) == list(range(2, 2 + len(acknowledged)))
    assert await store.current_revision() == 1 + len(acknowledged), "no revision lost to the failure"
    store._writer.execute("PRAGMA max_page_count = 1073741823")
    assert rv(await store.create(keys[1], big)) == 2 + len(acknowledged)


# ------------------------------------------------------------------------------------------------- list


async def test_list_orders_by_namespace_then_name_and_scopes_namespaces(store: SQLiteStore) -> None:
    for ns, name in [("b", "z"), ("a", "y"), ("b", "a"), ("a", "x"), ("aa", "a")]:
        await store.create(Key("pods", ns, name), pod(name, ns))
    await store.create(Key("nodes", "", "n2"), node("n2"))
    await store.create(Key("nodes", "", "n1"), node("n1"))
    await store.create(Key("services", "a", "x"), {"kind": "Service", "metadata": {"name": "x", "namespace": "a"}})

    everything = await store.list("pods")
    assert names(everything.items) == ["a/x", "a/y", "aa/a", "b/a", "b/z"]
    assert everything.resource_version == await store.current_revision()
    assert (everything.continue_token, everything.remaining) == (None, None)
    assert names((await store.list("pods", "b")).items) == ["b/a", "b/z"]
    assert (await store.list("pods", "nope")).items == []
    assert names((await store.list("nodes")).items) == ["/n1", "/n2"]
    assert names((await store.list("nodes", "")).items) == ["/n1", "/n2"], '"" is the cluster scope'
    assert (await store.list("pods", "")).items == []
    assert names((await store.list("services")).items) == ["a/x"]


async def test_list_paginates_with_limit_and_continue(store: SQLiteStore) -> None:
    for i in range(25):
        await store.create(Key("pods", f"ns{i % 3}", f"p{i:02}"), pod(f"p{i:02}", f"ns{i % 3}"))
    expected = names((await store.list("pods")).items)
    got: list[str] = []
    remainders: list[int | None] = []
    token: str | None = None
    while True:
        page = await store.list("pods", limit=10, continue_token=token)
        got += names(page.items)
        remainders.append(page.remaining)
        token = page.continue_token
        if token is None:
            break
    assert got == expected
    assert remainders == [15, 5, None]
    # Exactly a page's worth left: no empty trailing page.
    first = await store.list("pods", "ns0", limit=5)
    assert first.remaining == 4
    second = await store.list("pods", "ns0", limit=4, continue_token=first.continue_token)
    assert len(second.items) == 4
    assert second.continue_token is None
    assert (await store.list("pods", limit=0)).continue_token is None, "limit 0 means no limit"


async def test_pages_stay_consistent_at_the_first_pages_revision_under_concurrent_writes(store: SQLiteStore) -> None:
    for i in range(30):
        await store.create(Key("pods", "a", f"p{i:02}"), pod(f"p{i:02}", "a"))
    for i in range(10):
        await store.create(Key("pods", "b", f"q{i:02}"), pod(f"q{i:02}", "b"))
    snapshot = await store.list("pods")
    page = await store.list("pods", limit=10)
    assert page.resource_version == snapshot.resource_version
    pages = [page]

    async def churn(round_: int) -> None:
        # Behind the cursor, ahead of it, new keys, deleted keys, a key deleted and re-created, one created and
        # deleted again, and writes to another resource: none of it may show in the rest of this list.
        await store.delete(Key("pods", "a", f"p{round_:02}"))
        live = await store.get(Key("pods", "a", f"p{20 + round_:02}"))
        await store.update(Key("pods", "a", f"p{20 + round_:02}"), {**live, "status": {"phase": "Running"}})
        await store.create(Key("pods", "a", f"p{15 + round_:02}x"), pod(f"p{15 + round_:02}x", "a"))
        await store.delete(Key("pods", "b", f"q{round_:02}"))
        await store.create(Key("pods", "b", f"q{round_:02}"), pod(f"q{round_:02}", "b", again="yes"))
        await store.create(Key("pods", "a", "zz"), pod("zz", "a"))
        await store.delete(Key("pods", "a", "zz"))
        await store.create(Key("nodes", "", f"n{round_}"), node(f"n{round_}"))

    round_ = 0
    while page.continue_token is not None:
        await asyncio.gather(churn(round_), store.list("pods", limit=10, continue_token=page.continue_token))
        round_ += 1
        page = await store.list("pods", limit=10, continue_token=page.continue_token)
        assert page.resource_version == snapshot.resource_version
        pages.append(page)
    assert [item for p in pages for item in p.items] == snapshot.items
    assert [p.remaining for p in pages] == [30, 20, 10, None]
    now = await store.list("pods")
    assert now.resource_version > snapshot.resource_version
    assert "a/p00" not in names(now.items)
    assert "a/p15x" in names(now.items)


async def test_pagination_counts_only_items_that_match_the_predicate(store: SQLiteStore) -> None:
    for i in range(30):
        await store.create(Key("pods", "default", f"p{i:02}"), pod(f"p{i:02}", tier="web" if i % 3 == 0 else "db"))

    def web(obj: Obj) -> bool:
        return bool(obj["metadata"]["labels"].get("tier") == "web")

    first = await store.list("pods", limit=4, predicate=web)
    assert names(first.items) == ["default/p00", "default/p03", "default/p06", "default/p09"]
    assert first.remaining is None, "no count under a selector, as the apiserver"
    second = await store.list("pods", limit=4, continue_token=first.continue_token, predicate=web)
    assert names(second.items) == ["default/p12", "default/p15", "default/p18", "default/p21"]
    third = await store.list("pods", limit=4, continue_token=second.continue_token, predicate=web)
    assert names(third.items) == ["default/p24", "default/p27"]
    assert third.continue_token is None
    exactly = await store.list("pods", limit=10, predicate=web)
    assert len(exactly.items) == 10
    assert exactly.continue_token is None, "no continue when nothing else matches"


async def test_a_continue_token_belongs_to_its_list(store: SQLiteStore) -> None:
    for i in range(3):
        await store.create(Key("pods", "default", f"p{i}"), pod(f"p{i}"))
    token = (await store.list("pods", "default", limit=1)).continue_token
    assert token is not None
    for resource, namespace, bad in [
        ("pods", None, token),
        ("services", "default", token),
        ("pods", "default", "not-a-token"),
        ("pods", "default", token[:-3]),
    ]:
        with pytest.raises(st.InvalidContinue):
            await store.list(resource, namespace, limit=1, continue_token=bad)
    with pytest.raises(ValueError):
        await store.list("pods", limit=-1)


async def test_a_continue_token_older_than_the_history_is_gone(tmp_path: Path) -> None:
    s = await SQLiteStore.open(tmp_path / "store.db", history=5)
    try:
        for i in range(4):
            await s.create(Key("pods", "default", f"p{i}"), pod(f"p{i}"))
        page = await s.list("pods", limit=2)
        for i in range(5):
            await s.create(Key("nodes", "", f"n{i}"), node(f"n{i}"))
        ok = await s.list("pods", limit=2, continue_token=page.continue_token)  # 5 revisions later: still there
        assert names(ok.items) == ["default/p2", "default/p3"]
        await s.create(Key("nodes", "", "n9"), node("n9"))
        with pytest.raises(st.Gone) as info:
            await s.list("pods", limit=2, continue_token=page.continue_token)
        assert (info.value.resource, info.value.resource_version, info.value.oldest) == ("pods", 4, 5)
    finally:
        await s.close()


# ------------------------------------------------------------------------------------------------- watch


async def test_watch_from_now_sees_only_later_events(store: SQLiteStore) -> None:
    await store.create(Key("pods", "default", "old"), pod("old"))
    watch = store.watch("pods")
    created = await store.create(Key("pods", "default", "new"), pod("new"))
    [event] = await collect(watch, 1)
    assert (event.type, event.object, event.resource_version) == ("ADDED", created, rv(created))


async def test_list_then_watch_from_its_revision_misses_nothing(store: SQLiteStore) -> None:
    for i in range(5):
        await store.create(Key("pods", "default", f"p{i}"), pod(f"p{i}"))
    listed = await store.list("pods")
    await store.create(Key("pods", "default", "p5"), pod("p5"))  # between the list and the watch
    await store.delete(Key("pods", "default", "p0"))
    watch = store.watch("pods", since=listed.resource_version)
    live = await store.create(Key("pods", "default", "p6"), pod("p6"))
    events = await collect(watch, 3)
    assert [(e.type, e.object["metadata"]["name"]) for e in events] == [
        ("ADDED", "p5"),
        ("DELETED", "p0"),
        ("ADDED", "p6"),
    ]
    assert events[-1].object == live


async def test_watch_replays_then_goes_live_with_no_gap_and_no_duplicate(store: SQLiteStore) -> None:
    # More history than one replay chunk, and writers racing the replay, with several watchers at once.
    for i in range(st.REPLAY_CHUNK + 150):
        await store.create(Key("pods", "default", f"p{i:04}"), pod(f"p{i:04}"))
    head = await store.current_revision()
    total = head + 300

    async def writer() -> None:
        for i in range(100):
            key = Key("pods", "default", f"p{i:04}")
            await store.update(key, {**pod(f"p{i:04}"), "status": {"n": i}})
            await store.delete(Key("pods", "default", f"p{i + 100:04}"))
            await store.create(Key("pods", "other", f"w{i:04}"), pod(f"w{i:04}", "other"))
            await asyncio.sleep(0)

    async def watcher(since: int) -> list[int]:
        return [e.resource_version for e in await collect(store.watch("pods", since=since), total - since, 30)]

    results = await asyncio.gather(watcher(0), watcher(100), watcher(head - 1), watcher(head), writer())
    for since, seen in zip([0, 100, head - 1, head], results[:4], strict=True):
        assert seen == list(range(since + 1, total + 1)), f"since={since}"


async def test_writes_while_the_consumer_pauses_in_the_replay_are_not_missed(store: SQLiteStore) -> None:
    for name in ("a", "b"):
        await store.create(Key("pods", "default", name), pod(name))
    watch = store.watch("pods", since=0)
    assert (await anext(watch)).resource_version == 1  # replay read 1..2; the consumer holds event 1
    for name in ("c", "d"):  # committed and published before the watch joins the live stream
        await store.create(Key("pods", "default", name), pod(name))
    events = collect(watch, 4)
    await store.create(Key("pods", "default", "e"), pod("e"))
    assert [e.resource_version for e in await events] == [2, 3, 4, 5]


async def test_an_event_both_in_the_log_and_published_late_is_delivered_once(
    store: SQLiteStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    await store.create(Key("pods", "default", "a"), pod("a"))
    # Publication to live watchers trails the commit (it hops from the writer thread to the loop): make the gap
    # wide, so the replay reads revision 2 from the log and the live buffer then receives it too.
    loop = asyncio.get_running_loop()
    publish = store._publish
    monkeypatch.setattr(store, "_publish", lambda *args: loop.call_later(0.05, publish, *args))
    await store.create(Key("pods", "default", "b"), pod("b"))
    watch = store.watch("pods", since=0)
    assert [e.resource_version for e in await collect(watch, 2)] == [1, 2]
    await store.create(Key("pods", "default", "c"), pod("c"))
    assert [e.resource_version for e in await collect(watch, 1)] == [3]
    await no_event(watch)


async def test_watch_filters_by_resource_and_namespace(store: SQLiteStore) -> None:
    in_ns = store.watch("pods", "a")
    cluster = store.watch("nodes", "")
    all_pods = store.watch("pods")
    await store.create(Key("pods", "b", "x"), pod("x", "b"))
    await store.create(Key("nodes", "", "n1"), node("n1"))
    await store.create(Key("pods", "a", "y"), pod("y", "a"))
    assert [e.object["metadata"]["name"] for e in await collect(in_ns, 1)] == ["y"]
    assert [e.object["metadata"]["name"] for e in await collect(cluster, 1)] == ["n1"]
    assert [e.object["metadata"]["name"] for e in await collect(all_pods, 2)] == ["x", "y"]
    replayed = store.watch("pods", "a", since=0)
    assert [e.resource_version for e in await collect(replayed, 1)] == [3]
    await no_event(replayed)


async def test_deleted_events_carry_the_last_state(store: SQLiteStore) -> None:
    key = Key("pods", "default", "web")
    created = await store.create(key, pod("web"))
    running = await store.update(key, {**created, "status": {"phase": "Running"}})
    watch = store.watch("pods")
    deleted = await store.delete(key)
    [event] = await collect(watch, 1)
    assert event.type == "DELETED"
    assert event.object == deleted
    assert event.object["status"] == running["status"]
    assert event.resource_version == rv(deleted) == rv(running) + 1
    [replayed] = await collect(store.watch("pods", since=rv(running)), 1)
    assert replayed == event


async def test_a_predicate_watch_sees_objects_enter_and_leave_as_added_and_deleted(store: SQLiteStore) -> None:
    def on_n1(obj: Obj) -> bool:
        return bool(obj.get("spec", {}).get("nodeName") == "n1")

    key = Key("pods", "default", "web")
    for since in (None, 0):  # live, then the same through the log
        watch = store.watch("pods", since=since, predicate=on_n1)
        if since is None:
            p = await store.create(key, pod("web"))  # not on n1: unseen
            p = await store.update(key, {**p, "spec": {"nodeName": "n1"}})  # enters: ADDED
            p = await store.update(key, {**p, "status": {"phase": "Running"}})  # stays: MODIFIED
            p = await store.update(key, {**p, "spec": {"nodeName": "n2"}})  # leaves: DELETED, old state
            await store.delete(key)  # not on n1: unseen
            await store.create(Key("pods", "default", "other"), {**pod("other"), "spec": {"nodeName": "n1"}})
        events = await collect(watch, 4)
        assert [(e.type, e.resource_version) for e in events] == [
            ("ADDED", 2),
            ("MODIFIED", 3),
            ("DELETED", 4),
            ("ADDED", 6),
        ]
        left = events[2].object
        assert left["spec"] == {"nodeName": "n1"}, "the state it had while it matched"
        assert left["status"] == {"phase": "Running"}
        assert left["metadata"]["resourceVersion"] == "4"
        await watch.aclose()


async def test_watch_since_a_compacted_revision_is_gone_before_any_event(tmp_path: Path) -> None:
    s = await SQLiteStore.open(tmp_path / "store.db", history=10)
    try:
        for i in range(25):
            await s.create(Key("pods", "default", f"p{i}"), pod(f"p{i}"))
        with pytest.raises(st.Gone) as info:
            s.watch("pods", since=14)  # the log holds 16..25: resuming after 14 needs 15
        assert (info.value.resource_version, info.value.oldest) == (14, 15)
        events = await collect(s.watch("pods", since=15), 10)
        assert [e.resource_version for e in events] == list(range(16, 26))

        # Valid when asked, compacted before the first iteration: Gone from the first __anext__.
        late = s.watch("pods", since=15)
        await s.create(Key("nodes", "", "n1"), node("n1"))
        with pytest.raises(st.Gone):
            await anext(late)
    finally:
        await s.close()


async def test_the_event_log_keeps_exactly_history_revisions(tmp_path: Path) -> None:
    s = await SQLiteStore.open(tmp_path / "store.db", history=3)
    try:
        for i in range(6):
            await s.create(Key("pods", "default", f"p{i}"), pod(f"p{i}"))
        await s.delete(Key("pods", "default", "p0"))
        assert [e.resource_version for e in await collect(s.watch("pods", since=4), 3)] == [5, 6, 7]
        with pytest.raises(st.Gone):
            s.watch("pods", since=3)
    finally:
        await s.close()
    s = await SQLiteStore.open(tmp_path / "store.db", history=100)  # a bigger window does not invent history
    try:
        with pytest.raises(st.Gone):
            s.watch("pods", since=3)
    finally:
        await s.close()


async def test_a_watcher_that_falls_behind_is_ended_with_gone_without_blocking_writers(tmp_path: Path) -> None:
    s = await SQLiteStore.open(tmp_path / "store.db", watch_queue_size=5)
    try:
        slow = s.watch("pods")
        fast = s.watch("pods")
        first = asyncio.ensure_future(anext(slow))
        await asyncio.sleep(0)  # registered and waiting
        fast_events = asyncio.ensure_future(collect(fast, 20))
        for i in range(20):
            await asyncio.wait_for(s.create(Key("pods", "default", f"p{i:02}"), pod(f"p{i:02}")), 5)
        assert (await first).resource_version == 1
        with pytest.raises(st.Gone) as info:
            await anext(slow)
        assert info.value.resource_version == 1, "the last revision it delivered"
        assert [e.resource_version for e in await fast_events] == list(range(1, 21)), "others are unaffected"
        await s.create(Key("pods", "default", "after"), pod("after"))
        assert s.watcher_count() == 1  # fast, parked after its 20th event; slow is gone
    finally:
        await s.close()


async def test_cancelling_a_pending_next_loses_nothing(store: SQLiteStore) -> None:
    # The apiserver's bookmark timer: asyncio.wait_for(anext(watch), interval), cancelled again and again, through
    # the replay and the live phase, with a writer running.
    for i in range(st.REPLAY_CHUNK + 50):
        await store.create(Key("pods", "default", f"p{i:04}"), pod(f"p{i:04}"))
    total = await store.current_revision() + 200
    watch = store.watch("pods", since=0)

    async def writer() -> None:
        for i in range(200):
            await store.create(Key("pods", "live", f"p{i:04}"), pod(f"p{i:04}", "live"))
            if i % 10 == 0:
                await asyncio.sleep(0.001)

    async def reader() -> list[int]:
        got: list[int] = []
        timeouts = 0
        while len(got) < total:
            try:
                got.append((await asyncio.wait_for(anext(watch), 0.0002)).resource_version)
            except TimeoutError:
                timeouts += 1
        assert timeouts > 0, "the test did cancel pending reads"
        return got

    got, _ = await asyncio.wait_for(asyncio.gather(reader(), writer()), 60)
    assert got == list(range(1, total + 1))
    assert store.watcher_count() == 1, "still registered and usable"
    await watch.aclose()


async def test_closed_and_abandoned_watches_are_released(store: SQLiteStore) -> None:
    watch = store.watch("pods")
    pending = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)
    assert store.watcher_count() == 1
    pending.cancel()
    await watch.aclose()
    assert store.watcher_count() == 0
    with pytest.raises(StopAsyncIteration):
        await anext(watch)

    async with store.watch("pods") as scoped:
        await store.create(Key("pods", "default", "a"), pod("a"))
        assert (await anext(scoped)).resource_version == 1
    assert store.watcher_count() == 0

    async def first_change() -> WatchEvent:
        async for event in store.watch("pods"):
            return event  # leaves the watch without closing it
        raise AssertionError("no event")

    consumer = asyncio.ensure_future(first_change())
    abandoned = store.watch("pods")
    pending = asyncio.ensure_future(anext(abandoned))
    await asyncio.sleep(0)
    assert store.watcher_count() == 2
    await store.create(Key("pods", "default", "b"), pod("b"))
    assert (await consumer).resource_version == (await pending).resource_version == 2
    del pending, abandoned
    gc.collect()
    assert store.watcher_count() == 0
    await store.create(Key("pods", "default", "c"), pod("c"))  # the next change sweeps them out
    assert sum(len(w) for w in store._watchers.values()) == 0


async def test_aclose_from_another_task_ends_a_pending_next(store: SQLiteStore) -> None:
    for since in (None, 0):  # waiting for a live change; waiting for a log read
        await store.create(Key("pods", "default", f"p{since}"), pod(f"p{since}"))
        watch = store.watch("pods", since=since)
        pending = asyncio.ensure_future(anext(watch))
        await asyncio.sleep(0)
        await watch.aclose()
        with pytest.raises(StopAsyncIteration):
            await asyncio.wait_for(pending, 5)
        assert store.watcher_count() == 0


async def test_close_ends_watches_and_refuses_calls(tmp_path: Path) -> None:
    s = await SQLiteStore.open(tmp_path / "store.db")
    watch = s.watch("pods")
    pending = asyncio.ensure_future(anext(watch))
    await asyncio.sleep(0)
    write = asyncio.ensure_future(s.create(Key("pods", "default", "a"), pod("a")))
    await asyncio.sleep(0)
    await s.close()
    assert rv(await write) == 1, "calls made before close finish"
    assert (await pending).resource_version == 1
    with pytest.raises(StopAsyncIteration):
        await anext(watch)
    with pytest.raises(st.StoreClosed):
        await s.get(Key("pods", "default", "a"))
    await s.close()  # idempotent
