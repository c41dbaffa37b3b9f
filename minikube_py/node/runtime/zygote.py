"""The node shim ("zygote"): one small, single-threaded, long-lived process per node that forks every
sandboxed process, is their parent, keeps their exit statuses and pumps their logs.

Why a separate process:
- ``fork()`` costs grow with the parent's memory (measured here: +4.5 ms per 100 MiB of parent RSS) and
  forking a multi-threaded asyncio agent is unsafe; the shim is started early with ``python -S`` and only
  the standard library, so it stays ~10 MiB and every fork stays cheap;
- containers must outlive the agent (kill -9, upgrade): the shim runs in its own session, listens on a unix
  socket in the node's state directory, and a restarted agent reconnects to it.  It is a child subreaper
  (PR_SET_CHILD_SUBREAPER), so every container is its child: it reaps them and keeps each exit status
  until an agent has taken note — a container that ends while no agent runs is still reported exactly.

Spawning: one ``clone()`` with the ``CLONE_NEW*`` flags of the namespaces to create makes the process, born
in them (PID 1 of its new pid namespace), as the shim's own child.  On cgroup v2 it is also born in its cgroup
(clone3 ``CLONE_INTO_CGROUP``); on v1 it joins its cgroups first thing (``tasks``, see the driver).  It enters
(setns) the namespaces it shares, finishes the sandbox from inside (mounts, hostname, loopback) and execs.
A shared pid namespace can only be entered by the *parent* (setns(CLONE_NEWPID) sets where the caller's
children are born), so for those the shim points its children's pid namespace at the pod's around the clone
and back at its own.  The child reports a failure before exec (cgroup, setns, mount, chdir, exec itself)
through a close-on-exec pipe: EOF means exec succeeded.  One process instead of a fork + unshare + fork chain
saves a copy of the shim's address space and a hand-over per spawn (measured: ~2 ms of a ~7 ms spawn).

Protocol (SOCK_SEQPACKET, one JSON object per message): requests carry an ``id`` and get one reply with the
same ``id``; the shim also sends events ``{"event": "exit", "pid", "status", "finished_at", ...}``.
"""

from __future__ import annotations

import contextlib
import errno as errno_mod
import fcntl
import gc
import json
import os
import select
import selectors
import signal
import socket
import struct
import sys
import time
from typing import Any

from minikube_py.node.runtime import libc, logs

_NS_ORDER = ("ipc", "uts", "net", "pid", "cgroup", "mnt")  # mnt last: it changes what /proc paths mean
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_IFF_UP = 0x1
_DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
CAPTURE_LIMIT = 256 * 1024  # bytes of stdout/stderr kept for a captured (exec) process
MAX_MESSAGE = 1 << 20


class _StageError(Exception):
    def __init__(self, stage: str, errno: int, message: str) -> None:
        super().__init__(message)
        self.stage = stage
        self.errno = errno
        self.message = message


# --- inside the forked children (A and B) -------------------------------------------------------------


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        ifreq = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, _SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def _resolve(executable: str, env: dict[str, str]) -> str:
    """execvp-style lookup, with runc's wording for the failure."""
    if "/" in executable:
        return executable
    for directory in env.get("PATH", _DEFAULT_PATH).split(":"):
        candidate = os.path.join(directory or ".", executable)
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise _StageError("exec", errno_mod.ENOENT, f'exec: "{executable}": executable file not found in $PATH')


class _MountNamespaceBuilder:
    """Makes volumes visible at their container paths in B's private mount namespace, never touching the node.

    A path that exists is a bind-mount target as it is.  A missing path must not be created on the node's file
    system, so its nearest existing ancestor is *shadowed*: a tmpfs replaces it in this namespace only, filled
    with bind mounts of the ancestor's original entries (symlinks copied), and the missing directories are made
    in the tmpfs.  The root itself is shadowed by building the new root on a tmpfs and ``pivot_root``-ing
    into it (``MS_MOVE`` + ``chroot`` where the root can't be pivoted, e.g. an initramfs).
    """

    def __init__(self, staging: str) -> None:
        self.staging = staging  # an empty directory of the agent's, used only as a mount point here
        self.own: set[str] = set()  # directories on our tmpfs: writable without touching the node
        self.scratch: list[str] = []

    def _scratch(self) -> str:
        if "/" in self.own:  # after the pivot: a directory in our own root
            path = f"/.mkpy-staging-{len(self.scratch)}"
            os.mkdir(path, 0o700)
            self.scratch.append(path)
            return path
        return self.staging

    @staticmethod
    def _replicate(source: str, into: str, skip: tuple[str, ...] = ()) -> None:
        for entry in os.scandir(source):
            dest = os.path.join(into, entry.name)
            if entry.is_symlink():
                os.symlink(os.readlink(entry.path), dest)
                continue
            if entry.is_dir(follow_symlinks=False):
                os.mkdir(dest, 0o755)
                if entry.name in skip:
                    continue
            else:
                os.close(os.open(dest, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
            # A bind keeps the source mount's flags (a read-only /usr stays read-only).
            libc.mount(entry.path, dest, None, libc.MS_BIND | libc.MS_REC)

    def _shadow(self, anchor: str) -> None:
        scratch = self._scratch()
        if anchor == "/":
            libc.mount("tmpfs", scratch, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, "mode=0755")
            self._replicate("/", scratch, skip=("proc",))  # B mounts its own /proc afterwards
            os.mkdir(os.path.join(scratch, ".oldroot"), 0o700)
            try:
                libc.pivot_root(scratch, os.path.join(scratch, ".oldroot"))
                os.chdir("/")
                libc.umount2("/.oldroot", libc.MNT_DETACH)
            except OSError as e:
                if e.errno != errno_mod.EINVAL:
                    raise
                os.chdir(scratch)  # rootfs can't be pivoted: move the new root over it and chroot
                libc.mount(scratch, "/", None, libc.MS_MOVE)
                os.chroot(".")
                os.chdir("/")
            os.rmdir("/.oldroot")
        else:
            libc.mount(anchor, scratch, None, libc.MS_BIND | libc.MS_REC)
            libc.mount("tmpfs", anchor, "tmpfs", libc.MS_NOSUID | libc.MS_NODEV, "mode=0755")
            self._replicate(scratch, anchor)
            libc.umount2(scratch, libc.MNT_DETACH)
        self.own.add(anchor)

    def _make_directory(self, target: str) -> None:
        missing = []
        path = target
        while not os.path.isdir(path):
            if os.path.lexists(path):
                raise _StageError("mount", errno_mod.ENOTDIR, f"mount {target}: {path} is not a directory")
            missing.append(path)
            path = os.path.dirname(path)
        if path not in self.own:
            self._shadow(path)
        for directory in reversed(missing):
            os.mkdir(directory, 0o755)
            self.own.add(directory)

    def mount(self, mounts: list[dict[str, Any]]) -> None:
        # Parents first, so /data and /data/cache both work.
        for m in sorted(mounts, key=lambda m: os.path.normpath(m["target"]).count("/")):
            target = os.path.normpath(m["target"])
            if not target.startswith("/") or target == "/":
                raise _StageError("mount", errno_mod.EINVAL, f"mount {target}: must be an absolute path below /")
            if not os.path.isdir(target):
                self._make_directory(target)
            libc.mount(m["source"], target, None, libc.MS_BIND | libc.MS_REC)
            if m.get("read_only"):
                libc.mount(None, target, None, libc.MS_BIND | libc.MS_REMOUNT | libc.MS_RDONLY)
        for path in self.scratch:
            os.rmdir(path)


def _report(fd: int, stage: str, errno: int, message: str) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, json.dumps({"stage": stage, "errno": errno, "error": message}).encode())


def _strerror(code: int) -> str:
    return os.strerror(code).lower() if code else "unknown error"


def _run_b(req: dict[str, Any], status_w: int, stdout_w: int, stderr_w: int) -> None:
    """In the child, inside its namespaces: finish the sandbox from inside, then exec.  Never returns."""
    stage = "init"
    try:
        signal.pthread_sigmask(signal.SIG_SETMASK, [])
        for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)  # ignored signals would stay ignored across exec
        if req.get("mount_proc"):
            stage = "mount"
            # Stop mount propagation to the host before mounting our own /proc.
            libc.mount(None, "/", None, libc.MS_REC | libc.MS_PRIVATE)
            if req.get("mounts"):
                _MountNamespaceBuilder(req["mount_staging"]).mount(req["mounts"])
            libc.mount("proc", "/proc", "proc", libc.MS_NOSUID | libc.MS_NODEV | libc.MS_NOEXEC)
        if req.get("hostname"):
            stage = "hostname"
            libc.sethostname(req["hostname"])
        if req.get("loopback_up"):
            stage = "network"
            _loopback_up()
        if req.get("oom_score_adj") is not None:
            stage = "oom_score_adj"
            # Lowering below the inherited value needs CAP_SYS_RESOURCE, which some sandboxes (this project's
            # CI) withhold: then the inherited value stays, and the agent reads back what is in force.
            fd = os.open("/proc/self/oom_score_adj", os.O_WRONLY | os.O_CLOEXEC)
            try:
                with contextlib.suppress(PermissionError):
                    os.write(fd, str(int(req["oom_score_adj"])).encode())
            finally:
                os.close(fd)
        stage = "session"
        os.setsid()
        stage = "stdio"
        devnull = os.open("/dev/null", os.O_RDWR | os.O_CLOEXEC)
        os.dup2(devnull, 0)
        os.dup2(stdout_w if stdout_w >= 0 else devnull, 1)
        os.dup2(stderr_w if stderr_w >= 0 else devnull, 2)
        if req.get("cwd"):
            stage = "chdir"
            try:
                os.chdir(req["cwd"])
            except OSError as e:
                code = e.errno or 0
                raise _StageError("chdir", code, f"chdir to cwd ({req['cwd']!r}) failed: {_strerror(code)}") from e
        env = dict(req.get("env") or [])
        argv = list(req["argv"])
        stage = "exec"
        path = _resolve(argv[0], env)
        os.closerange(3, status_w)
        os.closerange(status_w + 1, 65536)
        try:
            os.execve(path, argv, env)
        except OSError as e:
            code = e.errno or 0
            raise _StageError("exec", code, f'exec: "{argv[0]}": {_strerror(code)}') from e
    except _StageError as e:
        _report(status_w, e.stage, e.errno, e.message)
    except OSError as e:
        _report(status_w, stage, e.errno or 0, f"{stage}: {e.strerror or e}")
    except BaseException as e:  # B must never return into the shim's loop
        _report(status_w, stage, 0, f"{stage}: {e!r}")
    os._exit(127)


def _run_child(
    req: dict[str, Any], ns_fds: dict[str, int], status_w: int, out_w: int, err_w: int, *, born_in_cgroup: bool
) -> None:
    """In the cloned child: join the cgroups and the shared namespaces, then become the process.  Never returns.

    The namespaces clone() created were allocated by the shim, so their kernel memory is charged to the shim's
    cgroup, not the pod's (as with crun, or containerd's pinned network namespaces); everything from here on is
    charged to the pod.
    """
    stage = "cgroup"
    try:
        for procs in [] if born_in_cgroup else req.get("cgroup_procs") or []:
            fd = os.open(procs, os.O_WRONLY)
            try:
                os.write(fd, b"0")  # "0" = the writing process; join before exec so all memory is charged here
            finally:
                os.close(fd)
        stage = "setns"
        for ns in _NS_ORDER:
            if ns in ns_fds and ns != "pid":  # the pid namespace was entered by the parent (Shim._clone)
                libc.setns(ns_fds[ns], libc.NAMESPACE_FLAGS[ns])
    except OSError as e:
        _report(status_w, stage, e.errno or 0, f"{stage}: {e.strerror or e}")
        os._exit(127)
    except BaseException as e:
        _report(status_w, stage, 0, f"{stage}: {e!r}")
        os._exit(127)
    _run_b(req, status_w, out_w, err_w)


def _read_all(fd: int, timeout: float) -> bytes:
    chunks: list[bytes] = []
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLHUP)
    deadline = time.monotonic() + timeout
    while True:
        if not poller.poll(max(0.0, deadline - time.monotonic()) * 1000):
            raise TimeoutError
        data = os.read(fd, 65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


# --- the shim process ------------------------------------------------------------------------------------


class _Output:
    """Where one child's stdout/stderr go: a CRI log file, or an in-memory capture (exec)."""

    def __init__(self, log_path: str | None, log_max_size: int, log_max_files: int) -> None:
        self.writer = logs.CriLogWriter(log_path, max_size=log_max_size, max_files=log_max_files) if log_path else None
        self.captured: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray()}
        self.open_streams = 2

    def feed(self, stream: str, data: bytes) -> None:
        if self.writer is not None:
            self.writer.write(stream, data)
        else:
            buf = self.captured[stream]
            buf += data[: max(0, CAPTURE_LIMIT - len(buf))]

    def eof(self, stream: str) -> None:
        self.open_streams -= 1
        if self.writer is not None:
            self.writer.close_stream(stream)
            if self.open_streams == 0:
                self.writer.close()


class Shim:
    def __init__(self, listener: socket.socket) -> None:
        self._listener = listener
        self._sel = selectors.DefaultSelector()
        self._clients: set[socket.socket] = set()
        self._children: dict[int, dict[str, Any]] = {}  # pid -> {"started_at", "outputs"...}
        self._exited: dict[int, dict[str, Any]] = {}  # pid -> exit event, kept until an agent forgets it
        self._outputs: dict[int, _Output] = {}  # pid -> output sink
        self._own_pid_ns = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)  # see _clone
        self._clone3_works = True
        self._pipes: dict[int, tuple[int, str]] = {}  # read fd -> (pid, stream)
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def run(self) -> None:
        # Fork cost is dominated by copy-on-write faults: keep the collector from touching (and so copying)
        # every object header after each fork.  The shim makes no reference cycles in steady state.
        gc.disable()
        gc.freeze()
        libc.set_child_subreaper(True)
        signal.set_wakeup_fd(self._wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C goes to the agent, which decides about pods
        signal.signal(signal.SIGTERM, lambda *_: self._request_stop())
        self._sel.register(self._listener, selectors.EVENT_READ, "listen")
        self._sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        self._reap()
        # After "shutdown" the shim stays until its last child is gone: it never abandons a running container.
        while not (self._stopping and not self._children):
            for key, _ in self._sel.select(timeout=1.0):
                kind = key.data
                if kind == "listen":
                    conn, _ = self._listener.accept()
                    conn.setblocking(True)
                    self._clients.add(conn)
                    self._sel.register(conn, selectors.EVENT_READ, "client")
                elif kind == "wake":
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self._wake_r, 4096):
                            pass
                    self._reap()
                elif kind == "client":
                    self._serve(key.fileobj)  # type: ignore[arg-type]
                elif kind == "pipe":
                    self._pump(key.fd)
            self._reap()
            for pid in [p for p, info in self._children.items() if "status" in info]:
                self._maybe_report(pid)

    def _request_stop(self) -> None:
        self._stopping = True

    # --- clients

    def _serve(self, conn: socket.socket) -> None:
        try:
            data = conn.recv(MAX_MESSAGE)
        except OSError:
            data = b""
        if not data:
            self._drop(conn)
            return
        req: dict[str, Any] = {}
        try:
            req = json.loads(data)
            reply = self._handle(req)
        except Exception as e:  # the shim must answer every request
            reply = {"pid": None, "error": f"shim: {e!r}", "stage": "shim", "errno": 0}
        reply["id"] = req.get("id")
        self._send(conn, reply)

    def _drop(self, conn: socket.socket) -> None:
        with contextlib.suppress(KeyError, ValueError):
            self._sel.unregister(conn)
        self._clients.discard(conn)
        conn.close()

    def _send(self, conn: socket.socket, message: dict[str, Any]) -> None:
        try:
            conn.send(json.dumps(message).encode())
        except OSError:
            self._drop(conn)

    def _broadcast(self, message: dict[str, Any]) -> None:
        for conn in list(self._clients):
            self._send(conn, message)

    def _handle(self, req: dict[str, Any]) -> dict[str, Any]:
        op = req.get("op")
        if op == "ping":
            return {"pong": os.getpid()}
        if op == "spawn":
            return self._spawn(req)
        if op == "list":
            return {"alive": sorted(self._children), "exited": list(self._exited.values())}
        if op == "forget":
            for pid in req.get("pids") or []:
                self._exited.pop(int(pid), None)
            return {}
        if op == "shutdown":
            self._stopping = True
            return {"children": len(self._children)}
        return {"error": f"unknown op {op!r}", "stage": "protocol", "errno": errno_mod.EINVAL}

    # --- spawning

    def _spawn(self, req: dict[str, Any]) -> dict[str, Any]:
        ns_fds: dict[str, int] = {}
        child_fds: list[int] = []
        read_ends: list[tuple[int, str]] = []
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
            out_w = err_w = -1
            if req.get("log_path") or req.get("capture"):
                out_r, out_w = os.pipe2(os.O_CLOEXEC)
                err_r, err_w = os.pipe2(os.O_CLOEXEC)
                child_fds += [out_w, err_w]
                read_ends = [(out_r, "stdout"), (err_r, "stderr")]
            status_r, status_w = os.pipe2(os.O_CLOEXEC)
            child_fds.append(status_w)
            flags = 0
            for ns in req.get("unshare") or []:
                flags |= libc.NAMESPACE_FLAGS[ns]
            try:
                pid, born_in_cgroup = self._clone(flags, ns_fds.get("pid"), req.get("cgroup_dir"))
            except OSError as e:
                os.close(status_r)
                return {"pid": None, "stage": "clone", "errno": e.errno, "error": f"clone: {e.strerror or e}"}
            if pid == 0:
                os.close(status_r)
                for fd, _ in read_ends:
                    os.close(fd)
                _run_child(req, ns_fds, status_w, out_w, err_w, born_in_cgroup=born_in_cgroup)
            for fd in child_fds:
                os.close(fd)
            child_fds = []
            try:
                status = _read_all(status_r, float(req.get("timeout", 10.0)))
            except TimeoutError:
                timed_out = {"stage": "exec", "errno": errno_mod.ETIMEDOUT, "error": "timed out before exec"}
                status = json.dumps(timed_out).encode()
            os.close(status_r)
            reply: dict[str, Any] = {"pid": pid}
            if status:
                reply.update(json.loads(status))
            if pid:
                self._children[pid] = {"started_at": time.time(), "capture": bool(req.get("capture"))}
                if read_ends:
                    output = _Output(
                        req.get("log_path"),
                        int(req.get("log_max_size") or 10 << 20),
                        int(req.get("log_max_files") or 5),
                    )
                    self._outputs[pid] = output
                    for fd, stream in read_ends:
                        os.set_blocking(fd, False)
                        self._pipes[fd] = (pid, stream)
                        self._sel.register(fd, selectors.EVENT_READ, "pipe")
                    read_ends = []
            return reply
        finally:
            for fd in ns_fds.values():
                os.close(fd)
            for fd in child_fds:
                os.close(fd)
            for fd, _ in read_ends:
                os.close(fd)

    def _clone(self, flags: int, pid_ns_fd: int | None, cgroup_dir: str | None) -> tuple[int, bool]:
        """(pid, born in ``cgroup_dir``): ``libc.clone``, or clone3 into the cgroup v2 directory when given and
        the kernel takes it.  With ``pid_ns_fd`` the child is born in that pid namespace (entered by the parent:
        setns(CLONE_NEWPID) sets where the caller's children are born, not where it is)."""
        if pid_ns_fd is not None:
            libc.setns(pid_ns_fd, libc.CLONE_NEWPID)
        try:
            pid, born_in_cgroup = self._clone_here(flags, cgroup_dir)
        except BaseException:
            if pid_ns_fd is not None:
                libc.setns(self._own_pid_ns, libc.CLONE_NEWPID)
            raise
        if pid != 0 and pid_ns_fd is not None:
            libc.setns(self._own_pid_ns, libc.CLONE_NEWPID)  # entering our own active namespace is always allowed
        return pid, born_in_cgroup

    def _clone_here(self, flags: int, cgroup_dir: str | None) -> tuple[int, bool]:
        if cgroup_dir is not None and self._clone3_works:
            cgroup_fd = os.open(cgroup_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                return libc.clone_into_cgroup(flags, cgroup_fd), True
            except OSError as e:
                if e.errno not in (errno_mod.ENOSYS, errno_mod.EINVAL, errno_mod.E2BIG, errno_mod.EOPNOTSUPP):
                    raise
                self._clone3_works = False  # an older kernel: join through cgroup.procs from now on
                print(f"shim: clone3 into a cgroup refused ({e}); joining through cgroup.procs", file=sys.stderr)
            finally:
                os.close(cgroup_fd)  # (in the child too: its copy)
        return libc.clone(flags), False

    # --- output and exits

    def _pump(self, fd: int) -> None:
        pid, stream = self._pipes[fd]
        output = self._outputs.get(pid)
        while True:
            try:
                data = os.read(fd, 65536)
            except BlockingIOError:
                return
            if not data:
                break
            if output is not None:
                output.feed(stream, data)
        self._sel.unregister(fd)
        os.close(fd)
        del self._pipes[fd]
        if output is not None:
            output.eof(stream)
        self._maybe_report(pid)

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            info = self._children.get(pid)
            if info is None:
                continue  # an orphan re-parented to us (we are a subreaper)
            info["status"] = status
            info["finished_at"] = time.time()
            self._maybe_report(pid)

    def _maybe_report(self, pid: int) -> None:
        """Report an exit once the process is reaped and its output pipes are drained."""
        info = self._children.get(pid)
        if info is None or "status" not in info:
            return
        # Children of the process may still hold its stdout; don't wait for them longer than a moment.
        still_piped = any(p == pid for p, _ in self._pipes.values())
        if still_piped and time.time() - info["finished_at"] < 2.0:
            return
        status = info["status"]
        event: dict[str, Any] = {
            "event": "exit",
            "pid": pid,
            "exit_code": os.WEXITSTATUS(status) if os.WIFEXITED(status) else None,
            "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
            "started_at": info["started_at"],
            "finished_at": info["finished_at"],
        }
        output = self._outputs.pop(pid, None)
        if output is not None and info.get("capture"):
            event["stdout"] = output.captured["stdout"].decode(errors="replace")
            event["stderr"] = output.captured["stderr"].decode(errors="replace")
        del self._children[pid]
        self._exited[pid] = event
        self._broadcast(event)


def serve(socket_path: str, ready_fd: int = -1) -> None:
    """Bind the socket, signal readiness by closing ``ready_fd``, serve until shut down."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(socket_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    listener.bind(socket_path)
    os.chmod(socket_path, 0o600)
    listener.listen(8)
    if ready_fd >= 0:
        os.close(ready_fd)
    try:
        Shim(listener).run()
    finally:
        listener.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(socket_path)


def main() -> None:
    serve(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else -1)


if __name__ == "__main__":
    main()
