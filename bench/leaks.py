"""What a ``minikube-py up`` could leave behind, counted: used by the soak benchmark and the CI soak test.

Everything here is read-only and attributable to one cluster (its data dir and node cgroup dirs), so other
clusters and tests running on the same machine do not show up as our leaks:

* cgroups: directories below the node's cgroup roots (every hierarchy), and the ``pod<uid>`` ones among them;
* processes: pids in ``cgroup.procs`` anywhere below the node's cgroup roots;
* mounts: ``/proc/PID/mountinfo`` entries whose mount point is below the data dir;
* pod namespaces: the namespace inodes each pod's sandbox recorded (annotation ``minikube-py.io/sandbox``)
  still held by a process that is older than the pod's deletion (a younger one got a recycled inode number),
  or by an nsfs bind mount below the data dir;
* network: ``ip netns list`` and ``ip -o link`` (whole machine, so only reported), and the names this cluster
  would have given its own links and named namespaces (pod veths ``veth<hash(uid)>``, the bridge ``mkpy0``
  when it was not there before, a named netns carrying the data dir's digest): counted as leaks;
* file descriptors of the ``up`` process, by kind;
* SQLite rows: the store opened read-only: objects per resource, rows of the event log, pods by name.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Iterable
from typing import Any

from bench import procfs
from minikube_py.cluster import node_cgroup_dir, node_names
from minikube_py.node.cgroups.factory import CgroupConfig, new_driver
from minikube_py.node.network.podnet import BRIDGE, host_ifname

NAMESPACE_TYPES = ("net", "ipc", "uts", "pid", "mnt")
CLK_TCK = os.sysconf("SC_CLK_TCK")


def node_roots(data_dir: str, nodes: int = 1) -> list[str]:
    """The node cgroup directories an ``up`` started from this process's cgroups creates (every hierarchy)."""
    roots: list[str] = []
    for node in node_names(nodes):
        roots += new_driver(CgroupConfig(node_dir=node_cgroup_dir(data_dir, node))).roots()
    return roots


def cgroup_dirs(roots: Iterable[str]) -> list[str]:
    """Every cgroup directory strictly below the roots."""
    out: list[str] = []
    for root in roots:
        for dirpath, dirnames, _ in os.walk(root):
            out += [os.path.join(dirpath, d) for d in dirnames]
    return sorted(out)


def pod_cgroup_dirs(roots: Iterable[str]) -> list[str]:
    return [d for d in cgroup_dirs(roots) if os.path.basename(d).startswith("pod")]


def pids_below(roots: Iterable[str]) -> list[int]:
    """Every process in a cgroup at or below the roots (each pid once, though it is in every hierarchy)."""
    pids: set[int] = set()
    for root in roots:
        for dirpath, _, _ in os.walk(root):
            with contextlib.suppress(OSError), open(os.path.join(dirpath, "cgroup.procs")) as f:
                pids.update(int(x) for x in f.read().split())
    return sorted(pids)


def mounts_below(path: str, pid: int | str = "self") -> list[str]:
    """Mount points at or below ``path`` in the mount namespace of ``pid`` (mountinfo field 5, unescaped)."""
    prefix = os.path.realpath(path).rstrip("/")
    out: list[str] = []
    with open(f"/proc/{pid}/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n")
            if point == prefix or point.startswith(prefix + "/"):
                out.append(point)
    return out


def _ip(*args: str) -> list[str]:
    out = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30, check=True).stdout
    return [line for line in out.splitlines() if line.strip()]


def netns_names() -> set[str]:
    return {line.split()[0] for line in _ip("netns", "list")}


def link_names(netns: str | None = None) -> set[str]:
    """Link names in our network namespace or a named one (``ip -o link``; ``veth0@if3`` → ``veth0``)."""
    return {line.split(":")[1].strip().split("@")[0] for line in _ip(*(["-n", netns] if netns else []), "-o", "link")}


def _tcp_sockets(pid: int) -> dict[str, tuple[int, int, str]]:
    """{socket inode: (local port, remote port, state)} of the TCP sockets in ``pid``'s network namespace."""
    out: dict[str, tuple[int, int, str]] = {}
    for name in ("tcp", "tcp6"):
        with contextlib.suppress(OSError), open(f"/proc/{pid}/net/{name}") as f:
            next(f)
            for line in f:
                fields = line.split()
                local, remote, state, inode = fields[1], fields[2], fields[3], fields[9]
                out[inode] = (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16), state)
    return out


def fd_kinds(pid: int, api_port: int = 0) -> Counter[str]:
    """Open fds of ``pid`` by kind: TCP sockets split by role towards the API server on ``api_port`` (its
    listening socket, the server end and the client end of each connection to it — for `up` both ends of
    the agent's connections are its own), other TCP, other sockets, pipe, anon_inode:<what>, /dev, file."""
    kinds: Counter[str] = Counter()
    base = f"/proc/{pid}/fd"
    tcp: dict[str, tuple[int, int, str]] | None = None
    for fd in os.listdir(base):
        try:
            target = os.readlink(f"{base}/{fd}")
        except OSError:
            continue  # closed meanwhile (our own listdir fd, for pid == self)
        if target.startswith("socket:"):
            if tcp is None:
                tcp = _tcp_sockets(pid)
            sock = tcp.get(target[len("socket:[") : -1])
            if sock is None:
                kinds["socket (not tcp)"] += 1
            elif sock[2] == "0A":
                kinds["tcp listen"] += 1
            elif api_port and sock[0] == api_port:
                kinds["tcp api server end"] += 1
            elif api_port and sock[1] == api_port:
                kinds["tcp api client end"] += 1
            else:
                kinds["tcp other"] += 1
        elif target.startswith("pipe:"):
            kinds["pipe"] += 1
        elif target.startswith("anon_inode:"):
            kinds[target] += 1
        elif target.startswith("/dev/"):
            kinds["/dev"] += 1
        else:
            kinds["file"] += 1
    return kinds


def fd_count(pid: int) -> int:
    return sum(fd_kinds(pid).values())


def boot_time_s() -> float:
    """Now on the clock of /proc/PID/stat's starttime (seconds since boot)."""
    return time.clock_gettime(time.CLOCK_BOOTTIME)


def _start_time_s(pid: str) -> float | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19]) / CLK_TCK
    except (OSError, IndexError, ValueError):
        return None


def namespace_holders(inodes: dict[int, float], data_dir: str) -> list[str]:
    """Holders of the namespaces ``{inode: boot time at which its pod was known to be gone}``.

    Namespace inode numbers are recycled, so a match alone proves nothing.  A process counts if it is in
    one of them and started before that time (one started later sits in a new namespace that got a recycled
    number); an nsfs bind mount counts if it is below the data dir (``ip netns add`` mounts of other tests on
    this machine elsewhere may carry a recycled number too, and nothing of a cluster mounts namespaces
    elsewhere).
    """
    found: list[str] = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        for ns in NAMESPACE_TYPES:
            try:
                ino = os.stat(f"/proc/{pid}/ns/{ns}").st_ino
            except OSError:
                continue
            gone_at = inodes.get(ino)
            if gone_at is None:
                continue
            started = _start_time_s(pid)
            if started is not None and started < gone_at:
                found.append(f"pid {pid} in {ns}:[{ino}]")
    prefix = os.path.realpath(data_dir).rstrip("/") + "/"
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if right.split()[:1] == ["nsfs"] and fields[4].startswith(prefix):
                found.append(f"nsfs mount {fields[4]} of {fields[3]}")
    return found


# --- the store ------------------------------------------------------------------------------------------


@dataclasses.dataclass
class DbCounts:
    objects: dict[str, int]  # resource -> rows in ``objects``
    event_log: int  # rows of the ``events`` table (the watch history, bounded to 10 000 revisions)
    revision: int
    compacted: int
    pod_names: list[str]  # names of the pods still stored (namespace/name)
    event_objects_about: dict[str, int]  # Event objects by involvedObject kind


def db_counts(db_path: str) -> DbCounts:
    """Counts from the control plane's SQLite store, opened read-only (WAL included)."""
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True, timeout=10)
    try:
        conn.execute("BEGIN")  # one snapshot for every count
        objects = dict(conn.execute("SELECT resource, COUNT(*) FROM objects GROUP BY resource").fetchall())
        (event_log,) = conn.execute("SELECT COUNT(*) FROM events").fetchone()
        revision, compacted = conn.execute("SELECT revision, compacted FROM meta").fetchone()
        pods = [
            f"{ns}/{name}" for ns, name in conn.execute("SELECT namespace, name FROM objects WHERE resource='pods'")
        ]
        about = Counter(
            kind or "?"
            for (kind,) in conn.execute(
                "SELECT json_extract(data, '$.involvedObject.kind') FROM objects WHERE resource='events'"
            )
        )
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    return DbCounts(
        objects={str(k): int(v) for k, v in objects.items()},
        event_log=int(event_log),
        revision=int(revision),
        compacted=int(compacted),
        pod_names=sorted(pods),
        event_objects_about=dict(about),
    )


# --- one snapshot ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Snapshot:
    """Counts at one moment; ``leaks`` compares two of them."""

    cycles: int
    t: float  # time.monotonic()
    cgroups: list[str]  # below the node roots; after `up` exited also the roots themselves if still there
    pod_cgroups: list[str]
    node_processes: list[int]
    mounts: list[str]
    netns: set[str]  # machine-wide
    links: set[str]  # in the machine's (our) network namespace
    node_links: set[str]  # in the node agent's network namespace (empty when the agent shares ours)
    fds: Counter[str]  # of `up`
    agent_fds: Counter[str]  # of the node agent process (empty when it runs inside `up`)
    rss_kib: int  # `up`
    pss_kib: int
    agent_rss_kib: int
    agent_pss_kib: int
    shim_rss_kib: int
    db: DbCounts | None

    @property
    def fd_total(self) -> int:
        return sum(self.fds.values()) + sum(self.agent_fds.values())

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        for key in ("cgroups", "pod_cgroups", "node_processes", "mounts", "netns", "links", "node_links"):
            out[key] = len(out[key])
        out["fds"], out["agent_fds"] = dict(self.fds), dict(self.agent_fds)
        out["fd_total"] = self.fd_total
        return out


def _argv(pid: int | str) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


class Probe:
    """Takes snapshots of one cluster: its data dir, node cgroup roots, `up` pid, node agent and node shim.

    The node agent runs inside `up` or (since nodes got network namespaces) as a ``minikube-py agent``
    child in a namespace ``mkpy-<cluster>-n1`` next to a switch namespace ``mkpy-<cluster>-sw`` and a
    machine-side link ``mkpy<cluster>h``: ``discover`` finds which, while `up` runs."""

    def __init__(self, data_dir: str, up_pid: int, *, api_port: int = 0, nodes: int = 1) -> None:
        self.data_dir = os.path.realpath(data_dir)
        self.up_pid = up_pid
        self.api_port = api_port
        self.roots = node_roots(data_dir, nodes)
        self.db_path = os.path.join(data_dir, "control-plane", "state.db")
        self.pod_uids: set[str] = set()  # filled by the caller: every pod it created
        self.pod_namespaces: dict[int, float] = {}  # inode -> boot time when its (last) pod was gone
        self.pods_gone = 0  # pods whose namespaces were recorded (inode numbers are recycled: fewer keys)
        self._links_at_start = link_names()
        self._netns_at_start = netns_names()
        self._bridge_before = BRIDGE in self._links_at_start
        self.agent: int | None = None  # pid of a separate agent process
        self.node_netns: str | None = None  # its named network namespace
        self.cluster_netns: set[str] = set()  # every named netns of this cluster
        self.cluster_links: set[str] = set()  # links of this cluster in the machine's namespace

    def discover(self) -> None:
        """Find the node agent process and, if it has one, its network namespace and the cluster's names."""
        for pid in filter(str.isdigit, os.listdir("/proc")):
            argv = _argv(pid)
            if "agent" in argv and any(a.startswith(self.data_dir) for a in argv) and int(pid) != self.up_pid:
                if os.path.basename(argv[0]).startswith("nsenter"):
                    continue  # the wrapper execs the agent: same pid once it runs
                self.agent = int(pid)
        if self.agent is None:
            return
        ino = os.stat(f"/proc/{self.agent}/ns/net").st_ino
        if ino == os.stat("/proc/self/ns/net").st_ino:
            return
        for name in netns_names():
            with contextlib.suppress(OSError):
                if os.stat(f"/run/netns/{name}").st_ino == ino:
                    self.node_netns = name
        if self.node_netns and self.node_netns.startswith("mkpy-") and "-n" in self.node_netns:
            cluster = self.node_netns[len("mkpy-") :].rsplit("-n", 1)[0]
            self.cluster_netns = {n for n in netns_names() if n.startswith(f"mkpy-{cluster}-")}
            self.cluster_links = {n for n in link_names() if n.startswith(f"mkpy{cluster[:6]}")}

    def shim_pid(self) -> int | None:
        """The node shim: the zygote with the data dir in its command line."""
        for pid in filter(str.isdigit, os.listdir("/proc")):
            argv = _argv(pid)
            if "minikube_py.node.runtime.zygote" in argv and any(self.data_dir in a for a in argv):
                return int(pid)
        return None

    def pod_gone(self, namespaces: dict[str, int]) -> None:
        """Remember a deleted pod's namespace inodes (from its sandbox annotation) for the holder check."""
        now = boot_time_s()
        self.pods_gone += bool(namespaces)
        for ino in namespaces.values():
            self.pod_namespaces[int(ino)] = now

    def snapshot(self, cycles: int, *, up_alive: bool = True, db: bool = True) -> Snapshot:
        shim = self.shim_pid() if up_alive else None
        rss = pss = agent_rss = agent_pss = 0
        fds: Counter[str] = Counter()
        agent_fds: Counter[str] = Counter()
        node_links: set[str] = set()
        if up_alive:
            with contextlib.suppress(OSError):
                rss = procfs.rss_kib(self.up_pid)
                pss = procfs.smaps_rollup(self.up_pid).get("Pss", 0)
                fds = fd_kinds(self.up_pid, self.api_port)
            if self.agent is not None:
                with contextlib.suppress(OSError):
                    agent_rss = procfs.rss_kib(self.agent)
                    agent_pss = procfs.smaps_rollup(self.agent).get("Pss", 0)
                    agent_fds = fd_kinds(self.agent, self.api_port)
            if self.node_netns is not None:
                with contextlib.suppress(subprocess.CalledProcessError):
                    node_links = link_names(self.node_netns)
        return Snapshot(
            cycles=cycles,
            t=time.monotonic(),
            cgroups=cgroup_dirs(self.roots) + ([] if up_alive else [r for r in self.roots if os.path.isdir(r)]),
            pod_cgroups=pod_cgroup_dirs(self.roots),
            node_processes=pids_below(self.roots),
            mounts=mounts_below(self.data_dir),
            netns=netns_names(),
            links=link_names(),
            node_links=node_links,
            fds=fds,
            agent_fds=agent_fds,
            rss_kib=rss,
            pss_kib=pss,
            agent_rss_kib=agent_rss,
            agent_pss_kib=agent_pss,
            shim_rss_kib=procfs.rss_kib(shim) if shim else 0,
            db=db_counts(self.db_path) if db and os.path.exists(self.db_path) else None,
        )

    def our_links(self, snap: Snapshot, before: Snapshot | None) -> list[str]:
        """Links of this cluster beyond ``before``: in the machine's namespace pod veths and the pod bridge (if
        it was not there at the start); once `up` exited also the cluster's own link; in the node's
        namespace any new one (the whole namespace is the cluster's)."""
        named = {host_ifname(uid) for uid in self.pod_uids}
        if not self._bridge_before:
            named.add(BRIDGE)
        base = before.links if before is not None else self._links_at_start
        if before is None:
            named |= self.cluster_links
        found = sorted((snap.links - base) & named)
        if before is not None:
            found += [f"{self.node_netns}: {n}" for n in sorted(snap.node_links - before.node_links)]
        return found

    def leaks(self, snap: Snapshot, before: Snapshot | None) -> dict[str, list[str]]:
        """What ``snap`` holds beyond ``before`` that is attributable to this cluster (empty lists: no leak).

        ``before=None`` once `up` has exited: then nothing of the cluster may be left at all.  File
        descriptors (of `up` and of a separate agent): any kind above its count in ``before`` (the caller takes
        both snapshots with its own connections to the API server closed: each would be a socket of `up`).
        A kind may drop below its baseline: the agent's HTTP client keeps pooled connections to the API
        server for 15 s after their last use (aiohttp's default), so the baseline may hold a few more."""
        base_cgroups = set(before.cgroups) if before else set()
        base_pids = set(before.node_processes) if before else set()
        base_mounts = set(before.mounts) if before else set()
        if before is None:
            netns = sorted(self.cluster_netns & snap.netns)
        else:
            netns = sorted(n for n in self.cluster_netns if n not in snap.netns)  # gone while `up` runs: broken
            netns = [f"{n} (missing)" for n in netns]
        fds: list[str] = []
        if before is not None:  # any kind above its baseline count (fewer pooled API connections are fine)
            for label, now, then in (("up", snap.fds, before.fds), ("agent", snap.agent_fds, before.agent_fds)):
                fds += [f"{label} {k}: +{v}" for k, v in sorted((now - then).items())]
        out: dict[str, list[str]] = {
            "cgroups": sorted(set(snap.cgroups) - base_cgroups),
            "pod_cgroups": snap.pod_cgroups,
            "node_processes": [f"{p}: {_cmdline(p)}" for p in sorted(set(snap.node_processes) - base_pids)],
            "mounts": sorted(set(snap.mounts) - base_mounts),
            "pod_namespaces": namespace_holders(self.pod_namespaces, self.data_dir),
            "links": self.our_links(snap, before),
            "netns": netns,
            "fds": fds,
        }
        if snap.db is not None:
            out["pod_rows"] = snap.db.pod_names
        return out


def clean_up(probe: Probe) -> list[str]:
    """Remove what a failed run left of this cluster (only what is provably its own): SIGKILL every process
    below its node cgroups, unmount everything below its data dir, remove its cgroup dirs, named netns and
    machine-side links.  Returns what it found."""
    found: list[str] = []
    for _ in range(3):  # processes may still be forking
        pids = pids_below(probe.roots)
        found += [f"process {pid}: {_cmdline(pid)}" for pid in pids]
        for pid in pids:
            procfs.kill_and_reap(pid, timeout=1.0)
        if not pids:
            break
    for point in sorted(mounts_below(probe.data_dir), key=len, reverse=True):
        found.append(f"mount {point}")
        subprocess.run(["umount", "-l", point], check=False)
    for root in probe.roots:
        for dirpath, _, _ in sorted(os.walk(root), key=lambda w: -w[0].count("/")):
            found.append(f"cgroup {dirpath}")
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)
    for name in sorted(probe.cluster_netns & netns_names()):
        found.append(f"netns {name}")
        subprocess.run(["ip", "netns", "del", name], check=False)
    for name in sorted(probe.cluster_links & link_names()):
        found.append(f"link {name}")
        subprocess.run(["ip", "link", "del", name], check=False)
    return found


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        return "(gone)"


def leak_counts(leaks: dict[str, list[str]]) -> dict[str, int]:
    return {k: len(v) for k, v in leaks.items()}


def slope_per_1000(points: list[tuple[int, float]]) -> float | None:
    """Least-squares slope of (cycles, value) points, per 1000 cycles (None with fewer than 2 distinct x)."""
    if len({x for x, _ in points}) < 2:
        return None
    n = len(points)
    mx = sum(x for x, _ in points) / n
    my = sum(y for _, y in points) / n
    sxx = sum((x - mx) ** 2 for x, _ in points)
    sxy = sum((x - mx) * (y - my) for x, y in points)
    return sxy / sxx * 1000
