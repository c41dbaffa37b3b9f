"""Round trip of the cgv2guest plugin (tests/vm/plugin.py).

On a cgroup v1 host this test is skipped and its twin ``test_runs_in_the_cgroup_v2_guest[cgroup-v2-guest]``
boots the QEMU guest, runs it there and reports its outcome: so `make test` proves the whole chain.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.vm.guest import inside_guest

pytestmark = [pytest.mark.root, pytest.mark.cgv2guest]


# Not MKPY_IN_GUEST: the host sets it too, to run the root tests without their guest twins.
@pytest.mark.skipif(not inside_guest(), reason="only meaningful inside the cgroup v2 guest")
def test_runs_in_the_cgroup_v2_guest() -> None:
    controllers = Path("/sys/fs/cgroup/cgroup.controllers").read_text().split()
    assert {"cpu", "memory", "pids", "io", "cpuset"} <= set(controllers)
    assert Path("/proc/self/cgroup").read_text().startswith("0::/")  # unified hierarchy only
    assert Path("/proc/1/comm").read_text().strip() == "bash"  # PID 1 is tests/vm/init.sh
    assert os.geteuid() == 0
