"""Fixtures for root tests: a real cgroup driver under the test's own cgroup, and a real runtime.

Everything is created under ``<own cgroup>/mkpy-test-<random>`` and removed in finalizers, also when the
test fails: processes first (SIGKILL through the cgroup), then the cgroup tree.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from minikube_py import errors
from minikube_py.node.cgroups import common
from minikube_py.node.cgroups.driver import CgroupDriver
from minikube_py.node.cgroups.factory import CgroupConfig, new_driver
from minikube_py.node.runtime.runtime import Runtime


def _force_cleanup(driver: CgroupDriver) -> None:
    for root in driver.roots():
        pids = common.pids_below(root)
        common.kill_pids(pids, 9)
        deadline = time.monotonic() + 5
        while common.pids_below(root) and time.monotonic() < deadline:
            time.sleep(0.01)
    driver.teardown_node()


@pytest.fixture
def cgroup_driver() -> Iterator[CgroupDriver]:
    driver = new_driver(CgroupConfig(node_dir=f"mkpy-test-{uuid.uuid4().hex[:8]}"))
    try:
        yield driver
    finally:
        with contextlib.suppress(errors.CgroupNotFound):
            _force_cleanup(driver)


def pause_argv() -> tuple[str, str]:
    pause = shutil.which("catatonit")
    assert pause, "catatonit is not installed: run `make install`"
    return (pause, "-P")


@pytest.fixture
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture
async def runtime(cgroup_driver: CgroupDriver, state_dir: Path) -> AsyncIterator[Runtime]:
    rt = Runtime(cgroup_driver, state_dir=str(state_dir), pause_argv=pause_argv())
    await rt.start()
    try:
        yield rt
    finally:
        for sandbox in list(rt.sandboxes.values()):
            with contextlib.suppress(Exception):
                await rt.remove_pod_sandbox(sandbox, grace=0)
        await rt.close(shutdown_shim=True)
