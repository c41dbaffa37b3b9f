"""The control plane's durable object store: an etcd-shaped key/value store on SQLite.

Objects are Kubernetes-shaped JSON dicts.  The store treats them as opaque except for their ``Key`` and
``metadata.resourceVersion``, which it owns: every write takes the next value of ONE global revision counter
(as etcd's), stored as a decimal string the way Kubernetes shows it.  Revisions are never reused, also after
deletes and restarts; a failed write (conflict, not found, disk error) consumes none.

``Store`` is the interface the API server codes against, so a distributed backend can replace ``SQLiteStore``.

Contracts of ``SQLiteStore``:

* Durability: a write returns only after its transaction is committed.  The database runs in WAL mode with
  ``synchronous=NORMAL`` by default: a commit is in the WAL file (the OS page cache) before the call returns, so
  it survives the process being killed (kill -9, OOM), but the last commits may be lost on power loss or a
  kernel crash (the database stays consistent).  ``synchronous="FULL"`` fsyncs the WAL on every commit and
  survives power loss too, at the cost of an fsync per commit.  https://sqlite.org/pragma.html#pragma_synchronous
* Each create/update/delete and its event-log row commit in one transaction.  The event log keeps the last
  ``history`` revisions (etcd's compaction); resuming a watch or a paginated list from an older revision raises
  ``Gone`` and the client re-lists.
* Threads: all writes run on one writer thread with its own connection, in call order (FIFO).  Writes queued
  together commit together (group commit, up to MAX_BATCH): each keeps its own outcome, but an SQLite error (disk
  full, I/O) fails every write of that batch and commits none of them.  Reads run on a second thread and
  connection, each in one snapshot transaction, so a long list never stalls writers and always sees every write
  that has returned.  The asyncio loop only dispatches events and results.
* WAL checkpoints run on a third thread and connection (PASSIVE, at most every CHECKPOINT_INTERVAL while writes
  come in), not in the writer: SQLite's automatic checkpoint made every ~175th commit wait 25-100 ms here.
* One process owns a database file: ``open`` takes an exclusive ``flock`` on ``<path>-lock``.
* Objects handed out (results, event objects) are fresh copies per call, except that every watcher receiving an
  event shares its ``object``: treat event objects as read-only.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import builtins
import collections
import concurrent.futures
import contextlib
import dataclasses
import fcntl
import heapq
import json
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypeVar

from minikube_py import errors

Object = dict[str, Any]
Predicate = Callable[[Object], bool]

ADDED = "ADDED"
MODIFIED = "MODIFIED"
DELETED = "DELETED"
BOOKMARK = "BOOKMARK"  # part of the wire vocabulary; this store does not emit bookmarks itself

SCHEMA_VERSION = 1
REPLAY_CHUNK = 500
"""Events read from the log per round trip while a watch replays history."""

log = logging.getLogger(__name__)

MAX_BATCH = 256
CHECKPOINT_INTERVAL = 0.5  # seconds between WAL checkpoints while writes come in
"""Writes committed in one transaction at most (group commit: concurrent writers share a commit, and its fsync)."""

_T = TypeVar("_T")


# --------------------------------------------------------------------------------------------------- errors


class StoreError(errors.MinikubeError):
    """Root of the store's errors; carries the object's coordinates (empty when not about one object)."""

    def __init__(self, message: str, *, resource: str = "", namespace: str = "", name: str = "") -> None:
        super().__init__(message)
        self.resource = resource
        self.namespace = namespace
        self.name = name


class NotFound(StoreError, errors.NotFound):
    """No object under that key."""


class AlreadyExists(StoreError, errors.AlreadyExists):
    """Create of a key that exists."""


class Conflict(StoreError):
    """The resourceVersion precondition of an update or delete does not match the stored object (HTTP 409)."""

    def __init__(self, message: str, *, resource: str, namespace: str, name: str, expected: str, actual: str) -> None:
        super().__init__(message, resource=resource, namespace=namespace, name=name)
        self.expected = expected
        self.actual = actual


class Gone(StoreError):
    """The requested revision is older than the retained history (HTTP 410): re-list, then watch from its revision.

    ``resource_version`` is the revision that was asked for (or, for an overflowed watch, the last one
    delivered); ``oldest`` is the oldest revision one may still resume from.
    """

    def __init__(
        self, message: str, *, resource: str, namespace: str = "", resource_version: int, oldest: int = 0
    ) -> None:
        super().__init__(message, resource=resource, namespace=namespace)
        self.resource_version = resource_version
        self.oldest = oldest


class InvalidContinue(StoreError, ValueError):
    """A continue token that this store did not issue for this resource and namespace (HTTP 400)."""


class StoreClosed(StoreError):
    """The store was closed."""


# --------------------------------------------------------------------------------------------------- records


@dataclasses.dataclass(frozen=True)
class Key:
    resource: str
    """Plural resource name, e.g. ``pods``."""
    namespace: str
    """``""`` for cluster-scoped resources (nodes, namespaces)."""
    name: str

    def __post_init__(self) -> None:
        if not self.resource or not self.name:
            raise ValueError(f"key needs a resource and a name: {self}")

    def __str__(self) -> str:
        return f"{self.resource}/{self.namespace}/{self.name}" if self.namespace else f"{self.resource}/{self.name}"


@dataclasses.dataclass(frozen=True)
class WatchEvent:
    type: str
    """ADDED | MODIFIED | DELETED (| BOOKMARK)."""
    object: Object
    """Shared by every watcher that receives the event: treat it as read-only."""
    resource_version: int


@dataclasses.dataclass(frozen=True)
class ListResult:
    items: list[Object]
    resource_version: int
    """The revision the whole (paginated) list is consistent at; watch from it to follow on."""
    continue_token: str | None
    """Set when more matching items follow; pass it back with the same resource, namespace and predicate."""
    remaining: int | None
    """Items after this page (Kubernetes' remainingItemCount); None without a continue token or with a predicate."""


class Store(Protocol):
    async def create(self, key: Key, obj: Object) -> Object:
        """Store a new object; sets ``metadata.resourceVersion`` to the new revision.  AlreadyExists."""
        ...

    async def get(self, key: Key) -> Object:
        """NotFound."""
        ...

    async def update(self, key: Key, obj: Object, *, expected_resource_version: str | None = None) -> Object:
        """Replace an object.  The precondition is ``expected_resource_version``, else the object's own
        ``metadata.resourceVersion`` when set (else none): Conflict when it differs from the stored one.  NotFound.
        """
        ...

    async def delete(self, key: Key, *, expected_resource_version: str | None = None) -> Object:
        """Remove an object; returns its last state with the delete's revision.  NotFound, Conflict."""
        ...

    async def list(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        limit: int | None = None,
        continue_token: str | None = None,
        predicate: Predicate | None = None,
    ) -> ListResult:
        """Objects ordered by (namespace, name); ``namespace=None`` is all namespaces.  Pages of ``limit``
        matching items are all consistent at the first page's revision; a continue token older than the history
        raises Gone."""
        ...

    def watch(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        since: int | None = None,
        predicate: Predicate | None = None,
    ) -> AsyncIterator[WatchEvent]:
        """Events with revision > ``since`` (None: from now), replayed then live, without gaps or duplicates.
        Gone when ``since`` is older than the history, or when the consumer falls too far behind."""
        ...

    async def current_revision(self) -> int: ...

    async def close(self) -> None: ...


# --------------------------------------------------------------------------------------------------- internals


@dataclasses.dataclass(frozen=True, slots=True)
class _Change:
    """One committed write, as kept in the event log: ``obj`` is the new state (for DELETED the last state with
    the delete's revision); ``prev`` the state before (None for ADDED, or when not decoded)."""

    revision: int
    type: str
    resource: str
    namespace: str
    name: str
    obj: Object
    prev: Object | None


@dataclasses.dataclass(slots=True)
class _Plan:
    """A checked write: the caller's result and, unless it is a no-op, its row statement and its change."""

    result: Object
    change: _Change | None = None
    statement: tuple[str, tuple[Any, ...]] | None = None
    data: str = ""  # the event row's texts
    prev: str | None = None


_Prepare = Callable[[sqlite3.Connection, int], _Plan]
"""Writer thread, inside the batch's transaction: check the current state, raising (NotFound, Conflict, ...) having
written nothing, and plan the write at the given revision."""


@dataclasses.dataclass(slots=True)
class _WriteOp:
    prepare: _Prepare | None  # None: the close marker
    future: asyncio.Future[Object]


def _settle(future: asyncio.Future[Any], outcome: object) -> None:
    if future.done():  # its caller was cancelled; the write itself went ahead
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


_KEY = "resource = ? AND namespace = ? AND name = ?"
_INSERT_EVENT = (
    "INSERT INTO events (revision, type, resource, namespace, name, data, prev) VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def _key_params(key: Key) -> tuple[str, str, str]:
    return (key.resource, key.namespace, key.name)


class _Watcher:
    """A live watcher's bounded buffer.  Filled on the loop by ``SQLiteStore._publish``, drained by its ``Watch``.

    If the buffer is full the watcher is dropped (writers never wait for readers) and its next read raises Gone.
    """

    __slots__ = ("buffer", "capacity", "closed", "namespace", "overflowed", "resource", "waiter")

    def __init__(self, resource: str, namespace: str | None, capacity: int) -> None:
        self.resource = resource
        self.namespace = namespace
        self.capacity = capacity
        self.buffer: collections.deque[_Change] = collections.deque()
        self.waiter: asyncio.Future[None] | None = None
        self.overflowed = False
        self.closed = False

    def offer(self, change: _Change) -> bool:
        """Queue a change; False (and the buffer dropped) when it is full."""
        if len(self.buffer) >= self.capacity:
            self.overflowed = True
            self.buffer.clear()
            self._wake()
            return False
        self.buffer.append(change)
        self._wake()
        return True

    def close(self) -> None:
        self.closed = True
        self._wake()

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def next(self) -> _Change | None:
        """The next change; None once the store is closed.  Raises nothing itself: the caller checks overflow."""
        while not self.buffer and not self.overflowed and not self.closed:
            self.waiter = asyncio.get_running_loop().create_future()
            try:
                await self.waiter
            finally:
                self.waiter = None
        if self.overflowed or not self.buffer:
            return None
        return self.buffer.popleft()


def _retrieve(future: asyncio.Future[Any]) -> None:
    """Mark a background read's outcome as seen (its Watch re-raises it, or was closed and does not care)."""
    if not future.cancelled():
        future.exception()


def _dumps(obj: Object) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def _with_rv(obj: Object, revision: int) -> Object:
    """A shallow copy of ``obj`` whose metadata.resourceVersion is ``revision``."""
    if not isinstance(obj, dict):
        raise TypeError(f"object must be a dict, not {type(obj).__name__}")
    metadata = obj.get("metadata")
    if metadata is None:
        metadata = {}
    elif not isinstance(metadata, dict):
        raise TypeError(f"metadata must be a dict, not {type(metadata).__name__}")
    return {**obj, "metadata": {**metadata, "resourceVersion": str(revision)}}


def _rv_of(obj: Object) -> str | None:
    metadata = obj.get("metadata")
    if isinstance(metadata, dict):
        rv = metadata.get("resourceVersion")
        if rv:
            return str(rv)
    return None


def _encode_continue(resource: str, namespace: str | None, revision: int, last: tuple[str, str]) -> str:
    # Like the apiserver's token: the list's revision and the last key returned, opaque to clients.
    raw = _dumps({"v": 1, "r": resource, "ns": namespace, "rv": revision, "k": list(last)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_continue(token: str, resource: str, namespace: str | None) -> tuple[int, tuple[str, str]]:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        data = json.loads(raw)
        revision, (last_ns, last_name) = data["rv"], data["k"]
        ok = (
            data["v"] == 1
            and isinstance(revision, int)
            and isinstance(last_ns, str)
            and isinstance(last_name, str)
            and data["r"] == resource
            and data["ns"] == namespace
        )
    except (binascii.Error, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        raise InvalidContinue(f"invalid continue token: {err}", resource=resource, namespace=namespace or "") from err
    if not ok:
        raise InvalidContinue(
            "continue token was issued for another list", resource=resource, namespace=namespace or ""
        )
    return revision, (last_ns, last_name)


def _scope(resource: str, namespace: str | None, after: tuple[str, str] | None, params: list[Any]) -> str:
    """SQL conditions (and their params, appended) for the keys of one list or watch."""
    sql = "resource = ?"
    params.append(resource)
    if namespace is not None:
        sql += " AND namespace = ?"
        params.append(namespace)
        if after is not None:
            sql += " AND name > ?"
            params.append(after[1])
    elif after is not None:
        sql += " AND (namespace, name) > (?, ?)"
        params.extend(after)
    return sql


def _filtered(change: _Change, predicate: Predicate | None) -> WatchEvent | None:
    """The event a watcher with ``predicate`` sees for ``change``, as the apiserver's filtered watch does: an update
    into the selection is ADDED, one out of it DELETED (its old state at the new revision), else nothing."""
    if predicate is None:
        return WatchEvent(change.type, change.obj, change.revision)
    if change.type != MODIFIED:
        return WatchEvent(change.type, change.obj, change.revision) if predicate(change.obj) else None
    now = predicate(change.obj)
    before = change.prev is not None and predicate(change.prev)
    if now:
        return WatchEvent(MODIFIED if before else ADDED, change.obj, change.revision)
    if before:
        assert change.prev is not None
        return WatchEvent(DELETED, _with_rv(change.prev, change.revision), change.revision)
    return None


@contextlib.contextmanager
def _sqlite_errors(what: str) -> Iterator[None]:
    """The store's one OS boundary: sqlite3 errors become StoreError, the cause kept."""
    try:
        yield
    except sqlite3.Error as err:
        raise StoreError(f"{what}: {type(err).__name__}: {err}") from err


_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    id        INTEGER PRIMARY KEY CHECK (id = 0),
    revision  INTEGER NOT NULL,  -- last committed revision; the next write takes revision + 1
    compacted INTEGER NOT NULL   -- the event log holds exactly the revisions > compacted
);
INSERT OR IGNORE INTO meta (id, revision, compacted) VALUES (0, 0, 0);
CREATE TABLE IF NOT EXISTS objects (
    resource  TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    revision  INTEGER NOT NULL,  -- last modification == metadata.resourceVersion in data
    data      TEXT NOT NULL,
    PRIMARY KEY (resource, namespace, name)
);
CREATE TABLE IF NOT EXISTS events (
    revision  INTEGER PRIMARY KEY,
    type      TEXT NOT NULL,
    resource  TEXT NOT NULL,
    namespace TEXT NOT NULL,
    name      TEXT NOT NULL,
    data      TEXT NOT NULL,  -- new state; for DELETED the last state with the delete's revision
    prev      TEXT            -- state before (etcd's prev_kv), NULL for ADDED: lets a list page be read "as of"
);
"""


# --------------------------------------------------------------------------------------------------- the store


class SQLiteStore:
    """``Store`` on SQLite.  Build with ``await SQLiteStore.open(path)``; use from one asyncio loop."""

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        writer: sqlite3.Connection,
        reader: sqlite3.Connection,
        read_pool: concurrent.futures.ThreadPoolExecutor,
        lock_fd: int,
        checkpointer: sqlite3.Connection,
        history: int,
        watch_queue_size: int,
        revision: int,
        compacted: int,
    ) -> None:
        self._loop = loop
        self._writer = writer
        self._reader = reader
        self._read_pool = read_pool
        self._lock_fd = lock_fd
        self._history = history
        self._watch_queue_size = watch_queue_size
        # Writer-thread state: the last committed revision and compaction point.
        self._revision = revision
        self._compacted_w = compacted
        self._queue: queue.SimpleQueue[_WriteOp] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._write_loop, name="mkpy-store-write", daemon=True)
        self._checkpointer = checkpointer
        self._written = threading.Event()  # set by the writer after each commit, taken by the checkpointer
        self._checkpoint_stop = False
        self._checkpoint_thread = threading.Thread(
            target=self._checkpoint_loop, name="mkpy-store-checkpoint", daemon=True
        )
        # Loop state: what has been dispatched to live watchers.
        self._published = revision
        self._compacted = compacted
        self._watchers: dict[str, set[_Watcher]] = {}
        self._closed = False

    @classmethod
    async def open(
        cls,
        path: str | os.PathLike[str],
        *,
        history: int = 10_000,
        synchronous: Literal["NORMAL", "FULL"] = "NORMAL",
        watch_queue_size: int = 1000,
    ) -> SQLiteStore:
        """Open (creating if needed) the store at ``path``, a file path.

        ``history``: revisions kept in the event log for watch resume and list pagination.
        ``synchronous``: NORMAL survives process crashes, FULL also power loss (see the module docstring).
        ``watch_queue_size``: live events buffered per watcher before it is ended with Gone.
        Raises StoreError if another process (or another open store) holds the database.
        """
        if history < 1:
            raise ValueError("history must be >= 1")
        if watch_queue_size < 1:
            raise ValueError("watch_queue_size must be >= 1")
        if synchronous not in ("NORMAL", "FULL"):
            raise ValueError("synchronous must be NORMAL or FULL")
        path = os.fspath(path)
        lock_fd = os.open(path + "-lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            os.close(lock_fd)
            raise StoreError(f"store {path} is open in another process (or store)") from err
        read_pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="mkpy-store-read")
        connections: list[sqlite3.Connection] = []

        def connect(*pragmas: str) -> sqlite3.Connection:
            with _sqlite_errors(f"opening {path}"):
                conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
                connections.append(conn)
                for pragma in ("busy_timeout = 10000", *pragmas):
                    conn.execute(f"PRAGMA {pragma}")
                return conn

        def open_writer() -> tuple[sqlite3.Connection, int, int]:
            conn = connect(f"synchronous = {synchronous}", "wal_autocheckpoint = 0")  # see _checkpoint_loop
            with _sqlite_errors(f"opening {path}"):
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                if mode != "wal":
                    raise StoreError(f"{path}: cannot use WAL mode (got {mode})")
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version not in (0, SCHEMA_VERSION):
                    raise StoreError(f"{path}: schema version {version}, this code knows {SCHEMA_VERSION}")
                conn.executescript(f"BEGIN IMMEDIATE; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;")
                revision, compacted = conn.execute("SELECT revision, compacted FROM meta").fetchone()
                return conn, int(revision), int(compacted)

        loop = asyncio.get_running_loop()
        try:
            writer, revision, compacted = await asyncio.to_thread(open_writer)
            reader = await loop.run_in_executor(read_pool, connect, "query_only = 1")
            checkpointer = await asyncio.to_thread(connect, f"synchronous = {synchronous}")
        except BaseException:
            for conn in connections:
                conn.close()
            read_pool.shutdown()
            os.close(lock_fd)
            raise
        store = cls(
            loop=loop,
            writer=writer,
            reader=reader,
            read_pool=read_pool,
            lock_fd=lock_fd,
            checkpointer=checkpointer,
            history=history,
            watch_queue_size=watch_queue_size,
            revision=revision,
            compacted=compacted,
        )
        store._thread.start()
        store._checkpoint_thread.start()
        return store

    # ----------------------------------------------------------------------------------------------- plumbing

    def _check_open(self) -> None:
        if self._closed:
            raise StoreClosed("store is closed")

    async def _submit(self, prepare: _Prepare) -> Object:
        """Queue a write for the writer thread; resolves once its batch is committed (or it failed).

        Cancelling the caller does not cancel the write: it may still commit, as with any lost reply."""
        self._check_open()
        future: asyncio.Future[Object] = self._loop.create_future()
        self._queue.put(_WriteOp(prepare, future))
        return await future

    async def _read(self, fn: Callable[[], _T]) -> _T:
        self._check_open()
        return await self._loop.run_in_executor(self._read_pool, fn)

    def _write_loop(self) -> None:
        """Writer thread: group commit.  Takes every queued write (up to MAX_BATCH), runs them in order in one
        transaction, commits, and only then hands results and changes to the loop.  Ends at the close marker."""
        closing: _WriteOp | None = None
        while closing is None:
            batch = [self._queue.get()]
            while len(batch) < MAX_BATCH:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            ops: list[_WriteOp] = []
            for op in batch:
                if op.prepare is None:
                    closing = op  # close() queues nothing after it
                else:
                    ops.append(op)
            if ops:
                outcomes, changes = self._commit_batch(ops)
                self._hand_over(self._complete, ops, outcomes, changes, self._compacted_w)
                self._written.set()
        with contextlib.suppress(sqlite3.Error):
            self._writer.close()
        self._hand_over(_settle, closing.future, {})

    def _checkpoint_loop(self) -> None:
        """Checkpoint thread: copy the WAL into the database (PASSIVE: never waits for, nor blocks, the writer
        or readers) at most every CHECKPOINT_INTERVAL while writes come in, so no commit pays for it."""
        while not self._checkpoint_stop:  # close() sets it before waking us, so a wake-up is never lost
            self._written.wait()
            if self._checkpoint_stop:
                break
            time.sleep(CHECKPOINT_INTERVAL)  # gather the writes of the interval into one checkpoint
            self._written.clear()
            try:
                self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as err:
                log.warning("store: WAL checkpoint failed: %s", err)
        with contextlib.suppress(sqlite3.Error):
            self._checkpointer.close()

    def _hand_over(self, callback: Callable[..., None], *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone: nobody left to tell
            self._loop.call_soon_threadsafe(callback, *args)

    def _commit_batch(self, ops: builtins.list[_WriteOp]) -> tuple[builtins.list[object], builtins.list[_Change]]:
        """Writer thread: one transaction for ``ops``, in order.  Each op either fails its checks having written
        nothing (that op gets its error) or writes its row and event; any SQLite error fails the whole batch."""
        conn = self._writer
        revision = self._revision
        outcomes: list[object] = []
        changes: list[_Change] = []
        events: list[tuple[int, str, str, str, str, str, str | None]] = []
        try:
            conn.execute("BEGIN IMMEDIATE")
            for op in ops:
                assert op.prepare is not None
                try:
                    plan = op.prepare(conn, revision + 1)
                except sqlite3.Error:
                    raise  # the transaction may be gone: fail the batch
                except Exception as err:  # NotFound, Conflict, AlreadyExists, an object JSON cannot hold...
                    outcomes.append(err)
                    continue
                if plan.change is not None and plan.statement is not None:
                    conn.execute(*plan.statement)
                    c = plan.change
                    events.append((c.revision, c.type, c.resource, c.namespace, c.name, plan.data, plan.prev))
                    changes.append(c)
                    revision = c.revision
                outcomes.append(plan.result)
            if not changes:
                conn.execute("ROLLBACK")
                return outcomes, changes
            conn.executemany(_INSERT_EVENT, events)
            compacted = max(self._compacted_w, revision - self._history)
            if compacted > self._compacted_w:
                conn.execute("DELETE FROM events WHERE revision <= ?", (compacted,))
            conn.execute("UPDATE meta SET revision = ?, compacted = ?", (revision, compacted))
            conn.execute("COMMIT")
        except Exception as err:
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            failures: list[object] = []
            for _ in ops:
                failure = StoreError(f"write failed, nothing committed: {type(err).__name__}: {err}")
                failure.__cause__ = err
                failures.append(failure)
            return failures, []
        self._revision = revision
        self._compacted_w = compacted
        return outcomes, changes

    def _complete(
        self,
        ops: builtins.list[_WriteOp],
        outcomes: builtins.list[object],
        changes: builtins.list[_Change],
        compacted: int,
    ) -> None:
        """Loop: publish a committed batch's changes in revision order, then resume its writers."""
        self._compacted = compacted
        for change in changes:
            self._publish(change)
        for op, outcome in zip(ops, outcomes, strict=True):
            _settle(op.future, outcome)

    def _in_read_txn(self, what: str, body: Callable[[sqlite3.Connection], _T]) -> _T:
        # One snapshot: in WAL mode a read transaction sees every commit before its first SELECT, and nothing after.
        conn = self._reader
        with _sqlite_errors(what):
            conn.execute("BEGIN")
            try:
                return body(conn)
            finally:
                if conn.in_transaction:  # read-only: nothing to commit
                    conn.execute("ROLLBACK")

    def _publish(self, change: _Change) -> None:
        """Loop: hand one committed change to the live watchers of its resource, in revision order."""
        self._published = change.revision
        watchers = self._watchers.get(change.resource)
        if not watchers:
            return
        for watcher in list(watchers):
            matches = watcher.namespace is None or watcher.namespace == change.namespace
            # Drop buffers abandoned without aclose(), and those that overflow (writers never wait for readers).
            if watcher.closed or (matches and not watcher.offer(change)):
                watchers.discard(watcher)

    # ----------------------------------------------------------------------------------------------- writes

    async def create(self, key: Key, obj: Object) -> Object:
        """See ``Store.create``.  ``obj`` is read on the writer thread: do not mutate it until the call returns."""

        def prepare(conn: sqlite3.Connection, revision: int) -> _Plan:
            if conn.execute(f"SELECT 1 FROM objects WHERE {_KEY}", _key_params(key)).fetchone() is not None:
                raise AlreadyExists(
                    f"{key} already exists", resource=key.resource, namespace=key.namespace, name=key.name
                )
            data = _dumps(_with_rv(obj, revision))
            change = _Change(revision, ADDED, key.resource, key.namespace, key.name, json.loads(data), None)
            statement = (
                "INSERT INTO objects (revision, data, resource, namespace, name) VALUES (?, ?, ?, ?, ?)",
                (revision, data, *_key_params(key)),
            )
            return _Plan(json.loads(data), change, statement, data)

        return await self._submit(prepare)

    @staticmethod
    def _load_for_write(conn: sqlite3.Connection, key: Key, expected: str | None) -> tuple[int, str]:
        row = conn.execute(f"SELECT revision, data FROM objects WHERE {_KEY}", _key_params(key)).fetchone()
        if row is None:
            raise NotFound(f"{key} not found", resource=key.resource, namespace=key.namespace, name=key.name)
        revision, data = int(row[0]), str(row[1])
        if expected is not None and expected != str(revision):
            raise Conflict(
                f"{key}: resourceVersion {expected} is not the stored {revision}: the object has been modified",
                resource=key.resource,
                namespace=key.namespace,
                name=key.name,
                expected=expected,
                actual=str(revision),
            )
        return revision, data

    async def update(self, key: Key, obj: Object, *, expected_resource_version: str | None = None) -> Object:
        """See ``Store.update``.  An update that changes nothing but the resourceVersion is a no-op, as in the
        apiserver (etcd3 ``GuaranteedUpdate``): it returns the stored object, takes no revision, emits no event."""
        expected = expected_resource_version if expected_resource_version is not None else _rv_of(obj)

        def prepare(conn: sqlite3.Connection, revision: int) -> _Plan:
            old_revision, old_data = self._load_for_write(conn, key, expected)
            old = json.loads(old_data)
            if _with_rv(obj, old_revision) == old:
                return _Plan(old)
            data = _dumps(_with_rv(obj, revision))
            change = _Change(revision, MODIFIED, key.resource, key.namespace, key.name, json.loads(data), old)
            statement = (f"UPDATE objects SET revision = ?, data = ? WHERE {_KEY}", (revision, data, *_key_params(key)))
            return _Plan(json.loads(data), change, statement, data, old_data)

        return await self._submit(prepare)

    async def delete(self, key: Key, *, expected_resource_version: str | None = None) -> Object:
        def prepare(conn: sqlite3.Connection, revision: int) -> _Plan:
            _, old_data = self._load_for_write(conn, key, expected_resource_version)
            old = json.loads(old_data)
            data = _dumps(_with_rv(old, revision))
            change = _Change(revision, DELETED, key.resource, key.namespace, key.name, json.loads(data), old)
            statement = (f"DELETE FROM objects WHERE {_KEY}", _key_params(key))
            return _Plan(json.loads(data), change, statement, data, old_data)

        return await self._submit(prepare)

    # ----------------------------------------------------------------------------------------------- reads

    async def get(self, key: Key) -> Object:
        def body(conn: sqlite3.Connection) -> Object:
            row = conn.execute(f"SELECT data FROM objects WHERE {_KEY}", _key_params(key)).fetchone()
            if row is None:
                raise NotFound(f"{key} not found", resource=key.resource, namespace=key.namespace, name=key.name)
            return json.loads(row[0])  # type: ignore[no-any-return]

        return await self._read(lambda: self._in_read_txn(f"get {key}", body))

    def watcher_count(self) -> int:
        """Live watchers registered now (for metrics and tests)."""
        return sum(not w.closed for watchers in self._watchers.values() for w in watchers)

    async def current_revision(self) -> int:
        """The last committed revision (every write that has returned is at or below it)."""
        self._check_open()
        return self._revision

    async def list(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        limit: int | None = None,
        continue_token: str | None = None,
        predicate: Predicate | None = None,
    ) -> ListResult:
        """See ``Store.list``.  ``limit`` None or 0 means everything.  ``predicate`` runs on the store's reader
        thread: it must be a pure function of the object."""
        if limit is not None and limit < 0:
            raise ValueError("limit must be >= 0")
        return await self._read(
            lambda: self._in_read_txn(
                f"list {resource}", lambda conn: self._list(conn, resource, namespace, limit, continue_token, predicate)
            )
        )

    def _list(
        self,
        conn: sqlite3.Connection,
        resource: str,
        namespace: str | None,
        limit: int | None,
        token: str | None,
        predicate: Predicate | None,
    ) -> ListResult:
        head, compacted = conn.execute("SELECT revision, compacted FROM meta").fetchone()
        after: tuple[str, str] | None = None
        at = int(head)
        if token:
            at, after = _decode_continue(token, resource, namespace)
            if at < compacted:
                raise Gone(
                    f"continue token for {resource} at revision {at} is older than the history (from {compacted}):"
                    " re-list",
                    resource=resource,
                    namespace=namespace or "",
                    resource_version=at,
                    oldest=int(compacted),
                )
            if at > head:
                raise InvalidContinue("continue token from the future", resource=resource, namespace=namespace or "")
        # The page is read "as of" revision ``at``: objects untouched since then come from the table as they are;
        # keys written after ``at`` get their state at ``at`` back from the prev of their first later event.
        restored: list[tuple[str, str, str]] = []
        if at < head:
            params: list[Any] = [at]
            sql = (
                "SELECT namespace, name, type, prev, MIN(revision) FROM events WHERE revision > ? AND "
                + _scope(resource, namespace, after, params)
                + " GROUP BY namespace, name"  # SQLite: bare columns come from the MIN() row
            )
            restored = sorted(
                (ns, name, prev) for ns, name, kind, prev, _ in conn.execute(sql, params) if kind != ADDED
            )
        params = []
        sql = (
            "SELECT namespace, name, data FROM objects WHERE "
            + _scope(resource, namespace, after, params)
            + " AND revision <= ? ORDER BY namespace, name"
        )
        params.append(at)
        cursor = conn.execute(sql, params)
        rows: Iterable[tuple[str, str, str]] = cursor
        if restored:
            rows = heapq.merge(cursor, restored, key=lambda row: (row[0], row[1]))
        want = limit + 1 if limit else None  # one more than the page: is there a next page?
        keys: list[tuple[str, str]] = []
        items: list[Object] = []
        for ns, name, data in rows:
            obj = json.loads(data)
            if predicate is not None and not predicate(obj):
                continue
            keys.append((ns, name))
            items.append(obj)
            if want is not None and len(items) == want:
                break
        cursor.close()
        if want is None or len(items) < want:
            return ListResult(items, at, None, None)
        items.pop()
        keys.pop()
        last = keys[-1]
        remaining = None
        if predicate is None:  # as the apiserver: a count only when it is cheap and exact
            params = []
            sql = (
                "SELECT count(*) FROM objects WHERE " + _scope(resource, namespace, last, params) + " AND revision <= ?"
            )
            params.append(at)
            remaining = int(conn.execute(sql, params).fetchone()[0]) + sum(1 for r in restored if (r[0], r[1]) > last)
        return ListResult(items, at, _encode_continue(resource, namespace, at, last), remaining)

    # ----------------------------------------------------------------------------------------------- watch

    def watch(
        self,
        resource: str,
        namespace: str | None = None,
        *,
        since: int | None = None,
        predicate: Predicate | None = None,
    ) -> Watch:
        """See ``Store.watch``.  ``since=None`` means events after this call.  Raises Gone right here when
        ``since`` is known to be compacted (otherwise from the first ``__anext__`` if compaction got there first).
        ``predicate`` runs on the loop; MODIFIED events crossing it become ADDED/DELETED as in the apiserver.
        """
        self._check_open()
        if since is not None and since < self._compacted:
            raise self._gone(resource, namespace, since, self._compacted)
        return Watch(self, resource, namespace, self._published if since is None else since, predicate)

    @staticmethod
    def _gone(resource: str, namespace: str | None, since: int, oldest: int) -> Gone:
        return Gone(
            f"watch of {resource} from revision {since} is older than the history (from {oldest}): re-list",
            resource=resource,
            namespace=namespace or "",
            resource_version=since,
            oldest=oldest,
        )

    def _read_log(
        self, conn: sqlite3.Connection, resource: str, namespace: str | None, after: int, decode_prev: bool
    ) -> tuple[builtins.list[_Change], int, bool]:
        """Reader thread: up to REPLAY_CHUNK logged changes > ``after``; the snapshot's revision; caught up?"""
        head, compacted = conn.execute("SELECT revision, compacted FROM meta").fetchone()
        if after < compacted:
            raise self._gone(resource, namespace, after, compacted)
        params: list[Any] = [after]
        sql = (
            "SELECT revision, type, resource, namespace, name, data, prev FROM events WHERE revision > ? AND "
            + _scope(resource, namespace, None, params)
            + " ORDER BY revision LIMIT ?"
        )
        params.append(REPLAY_CHUNK)
        changes = [
            _Change(rev, kind, res, ns, name, json.loads(data), json.loads(prev) if decode_prev and prev else None)
            for rev, kind, res, ns, name, data, prev in conn.execute(sql, params)
        ]
        return changes, int(head), len(changes) < REPLAY_CHUNK

    async def _read_log_async(
        self, resource: str, namespace: str | None, after: int, decode_prev: bool
    ) -> tuple[builtins.list[_Change], int, bool]:
        return await self._read(
            lambda: self._in_read_txn(
                f"watch {resource}", lambda conn: self._read_log(conn, resource, namespace, after, decode_prev)
            )
        )

    def _register(self, resource: str, namespace: str | None) -> tuple[_Watcher, int]:
        """Loop: a live buffer that receives every change > the returned revision."""
        watcher = _Watcher(resource, namespace, self._watch_queue_size)
        self._watchers.setdefault(resource, set()).add(watcher)
        return watcher, self._published

    def _unregister(self, watcher: _Watcher) -> None:
        self._watchers.get(watcher.resource, set()).discard(watcher)

    # ----------------------------------------------------------------------------------------------- close

    async def close(self) -> None:
        """Finish the calls already made, end every watch, close the database.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        written: asyncio.Future[Object] = self._loop.create_future()
        self._queue.put(_WriteOp(None, written))  # after every queued write
        await asyncio.gather(written, self._loop.run_in_executor(self._read_pool, self._reader.close))
        self._thread.join()  # it has nothing left to do
        self._checkpoint_stop = True
        self._written.set()
        await asyncio.to_thread(self._checkpoint_thread.join)
        self._read_pool.shutdown()
        for watchers in self._watchers.values():
            for watcher in watchers:
                watcher.close()
        self._watchers.clear()
        os.close(self._lock_fd)  # releases the flock


class Watch:
    """The iterator ``SQLiteStore.watch`` returns: replays the event log, then follows live changes.

    ``last`` is the revision up to which every change has been handled (returned or filtered out).  No gap: a change
    is either published after the live buffer is registered (the buffer has it) or committed before the next log
    read (the log has it).  No duplicate: anything <= ``last`` is skipped.  Replay reads the log in chunks and joins
    the live stream only once caught up, so the bounded buffer fills only while the consumer lags behind writers;
    if it overflows, ``__anext__`` raises Gone.

    Cancellation-safe: cancelling a pending ``__anext__`` (``asyncio.wait_for`` for a bookmark timer, a cancelled
    task) loses no event and leaves the watch usable; ``aclose()`` or ``async with`` releases it at once, an
    abandoned one at the next change of its resource.  Ends (StopAsyncIteration) when the store closes.
    """

    def __init__(
        self, store: SQLiteStore, resource: str, namespace: str | None, since: int, predicate: Predicate | None
    ) -> None:
        self._store = store
        self._resource = resource
        self._namespace = namespace
        self._predicate = predicate
        self._last = since
        self._pending: collections.deque[WatchEvent] = collections.deque()  # read from the log, not yet returned
        self._watcher: _Watcher | None = None
        self._registered_at = 0
        self._caught_up = False
        self._reading: asyncio.Future[tuple[builtins.list[_Change], int, bool]] | None = None
        self._done = False

    @property
    def resource_version(self) -> int:
        """The revision this watch has delivered up to (a resume point for a new watch)."""
        return self._last if not self._pending else self._pending[0].resource_version - 1

    def __aiter__(self) -> Watch:
        return self

    async def __anext__(self) -> WatchEvent:
        store = self._store
        while True:
            if self._pending:
                return self._pending.popleft()
            if self._done:
                raise StopAsyncIteration
            if store._closed:
                self._finish()
                raise StopAsyncIteration
            if self._watcher is None and (self._caught_up or self._last >= store._published):
                self._watcher, self._registered_at = store._register(self._resource, self._namespace)
            if self._watcher is None or self._last < self._registered_at:
                await self._replay_chunk()
                continue
            # Waits without having taken anything: a cancellation here loses nothing.
            watcher = self._watcher
            change = await watcher.next()
            if change is None:  # overflowed, closed by aclose() elsewhere, or the store closed
                self._finish()
                if watcher.overflowed:
                    raise Gone(
                        f"watch of {self._resource} fell more than {store._watch_queue_size} events behind: re-list",
                        resource=self._resource,
                        namespace=self._namespace or "",
                        resource_version=self._last,
                        oldest=store._compacted,
                    )
                raise StopAsyncIteration
            if change.revision <= self._last:
                continue
            self._last = change.revision
            event = _filtered(change, self._predicate)
            if event is not None:
                return event

    async def _replay_chunk(self) -> None:
        # The log read outlives a cancelled __anext__ (shielded, picked up by the next call): a consumer that times
        # out faster than a chunk can be read still makes progress.
        if self._reading is None:
            self._reading = asyncio.ensure_future(
                self._store._read_log_async(self._resource, self._namespace, self._last, self._predicate is not None)
            )
            self._reading.add_done_callback(_retrieve)
        reading = self._reading
        try:
            changes, head, caught_up = await asyncio.shield(reading)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if reading.cancelled() and not (task is not None and task.cancelling()):
                return  # aclose() from another task: end quietly (the loop sees _done)
            raise  # our caller was cancelled: the read goes on for the next call
        except StoreClosed:
            self._finish()
            return
        except BaseException:
            self._reading = None
            self._finish()
            raise
        self._reading = None
        # No await from here on: the chunk is either fully taken into _pending or (cancelled above) not at all.
        for change in changes:
            if change.revision > self._last:
                event = _filtered(change, self._predicate)
                if event is not None:
                    self._pending.append(event)
        self._last = max(self._last, head if caught_up else changes[-1].revision)
        self._caught_up = caught_up

    def _finish(self) -> None:
        self._done = True
        if self._reading is not None:
            self._reading.cancel()
            self._reading = None
        if self._watcher is not None:
            self._watcher.close()  # wakes a __anext__ waiting in another task
            self._store._unregister(self._watcher)
            self._watcher = None

    async def aclose(self) -> None:
        """Stop: unregister now; later ``__anext__`` calls raise StopAsyncIteration."""
        self._pending.clear()
        self._finish()

    async def __aenter__(self) -> Watch:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    def __del__(self) -> None:
        # May run on any thread (cyclic GC): only flag the buffer; _publish drops flagged ones.
        watcher = getattr(self, "_watcher", None)
        if watcher is not None:
            watcher.closed = True


if TYPE_CHECKING:

    def _implements_store(store: SQLiteStore) -> Store:
        return store  # mypy proves SQLiteStore satisfies the Store protocol
