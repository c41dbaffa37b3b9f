"""Tests of the cgroup v2 guest harness (tests/vm/guest.py) and of the twin plugin (tests/vm/plugin.py).

Each boot costs ~6-15 s under TCG, so one boot checks several facts and one more checks an exit status
(these are marked ``root``).  The plugin tests replace QEMU by a local run and need no root.
"""

from __future__ import annotations

import os
import subprocess
import xml.etree.ElementTree as ElementTree
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.vm import guest, plugin

pytest_plugins = ["pytester"]

FACTS_SCRIPT = r"""
set -u
out="$1"
cat /sys/fs/cgroup/cgroup.controllers > "$out/controllers"
cat /sys/fs/cgroup/cgroup.subtree_control > "$out/subtree_control"
printf '%s\n' "$MKPY_IN_GUEST" "$PYTHONDONTWRITEBYTECODE" "$PWD" "$(hostname)" "$(command -v python)" \
    > "$out/env"
group=/sys/fs/cgroup/mkpy-harness
mkdir "$group"
echo 64M > "$group/memory.max"
bash -c "echo \$\$ > $group/cgroup.procs && exec python3 -S -c 'b = bytearray(200 * 2**20)'"
echo $? > "$out/oom_status"
cat "$group/memory.events" > "$out/memory_events"
rmdir "$group"
"""


@pytest.fixture(scope="module")
def facts_boot(tmp_path_factory: pytest.TempPathFactory) -> tuple[guest.GuestResult, Path]:
    """One guest boot that records facts into a host directory (under /tmp: a tmpfs inside the guest)."""
    out = tmp_path_factory.mktemp("guest-out")
    script = out / "facts.sh"
    script.write_text(FACTS_SCRIPT)
    result = guest.run_in_guest(f"bash {script} {out}", out_dir=out, timeout=300)
    return result, out


@pytest.mark.root
def test_guest_boots_and_passes_exit_status_0(facts_boot: tuple[guest.GuestResult, Path]) -> None:
    result, _ = facts_boot
    assert result.returncode == 0, result.console_tail()
    assert not result.timed_out


@pytest.mark.root
def test_out_share_is_writable(facts_boot: tuple[guest.GuestResult, Path]) -> None:
    _, out = facts_boot
    assert (out / "env").exists(), "the guest could not write to the out share"


@pytest.mark.root
def test_guest_has_pure_cgroup_v2_with_controllers(facts_boot: tuple[guest.GuestResult, Path]) -> None:
    _, out = facts_boot
    assert {"cpu", "memory", "pids"} <= set((out / "controllers").read_text().split())
    assert {"cpu", "memory", "pids", "io", "cpuset"} <= set((out / "subtree_control").read_text().split())


@pytest.mark.root
def test_guest_environment(facts_boot: tuple[guest.GuestResult, Path]) -> None:
    _, out = facts_boot
    in_guest, no_bytecode, cwd, hostname, python = (out / "env").read_text().splitlines()
    assert (in_guest, no_bytecode, hostname) == ("1", "1", "cgv2guest")
    assert cwd == str(guest.REPO_ROOT)
    assert python == str(guest.REPO_ROOT / ".venv" / "bin" / "python")


@pytest.mark.root
def test_guest_enforces_memory_max(facts_boot: tuple[guest.GuestResult, Path]) -> None:
    _, out = facts_boot
    assert (out / "oom_status").read_text().strip() == str(128 + 9), "200 MiB under memory.max=64M: SIGKILL"
    events = dict(line.split() for line in (out / "memory_events").read_text().splitlines())
    assert events["oom_kill"] == "1"


@pytest.mark.root
def test_exit_status_3_is_passed_through(tmp_path: Path) -> None:
    result = guest.run_in_guest("echo about to fail; exit 3", out_dir=tmp_path, timeout=300)
    assert result.returncode == 3, result.console_tail()
    assert "about to fail" in result.console_output


@pytest.mark.root
def test_timeout_kills_qemu(tmp_path: Path) -> None:
    result = guest.run_in_guest("sleep 600", out_dir=tmp_path, timeout=3)
    assert (result.returncode, result.timed_out) == (guest.STATUS_TIMEOUT, True)
    assert result.duration < 10
    leftovers = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if str(tmp_path).encode() in cmdline.read_bytes():
                leftovers.append(cmdline.parent.name)
        except OSError:  # the process exited meanwhile
            pass
    assert leftovers == [], "QEMU still running after the timeout"


# ---------------------------------------------------------------------------------------------------
# plugin mechanics, without QEMU: the "guest" runs the inner pytest on the host with MKPY_IN_GUEST=1.

INNER_TESTS = """
import os
import pytest

pytestmark = pytest.mark.cgv2guest

def test_pass():
    pass

def test_fail():
    assert 1 == 2, "inner-failure-text"

def test_skip():
    pytest.skip("inner-skip-reason")

@pytest.mark.parametrize("value", [1, "a b.c"])
def test_param(value):
    assert value == 1

class TestGroup:
    def test_method(self):
        pass

def test_missing():
    pass

@pytest.mark.skipif(os.environ.get("MKPY_IN_GUEST") != "1", reason="host")
def test_guest_only():
    pass
"""


class FakeGuest:
    """Stands in for run_in_guest: runs the command on the host and drops test_missing from junit.xml."""

    def __init__(self) -> None:
        self.commands: list[str] = []

    def __call__(self, command: str, *, out_dir: Path, **_: Any) -> guest.GuestResult:
        self.commands.append(command)
        env = {**os.environ, "MKPY_IN_GUEST": "1", "PYTHONDONTWRITEBYTECODE": "1"}
        completed = subprocess.run(
            ["bash", "-c", command], env=env, capture_output=True, text=True, timeout=120, check=False
        )
        junit = out_dir / "junit.xml"
        tree = ElementTree.parse(junit)
        for suite in tree.getroot().iter("testsuite"):
            for case in list(suite):
                if case.get("name") == "test_missing":
                    suite.remove(case)
        tree.write(junit)
        return guest.GuestResult(completed.returncode, completed.stdout + completed.stderr, 0.1)


@pytest.fixture
def fake_guest(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> FakeGuest:
    fake = FakeGuest()
    monkeypatch.setattr(plugin, "run_in_guest", fake)
    monkeypatch.setattr(plugin, "prepare", lambda cache_dir: None)
    monkeypatch.setattr(plugin, "host_is_pure_cgroup_v2", lambda: False)
    monkeypatch.setattr(plugin, "running_as_root", lambda: True)
    monkeypatch.delenv("MKPY_IN_GUEST", raising=False)
    pytester.makeini(
        """
        [pytest]
        asyncio_default_fixture_loop_scope = function
        markers =
            cgv2guest: runs in the guest
        """
    )
    pytester.makepyfile(test_inner=INNER_TESTS, test_plain="def test_unmarked():\n    pass\n")
    return fake


def run_outer(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    return pytester.runpytest_inprocess("-p", "tests.vm.plugin", "-p", "no:cacheprovider", "-rA", *args)


def outcomes_by_nodeid(result: pytest.RunResult) -> dict[str, str]:
    """nodeid -> PASSED/FAILED/SKIPPED/ERROR from the -rA short summary."""
    found: dict[str, str] = {}
    for line in result.outlines:
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "ERROR"):
            found[rest.split(" - ")[0]] = word
    return found


def test_plugin_twins_report_inner_outcomes(pytester: pytest.Pytester, fake_guest: FakeGuest) -> None:
    result = run_outer(pytester)
    result.assert_outcomes(passed=9, failed=4, skipped=3, errors=1)
    assert len(fake_guest.commands) == 1, "one guest run for the whole session"
    assert "-m cgv2guest --junitxml=" in fake_guest.commands[0]
    assert "test_plain.py" not in fake_guest.commands[0]
    twin = plugin.TWIN_SUFFIX
    outcomes = outcomes_by_nodeid(result)
    assert outcomes[f"test_inner.py::test_pass{twin}"] == "PASSED"
    assert outcomes[f"test_inner.py::test_fail{twin}"] == "FAILED"
    assert outcomes[f"test_inner.py::test_param[1]{twin}"] == "PASSED"
    assert outcomes[f"test_inner.py::test_param[a b.c]{twin}"] == "FAILED"
    assert outcomes[f"test_inner.py::TestGroup::test_method{twin}"] == "PASSED"
    assert outcomes[f"test_inner.py::test_guest_only{twin}"] == "PASSED"
    assert outcomes[f"test_inner.py::test_missing{twin}"] == "ERROR"
    assert outcomes["test_inner.py::test_missing"] == "PASSED"
    assert not any(nodeid.startswith("test_plain.py::test_unmarked[") for nodeid in outcomes)
    result.stdout.fnmatch_lines(
        ["*test_inner.py::test_fail failed in the cgroup v2 guest:", "*inner-failure-text*"]
    )
    result.stdout.fnmatch_lines(["*no result for test_inner.py::test_missing in the guest's junit.xml*"])
    result.stdout.fnmatch_lines(["--- guest console, last 40 lines ---"])
    result.stdout.fnmatch_lines(["SKIPPED*test_inner.py:*: in the cgroup v2 guest: *inner-skip-reason*"])


def test_plugin_respects_selection(pytester: pytest.Pytester, fake_guest: FakeGuest) -> None:
    result = run_outer(pytester, "-k", "test_pass or test_unmarked")
    result.assert_outcomes(passed=3)
    assert fake_guest.commands[0].endswith(" test_inner.py::test_pass")
    result = run_outer(pytester, "-m", "not cgv2guest")
    result.assert_outcomes(passed=1)
    assert len(fake_guest.commands) == 1


def test_plugin_skips_twins_without_root(
    pytester: pytest.Pytester, fake_guest: FakeGuest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(plugin, "running_as_root", lambda: False)
    result = run_outer(pytester, "-k", "test_pass")
    result.assert_outcomes(passed=1, skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED*needs root: boots a QEMU guest*"])
    assert fake_guest.commands == []


def test_plugin_fails_twins_when_assets_are_missing(
    pytester: pytest.Pytester, fake_guest: FakeGuest, monkeypatch: pytest.MonkeyPatch
) -> None:
    def missing_assets(cache_dir: Path) -> None:
        raise guest.GuestSetupError("missing Debian packages for the cgroup v2 guest: qemu-system-x86")

    monkeypatch.setattr(plugin, "prepare", missing_assets)
    result = run_outer(pytester, "-k", "test_pass or test_skip")
    result.assert_outcomes(passed=1, skipped=1, failed=2)
    result.stdout.fnmatch_lines(
        ["*cgroup v2 guest assets are missing: *qemu-system-x86*. Run `make install`.*"]
    )
    assert fake_guest.commands == []


def test_no_twins_inside_the_guest(
    pytester: pytest.Pytester, fake_guest: FakeGuest, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MKPY_IN_GUEST", "1")
    result = run_outer(pytester, "-k", "test_pass")
    result.assert_outcomes(passed=1)
    assert fake_guest.commands == []


def test_junit_key_matches_pytest_junitxml() -> None:
    cases: Sequence[tuple[str, tuple[str, str]]] = [
        ("tests/vm/test_x.py::test_a", ("tests.vm.test_x", "test_a")),
        ("tests/vm/test_x.py::TestC::test_b[p-1]", ("tests.vm.test_x.TestC", "test_b[p-1]")),
    ]
    for nodeid, key in cases:
        assert plugin.junit_key(nodeid) == key
