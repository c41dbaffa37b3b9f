"""pytest plugin: also run the ``cgv2guest`` tests inside a QEMU guest with a pure cgroup v2 hierarchy.

On a host without pure cgroup v2 (no /sys/fs/cgroup/cgroup.controllers), every selected test marked
``cgv2guest`` gets a twin item ``<name>[cgroup-v2-guest]``; the original still runs on the host.  The first
twin that runs boots ONE guest for the whole session (tests/vm/guest.py) which runs all the originals with
``python -m pytest -m cgv2guest --junitxml=...``; each twin then reports its inner test's outcome.
Inside the guest (MKPY_IN_GUEST=1) no twins are made.

Environment knobs: MKPY_GUEST_TIMEOUT (seconds for the whole guest run, default 1800),
MKPY_GUEST_MEM (default 512M), MKPY_GUEST_CPUS (default 1; the host has 2 cores).
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shlex
import shutil
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any, Literal

import pytest

from tests.vm.guest import DEFAULT_CACHE_DIR, REPO_ROOT, GuestResult, GuestSetupError, prepare, run_in_guest

MARKER = "cgv2guest"
TWIN_SUFFIX = "[cgroup-v2-guest]"
PURE_V2_PROBE = Path("/sys/fs/cgroup/cgroup.controllers")
NOT_ROOT_REASON = "needs root: boots a QEMU guest"
CONSOLE_TAIL_LINES = 40


def host_is_pure_cgroup_v2() -> bool:
    return PURE_V2_PROBE.exists()


def junit_key(nodeid: str) -> tuple[str, str]:
    """(classname, name) that pytest's junitxml writes for a node id (no junit_prefix)."""
    try:
        from _pytest.junitxml import mangle_test_address  # the very function that wrote the file

        names = mangle_test_address(nodeid)
    except ImportError:  # fallback: pytest 9's rule
        path, _, tail = nodeid.partition("::")
        name_part, bracket, params = tail.partition("[")
        names = [path.replace("/", ".").removesuffix(".py"), *name_part.split("::")]
        names[-1] += bracket + params
    return ".".join(names[:-1]), names[-1]


@dataclasses.dataclass(frozen=True)
class InnerOutcome:
    outcome: Literal["passed", "failed", "skipped"]
    message: str = ""


def parse_junit(path: Path) -> dict[tuple[str, str], InnerOutcome]:
    """Outcome per (classname, name); failures and errors (also in teardown) count as failed."""
    outcomes: dict[tuple[str, str], InnerOutcome] = {}
    for case in ElementTree.parse(path).getroot().iter("testcase"):
        key = (case.get("classname", ""), case.get("name", ""))
        problems = [child for child in case if child.tag in ("failure", "error")]
        skips = [child for child in case if child.tag == "skipped"]
        if problems:
            text = "\n\n".join(
                f"[inner {child.tag}] {child.get('message', '')}\n{(child.text or '').strip()}"
                for child in problems
            )
            outcome = InnerOutcome("failed", text)
        elif skips:
            outcome = InnerOutcome("skipped", skips[0].get("message", "") or (skips[0].text or "").strip())
        else:
            outcome = InnerOutcome("passed")
        previous = outcomes.get(key)
        if previous is None or previous.outcome != "failed":
            outcomes[key] = outcome
    return outcomes


def running_as_root() -> bool:
    return os.geteuid() == 0


def _guest_python() -> str:
    venv_python = REPO_ROOT / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


class GuestSession:
    """The one guest run per pytest session, started lazily by the first twin."""

    def __init__(self, config: pytest.Config, nodeids: list[str]) -> None:
        self.config = config
        self.nodeids = nodeids
        self.ran = False
        self.setup_problem: str | None = None  # missing packages/assets: twins fail
        self.boot_problem: str | None = None  # the guest or the inner pytest broke: twins error
        self.result: GuestResult | None = None
        self.outcomes: dict[tuple[str, str], InnerOutcome] = {}

    def _say(self, message: str) -> None:
        """A progress line on the terminal, also while the twin's output is being captured."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        if reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.ensure_newline()
            reporter.write_line(f"cgroup-v2 guest: {message}")

    def ensure_ran(self) -> None:
        if self.ran:
            return
        self.ran = True
        try:
            prepare(DEFAULT_CACHE_DIR)
        except GuestSetupError as error:
            self.setup_problem = f"cgroup v2 guest assets are missing: {error}. Run `make install`."
            return
        DEFAULT_CACHE_DIR.mkdir(parents=True, exist_ok=True)
        out_dir = Path(tempfile.mkdtemp(prefix="pytest-out-", dir=DEFAULT_CACHE_DIR))
        junit = out_dir / "junit.xml"
        command = (
            f"cd {shlex.quote(str(self.config.rootpath))} && exec {shlex.quote(_guest_python())} -m pytest"
            f" -p no:cacheprovider -q -m {MARKER} --junitxml={shlex.quote(str(junit))} "
            + " ".join(shlex.quote(nodeid) for nodeid in self.nodeids)
        )
        timeout = float(os.environ.get("MKPY_GUEST_TIMEOUT", "1800"))
        self._say(f"booting a QEMU guest to run {len(self.nodeids)} test(s) under pure cgroup v2 ...")
        started = time.monotonic()
        try:
            self.result = run_in_guest(
                command,
                out_dir=out_dir,
                mem=os.environ.get("MKPY_GUEST_MEM", "512M"),
                cpus=int(os.environ.get("MKPY_GUEST_CPUS", "1")),
                timeout=timeout,
            )
            elapsed = time.monotonic() - started
            self._say(f"guest finished in {elapsed:.1f}s, inner pytest exit status {self.result.returncode}")
            if junit.is_file():
                try:
                    self.outcomes = parse_junit(junit)
                except ElementTree.ParseError as error:
                    self.boot_problem = f"the guest's junit.xml is unreadable: {error}"
            else:
                self.boot_problem = (
                    f"the guest wrote no junit.xml (guest exit status {self.result.returncode})"
                )
        except Exception as error:  # report on every twin rather than crash the session
            self.boot_problem = f"running the guest failed: {error!r}"
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)

    def console_tail(self) -> str:
        if self.result is None:
            return "(no guest console output)"
        tail = self.result.console_tail(CONSOLE_TAIL_LINES)
        return f"--- guest console, last {CONSOLE_TAIL_LINES} lines ---\n{tail}"


class CgroupV2GuestItem(pytest.Item):
    """Reports the outcome of `original_nodeid` run inside the cgroup v2 guest."""

    def __init__(
        self, *, original_nodeid: str, original_lineno: int, guest_session: GuestSession, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.original_nodeid = original_nodeid
        self.original_lineno = original_lineno
        self.guest_session = guest_session
        self.inner: InnerOutcome | None = None
        self.add_marker(MARKER)

    def setup(self) -> None:
        session = self.guest_session
        session.ensure_ran()
        if session.setup_problem is not None:
            return  # reported as a failure by runtest, not as an error
        if session.boot_problem is not None:
            pytest.fail(f"{session.boot_problem}\n{session.console_tail()}", pytrace=False)
        self.inner = session.outcomes.get(junit_key(self.original_nodeid))
        if self.inner is None:
            pytest.fail(
                f"no result for {self.original_nodeid} in the guest's junit.xml"
                f" (guest exit status {session.result.returncode if session.result else '?'})\n"
                f"{session.console_tail()}",
                pytrace=False,
            )

    def runtest(self) -> None:
        if self.guest_session.setup_problem is not None:
            pytest.fail(self.guest_session.setup_problem, pytrace=False)
        assert self.inner is not None
        if self.inner.outcome == "skipped":
            # Reported at the test's location, like a skip marker, not at this line.
            raise pytest.skip.Exception(
                f"in the cgroup v2 guest: {self.inner.message}", _use_item_location=True
            )
        if self.inner.outcome == "failed":
            pytest.fail(
                f"{self.original_nodeid} failed in the cgroup v2 guest:\n{self.inner.message}\n\n"
                f"{self.guest_session.console_tail()}",
                pytrace=False,
            )

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.original_lineno, self.name


@pytest.hookimpl(trylast=True)  # after -m/-k/--deselect: twins only for selected originals
def pytest_collection_modifyitems(
    session: pytest.Session, config: pytest.Config, items: list[pytest.Item]
) -> None:
    if os.environ.get("MKPY_IN_GUEST") or host_is_pure_cgroup_v2():
        return
    originals = [item for item in items if item.get_closest_marker(MARKER) is not None]
    if not originals:
        return
    guest_session = GuestSession(config, [item.nodeid for item in originals])
    for original in originals:
        assert original.parent is not None
        twin = CgroupV2GuestItem.from_parent(
            original.parent,
            name=original.name + TWIN_SUFFIX,
            original_nodeid=original.nodeid,
            original_lineno=original.reportinfo()[1] or 0,
            guest_session=guest_session,
        )
        if not running_as_root():
            twin.add_marker(pytest.mark.skip(reason=NOT_ROOT_REASON))
        items.append(twin)
