"""A real Runtime under a throw-away node directory, torn down completely however the benchmark ends."""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator

from bench import procfs
from minikube_py import errors
from minikube_py.node.cgroups import common
from minikube_py.node.cgroups.driver import CgroupDriver
from minikube_py.node.cgroups.factory import CgroupConfig, new_driver
from minikube_py.node.runtime.runtime import Runtime

log = logging.getLogger("bench")

TOKEN = uuid.uuid4().hex[:8]  # one per benchmark process: every name we create carries it


def require(binary: str) -> str:
    path = shutil.which(binary)
    if path is None:
        raise SystemExit(f"bench: {binary} is not installed (run `make apt`)")
    return path


@contextlib.contextmanager
def logged_errors(what: str) -> Iterator[None]:
    """Cleanup steps must all run: log a failing one and carry on."""
    try:
        yield
    except Exception:
        log.exception("cleanup step failed: %s", what)


def kill_node_processes(driver: CgroupDriver) -> None:
    """SIGKILL whatever is left below the node's cgroups and wait until they are empty."""
    for root in driver.roots():
        common.kill_pids(common.pids_below(root), 9)
        deadline = time.monotonic() + 5
        while common.pids_below(root) and time.monotonic() < deadline:
            time.sleep(0.01)


def _kill_shim(rt: Runtime) -> None:
    """Last resort if the node shim did not shut down: it carries our token in its socket path."""
    pid = rt._spawner.shim_pid
    if pid is None:
        return
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            ours = TOKEN.encode() in f.read()
    except OSError:
        return
    if ours:
        log.warning("bench: node shim %d still running after shutdown; killing it", pid)
        procfs.kill_and_reap(pid)


@contextlib.asynccontextmanager
async def runtime_session(tag: str) -> AsyncIterator[Runtime]:
    """A started Runtime (catatonit pause) whose node dir is ``mkpy-bench-<tag>-<token>``, with its own
    state directory and node shim; everything is removed on the way out."""
    driver = new_driver(CgroupConfig(node_dir=f"mkpy-bench-{tag}-{TOKEN}"))
    state_dir = tempfile.mkdtemp(prefix=f"mkpy-bench-{TOKEN}-{tag}-state-")
    rt = Runtime(driver, state_dir=state_dir, pause_argv=(require("catatonit"), "-P"))
    try:
        await rt.start()
        yield rt
    finally:
        for sandbox in list(rt.sandboxes.values()):
            with logged_errors(f"remove sandbox {sandbox.config.uid}"):
                await rt.remove_pod_sandbox(sandbox, grace=0)
        with logged_errors("node processes"):
            kill_node_processes(driver)
        with logged_errors("runtime close"):
            await rt.close(shutdown_shim=True)
        with logged_errors("node shim"):
            _kill_shim(rt)
        with logged_errors("node cgroups"), contextlib.suppress(errors.CgroupNotFound):
            driver.teardown_node()
        with logged_errors("state dir"):
            shutil.rmtree(state_dir)
