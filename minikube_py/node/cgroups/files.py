"""Reading and writing single cgroup files: the one place where cgroup OSErrors become typed errors."""

from __future__ import annotations

import errno
import os

from minikube_py import errors


def _translate(err: OSError, action: str, path: str, data: str | None = None) -> errors.CgroupError:
    detail = f"{action} {path}"
    if data is not None:
        detail += f" (writing {data.strip()!r})"
    detail += f": {err.strerror or err}"
    code = err.errno or 0
    if code == errno.ENOENT:
        return errors.CgroupNotFound(detail, path=path, errno=code)
    if code in (errno.EBUSY, errno.ENOTEMPTY):
        return errors.CgroupBusy(detail, path=path, errno=code)
    return errors.CgroupError(detail, path=path, errno=code)


def read_text(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError as err:
        raise _translate(err, "read", path) from err


def write_text(path: str, data: str) -> None:
    """Write ``data`` in one write() call, as the kernel expects for cgroup control files."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, data.encode())
        finally:
            os.close(fd)
    except OSError as err:
        raise _translate(err, "write", path, data) from err


def read_int(path: str) -> int:
    text = read_text(path).strip()
    if text == "max":
        return -1
    return int(text)


def read_flat_keyed(path: str) -> dict[str, int]:
    """Parse ``key value`` lines (memory.stat, cpu.stat, memory.events, memory.oom_control)."""
    result: dict[str, int] = {}
    for line in read_text(path).splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                result[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return result


def read_pids(path: str) -> list[int]:
    return [int(line) for line in read_text(path).split()]


def make_dir(path: str) -> bool:
    """Create a cgroup directory; returns False if it existed already."""
    try:
        os.mkdir(path)
        return True
    except FileExistsError:
        return False
    except OSError as err:
        raise _translate(err, "mkdir", path) from err


def remove_dir(path: str) -> bool:
    """Remove a cgroup directory; returns False if it did not exist."""
    try:
        os.rmdir(path)
        return True
    except FileNotFoundError:
        return False
    except OSError as err:
        raise _translate(err, "rmdir", path) from err
