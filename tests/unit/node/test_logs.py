"""CRI container logs: containerd's writer format and rotation, kubelet's reader semantics."""

from __future__ import annotations

import ast
import asyncio
import calendar
import gzip
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from minikube_py.node.runtime import logs
from minikube_py.node.runtime.logs import (
    MAX_LINE,
    CriLogWriter,
    LogRecord,
    container_log_path,
    follow_log,
    format_timestamp,
    format_timestamp_fixed,
    parse_cri_line,
    previous_container_log_path,
    read_log,
    rotated_log_files,
)
from tests.polling import until

T0 = calendar.timegm((2016, 10, 6, 0, 17, 9, 0, 0, 0))  # 2016-10-06T00:17:09Z


class StepClock:
    """Deterministic clock: every call returns the previous value plus ``step`` seconds."""

    def __init__(self, start: float = T0, step: float = 0.25) -> None:
        self.now = start - step
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def records(path: Path) -> list[tuple[str, str, str, bytes]]:
    """(timestamp, stream, tag, content) of every record in a log file."""
    out = []
    for line in path.read_bytes().split(b"\n")[:-1]:
        stamp, stream, tag, content = line.split(b" ", 3)
        out.append((stamp.decode(), stream.decode(), tag.decode(), content))
    return out


def log_file(tmp_path: Path) -> Path:
    return tmp_path / "default_web_1234" / "app" / "0.log"


# -- writer: format ---------------------------------------------------------------------------------


def test_both_streams_interleaved_with_timestamps(tmp_path: Path) -> None:
    path = log_file(tmp_path)
    writer = CriLogWriter(str(path), clock=StepClock())
    writer.write("stdout", b"out 1\nout")
    writer.write("stderr", b"err 1\n")
    writer.write("stdout", b" 2\n")
    writer.write("stderr", b"err 2\nerr 3\n")
    writer.close()
    assert path.read_bytes() == (
        b"2016-10-06T00:17:09Z stdout F out 1\n"
        b"2016-10-06T00:17:09.25Z stderr F err 1\n"
        b"2016-10-06T00:17:09.5Z stdout F out 2\n"
        b"2016-10-06T00:17:09.75Z stderr F err 2\n"
        b"2016-10-06T00:17:10Z stderr F err 3\n"
    )
    assert oct(path.stat().st_mode & 0o777) == "0o640"
    assert list(read_log(str(path))) == [b"out 1\n", b"err 1\n", b"out 2\n", b"err 2\n", b"err 3\n"]


def test_timestamps_are_go_rfc3339nano_in_utc() -> None:
    base = T0 * 1_000_000_000
    assert format_timestamp(base + 669_794_202) == "2016-10-06T00:17:09.669794202Z"
    assert format_timestamp(base + 669_794_200) == "2016-10-06T00:17:09.6697942Z"  # zeros trimmed
    assert format_timestamp(base) == "2016-10-06T00:17:09Z"  # no fraction at all
    assert format_timestamp_fixed(base + 5) == "2016-10-06T00:17:09.000000005Z"
    assert format_timestamp_fixed(base) == "2016-10-06T00:17:09.000000000Z"


def test_real_clock_records_parse_back_to_now(tmp_path: Path) -> None:
    path = log_file(tmp_path)
    before = time.time() - 1
    with CriLogWriter(str(path)) as writer:
        writer.write("stdout", b"x\n")
    (record,) = [parse_cri_line(line) for line in path.read_bytes().splitlines()]
    assert before <= record.time < before + 60
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,9})?Z", record.timestamp)


def test_empty_lines_and_crlf(tmp_path: Path) -> None:
    path = log_file(tmp_path)
    writer = CriLogWriter(str(path), clock=StepClock(step=0))
    writer.write("stdout", b"\nwin\r\nbar\rkept\n")
    writer.write("stdout", b"split\r")  # "\r\n" straddling two writes is still one line ending
    writer.write("stdout", b"\n")
    writer.close()
    assert [(tag, content) for _, _, tag, content in records(path)] == [
        ("F", b""),
        ("F", b"win"),
        ("F", b"bar\rkept"),
        ("F", b"split"),
    ]


def test_long_line_is_split_into_P_chunks_and_joined_on_read(tmp_path: Path) -> None:
    path = log_file(tmp_path)
    long_line = bytes(range(65, 91)) * 1300  # 33800 bytes = 2 * 16384 + 1032
    writer = CriLogWriter(str(path), clock=StepClock())
    writer.write("stdout", long_line + b"\nshort\n")
    writer.close()
    got = records(path)
    assert [(stream, tag, len(content)) for _, stream, tag, content in got] == [
        ("stdout", "P", MAX_LINE),
        ("stdout", "P", MAX_LINE),
        ("stdout", "F", 33800 - 2 * MAX_LINE),
        ("stdout", "F", 5),
    ]
    assert b"".join(content for _, _, _, content in got[:3]) == long_line
    assert list(read_log(str(path))) == [long_line + b"\n", b"short\n"]
    # the joined line carries the timestamp of its first chunk
    first = next(read_log(str(path), timestamps=True))
    assert first.startswith(b"2016-10-06T00:17:09.000000000Z ABC")


@pytest.mark.parametrize(
    ("length", "expected"),
    [
        (MAX_LINE, [("F", MAX_LINE)]),  # containerd: "log length equal to max length"
        (MAX_LINE + 1, [("P", MAX_LINE), ("F", 1)]),  # "exceed max length by 1"
        (2 * MAX_LINE, [("P", MAX_LINE), ("F", MAX_LINE)]),
        (2 * MAX_LINE + 1, [("P", MAX_LINE), ("P", MAX_LINE), ("F", 1)]),
    ],
)
def test_split_boundaries_match_containerd(tmp_path: Path, length: int, expected: list[tuple[str, int]]) -> None:
    path = log_file(tmp_path)
    writer = CriLogWriter(str(path), clock=StepClock())
    data = b"a" * length + b"\n"
    for start in range(0, len(data), 1000):  # as a pipe delivers it, in pieces
        writer.write("stdout", data[start : start + 1000])
    writer.close()
    assert [(tag, len(content)) for _, _, tag, content in records(path)] == expected


def test_max_line_zero_disables_splitting(tmp_path: Path) -> None:
    path = log_file(tmp_path)
    with CriLogWriter(str(path), clock=StepClock(), max_line=0) as writer:
        writer.write("stdout", b"a" * (3 * MAX_LINE) + b"\n")
    assert [(tag, len(content)) for _, _, tag, content in records(path)] == [("F", 3 * MAX_LINE)]


def test_partial_last_line_is_flushed_as_P_at_close_stream(tmp_path: Path) -> None:
    path = log_file(tmp_path)
    writer = CriLogWriter(str(path), clock=StepClock())
    writer.write("stdout", b"done\nprompt> ")
    writer.write("stderr", b"dangling")
    assert [content for _, _, _, content in records(path)] == [b"done"]  # nothing flushed yet
    writer.close_stream("stdout")
    assert records(path)[-1][1:] == ("stdout", "P", b"prompt> ")
    writer.close_stream("stdout")  # nothing left: writes nothing
    writer.close()  # flushes stderr's unfinished line too
    assert [(stream, tag, content) for _, stream, tag, content in records(path)] == [
        ("stdout", "F", b"done"),
        ("stdout", "P", b"prompt> "),
        ("stderr", "P", b"dangling"),
    ]
    # kubectl shows such a line without a newline
    assert list(read_log(str(path))) == [b"done\n", b"prompt> ", b"dangling"]
    writer.close()  # idempotent
    with pytest.raises(ValueError, match="closed"):
        writer.write("stdout", b"late\n")


def test_unknown_stream_is_rejected(tmp_path: Path) -> None:
    writer = CriLogWriter(str(log_file(tmp_path)))
    with pytest.raises(ValueError, match="unknown stream"):
        writer.write("stdin", b"x\n")
    writer.close()
    with pytest.raises(ValueError, match="max_files"):
        CriLogWriter(str(log_file(tmp_path)), max_files=1)


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_write_errors_are_counted_and_writing_goes_on() -> None:
    writer = CriLogWriter("/dev/full", max_size=0)
    writer.write("stdout", b"a\nb\n")
    assert writer.write_errors == 2
    assert isinstance(writer.last_error, OSError)
    writer.close()


# -- parsing -----------------------------------------------------------------------------------------


def test_parse_cri_line_fields() -> None:
    record = parse_cri_line(b"2016-10-06T00:17:09.669794202Z stdout P log content 1\n")
    assert record == LogRecord(
        timestamp="2016-10-06T00:17:09.669794202Z",
        time=(T0 * 1_000_000_000 + 669_794_202) / 1e9,
        stream="stdout",
        partial=True,
        content=b"log content 1",
    )
    assert record.time_ns == T0 * 1_000_000_000 + 669_794_202
    full = parse_cri_line(b"2016-10-06T02:17:09+02:00 stderr F:future-tag  two  spaces")
    assert (full.time, full.stream, full.partial, full.content) == (T0, "stderr", False, b" two  spaces")
    assert parse_cri_line(b"2016-10-06T00:17:09.5Z stdout F \n").content == b""


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (b"", "timestamp is not found"),
        (b"garbage", "timestamp is not found"),
        (b"yesterday stdout F x", "unexpected timestamp format"),
        (b"2016-10-06 00:17:09Z stdout F x", "unexpected timestamp format"),
        (b"2016-13-06T00:17:09Z stdout F x", "invalid date"),
        (b"2016-02-30T00:17:09Z stdout F x", "invalid date"),
        (b"2016-10-06T24:17:09Z stdout F x", "invalid time"),
        (b"2016-10-06T00:17:09.1234567890Z stdout F x", "unexpected timestamp format"),
        (b"2016-10-06T00:17:09Z", "timestamp is not found"),
        (b"2016-10-06T00:17:09Z stdout", "stream type is not found"),
        (b"2016-10-06T00:17:09Z stdin F x", "unexpected stream type"),
        (b"2016-10-06T00:17:09Z stdout F", "log tag is not found"),
        (b"2016-10-06T00:17:09Z stdout X x", "unexpected log tag"),
        (b"2016-10-06T00:17:09Z stdout F a\n2016-10-06T00:17:09Z stdout F b\n", "more than one line"),
    ],
)
def test_parse_errors(line: bytes, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_cri_line(line)


def test_reader_skips_malformed_lines(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(
        b"2016-10-06T00:17:09Z stdout F one\n"
        b"not a cri line\n"
        b"2016-10-06T00:17:10Z stdout F two\n"
        b"2016-10-06T00:17:11Z stdout F three"  # no newline at the end: still read, as kubelet does
    )
    assert list(read_log(str(path))) == [b"one\n", b"two\n", b"three\n"]


# -- reader: kubectl logs options -----------------------------------------------------------------


@pytest.fixture
def five_lines(tmp_path: Path) -> Path:
    """Lines at T0, T0+1, ... T0+4: out-0, err-1, out-2, err-3, out-4."""
    path = log_file(tmp_path)
    writer = CriLogWriter(str(path), clock=StepClock(step=1.0))
    for i in range(5):
        writer.write("stdout" if i % 2 == 0 else "stderr", f"{'out' if i % 2 == 0 else 'err'}-{i}\n".encode())
    writer.close()
    return path


def test_tail(five_lines: Path) -> None:
    assert list(read_log(str(five_lines), tail=2)) == [b"err-3\n", b"out-4\n"]
    assert list(read_log(str(five_lines), tail=0)) == []
    assert list(read_log(str(five_lines), tail=99)) == [b"out-0\n", b"err-1\n", b"out-2\n", b"err-3\n", b"out-4\n"]
    assert len(list(read_log(str(five_lines), tail=-1))) == 5  # kubectl's --tail=-1: everything
    assert list(read_log(str(five_lines), tail=2, streams=("stdout",))) == [b"out-2\n", b"out-4\n"]


def test_since(five_lines: Path) -> None:
    assert list(read_log(str(five_lines), since=T0 + 3)) == [b"err-3\n", b"out-4\n"]  # at or after
    assert list(read_log(str(five_lines), since=T0 + 2.5)) == [b"err-3\n", b"out-4\n"]
    assert list(read_log(str(five_lines), since=T0 + 10)) == []
    assert list(read_log(str(five_lines), since=T0 + 1, tail=1)) == [b"out-4\n"]


def test_limit_bytes_cuts_the_last_line(five_lines: Path) -> None:
    assert list(read_log(str(five_lines), limit_bytes=9)) == [b"out-0\n", b"err"]
    assert list(read_log(str(five_lines), limit_bytes=12)) == [b"out-0\n", b"err-1\n"]
    assert list(read_log(str(five_lines), limit_bytes=0)) == []
    assert list(read_log(str(five_lines), limit_bytes=20, timestamps=True)) == [b"2016-10-06T00:17:09."]


def test_timestamps_and_streams(five_lines: Path) -> None:
    assert list(read_log(str(five_lines), timestamps=True, streams=("stderr",))) == [
        b"2016-10-06T00:17:10.000000000Z err-1\n",
        b"2016-10-06T00:17:12.000000000Z err-3\n",
    ]
    with pytest.raises(ValueError, match="unknown stream"):
        read_log(str(five_lines), streams=("stdin",))


def test_missing_log_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        read_log(str(tmp_path / "nothing.log"))


def test_reads_kubelet_compressed_rotations_and_ignores_leftovers(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    with gzip.open(tmp_path / "0.log.20161006-001709.gz", "wb") as gz:
        gz.write(b"2016-10-06T00:17:09Z stdout F oldest\n")
    (tmp_path / "0.log.20161006-001709").write_bytes(b"2016-10-06T00:17:09Z stdout F duplicate\n")
    (tmp_path / "0.log.20161006-001710.gz.tmp").write_bytes(b"half written")
    (tmp_path / "0.log.20161006-001711").write_bytes(b"2016-10-06T00:17:11Z stdout F middle\n")
    (tmp_path / "10.log.20161006-001710").write_bytes(b"2016-10-06T00:17:10Z stdout F other log\n")
    path.write_bytes(b"2016-10-06T00:17:12Z stdout F newest\n")
    assert [os.path.basename(name) for name in rotated_log_files(str(path))] == [
        "0.log.20161006-001709.gz",
        "0.log.20161006-001711",
    ]
    assert list(read_log(str(path))) == [b"oldest\n", b"middle\n", b"newest\n"]
    assert list(read_log(str(path), include_rotated=False)) == [b"newest\n"]


# -- rotation ---------------------------------------------------------------------------------------

RECORD_OVERHEAD = len("2016-10-06T00:17:09.123456789Z stdout F \n")


def test_rotation_keeps_the_size_and_file_caps(tmp_path: Path) -> None:
    path = log_file(tmp_path)
    max_size = 64 * 1024
    writer = CriLogWriter(str(path), max_size=max_size, max_files=3, clock=StepClock(step=0.001))
    lines = [f"line {i:06d} ".encode() + b"x" * 988 + b"\n" for i in range(1024)]  # 1 KiB each, 1 MiB
    for line in lines:
        writer.write("stdout", line)
        assert writer.size <= max_size + 1000 + RECORD_OVERHEAD
    writer.close()
    files = sorted(path.parent.iterdir())
    assert len(files) == 3
    assert writer.rotations >= 1024 * 1024 // max_size - 1
    for file in files:
        assert file.stat().st_size <= max_size + 1000 + RECORD_OVERHEAD
        assert re.fullmatch(r"0\.log(\.\d{8}-\d{6}(\.\d+)?)?", file.name)
    got = list(read_log(str(path)))
    assert got[-1] == lines[-1]  # newest content present
    assert lines[0] not in got  # oldest dropped
    first = lines.index(got[0])
    assert got == lines[first:]  # what is kept is contiguous, oldest first
    assert len(got) > 2 * max_size // 1024 - 1


def test_rotated_names_use_utc_seconds_and_a_counter(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    writer = CriLogWriter(str(path), max_size=10, max_files=4, clock=StepClock(step=0))
    for i in range(4):
        writer.write("stdout", f"record {i}\n".encode())  # every record fills the file
    writer.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "0.log",
        "0.log.20161006-001709.1",
        "0.log.20161006-001709.2",
        "0.log.20161006-001709.3",
    ]
    assert path.read_bytes() == b""
    assert list(read_log(str(path))) == [b"record 1\n", b"record 2\n", b"record 3\n"]


def test_counter_names_sort_numerically(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    writer = CriLogWriter(str(path), max_size=10, max_files=20, clock=StepClock(step=0))
    for i in range(12):
        writer.write("stdout", f"record {i}\n".encode())
    writer.close()
    assert list(read_log(str(path))) == [f"record {i}\n".encode() for i in range(12)]


def test_existing_oversized_file_is_rotated_on_open(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"2016-10-06T00:17:08Z stdout F " + b"o" * 200 + b"\n")
    writer = CriLogWriter(str(path), max_size=100, clock=StepClock())
    assert writer.size == 0
    assert [os.path.basename(n) for n in rotated_log_files(str(path))] == ["0.log.20161006-001709"]
    writer.close()


def test_partial_line_across_a_rotation_is_joined(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    writer = CriLogWriter(str(path), max_size=MAX_LINE, clock=StepClock(step=1.0))
    writer.write("stdout", b"b" * (MAX_LINE + 3) + b"\n")  # the P record fills the file: rotation
    writer.close()
    assert len(rotated_log_files(str(path))) == 1
    assert list(read_log(str(path))) == [b"b" * (MAX_LINE + 3) + b"\n"]


# -- follow -------------------------------------------------------------------------------------------


async def collect(path: Path, stop: asyncio.Event, out: list[bytes], **kwargs: object) -> None:
    async for line in follow_log(str(path), poll_interval=0.01, stop=stop, **kwargs):  # type: ignore[arg-type]
        out.append(line)


async def test_follow_sees_appended_lines_and_survives_rotation(tmp_path: Path) -> None:
    path = log_file(tmp_path)
    writer = CriLogWriter(str(path), max_size=200, max_files=5, clock=StepClock())
    writer.write("stdout", b"before\n")
    stop = asyncio.Event()
    got: list[bytes] = []
    task = asyncio.create_task(collect(path, stop, got))
    await until(lambda: got == [b"before\n"], "the followed lines")
    writer.write("stdout", b"after 1\n")
    writer.write("stderr", b"after 2\n")
    await until(lambda: len(got) == 3, "the followed lines")
    rotations = writer.rotations
    for i in range(4):  # ~50 bytes a record: rotates
        writer.write("stdout", f"rotating {i}\n".encode())
        await asyncio.sleep(0.03)
    assert writer.rotations > rotations
    writer.write("stdout", b"in the new file\n")
    await until(lambda: got[-1:] == [b"in the new file\n"], "the followed lines")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert got == [
        b"before\n",
        b"after 1\n",
        b"after 2\n",
        *[f"rotating {i}\n".encode() for i in range(4)],
        b"in the new file\n",
    ]
    writer.close()


async def test_follow_catches_up_after_several_rotations_between_polls(tmp_path: Path) -> None:
    path = log_file(tmp_path)
    writer = CriLogWriter(str(path), max_size=300, max_files=50, clock=StepClock())
    writer.write("stdout", b"first\n")
    stop = asyncio.Event()
    got: list[bytes] = []
    task = asyncio.create_task(collect(path, stop, got))
    await until(lambda: got == [b"first\n"], "the followed lines")
    burst = [f"burst {i:03d}\n".encode() for i in range(60)]
    for line in burst:  # no await: all of it, and ~10 rotations, before the follower polls again
        writer.write("stdout", line)
    assert writer.rotations >= 5
    await until(lambda: got[-1:] == [burst[-1]], "the followed lines")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert got == [b"first\n", *burst]
    writer.close()


async def test_follow_tail_filters_and_flush_at_stop(tmp_path: Path) -> None:
    path = log_file(tmp_path)
    writer = CriLogWriter(str(path), clock=StepClock(step=1.0))
    writer.write("stdout", b"one\ntwo\nthree\n")
    stop = asyncio.Event()
    got: list[bytes] = []
    task = asyncio.create_task(collect(path, stop, got, tail=1, timestamps=True, streams=("stdout",)))
    await until(lambda: len(got) == 1, "the followed lines")
    writer.write("stderr", b"hidden\n")
    writer.write("stdout", b"four\nno newline")
    writer.close_stream("stdout")
    await until(lambda: len(got) == 2, "the followed lines")
    stop.set()
    await asyncio.wait_for(task, 5)
    assert got == [
        b"2016-10-06T00:17:11.000000000Z three\n",
        b"2016-10-06T00:17:13.000000000Z four\n",
        b"2016-10-06T00:17:14.000000000Z no newline",  # the open line is emitted when stopping
    ]
    writer.close()


async def test_follow_reads_an_unterminated_record_when_stopping(tmp_path: Path) -> None:
    path = tmp_path / "0.log"
    path.write_bytes(b"2016-10-06T00:17:09Z stdout F whole\n")
    stop = asyncio.Event()
    got: list[bytes] = []
    task = asyncio.create_task(collect(path, stop, got))
    await until(lambda: got == [b"whole\n"], "the followed lines")
    with path.open("ab") as file:  # a record cut short (a writer that died mid-write)
        file.write(b"2016-10-06T00:17:10Z stderr F cut sho")
    await asyncio.sleep(0.05)
    assert got == [b"whole\n"]  # while following, an unterminated record is not parsed yet
    stop.set()
    await asyncio.wait_for(task, 5)
    assert got == [b"whole\n", b"cut sho\n"]  # once stopping it is, as kubelet does at the end


async def test_follow_ends_at_limit_bytes(tmp_path: Path) -> None:
    path = log_file(tmp_path)
    writer = CriLogWriter(str(path), clock=StepClock())
    writer.write("stdout", b"abc\n")
    got: list[bytes] = []
    task = asyncio.create_task(collect(path, asyncio.Event(), got, limit_bytes=6))
    await until(lambda: got == [b"abc\n"], "the followed lines")
    writer.write("stdout", b"defgh\n")
    await asyncio.wait_for(task, 5)  # ends by itself: the limit is reached
    assert got == [b"abc\n", b"de"]
    writer.close()


async def test_follow_without_log_raises(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        await collect(tmp_path / "0.log", asyncio.Event(), [])


# -- paths and the helper-process constraint -------------------------------------------------------


def test_container_log_path() -> None:
    assert container_log_path("/var/log/pods", "default", "web", "1234-ab", "app", 2) == (
        "/var/log/pods/default_web_1234-ab/app/2.log"
    )
    assert previous_container_log_path("/var/log/pods", "default", "web", "1234-ab", "app", 2) == (
        "/var/log/pods/default_web_1234-ab/app/1.log"
    )
    with pytest.raises(ValueError, match="no previous log"):
        previous_container_log_path("/r", "ns", "p", "u", "c", 0)
    with pytest.raises(ValueError, match="container"):
        container_log_path("/r", "ns", "p", "u", "../etc", 0)
    with pytest.raises(ValueError, match="restart count"):
        container_log_path("/r", "ns", "p", "u", "c", -1)


def test_module_imports_only_the_standard_library() -> None:
    source = Path(logs.__file__).read_text()
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module is not None
            imported.add(node.module.split(".")[0])
    assert imported - {"__future__"} <= sys.stdlib_module_names
    assert "asyncio" in imported  # only inside follow_log and for type checking


def test_writer_runs_under_python_dash_S_without_asyncio(tmp_path: Path) -> None:
    script = (
        "import importlib.util, sys\n"
        f"spec = importlib.util.spec_from_file_location('crilogs', {logs.__file__!r})\n"
        "mod = importlib.util.module_from_spec(spec); sys.modules['crilogs'] = mod\n"
        "spec.loader.exec_module(mod)\n"
        "w = mod.CriLogWriter(sys.argv[1], clock=lambda: 0.5)\n"
        "w.write('stdout', b'hi\\n'); w.close()\n"
        "bad = sorted(m for m in sys.modules if m.startswith(('asyncio', 'minikube_py', 'site')))\n"
        "print(bad)\n"
    )
    target = tmp_path / "0.log"
    result = subprocess.run(
        [sys.executable, "-S", "-I", "-c", script, str(target)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
    assert target.read_bytes() == b"1970-01-01T00:00:00.5Z stdout F hi\n"
