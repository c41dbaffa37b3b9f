"""The subreaper an exec probe runs under, inside the container's PID namespace.

Why: the node shim is a subreaper, but the kernel only hands an orphan to a subreaper *in the orphan's own PID
namespace* (``find_new_reaper()`` walks ancestors of the same pid-namespace level); everything a probe command
forks is orphaned to the container's PID 1, which often never reaps (``python -m http.server``, ``sleep``).
Killing a timed-out probe's process group therefore leaves zombies behind, and a probe that backgrounds or
``setsid``s a child leaves a stray.  This program, started in the container's namespaces and cgroup, becomes a
subreaper (``PR_SET_CHILD_SUBREAPER``), forks and execs the probe command, and when the command exits — or
when SIGTERM says the probe timed out — SIGKILLs every process still below it (found through the container's
own ``/proc``) and reaps them all before it exits with the command's status (128+N when killed by signal N).

It runs as ``python -I -S -c SOURCE -- argv...`` (isolated from the container's PYTHON* variables, no site):
~20 ms and ~9 MiB, charged to the container like the probe itself.  It imports only builtin modules
(``posix``, ``_signal``, ``_ctypes``, ``time``); ``signal``/``os`` would pull in enum and friends and double
the start-up time.  A failed exec is reported on stderr with ``EXEC_FAILED_MARKER`` and exit code 127.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

EXEC_FAILED_MARKER = "minikube-py-reaper: "
EXEC_FAILED_CODE = 127
TIMED_OUT_CODE = 137  # the reaper's exit when stopped by SIGTERM (the probe was SIGKILLed)

SOURCE = r"""
import posix, _signal, _ctypes, sys, time
PR_SET_CHILD_SUBREAPER = 36
SIGKILL, SIGTERM = 9, 15
class Stop(Exception):
    pass
def on_term(signum, frame):
    raise Stop()
_signal.signal(SIGTERM, on_term)
libc = _ctypes.dlopen(None)
# prctl(PR_SET_CHILD_SUBREAPER, 1): orphans below us are re-parented to us, not to the container's PID 1.
_ctypes.call_function(_ctypes.dlsym(libc, "prctl"), (PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
argv = sys.argv[1:]
if argv and argv[0] == "--":
    argv = argv[1:]
def find(name):
    if "/" in name:
        return name
    for d in posix.environ.get(b"PATH", b"/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin").split(b":"):
        p = (d.decode() or ".") + "/" + name
        try:
            if posix.access(p, posix.X_OK) and not posix.stat(p).st_mode & 0o40000:
                return p
        except OSError:
            pass
    return None
child = posix.fork()
if child == 0:
    try:
        for s in (_signal.SIGPIPE, _signal.SIGXFSZ, _signal.SIGTERM, _signal.SIGINT):
            _signal.signal(s, _signal.SIG_DFL)  # Python ignores SIGPIPE; exec keeps ignored signals ignored
        path = find(argv[0])
        if path is None:
            msg = 'exec: "%s": executable file not found in $PATH' % argv[0]
        else:
            try:
                posix.execve(path, argv, posix.environ)
            except OSError as e:
                msg = 'exec: "%s": %s' % (argv[0], (e.strerror or "error").lower())
        posix.write(2, ("MARKER" + msg + "\n").encode())
    finally:
        posix._exit(EXEC_FAILED_CODE)
status = None
try:
    while status is None:
        pid, st = posix.waitpid(-1, 0)
        if pid == child:
            status = st
except Stop:
    pass
_signal.signal(SIGTERM, _signal.SIG_IGN)  # from here on we only clean up, whatever the agent says
me = str(posix.getpid())
def descendants():
    parent = {}
    for name in posix.listdir("/proc"):
        if name.isdigit():
            try:
                with open("/proc/" + name + "/stat", "rb") as f:
                    parent[name] = f.read().rsplit(b")", 1)[1].split()[1].decode()
            except (OSError, IndexError):
                pass
    found, frontier = [], [me]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p]
        found += kids
        frontier += kids
    return found
while True:
    try:
        for pid in descendants():
            try:
                posix.kill(int(pid), SIGKILL)
            except OSError:
                pass
    except OSError:  # no /proc of our own PID namespace: at least the command itself goes
        if status is None:
            posix.kill(child, SIGKILL)
    try:
        while posix.waitpid(-1, posix.WNOHANG)[0]:
            pass
    except ChildProcessError:
        break
    time.sleep(0.002)
if status is None:
    posix._exit(TIMED_OUT)
posix._exit(posix.waitstatus_to_exitcode(status) if posix.WIFEXITED(status) else 128 + posix.WTERMSIG(status))
"""
SOURCE = (
    SOURCE.replace("MARKER", EXEC_FAILED_MARKER)
    .replace("EXEC_FAILED_CODE", str(EXEC_FAILED_CODE))
    .replace("TIMED_OUT", str(TIMED_OUT_CODE))
)


def wrap(argv: Sequence[str], python: str = sys.executable) -> list[str]:
    """The command line that runs ``argv`` under the reaper."""
    return [python, "-I", "-S", "-c", SOURCE, "--", *argv]
