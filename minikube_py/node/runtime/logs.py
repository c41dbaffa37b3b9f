"""Container logs in the Kubernetes CRI log format: the writer (as containerd) and the reader (as kubelet).

One record per line::

    2016-10-06T00:17:09.669794202Z stdout F log content 1

* Writer facts (containerd ``internal/cri/io/logger.go``, ``redirectLogs``): the timestamp is
  ``time.RFC3339Nano`` (Go trims trailing zeros of the fraction and drops it when zero; we always write
  UTC with ``Z``); a line ending in ``\\n`` (or ``\\r\\n``, both stripped) is written with tag ``F``; once
  more than ``maxLen`` (16 KiB) bytes of a line are buffered, the first ``maxLen`` are written as a ``P``
  record, so a long line becomes ``P``... ``P`` ``F`` with every ``P`` exactly ``maxLen`` bytes;
  ``maxLen <= 0`` disables splitting.  At end of stream, leftover bytes without a newline are written
  as a **``P``** record (containerd's test "log ends without newline" expects ``F`` then ``P``): the tag
  records faithfully that the output did not end in a newline.  Empty lines are written (``... F \\n``).
* Rotation facts (kubelet ``pkg/kubelet/logs/container_log_manager.go``): rotate once the file reaches
  ``containerLogMaxSize`` (10 Mi), rename it to ``<path>.<20060102-150405>``, keep at most
  ``containerLogMaxFiles`` (5) files counting the live one, removing oldest first.  Here the writer rotates
  itself right after the write that makes the file reach ``max_size``, so the live file never exceeds
  ``max_size`` plus one record.  Choices: rotated names use UTC (kubelet uses local time) so they sort
  chronologically across time-zone changes; a counter is appended (``<path>.<ts>.1``) when needed so
  that a new rotated name always sorts after the rotated files that remain; rotated files are **not**
  gzip-compressed (compressing up to ``max_size`` bytes inline would stall draining the container's
  pipes), but the reader reads ``.gz`` rotated files, and ignores ``X`` when ``X.gz`` exists and
  ``*.tmp`` files, as kubelet does.
* Reader facts (kubelet ``pkg/kubelet/kuberuntime/logs/logs.go``, ``parseCRILog``/``ReadLogs``): tags are
  ``:``-separated and only the first one (``P``/``F``) matters; malformed lines are skipped;
  ``--timestamps`` prefixes ``RFC3339NanoFixed`` (always nine digits); ``limitBytes`` cuts the last line
  to the exact byte count.  Unlike kubelet, which copies ``P`` chunks through one by one, ``read_log``
  joins them into whole lines per stream (a line split across a rotation is joined too): a joined line
  carries the timestamp of its first chunk (used by ``since`` and ``timestamps``) and is emitted when its
  ``F`` arrives; chunks left open at the end of the log are emitted as they are, without a newline.
  Filters apply in the order streams, since, tail, limit_bytes.

The writer part (everything up to and including ``CriLogWriter``) imports only light standard-library modules and no
asyncio, so it can run in a helper started with ``python -S``.  Paths follow the kubelet convention
``<root>/<namespace>_<pod>_<uid>/<container>/<restartCount>.log``.
"""

from __future__ import annotations

import collections
import contextlib
import io
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    import asyncio

MAX_LINE = 16 * 1024
DEFAULT_MAX_SIZE = 10 * 1024 * 1024
DEFAULT_MAX_FILES = 5
STREAMS = ("stdout", "stderr")
TAG_PARTIAL = "P"
TAG_FULL = "F"
ROTATED_TIME_FORMAT = "%Y%m%d-%H%M%S"  # Go layout "20060102-150405"


def container_log_path(root: str, namespace: str, pod: str, uid: str, container: str, restart_count: int) -> str:
    """``<root>/<namespace>_<pod>_<uid>/<container>/<restart_count>.log`` (kubelet's layout)."""
    for what, value in (("namespace", namespace), ("pod", pod), ("uid", uid), ("container", container)):
        if not value or value in (".", "..") or "/" in value or "\0" in value:
            raise ValueError(f"invalid {what} for a log path: {value!r}")
    if restart_count < 0:
        raise ValueError(f"restart count must be >= 0, got {restart_count}")
    return os.path.join(root, f"{namespace}_{pod}_{uid}", container, f"{restart_count}.log")


def previous_container_log_path(
    root: str, namespace: str, pod: str, uid: str, container: str, restart_count: int
) -> str:
    """The log of the previous instance (``kubectl logs --previous``): restart count - 1."""
    if restart_count < 1:
        raise ValueError("the container has not been restarted: there is no previous log")
    return container_log_path(root, namespace, pod, uid, container, restart_count - 1)


def format_timestamp(time_ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: fraction without trailing zeros, omitted when zero."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    text = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if nanos:
        text += "." + f"{nanos:09d}".rstrip("0")
    return text + "Z"


def format_timestamp_fixed(time_ns: int) -> str:
    """Kubelet's ``RFC3339NanoFixed`` in UTC (always nine fractional digits), for ``--timestamps``."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{nanos:09d}Z"


def _seconds_to_ns(seconds: float) -> int:
    whole = int(seconds // 1)
    return whole * 1_000_000_000 + round((seconds - whole) * 1_000_000_000)


_ROTATED_SUFFIX = re.compile(r"\.(\d{8}-\d{6})(?:\.(\d+))?(\.gz)?")


def _rotated_entries(path: str) -> list[tuple[tuple[str, int], str]]:
    """((timestamp, counter), name) of the rotated files of ``path``, oldest first."""
    directory, base = os.path.split(path)
    try:
        names = os.listdir(directory or ".")
    except FileNotFoundError:
        return []
    keyed: dict[str, tuple[tuple[str, int], bool]] = {}
    for name in names:
        if not name.startswith(base):
            continue
        match = _ROTATED_SUFFIX.fullmatch(name, len(base))
        if match is None:
            continue
        plain = name[: len(name) - 3] if match.group(3) else name
        compressed = match.group(3) is not None
        if plain in keyed and keyed[plain][1]:
            continue  # X.gz exists: X is a leftover of its compression (kubelet's filterUnusedLogs)
        keyed[plain] = ((match.group(1), int(match.group(2) or 0)), compressed)
    ordered = sorted(keyed.items(), key=lambda item: item[1][0])
    return [(key, os.path.join(directory, plain + (".gz" if gz else ""))) for plain, (key, gz) in ordered]


def rotated_log_files(path: str) -> list[str]:
    """Rotated files of ``path``, oldest first; ``X`` is left out when ``X.gz`` exists (kubelet)."""
    return [name for _, name in _rotated_entries(path)]


class CriLogWriter:
    """Write the output of one container into ``path`` in CRI format, rotating it by size.

    ``write`` takes whatever chunks the pipes deliver; each stream keeps its own unfinished line.  Every
    record goes to the file with one ``os.write`` on an ``O_APPEND`` descriptor.  Write errors (a full
    disk) are counted in ``write_errors``/``last_error`` and the data dropped, like containerd, so the
    caller keeps draining the container's pipes.  Thread-safe.
    """

    def __init__(
        self,
        path: str,
        *,
        max_size: int = DEFAULT_MAX_SIZE,
        max_files: int = DEFAULT_MAX_FILES,
        clock: Callable[[], float] = time.time,
        max_line: int = MAX_LINE,
    ) -> None:
        if max_files < 2:
            raise ValueError(f"max_files must be >= 2 (the live file and one rotated), got {max_files}")
        self.path = path
        self.max_size = max_size  # <= 0: never rotate
        self.max_files = max_files
        self.max_line = max_line  # <= 0: never split lines
        self._clock = clock
        # Single-threaded by contract (the node shim): no lock, and no threading import whose at-fork
        # hooks would run in every child the shim forks.
        self._lock = contextlib.nullcontext()
        self._pending: dict[str, bytearray] = {stream: bytearray() for stream in STREAMS}
        self._closed = False
        self.write_errors = 0
        self.last_error: OSError | None = None
        self.rotations = 0
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, mode=0o755, exist_ok=True)
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size
        if 0 < self.max_size <= self._size:
            self._rotate()

    def __enter__(self) -> CriLogWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def size(self) -> int:
        """Bytes in the live file as far as this writer knows."""
        return self._size

    def write(self, stream: str, data: bytes) -> None:
        """Append output of ``stream`` (``stdout``/``stderr``); complete lines are written at once."""
        with self._lock:
            pending = self._checked_pending(stream)
            start = 0
            while (newline := data.find(b"\n", start)) >= 0:
                if pending:
                    line = bytes(pending) + data[start:newline]
                    pending.clear()
                else:
                    line = data[start:newline]
                if line.endswith(b"\r"):
                    line = line[:-1]
                self._emit_chunks(stream, line, keep_last=False)
                start = newline + 1
            if start < len(data):
                pending += data[start:]
                self._emit_overflow(stream, pending)

    def close_stream(self, stream: str) -> None:
        """End of ``stream``: its unfinished line is written as a ``P`` record, as containerd does."""
        with self._lock:
            self._flush(stream, self._checked_pending(stream))

    def reopen(self) -> None:
        """Reopen ``path`` (after someone else renamed or removed it; CRI ``ReopenContainerLog``)."""
        with self._lock:
            if self._closed:
                raise ValueError("log writer is closed")
            os.close(self._fd)
            self._fd = self._open()
            self._size = os.fstat(self._fd).st_size

    def close(self) -> None:
        """Flush both streams' unfinished lines (as ``P``) and close the file.  Idempotent."""
        with self._lock:
            if self._closed:
                return
            for stream, pending in self._pending.items():
                self._flush(stream, pending)
            self._closed = True
            os.close(self._fd)

    # -- internals (called with the lock held) ------------------------------------------------------

    def _checked_pending(self, stream: str) -> bytearray:
        if self._closed:
            raise ValueError("log writer is closed")
        if stream not in self._pending:
            raise ValueError(f"unknown stream {stream!r}: expected 'stdout' or 'stderr'")
        return self._pending[stream]

    def _open(self) -> int:
        return os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)

    def _emit_chunks(self, stream: str, line: bytes, *, keep_last: bool) -> None:
        limit = self.max_line
        if limit > 0:
            while len(line) > limit:
                self._write_record(stream, TAG_PARTIAL, line[:limit])
                line = line[limit:]
        self._write_record(stream, TAG_PARTIAL if keep_last else TAG_FULL, line)

    def _emit_overflow(self, stream: str, pending: bytearray) -> None:
        # containerd writes a P record as soon as more than maxLen bytes of a line are buffered.  A
        # trailing "\r" is not counted: it may be the start of "\r\n", which ends the line.
        limit = self.max_line
        if limit <= 0:
            return
        while len(pending) - (1 if pending.endswith(b"\r") else 0) > limit:
            self._write_record(stream, TAG_PARTIAL, bytes(pending[:limit]))
            del pending[:limit]

    def _flush(self, stream: str, pending: bytearray) -> None:
        if pending:
            line = bytes(pending)
            pending.clear()
            self._emit_chunks(stream, line, keep_last=True)

    def _now_ns(self) -> int:
        if self._clock is time.time:
            return time.time_ns()
        return _seconds_to_ns(self._clock())

    def _write_record(self, stream: str, tag: str, content: bytes) -> None:
        header = f"{format_timestamp(self._now_ns())} {stream} {tag} ".encode("ascii")
        record = b"".join((header, content, b"\n"))
        view = memoryview(record)
        try:
            while view:
                written = os.write(self._fd, view)
                self._size += written
                view = view[written:]
        except OSError as exc:
            self.write_errors += 1
            self.last_error = exc
            return
        if 0 < self.max_size <= self._size:
            self._rotate()

    def _rotate(self) -> None:
        try:
            # As kubelet: first drop the oldest rotated files (the new rotated one and the new live file
            # make up the rest of max_files), then rename the live file and start a new one.
            rotated = _rotated_entries(self.path)
            excess = max(0, len(rotated) - (self.max_files - 2))
            for _, old in rotated[:excess]:
                for name in (old, old[:-3]) if old.endswith(".gz") else (old,):
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(name)
            # The new name must sort after every rotated file left, even when its name is free again
            # because the oldest file with this timestamp was just removed (or the clock went back).
            stamp = time.strftime(ROTATED_TIME_FORMAT, time.gmtime(self._now_ns() // 1_000_000_000))
            counter = 0
            if excess < len(rotated):
                newest_stamp, newest_counter = rotated[-1][0]
                if stamp <= newest_stamp:
                    stamp, counter = newest_stamp, newest_counter + 1
            target = f"{self.path}.{stamp}" + (f".{counter}" if counter else "")
            while os.path.lexists(target) or os.path.lexists(target + ".gz"):
                counter += 1
                target = f"{self.path}.{stamp}.{counter}"
            os.rename(self.path, target)
            self.rotations += 1
        except OSError as exc:
            self.write_errors += 1
            self.last_error = exc
        # Start a new live file even if renaming failed (e.g. someone removed the file).
        try:
            fd = self._open()
        except OSError as exc:
            self.write_errors += 1
            self.last_error = exc
            return
        os.close(self._fd)
        self._fd = fd
        self._size = os.fstat(fd).st_size


# ---------------------------------------------------------------------------------------------------
# Reader side (kubelet).


class LogRecord(NamedTuple):
    timestamp: str  # as written in the file
    time: float  # seconds since the epoch
    stream: str
    partial: bool
    content: bytes  # without the record's trailing newline

    @property
    def time_ns(self) -> int:
        return _parse_timestamp(self.timestamp)


_TIMESTAMP = re.compile(
    rb"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(?:(Z)|([+-])(\d{2}):(\d{2}))"
)


def _parse_timestamp(text: str | bytes) -> int:
    """RFC 3339 with 0-9 fractional digits (kubelet's ``RFC3339NanoLenient``) -> ns since the epoch."""
    raw = text.encode("ascii", "replace") if isinstance(text, str) else text
    match = _TIMESTAMP.fullmatch(raw)
    if match is None:
        raise ValueError(f"unexpected timestamp format: {raw!r}")
    year, month, day, hour, minute, second = (int(match.group(i)) for i in range(1, 7))
    import calendar  # reader side only: keeps the writer's imports light

    if not (1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]):
        raise ValueError(f"invalid date in timestamp: {raw!r}")
    if hour > 23 or minute > 59 or second > 59:
        raise ValueError(f"invalid time in timestamp: {raw!r}")
    seconds = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if match.group(9):
        off_hours, off_minutes = int(match.group(10)), int(match.group(11))
        if off_hours > 23 or off_minutes > 59:
            raise ValueError(f"invalid offset in timestamp: {raw!r}")
        offset = (off_hours * 3600 + off_minutes * 60) * (1 if match.group(9) == b"+" else -1)
        seconds -= offset
    fraction = match.group(7) or b""
    return seconds * 1_000_000_000 + int(fraction.ljust(9, b"0") or b"0")


def _parse(line: bytes) -> tuple[str, int, str, bool, bytes]:
    """Fields of one CRI line, checked in kubelet's order (``parseCRILog``)."""
    if line.endswith(b"\n"):
        line = line[:-1]
    if b"\n" in line:
        raise ValueError("more than one line")
    stamp, sep, rest = line.partition(b" ")
    if not sep:
        raise ValueError("timestamp is not found")
    time_ns = _parse_timestamp(stamp)
    stream_raw, sep, rest = rest.partition(b" ")
    if not sep:
        raise ValueError("stream type is not found")
    stream = stream_raw.decode("ascii", "replace")
    if stream not in STREAMS:
        raise ValueError(f"unexpected stream type {stream!r}")
    tags, sep, content = rest.partition(b" ")
    if not sep:
        raise ValueError("log tag is not found")
    tag = tags.split(b":", 1)[0]  # tags are ":"-separated; only the first one is defined
    if tag not in (b"P", b"F"):
        raise ValueError(f"unexpected log tag {tags!r}")
    return stamp.decode("ascii"), time_ns, stream, tag == b"P", content


def parse_cri_line(line: bytes) -> LogRecord:
    """Parse one CRI log line (with or without its newline); ``ValueError`` when malformed."""
    stamp, time_ns, stream, partial, content = _parse(line)
    return LogRecord(stamp, time_ns / 1e9, stream, partial, content)


# A joined output line: (time of first chunk in ns, stream, bytes including "\n" when complete).
_Line = tuple[int, str, bytes]


class _Pipeline:
    """CRI lines in, joined and filtered lines out; renders timestamps and enforces limit_bytes."""

    def __init__(
        self,
        streams: Iterable[str],
        since: float | None,
        timestamps: bool,
        limit_bytes: int | None,
    ) -> None:
        self.streams = frozenset(streams)
        for stream in self.streams:
            if stream not in STREAMS:
                raise ValueError(f"unknown stream {stream!r}: expected 'stdout' or 'stderr'")
        self.since = since
        self.timestamps = timestamps
        self.remaining = limit_bytes if limit_bytes is not None and limit_bytes >= 0 else None
        self._open: dict[str, tuple[int, int, list[bytes]]] = {}  # stream -> (order, first ns, chunks)
        self._order = 0

    def feed(self, raw: bytes) -> _Line | None:
        try:
            _, time_ns, stream, partial, content = _parse(raw)
        except ValueError:
            return None  # kubelet logs and skips lines it cannot parse
        if stream not in self.streams:
            return None
        started = self._open.get(stream)
        if partial:
            if started is None:
                self._order += 1
                self._open[stream] = (self._order, time_ns, [content])
            else:
                started[2].append(content)
            return None
        if started is None:
            return self._filtered((time_ns, stream, content + b"\n"))
        del self._open[stream]
        _, first_ns, chunks = started
        chunks.append(content)
        chunks.append(b"\n")
        return self._filtered((first_ns, stream, b"".join(chunks)))

    def flush(self) -> list[_Line]:
        """Lines still open at the end of the log, in the order they started, without newline."""
        lines = []
        for stream, (_, first_ns, chunks) in sorted(self._open.items(), key=lambda item: item[1][0]):
            line = self._filtered((first_ns, stream, b"".join(chunks)))
            if line is not None:
                lines.append(line)
        self._open.clear()
        return lines

    def _filtered(self, line: _Line) -> _Line | None:
        if self.since is not None and line[0] / 1e9 < self.since:
            return None
        return line

    @property
    def exhausted(self) -> bool:
        return self.remaining is not None and self.remaining <= 0

    def render(self, line: _Line) -> bytes:
        data = line[2]
        if self.timestamps:
            data = format_timestamp_fixed(line[0]).encode("ascii") + b" " + data
        if self.remaining is not None:
            data = data[: self.remaining]
            self.remaining -= len(data)
        return data


def _same_file(a: os.stat_result, b: os.stat_result) -> bool:
    return (a.st_dev, a.st_ino) == (b.st_dev, b.st_ino)


def _open_any(name: str) -> io.BufferedIOBase:
    if name.endswith(".gz"):
        import gzip

        return gzip.GzipFile(name, "rb")
    return open(name, "rb")  # the caller closes it


def _snapshot(path: str) -> tuple[int | None, list[str]]:
    """Open the live file and list the rotated ones consistently (no rotation in between).

    Returns the live file's descriptor (None when it does not exist, e.g. in the middle of a rotation;
    then the file just rotated away is in the list) and the rotated names, oldest first.
    """
    while True:
        try:
            fd: int | None = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            fd = None
        rotated = rotated_log_files(path)
        if fd is None:
            return None, rotated
        try:
            if _same_file(os.stat(path), os.fstat(fd)):
                return fd, rotated
        except FileNotFoundError:
            pass
        os.close(fd)  # rotated while we listed: try again


def _file_lines(handle: io.BufferedIOBase) -> Iterator[bytes]:
    try:
        yield from handle
    except (OSError, EOFError):
        return  # a damaged compressed file: keep what was readable
    finally:
        handle.close()


def read_log(
    path: str,
    *,
    streams: Iterable[str] = STREAMS,
    timestamps: bool = False,
    tail: int | None = None,
    since: float | None = None,
    limit_bytes: int | None = None,
    include_rotated: bool = True,
) -> Iterator[bytes]:
    """Read a container log as ``kubectl logs`` shows it (see the module docstring for the rules).

    ``tail``: only the last N lines; ``since``: only lines from that time (epoch seconds) on;
    ``limit_bytes``: stop after that many bytes (the last line is cut); a negative ``tail`` or
    ``limit_bytes`` means no limit (kubelet's -1).  Files are opened when this is called, so a rotation
    while iterating loses nothing; ``FileNotFoundError`` when there is no log at all.
    """
    pipeline = _Pipeline(streams, since, timestamps, limit_bytes)
    fd, rotated = _snapshot(path)
    handles: list[io.BufferedIOBase] = []
    try:
        for name in rotated if include_rotated else []:
            try:
                handles.append(_open_any(name))
            except FileNotFoundError:
                continue  # removed by a rotation since we listed it
    except BaseException:
        for handle in handles:
            handle.close()
        if fd is not None:
            os.close(fd)
        raise
    if fd is not None:
        handles.append(os.fdopen(fd, "rb"))
    if not handles:
        raise FileNotFoundError(f"no container log at {path!r}")
    return _read_handles(handles, pipeline, tail)


def _read_handles(handles: list[io.BufferedIOBase], pipeline: _Pipeline, tail: int | None) -> Iterator[bytes]:
    def lines() -> Iterator[_Line]:
        for handle in handles:
            for raw in _file_lines(handle):
                line = pipeline.feed(raw)
                if line is not None:
                    yield line
        yield from pipeline.flush()

    try:
        selected: Iterable[_Line] = lines()
        if tail is not None and tail >= 0:
            selected = collections.deque(selected, maxlen=tail)
        for line in selected:
            if pipeline.exhausted:
                return
            yield pipeline.render(line)
    finally:
        for handle in handles:
            handle.close()


def _split_lines(data: bytes) -> list[bytes]:
    """Split on ``\n`` only, keeping it (``bytes.splitlines`` would also split on ``\r``)."""
    parts = data.split(b"\n")
    last = parts.pop()
    lines = [part + b"\n" for part in parts]
    if last:
        lines.append(last)
    return lines


class _Follower:
    """Incremental reading of the live file across rotations (synchronous; driven by follow_log)."""

    CHUNK = 64 * 1024

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd: int | None = None
        self.buffer = b""
        self.known: set[str] = set()  # rotated files (names without .gz) that are not newer than fd

    @staticmethod
    def _plain(name: str) -> str:
        return name[:-3] if name.endswith(".gz") else name

    def start(self) -> tuple[list[str], bool]:
        """Open the log; returns the rotated files to read first and whether any log exists."""
        self.fd, rotated = _snapshot(self.path)
        self.known = {self._plain(name) for name in rotated}
        return rotated, self.fd is not None or bool(rotated)

    def read_available(self, budget: int) -> tuple[list[bytes], bool]:
        """Complete lines appended to the live file (up to about ``budget`` bytes); (lines, at EOF)."""
        if self.fd is None:
            return [], True
        chunks = [self.buffer]
        read = 0
        at_eof = False
        while read < budget:
            chunk = os.read(self.fd, self.CHUNK)
            if not chunk:
                at_eof = True
                break
            chunks.append(chunk)
            read += len(chunk)
        data = b"".join(chunks)
        cut = data.rfind(b"\n") + 1
        self.buffer = data[cut:]
        return _split_lines(data[:cut]), at_eof

    def rotated_away(self) -> bool:
        """Whether ``path`` no longer is the file we read (rotated, removed, or not there yet)."""
        try:
            current = os.stat(self.path)
        except FileNotFoundError:
            return True
        return self.fd is None or not _same_file(current, os.fstat(self.fd))

    def switch(self) -> Iterator[bytes]:
        """After a rotation: the rest of the old file, rotated files newer than it, then the new file."""
        old_fd, self.fd = self.fd, None
        old_stat = os.fstat(old_fd) if old_fd is not None else None
        first_line = b""
        if old_fd is not None:
            yield from self._drain(old_fd)
            first_line = _first_line(os.pread(old_fd, MAX_LINE + 128, 0))
            os.close(old_fd)
        self.fd, rotated = _snapshot(self.path)
        new = [name for name in rotated if self._plain(name) not in self.known]
        start = 0
        if old_stat is not None and new:
            start = self._position_of_old(new, old_stat, first_line)
        self.known.update(self._plain(name) for name in rotated)
        for name in new[start:]:
            try:
                yield from _file_lines(_open_any(name))
            except FileNotFoundError:
                continue

    @staticmethod
    def _position_of_old(new: list[str], old_stat: os.stat_result, first_line: bytes) -> int:
        """Index just after our old file among the new rotated names; 0 when it is gone."""
        for index, name in enumerate(new):
            if name.endswith(".gz"):
                continue
            try:
                if _same_file(os.stat(name), old_stat):
                    return index + 1
            except FileNotFoundError:
                continue
        # Compressed since it was rotated?  The oldest new file is ours if it starts the same way.
        if new[0].endswith(".gz") and first_line:
            try:
                with _open_any(new[0]) as handle:
                    if handle.readline() == first_line:
                        return 1
            except (OSError, EOFError):
                pass
        return 0  # deleted: every new rotated file is newer than it

    def _drain(self, fd: int) -> Iterator[bytes]:
        chunks = [self.buffer]
        while chunk := os.read(fd, self.CHUNK):
            chunks.append(chunk)
        self.buffer = b""
        yield from _split_lines(b"".join(chunks))

    def read_to_eof(self) -> list[bytes]:
        lines: list[bytes] = []
        at_eof = False
        while not at_eof:
            more, at_eof = self.read_available(1024 * 1024)
            lines.extend(more)
        return lines

    def final(self) -> list[bytes]:
        """An incomplete last line, parsed as is (kubelet does so once it stops reading)."""
        rest, self.buffer = self.buffer, b""
        return [rest] if rest else []

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _first_line(data: bytes) -> bytes:
    end = data.find(b"\n")
    return data[: end + 1] if end >= 0 else b""


async def follow_log(
    path: str,
    *,
    poll_interval: float = 0.1,
    stop: asyncio.Event | None = None,
    streams: Iterable[str] = STREAMS,
    timestamps: bool = False,
    tail: int | None = None,
    since: float | None = None,
    limit_bytes: int | None = None,
    include_rotated: bool = True,
) -> AsyncIterator[bytes]:
    """``kubectl logs -f``: what ``read_log`` gives, then lines as they are appended, across rotations.

    Polls every ``poll_interval`` seconds.  When ``stop`` is set it reads what is in the file at that
    moment, emits lines still open (without newline) and ends; it also ends when ``limit_bytes`` is
    reached.  ``FileNotFoundError`` when there is no log at all when it starts.
    """
    import asyncio

    pipeline = _Pipeline(streams, since, timestamps, limit_bytes)
    follower = _Follower(path)
    budget = 1024 * 1024
    try:
        rotated, exists = follower.start()
        if not exists:
            raise FileNotFoundError(f"no container log at {path!r}")
        # Initial part, as read_log (tail applies to it only).
        initial: list[_Line] | collections.deque[_Line]
        initial = collections.deque(maxlen=tail) if tail is not None and tail >= 0 else []
        for name in rotated if include_rotated else []:
            try:
                handle = _open_any(name)
            except FileNotFoundError:
                continue
            for raw in _file_lines(handle):
                if (line := pipeline.feed(raw)) is not None:
                    initial.append(line)
            await asyncio.sleep(0)
        while True:
            raws, at_eof = follower.read_available(budget)
            for raw in raws:
                if (line := pipeline.feed(raw)) is not None:
                    initial.append(line)
            if at_eof:
                break
            await asyncio.sleep(0)
        for line in initial:
            if pipeline.exhausted:
                return
            yield pipeline.render(line)
        del initial

        while True:
            stopping = stop is not None and stop.is_set()
            raws, at_eof = follower.read_available(budget)
            if at_eof and follower.rotated_away():
                raws.extend(follower.switch())
                at_eof = False  # the new file may already hold more
            if stopping:
                # Last pass: everything in the file now, then lines still open.
                if not at_eof:
                    raws.extend(follower.read_to_eof())
                raws.extend(follower.final())
            for raw in raws:
                line = pipeline.feed(raw)
                if line is not None:
                    if pipeline.exhausted:
                        return
                    yield pipeline.render(line)
            if stopping:
                for line in pipeline.flush():
                    if pipeline.exhausted:
                        return
                    yield pipeline.render(line)
                return
            if pipeline.exhausted:
                return
            if raws or not at_eof:
                await asyncio.sleep(0)
                continue
            if stop is None:
                await asyncio.sleep(poll_interval)
            else:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), poll_interval)
    finally:
        follower.close()
