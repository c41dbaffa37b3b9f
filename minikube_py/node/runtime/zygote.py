"""The spawner ("zygote"): a small, single-threaded process that forks every sandboxed process.

Why a separate process: ``fork()`` costs grow with the parent's memory (measured here: +4.5 ms per 100 MiB
of parent RSS), and forking a multi-threaded asyncio agent is unsafe.  The zygote is started once, early,
with ``python -S`` and only the standard library, so it stays ~10 MiB and every fork stays cheap.

Protocol: one JSON request per SOCK_SEQPACKET message, one JSON reply.  For each spawn the zygote forks a
helper A, which joins the cgroups, enters (setns) or creates (unshare) namespaces and forks B, the real
process; A then exits.  The agent is a child subreaper (PR_SET_CHILD_SUBREAPER), so B is re-parented to
the agent as soon as A exits: the agent — not the zygote — waits for B and gets its exit status.
B reports a failure before exec (mount, chdir, exec itself) through a close-on-exec pipe: EOF means the
exec succeeded.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import select
import signal
import socket
import struct
import sys
from typing import Any

from minikube_py.node.runtime import libc

_NS_ORDER = ("ipc", "uts", "net", "pid", "cgroup", "mnt")  # mnt last: it changes what /proc paths mean
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class _StageError(Exception):
    def __init__(self, stage: str, errno: int, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.errno = errno
        self.message = message


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, _SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def _resolve(executable: str, env: dict[str, str]) -> str:
    """execvp-style lookup, with Kubernetes/runc wording for the failure."""
    if "/" in executable:
        return executable
    for directory in env.get("PATH", _DEFAULT_PATH).split(":"):
        candidate = os.path.join(directory or ".", executable)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise _StageError("exec", 2, f'exec: "{executable}": executable file not found in $PATH')


def _open_flags_file(path: str) -> int:
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)


def _run_b(req: dict[str, Any], status_w: int) -> None:
    """In B (the real process): finish the sandbox from inside, then exec.  Never returns."""
    stage = "init"
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)  # ignored signals would stay ignored across exec
        if req.get("mount_proc"):
            stage = "mount"
            # Stop mount propagation to the host before mounting our own /proc.
            libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
            libc.mount("proc", "/proc", "proc", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
        if req.get("hostname"):
            stage = "hostname"
            libc.sethostname(req["hostname"])
        if req.get("loopback_up"):
            stage = "network"
            _loopback_up()
        if req.get("oom_score_adj") is not None:
            stage = "oom_score_adj"
            try:
                with open("/proc/self/oom_score_adj", "w") as f:
                    f.write(str(int(req["oom_score_adj"])))
            except PermissionError:
                # Lowering below the inherited value needs CAP_SYS_RESOURCE, which some sandboxes (this
                # project's CI) withhold.  Keep the inherited value; the agent reads back what is in force.
                pass
        stage = "session"
        os.setsid()
        stage = "stdio"
        devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        out = _open_flags_file(req["stdout"]) if req.get("stdout") else devnull
        err = _open_flags_file(req["stderr"]) if req.get("stderr") else devnull
        os.dup2(devnull, 0)
        os.dup2(out, 1)
        os.dup2(err, 2)
        if req.get("cwd"):
            stage = "chdir"
            try:
                os.chdir(req["cwd"])
            except OSError as e:
                raise _StageError(
                    "chdir",
                    e.errno or 0,
                    f"chdir to workingDir {req['cwd']!r} failed: {os.strerror(e.errno or 0).lower()}",
                ) from e
        env = dict(req.get("env") or [])
        argv = list(req["argv"])
        stage = "exec"
        path = _resolve(argv[0], env)
        os.closerange(3, status_w)
        os.closerange(status_w + 1, 65536)
        try:
            os.execve(path, argv, env)
        except OSError as e:
            raise _StageError(
                "exec", e.errno or 0, f'exec: "{argv[0]}": {os.strerror(e.errno or 0).lower()}'
            ) from e
    except _StageError as e:
        _report(status_w, e.stage, e.errno, e.message)
    except OSError as e:
        _report(status_w, stage, e.errno or 0, f"{stage}: {e.strerror or e}")
    except BaseException as e:
        _report(status_w, stage, 0, f"{stage}: {e!r}")
    os._exit(127)


def _report(fd: int, stage: str, errno: int, message: str) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, json.dumps({"stage": stage, "errno": errno, "error": message}).encode())


def _run_a(req: dict[str, Any], ns_fds: dict[str, int], status_w: int, pid_w: int) -> None:
    """In A: join cgroups and namespaces, fork B, report B's pid, exit.  Never returns."""
    stage = "cgroup"
    try:
        for procs in req.get("cgroup_procs") or []:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(
                    fd, b"0"
                )  # "0" = the writing process; join before exec so all memory is charged here
            finally:
                os.close(fd)
        stage = "setns"
        for ns in _NS_ORDER:
            if ns in ns_fds:
                libc.setns(ns_fds[ns], libc.NAMESPACE_FLAGS[ns])
        stage = "unshare"
        flags = 0
        for ns in req.get("unshare") or []:
            flags |= libc.NAMESPACE_FLAGS[ns]
        if flags:
            libc.unshare(flags)
        stage = "fork"
        b = os.fork()
        if b == 0:
            os.close(pid_w)
            _run_b(req, status_w)
        os.write(pid_w, str(b).encode())
        os._exit(0)
    except OSError as e:
        _report(status_w, stage, e.errno or 0, f"{stage}: {e.strerror or e}")
    except BaseException as e:
        _report(status_w, stage, 0, f"{stage}: {e!r}")
    os._exit(1)


def _read_all(fd: int, timeout: float) -> bytes:
    chunks: list[bytes] = []
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    while True:
        if not poller.poll(timeout * 1000):
            raise TimeoutError
        data = os.read(fd, 65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def spawn(req: dict[str, Any]) -> dict[str, Any]:
    ns_fds: dict[str, int] = {}
    try:
        for ns, target_pid in (req.get("join") or {}).items():
            path = f"/proc/{int(target_pid)}/ns/{ns}"
            try:
                ns_fds[ns] = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError as e:
                return {
                    "pid": None,
                    "stage": "setns",
                    "errno": e.errno,
                    "error": f"open {path}: {e.strerror}",
                }
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        pid_r, pid_w = os.pipe2(os.O_CLOEXEC)
        a = os.fork()
        if a == 0:
            os.close(status_r)
            os.close(pid_r)
            _run_a(req, ns_fds, status_w, pid_w)
        os.close(status_w)
        os.close(pid_w)
        os.waitpid(a, 0)
        pid_text = _read_all(pid_r, 5.0)
        os.close(pid_r)
        pid = int(pid_text) if pid_text else None
        try:
            status = _read_all(status_r, float(req.get("timeout", 10.0)))
        except TimeoutError:
            status = json.dumps({"stage": "exec", "errno": 110, "error": "timed out before exec"}).encode()
        os.close(status_r)
        reply: dict[str, Any] = {"pid": pid}
        if status:
            reply.update(json.loads(status))
        return reply
    finally:
        for fd in ns_fds.values():
            os.close(fd)


def serve(sock: socket.socket) -> None:
    while True:
        try:
            data = sock.recv(1 << 20)
        except InterruptedError:
            continue
        if not data:
            return  # the agent went away
        try:
            req = json.loads(data)
            if req.get("op") == "ping":
                reply: dict[str, Any] = {"pong": os.getpid()}
            elif req.get("op") == "spawn":
                reply = spawn(req)
            else:
                reply = {"error": f"unknown op {req.get('op')!r}", "stage": "protocol", "errno": 22}
        except Exception as e:
            reply = {"pid": None, "error": f"zygote: {e!r}", "stage": "zygote", "errno": 0}
        sock.send(json.dumps(reply).encode())


def main() -> None:
    fd = int(sys.argv[1])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the agent, which shuts us down
    sock = socket.socket(fileno=fd)
    serve(sock)


if __name__ == "__main__":
    main()
