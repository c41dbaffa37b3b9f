"""ctypes bindings for the few syscalls Python 3.11 lacks (clone, unshare, setns, mount, sethostname, prctl).

Every wrapper raises ``OSError`` with the kernel's errno, like the ``os`` module does.  This module imports
only the standard library: the zygote imports it in a ``python -S`` interpreter.
"""

from __future__ import annotations

import ctypes
import os
import signal

CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

NAMESPACE_FLAGS = {
    "mnt": CLONE_NEWNS,
    "uts": CLONE_NEWUTS,
    "ipc": CLONE_NEWIPC,
    "pid": CLONE_NEWPID,
    "net": CLONE_NEWNET,
    "cgroup": CLONE_NEWCGROUP,
}

MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_MOVE = 8192
MNT_DETACH = 2
# glibc wraps neither pivot_root() nor a fork-like clone(); the numbers and clone's argument order are per arch.
_ARCH = os.uname().machine
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}.get(_ARCH, -1)
_SYS_CLONE = {"x86_64": 56, "aarch64": 220}.get(_ARCH, -1)
_SYS_CLONE3 = 435  # the same on every architecture (added to the generic table in 5.3)
CLONE_INTO_CGROUP = 0x200000000  # clone3 only (5.7): the child is born in a cgroup v2 directory


class _CloneArgs(ctypes.Structure):
    """``struct clone_args`` up to ``cgroup`` (CLONE_ARGS_SIZE_VER2, 88 bytes)."""

    _fields_ = [
        (name, ctypes.c_uint64)
        for name in (
            "flags", "pidfd", "child_tid", "parent_tid", "exit_signal", "stack", "stack_size", "tls",
            "set_tid", "set_tid_size", "cgroup",
        )
    ]  # fmt: skip


PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_GET_CHILD_SUBREAPER = 37

# The process's own symbols include libc; ctypes.util.find_library would import subprocess, shutil, re...
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p]
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.sethostname.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
_libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
# The same library through the Python API flavour: the call keeps the GIL, so a cloned child does not start
# by re-taking a lock in the state it had at the instant of the clone.
_libc_gil = ctypes.PyDLL(None, use_errno=True)
_libc_gil.syscall.restype = ctypes.c_long


def _check(result: int, what: str) -> None:
    if result < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def clone(flags: int) -> int:
    """fork(2) that also creates the namespaces in ``flags`` (``CLONE_NEW*``): returns the child's pid in the
    parent and 0 in the child, like ``os.fork``.  One process instead of fork + unshare + fork: the child is
    born in the new pid namespace (as its PID 1), so no intermediate process is needed.

    This is the raw system call (no stack: the child runs on a copy of the caller's, as with fork), so none of
    the fork hooks run: no ``os.register_at_fork`` callbacks and no glibc atfork handlers.  Only safe in a
    single-threaded process whose child ends in exec or ``os._exit`` and never returns to the caller's loop.
    """
    if _SYS_CLONE < 0:
        raise OSError(38, f"clone: no system call number for {_ARCH}")  # ENOSYS
    none = ctypes.c_void_p(None)
    # x86_64: clone(flags, stack, parent_tid, child_tid, tls); aarch64: clone(flags, stack, parent_tid, tls,
    # child_tid): all but the flags are NULL here, so one call fits both.
    number, clone_flags = ctypes.c_long(_SYS_CLONE), ctypes.c_ulong(flags | signal.SIGCHLD)
    pid = int(_libc_gil.syscall(number, clone_flags, none, none, none, none))
    _check(pid, "clone")
    return pid


def clone_into_cgroup(flags: int, cgroup_fd: int) -> int:
    """:func:`clone` through clone3(2) with ``CLONE_INTO_CGROUP``: the child is born in the cgroup v2 directory
    ``cgroup_fd`` refers to, so it never migrates (a write to ``cgroup.procs`` write-locks the threadgroup
    rwsem, which waits for an RCU grace period when idle: milliseconds).  Raises ``OSError`` (ENOSYS before
    5.3, EINVAL/E2BIG before 5.7, EOPNOTSUPP/EBADF for a cgroup v1 directory); the caller falls back."""
    args = _CloneArgs(flags=flags | CLONE_INTO_CGROUP, exit_signal=signal.SIGCHLD, cgroup=cgroup_fd)
    size = ctypes.c_size_t(ctypes.sizeof(args))
    pid = int(_libc_gil.syscall(ctypes.c_long(_SYS_CLONE3), ctypes.byref(args), size))
    _check(pid, "clone3")
    return pid


def unshare(flags: int) -> None:
    _check(_libc.unshare(flags), "unshare")


def setns(fd: int, nstype: int = 0) -> None:
    _check(_libc.setns(fd, nstype), "setns")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode() if source is not None else None,
            target.encode(),
            fstype.encode() if fstype is not None else None,
            flags,
            data.encode() if data is not None else None,
        ),
        f"mount {target}",
    )


def umount2(target: str, flags: int = 0) -> None:
    _check(_libc.umount2(target.encode(), flags), f"umount {target}")


def pivot_root(new_root: str, put_old: str) -> None:
    if _SYS_PIVOT_ROOT < 0:
        raise OSError(38, f"pivot_root: no system call number for {_ARCH}")
    _check(_libc.syscall(ctypes.c_long(_SYS_PIVOT_ROOT), new_root.encode(), put_old.encode()), "pivot_root")


def sethostname(name: str) -> None:
    raw = name.encode()
    _check(_libc.sethostname(raw, len(raw)), "sethostname")


def set_child_subreaper(enabled: bool = True) -> None:
    """Orphaned descendants are re-parented to us instead of to PID 1 (prctl PR_SET_CHILD_SUBREAPER)."""
    _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1 if enabled else 0, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")


def is_child_subreaper() -> bool:
    value = ctypes.c_int(0)
    _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    try:
        _check(_libc.prctl(PR_GET_CHILD_SUBREAPER, ctypes.addressof(value), 0, 0, 0), "prctl")
    finally:
        _libc.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
    return bool(value.value)
