"""The project's error hierarchy.

OS errors are translated into these at one boundary per subsystem (cgroup files, process spawning), always
with ``raise ... from err`` so the cause is kept.  The control plane maps them to HTTP in one table.
"""

from __future__ import annotations


class MinikubeError(Exception):
    """Root of every error minikube_py raises on purpose."""


class CgroupError(MinikubeError):
    """A cgroup file or directory operation failed."""

    def __init__(self, message: str, *, path: str = "", errno: int = 0) -> None:
        super().__init__(message)
        self.path = path
        self.errno = errno


class CgroupNotFound(CgroupError):
    """The cgroup (or one of its files) does not exist."""


class CgroupBusy(CgroupError):
    """The cgroup still has processes or children and cannot be removed."""


class CgroupUnavailable(CgroupError):
    """No usable cgroup hierarchy (or a needed controller is missing)."""


class SpawnError(MinikubeError):
    """A process could not be started in its sandbox.

    ``stage`` says which step failed (cgroup, setns, unshare, mount, chdir, exec, ...) and ``errno`` the
    kernel's answer, so a container can end ``StartError`` with a precise message.
    """

    def __init__(self, message: str, *, stage: str = "", errno: int = 0) -> None:
        super().__init__(message)
        self.stage = stage
        self.errno = errno


class ProcessGone(MinikubeError):
    """The process no longer exists."""

    def __init__(self, pid: int) -> None:
        super().__init__(f"process {pid} no longer exists")
        self.pid = pid


class NotFound(MinikubeError):
    """A named object does not exist."""


class AlreadyExists(MinikubeError):
    """An object with that name exists already."""
