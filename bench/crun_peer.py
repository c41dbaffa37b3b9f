"""The peer runtime: ``crun run`` of an OCI bundle with busybox, cgroupfs driver, on this hybrid layout.

crun 1.8 refuses a hybrid layout ("cgroups in hybrid mode not supported, drop all controllers from
cgroupv2") because ``unified/cgroup.controllers`` lists hugetlb.  The workaround (reference §1, "B"):
one persistent mount namespace in which the cgroup2 mount is unmounted, bound to a file on a private
bind mount; every run is ``nsenter --mount=<file> crun run -b <abs bundle> <id>``.  The nsenter wrapper
is timed on its own so crun's own time can be reported too.

crun's cgroupsPath is one absolute path used in every v1 hierarchy; we put it under our own memory
cgroup (``/<own memory cgroup>/mkpy-bench-crun-<token>/ctr``).  crun removes the leaf on exit but leaves
the parents (and creates missing intermediate directories in the other hierarchies): ``close`` removes
exactly the directories that did not exist before, deepest first, after killing anything left in them.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import subprocess
import time
from typing import Any

from bench import procfs
from bench.session import TOKEN, log, logged_errors, require
from minikube_py.node.cgroups import common

MI = 1 << 20
MEMORY_LIMIT = 64 * MI
CPU_QUOTA_US, CPU_PERIOD_US = 50_000, 100_000
RUN_STATE_DIR = "/run/crun"


def cgroup_parent() -> str:
    """Our own cgroup (memory first): crun's cgroups must live below it, not under a hierarchy root."""
    own = procfs.own_cgroup_paths()
    for ctrl in ("memory", "cpu", "pids", "name=systemd"):
        path = own.get(ctrl, "/")
        if path not in ("", "/"):
            return path
    log.warning("bench: our own cgroup is the hierarchy root; crun's cgroups go directly below it")
    return ""


class CrunPeer:
    """Bundle, mount namespace and cgroup bookkeeping for timed ``crun run`` calls."""

    def __init__(self, workdir: str) -> None:
        self.workdir = workdir
        self.bundle = os.path.join(workdir, "bundle")
        self.ns_file = os.path.join(workdir, "crun-mnt-ns")
        self.base_cgroup = f"{cgroup_parent()}/mkpy-bench-crun-{TOKEN}"
        self.leaf_cgroup = f"{self.base_cgroup}/ctr"
        self._crun = require("crun")
        self._nsenter = require("nsenter")
        self._hierarchies = procfs.v1_hierarchies()
        self._preexisting: set[str] = set()
        self._recorded = False
        self._bound_dir = False
        self._bound_ns = False
        self._runs = 0

    # --- setup

    def setup(self) -> None:
        self._record_preexisting_dirs()
        self._build_bundle()
        self._make_mount_ns()

    def _record_preexisting_dirs(self) -> None:
        parts = self.base_cgroup.strip("/").split("/")
        for h in self._hierarchies:
            for i in range(1, len(parts) + 1):
                d = procfs.hierarchy_dir(h, "/" + "/".join(parts[:i]))
                if os.path.isdir(d):
                    self._preexisting.add(d)
        self._recorded = True

    def _build_bundle(self) -> None:
        rootfs = os.path.join(self.bundle, "rootfs")
        for d in ("bin", "proc", "sys", "dev", "tmp", "etc"):
            os.makedirs(os.path.join(rootfs, d), exist_ok=True)
        shutil.copy2(require("busybox"), os.path.join(rootfs, "bin", "busybox"))  # busybox-static
        for applet in ("true", "sleep", "sh"):
            os.symlink("busybox", os.path.join(rootfs, "bin", applet))
        subprocess.run([self._crun, "spec"], cwd=self.bundle, check=True, capture_output=True)
        self._write_config("config.json", ["/bin/true"])
        self._write_config("config-verify.json", ["/bin/sleep", "1"])

    def _write_config(self, name: str, args: list[str]) -> None:
        path = os.path.join(self.bundle, "config.json")
        with open(path) as f:
            config: dict[str, Any] = json.load(f)
        config["process"]["args"] = args
        config["process"]["terminal"] = False
        linux = config.setdefault("linux", {})
        linux["cgroupsPath"] = self.leaf_cgroup
        resources = linux.setdefault("resources", {})
        # swap = memory+swap limit: the same memsw == limit the v1 driver writes.
        resources["memory"] = {"limit": MEMORY_LIMIT, "swap": MEMORY_LIMIT}
        resources["cpu"] = {"quota": CPU_QUOTA_US, "period": CPU_PERIOD_US}
        kinds = sorted(ns["type"] for ns in linux.get("namespaces", []))
        if not {"pid", "network", "ipc", "uts", "mount"} <= set(kinds):
            raise RuntimeError(f"crun spec lacks a namespace the comparison needs: {kinds}")
        with open(os.path.join(self.bundle, name), "w") as f:
            json.dump(config, f, indent=1)

    def _make_mount_ns(self) -> None:
        # The namespace file must sit on a private mount, or binding it would propagate into itself.
        subprocess.run(["mount", "--bind", self.workdir, self.workdir], check=True)
        self._bound_dir = True
        subprocess.run(["mount", "--make-private", self.workdir], check=True)
        open(self.ns_file, "w").close()
        unified = [m for m in _mountinfo_lines() if m[1] == "cgroup2"]
        inner = ["umount", unified[0][0]] if unified else ["true"]
        subprocess.run(
            ["unshare", f"--mount={self.ns_file}", "--propagation", "private", *inner],
            check=True,
            capture_output=True,
        )
        self._bound_ns = True
        out = subprocess.run(
            [self._nsenter, f"--mount={self.ns_file}", "cat", "/proc/self/mountinfo"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        if " - cgroup2 " in out:
            raise RuntimeError("cgroup2 is still mounted inside crun's mount namespace")

    # --- timed runs

    def _argv(self, *extra: str) -> list[str]:
        return [self._nsenter, f"--mount={self.ns_file}", *extra]

    def run_ms(self) -> float:
        """One ``crun run`` of busybox true, request to exit (nsenter wrapper included), in ms."""
        self._runs += 1
        cid = f"mkpy-bench-{TOKEN}-{self._runs}"
        argv = self._argv(self._crun, "--cgroup-manager=cgroupfs", "run", "-b", self.bundle, cid)
        t0 = time.perf_counter_ns()
        proc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        elapsed = (time.perf_counter_ns() - t0) / 1e6
        if proc.returncode != 0:
            raise RuntimeError(f"crun run failed (rc={proc.returncode}): {proc.stderr.decode().strip()}")
        return elapsed

    def wrapper_ms(self) -> float:
        """The wrapper alone: ``nsenter --mount=<file> /bin/true``, in ms."""
        t0 = time.perf_counter_ns()
        subprocess.run(self._argv("/bin/true"), stdin=subprocess.DEVNULL, check=True)
        return (time.perf_counter_ns() - t0) / 1e6

    def verify_limits(self) -> dict[str, str]:
        """Run a ``sleep 1`` container and read its limits from the host side."""
        self._runs += 1
        cid = f"mkpy-bench-{TOKEN}-verify"
        config = os.path.join(self.bundle, "config-verify.json")
        argv = self._argv(self._crun, "--cgroup-manager=cgroupfs", "run", "-f", config, "-b", self.bundle, cid)
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            return self._read_leaf_settings(proc)
        finally:
            _, err = proc.communicate(timeout=10)
            if proc.returncode != 0:
                raise RuntimeError(f"crun verify run failed: {err.decode().strip()}")

    def _read_leaf_settings(self, proc: subprocess.Popen[bytes]) -> dict[str, str]:
        files = {
            "memory": ("memory.limit_in_bytes", "memory.memsw.limit_in_bytes"),
            "cpu": ("cpu.cfs_quota_us", "cpu.cfs_period_us"),
        }
        deadline = time.monotonic() + 5
        out: dict[str, str] = {}
        while time.monotonic() < deadline and proc.poll() is None:
            for h in self._hierarchies:
                leaf = procfs.hierarchy_dir(h, self.leaf_cgroup)
                names = [n for ctrl, ns in files.items() if ctrl in h.options.split(",") for n in ns]
                for name in names:
                    with contextlib.suppress(OSError), open(os.path.join(leaf, name)) as f:
                        out[name] = f.read().strip()
            if len(out) == 4 and out.get("memory.limit_in_bytes") == str(MEMORY_LIMIT):
                return out
            time.sleep(0.01)
        return out

    # --- teardown

    def close(self) -> None:
        with logged_errors("crun state"):
            self._remove_crun_state()
        with logged_errors("crun cgroups"):
            self._remove_cgroups()
        with logged_errors("crun mount namespace"):
            self._remove_mount_ns()

    def _remove_crun_state(self) -> None:
        for state in glob.glob(os.path.join(RUN_STATE_DIR, f"mkpy-bench-{TOKEN}-*")):
            cid = os.path.basename(state)
            if self._bound_ns:
                subprocess.run(self._argv(self._crun, "delete", "-f", cid), capture_output=True)
            shutil.rmtree(state, ignore_errors=True)

    def _remove_cgroups(self) -> None:
        if not self._recorded:
            return  # crun never ran: nothing of ours there, and we do not know what pre-existed
        for h in self._hierarchies:
            base = procfs.hierarchy_dir(h, self.base_cgroup)
            for pid in common.pids_below(base):
                procfs.kill_and_reap(pid)
        for h in self._hierarchies:
            base = procfs.hierarchy_dir(h, self.base_cgroup)
            for d in common.subdirs_bottom_up(base):
                _rmdir(d)
            parent = os.path.dirname(base)
            while parent.startswith(h.mountpoint + "/") and parent not in self._preexisting:
                _rmdir(parent)
                parent = os.path.dirname(parent)

    def _remove_mount_ns(self) -> None:
        if self._bound_ns:
            subprocess.run(["umount", self.ns_file], check=True)
            self._bound_ns = False
        if self._bound_dir:
            subprocess.run(["umount", self.workdir], check=True)
            self._bound_dir = False


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError as err:
        log.warning("bench: could not remove %s: %s", path, err)


def _mountinfo_lines() -> list[tuple[str, str]]:
    """(mountpoint, fstype) of every mount we can see."""
    out: list[tuple[str, str]] = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            out.append((left.split()[4], right.split()[0]))
    return out
