"""Two QEMU node VMs (pure cgroup v2, TCG, 1 vCPU and 512 MiB each) join a control plane on the host.

Booted once for this module (the only user of the fixture, so once per test session) by tests/vm/cluster.py:
a bridge and two taps in a network namespace made for the test, joined to the machine by a veth whose end
holds ``<prefix>.254/24`` (``10.77.0`` unless that is taken); the VMs are ``vm1`` at ``.11`` and ``vm2`` at
``.12``, with ``eth0`` set statically by their init script.  The control plane runs on the host, bound to
``.254``; each VM runs ``minikube-py agent`` from the host's read-only root (9p), its data in guest RAM, in a
cgroup of its own that it takes over with ``--delegated-cgroup`` (as under systemd's ``Delegate=yes``), and
with ``--pod-network``: its pod CIDR comes from the control plane, its pods get veths on a bridge in the VM and
the other VM's pod CIDR is routed via that VM's address, so pods talk across the VMs without NAT.
The test talks to the API over the veth with the token from ``<data-dir>/token`` (a client beyond loopback
must present it).

Measured and printed: boot time (QEMU start → the guest's command runs), agent registration time (QEMU start
→ Node Ready in the API), pod create → Running on each VM.  On teardown every QEMU is killed, the control
plane stopped, the veth and the namespace deleted, and the test checks nothing of it is left.
"""

from __future__ import annotations

import contextlib
import functools
import ipaddress
import json
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.vm import cluster
from tests.vm.cluster import GuestLan, NetworkedGuest

pytestmark = [pytest.mark.root, pytest.mark.slow]

CLI = str(Path(sys.executable).with_name("minikube-py"))
NODES = ("vm1", "vm2")
NAMESPACE = "default"
GUEST_PYTHON = "/usr/bin/python3"  # the pods run the node's (= the host's, over 9p) programs
BOOT_TIMEOUT_S = 120.0
REGISTER_TIMEOUT_S = 240.0  # the agent's imports alone take ~30 s under TCG on a loaded 2-core machine
POD_TIMEOUT_S = 150.0
AGENT_CGROUP = "/sys/fs/cgroup/mkpy-node"  # the agent's delegated cgroup inside each guest
AGENT_DATA_DIR = "/tmp/mkpy-agent"  # guest tmpfs: the node's scratch space
T = TypeVar("T")


class ApiError(RuntimeError):
    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"HTTP {status}: {body[:2000]}")
        self.status = status


@dataclass
class Api:
    """The Kubernetes API of the control plane, reached over the veth with the cluster's bearer token."""

    base: str
    token: str

    def request(self, method: str, path: str, body: Any = None, query: list[tuple[str, str]] | None = None) -> Any:
        url = self.base + path + ("?" + urllib.parse.urlencode(query) if query else "")
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(url, data=data, method=method)
        req.add_header("Authorization", f"Bearer {self.token}")
        if data is not None:
            req.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                raw = response.read().decode()
                is_json = response.headers.get("Content-Type", "").startswith("application/json")
                return json.loads(raw) if is_json else raw
        except urllib.error.HTTPError as err:
            raise ApiError(err.code, err.read().decode(errors="replace")) from None

    def get(self, path: str, query: list[tuple[str, str]] | None = None) -> Any:
        return self.request("GET", path, query=query)

    def pod(self, name: str) -> dict[str, Any]:
        result: dict[str, Any] = self.get(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}")
        return result

    def create_pod(self, manifest: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = self.request("POST", f"/api/v1/namespaces/{NAMESPACE}/pods", manifest)
        return result

    def delete_pod(self, name: str, grace: int = 1) -> None:
        self.request(
            "DELETE", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}", query=[("gracePeriodSeconds", str(grace))]
        )

    def logs(self, name: str) -> str:
        return str(self.get(f"/api/v1/namespaces/{NAMESPACE}/pods/{name}/log"))

    def exec(self, name: str, argv: list[str]) -> dict[str, Any]:
        result: dict[str, Any] = self.request(
            "POST", f"/api/v1/namespaces/{NAMESPACE}/pods/{name}/exec", query=[("command", a) for a in argv]
        )
        return result


@dataclass
class VmCluster:
    lan: GuestLan
    guests: list[NetworkedGuest]
    api: Api
    data_dir: Path
    cp_log: Path
    config: pytest.Config
    timings: dict[str, float] = field(default_factory=dict)

    def guest(self, name: str) -> NetworkedGuest:
        return next(g for g in self.guests if g.name == name)

    def say(self, message: str) -> None:
        """A line on the terminal, also while pytest captures output."""
        reporter = self.config.pluginmanager.get_plugin("terminalreporter")
        capture = self.config.pluginmanager.get_plugin("capturemanager")
        print(message)
        if reporter is None:
            return
        with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
            reporter.ensure_newline()
            reporter.write_line(f"two-VM cluster: {message}")

    def diagnostics(self) -> str:
        parts = []
        for g in self.guests:
            agent_log = g.out_dir / "agent.log"
            log_tail = "\n".join(agent_log.read_text(errors="replace").splitlines()[-40:]) if agent_log.exists() else ""
            state = "running" if g.running() else "STOPPED"
            parts.append(
                f"--- {g.name} ({state}) agent log ---\n{log_tail}\n--- {g.name} console ---\n{g.console_tail()}"
            )
        cp = "\n".join(self.cp_log.read_text(errors="replace").splitlines()[-30:]) if self.cp_log.exists() else ""
        parts.append(f"--- control plane log ---\n{cp}")
        return "\n".join(parts)

    def wait(self, what: str, probe: Callable[[], T | None], timeout: float, interval: float = 0.5) -> T:
        """Poll ``probe`` until it returns something truthy; fail with the VMs' logs on timeout or a dead VM."""
        return self.wait_each(what, {what: probe}, timeout, interval)[what][0]

    def wait_each(
        self, what: str, probes: dict[str, Callable[[], T | None]], timeout: float, interval: float = 0.5
    ) -> dict[str, tuple[T, float]]:
        """Poll all ``probes`` together until each returned something truthy: {key: (value, when)}, ``when``
        on the monotonic clock (so each can be timed on its own)."""
        deadline = time.monotonic() + timeout
        last_error: BaseException | None = None
        done: dict[str, tuple[T, float]] = {}
        while True:
            for key, probe in probes.items():
                if key in done:
                    continue
                try:
                    value = probe()
                    if value:
                        done[key] = (value, time.monotonic())
                except (ApiError, OSError) as err:
                    last_error = err
            if len(done) == len(probes):
                return done
            dead = [g.name for g in self.guests if not g.running()]
            if dead:
                pytest.fail(f"VM(s) {', '.join(dead)} stopped while waiting for {what}\n{self.diagnostics()}")
            if time.monotonic() > deadline:
                missing = ", ".join(key for key in probes if key not in done)
                last = f" (last error: {last_error})" if last_error else ""
                pytest.fail(
                    f"timed out after {timeout:.0f}s waiting for {what} ({missing}){last}\n{self.diagnostics()}"
                )
            time.sleep(interval)


def free_port(host: str) -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        port: int = s.getsockname()[1]
        return port


def node_command(server: str, token: str) -> Callable[[GuestLan, int, Path], str]:
    def command(lan: GuestLan, index: int, out_dir: Path) -> str:
        name, address = NODES[index], lan.guest_ip(index)
        argv = [
            "minikube-py", "agent", "--server", server, "--node-name", name,
            "--address", address, "--listen", address, "--token", token,
            "--data-dir", AGENT_DATA_DIR, "--delegated-cgroup", "--pod-network",
        ]  # fmt: skip
        # Written to the out share (a 9p mount in the guest) so the token is not on QEMU's command line.
        script = out_dir / "node.sh"
        script.write_text(
            "set -eu\n"
            f"echo {cluster.BOOTED_MARKER}\n"
            # The agent lives in a cgroup of its own, delegated to it: it moves itself into a leaf there and
            # makes its pods' cgroups below (the guest's init enabled the controllers at the root).
            f"mkdir {AGENT_CGROUP}\n"
            f"echo $$ > {AGENT_CGROUP}/cgroup.procs\n"
            f"exec {shlex.join(argv)} > {shlex.quote(str(out_dir / 'agent.log'))} 2>&1\n"
        )
        script.chmod(0o600)
        return f"exec bash {shlex.quote(str(script))}"

    return command


@contextlib.contextmanager
def control_plane(host: str, port: int, data_dir: Path, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    argv = [
        # Stopped by the finally below; killed with this process if it dies without cleaning up.
        "setpriv", "--pdeathsig", "KILL", "--",
        CLI, "control-plane", "--host", host, "--port", str(port), "--data-dir", str(data_dir),
    ]  # fmt: skip
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"the control plane exited with {proc.returncode}:\n{log_path.read_text()}")
            if (data_dir / "token").exists():
                with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"the control plane did not listen on {host}:{port}:\n{log_path.read_text()}")
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def node_ready(api: Api, name: str) -> dict[str, Any] | None:
    try:
        node: dict[str, Any] = api.get(f"/api/v1/nodes/{name}")
    except ApiError as err:
        if err.status == 404:
            return None
        raise
    conditions = {c["type"]: c["status"] for c in node.get("status", {}).get("conditions", [])}
    return node if conditions.get("Ready") == "True" else None


def processes_mentioning(text: str) -> list[str]:
    """Command lines of live processes that name ``text`` (QEMU names its out share, the control plane its
    data directory: both live under the fixture's work directory)."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        with contextlib.suppress(OSError):  # the process exited meanwhile
            argv = cmdline.read_bytes().split(b"\0")
            if any(text.encode() in arg for arg in argv):
                found.append(" ".join(arg.decode(errors="replace") for arg in argv)[:200])
    return found


@pytest.fixture(scope="module")
def vm_cluster(pytestconfig: pytest.Config, tmp_path_factory: pytest.TempPathFactory) -> Iterator[VmCluster]:
    work = tmp_path_factory.mktemp("two-vm")
    data_dir = work / "control-plane"
    cp_log = work / "control-plane.log"
    stack = contextlib.ExitStack()
    lan_seen: list[GuestLan] = []
    started = time.monotonic()
    try:
        server: dict[str, str] = {}

        def start_control_plane(lan: GuestLan) -> None:
            lan_seen.append(lan)
            port = free_port(lan.host_ip)
            stack.enter_context(control_plane(lan.host_ip, port, data_dir, cp_log))
            server["url"] = f"http://{lan.host_ip}:{port}"
            server["token"] = (data_dir / "token").read_text().strip()

        def command(lan: GuestLan, index: int, out_dir: Path) -> str:
            return node_command(server["url"], server["token"])(lan, index, out_dir)

        with cluster.networked_guests(
            NODES, command, work_dir=work, mem="512M", cpus=1, before_boot=start_control_plane
        ) as (lan, guests):
            vms = VmCluster(lan, guests, Api(server["url"], server["token"]), data_dir, cp_log, pytestconfig)
            vms.say(f"booting {', '.join(NODES)} on {lan.prefix}.0/24 (control plane at {server['url']}) ...")
            try:
                cluster.wait_booted(guests, BOOT_TIMEOUT_S)
            except cluster.LanError as err:
                pytest.fail(f"{err}\n{vms.diagnostics()}")
            boot_seconds = {g.name: g.boot_seconds or 0.0 for g in guests}
            for g in guests:
                vms.timings[f"{g.name} boot"] = boot_seconds[g.name]
            ready = vms.wait_each(
                "the agents to register and their nodes to be Ready",
                {g.name: functools.partial(node_ready, vms.api, g.name) for g in guests},
                REGISTER_TIMEOUT_S,
            )
            for g in guests:
                vms.timings[f"{g.name} Ready after QEMU start"] = ready[g.name][1] - g.process.started
                vms.timings[f"{g.name} agent start->Ready"] = (
                    ready[g.name][1] - g.process.started - boot_seconds[g.name]
                )
            vms.say(
                ", ".join(
                    f"{g.name}: boot {vms.timings[f'{g.name} boot']:.1f}s, agent start->Ready "
                    f"{vms.timings[f'{g.name} agent start->Ready']:.1f}s"
                    for g in guests
                )
            )
            yield vms
            vms.say("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in vms.timings.items()))
    finally:
        stack.close()  # the control plane (after the guests and the network are gone)
        left = [item for lan in lan_seen for item in cluster.leftovers(lan)]
        left += [f"process {argv}" for argv in processes_mentioning(str(work))]
        print(f"two-VM cluster: fixture lifetime {time.monotonic() - started:.1f}s, left behind: {left or 'nothing'}")
        if sys.exc_info()[0] is None:  # don't hide the error that ended the set-up
            assert left == [], "the two-VM cluster left things behind"


# --- helpers


def pod_manifest(
    name: str,
    node: str,
    command: list[str],
    *,
    limits: dict[str, str] | None = None,
    restart_policy: str = "Always",
) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "main", "command": command}
    if limits:
        container["resources"] = {"limits": limits}
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "nodeSelector": {"kubernetes.io/hostname": node},
            "restartPolicy": restart_policy,
            "terminationGracePeriodSeconds": 1,
            "containers": [container],
        },
    }


def phase_is(vms: VmCluster, name: str, *phases: str) -> Callable[[], dict[str, Any] | None]:
    def probe() -> dict[str, Any] | None:
        pod = vms.api.pod(name)
        return pod if pod.get("status", {}).get("phase") in phases else None

    return probe


def log_contains(vms: VmCluster, name: str, text: str) -> Callable[[], bool]:
    return lambda: text in vms.api.logs(name)


def gone(vms: VmCluster, name: str) -> Callable[[], bool]:
    def probe() -> bool:
        try:
            vms.api.pod(name)
        except ApiError as err:
            return err.status == 404
        return False

    return probe


def delete_quietly(vms: VmCluster, *names: str) -> None:
    for name in names:
        with contextlib.suppress(ApiError, OSError):
            vms.api.delete_pod(name, grace=0)


# --- tests


def test_vms_join_as_cgroup_v2_nodes(vm_cluster: VmCluster) -> None:
    nodes = {n["metadata"]["name"]: n for n in vm_cluster.api.get("/api/v1/nodes")["items"]}
    assert set(nodes) == set(NODES)
    for index, name in enumerate(NODES):
        status = nodes[name]["status"]
        addresses = {a["type"]: a["address"] for a in status["addresses"]}
        assert addresses == {"InternalIP": vm_cluster.lan.guest_ip(index), "Hostname": name}
        assert "v2" in status["nodeInfo"]["containerRuntimeVersion"], status["nodeInfo"]
        assert int(status["capacity"]["cpu"]) == 1
        assert nodes[name]["metadata"]["labels"]["kubernetes.io/hostname"] == name
    # A client beyond loopback without the token gets 401 and nothing else.
    with pytest.raises(ApiError) as denied:
        Api(vm_cluster.api.base, "").get("/api/v1/nodes")
    assert denied.value.status == 401


def test_pod_lifecycle_on_each_vm(vm_cluster: VmCluster) -> None:
    """create (pinned by nodeSelector) → Running → logs → exec → delete, on both VMs at once."""
    vms = vm_cluster
    script = 'echo "hello from $(hostname)"; exec sleep 3600'
    names = {node: f"life-{node}" for node in NODES}
    try:
        created = {}
        for node, name in names.items():
            vms.api.create_pod(pod_manifest(name, node, ["/bin/sh", "-c", script]))
            created[node] = time.monotonic()
        running = vms.wait_each(
            "the pods to run", {node: phase_is(vms, name, "Running") for node, name in names.items()}, POD_TIMEOUT_S
        )
        for node in NODES:
            pod, when = running[node]
            vms.timings[f"{node} pod create->Running"] = when - created[node]
            assert pod["spec"]["nodeName"] == node
            assert pod["status"]["hostIP"] == vms.guest(node).address
            [status] = pod["status"]["containerStatuses"]
            assert status["ready"] and "running" in status["state"], status
        vms.say(
            "pod create->Running: "
            + ", ".join(f"{node} {vms.timings[f'{node} pod create->Running']:.1f}s" for node in NODES)
        )
        for name in names.values():
            vms.wait(f"{name}'s log line", log_contains(vms, name, f"hello from {name}"), 30)
            result = vms.api.exec(
                name, ["/bin/sh", "-c", "hostname; stat -f -c %T /sys/fs/cgroup; cat /proc/self/cgroup"]
            )
            assert result["exitCode"] == 0, result
            hostname, fstype, cgroup = result["stdout"].splitlines()[:3]
            assert hostname == name
            assert fstype == "cgroup2fs", "the container sees the VM's pure cgroup v2 hierarchy"
            # The exec'd process sits in the container's cgroup, below the agent's delegated cgroup in the VM.
            assert cgroup.startswith(f"0::{AGENT_CGROUP.removeprefix('/sys/fs/cgroup')}/"), cgroup
            assert "/kubepods/" in cgroup and pod_uid_dir(vms.api.pod(name)) in cgroup, cgroup
            failed = vms.api.exec(name, ["/bin/sh", "-c", "echo oops >&2; exit 3"])
            assert (failed["exitCode"], failed["stderr"].strip()) == (3, "oops")
        for name in names.values():
            vms.api.delete_pod(name, grace=1)
        for node, name in names.items():
            vms.wait(f"{name} to be deleted", gone(vms, name), POD_TIMEOUT_S)
            summary = vms.api.get(f"/api/v1/nodes/{node}/proxy/stats/summary")
            assert name not in {p["podRef"]["name"] for p in summary["pods"]}, "the agent still has the pod"
    finally:
        delete_quietly(vms, *names.values())


def pod_uid_dir(pod: dict[str, Any]) -> str:
    return f"pod{pod['metadata']['uid']}"


def test_oom_killed_on_cgroup_v2_reported_through_the_api(vm_cluster: VmCluster) -> None:
    """200 MiB under a 64 MiB limit in each VM: the kernel's OOM kill shows as OOMKilled/137 with a restart."""
    vms = vm_cluster
    alloc = "b = bytearray(200 * 2**20)"
    names = {node: f"oom-{node}" for node in NODES}
    try:
        created = {}
        for node, name in names.items():
            vms.api.create_pod(pod_manifest(name, node, [GUEST_PYTHON, "-S", "-c", alloc], limits={"memory": "64Mi"}))
            created[node] = time.monotonic()

        def oom_seen(name: str) -> dict[str, Any] | None:
            pod = vms.api.pod(name)
            for status in pod.get("status", {}).get("containerStatuses", []):
                last = status.get("lastState", {}).get("terminated") or {}
                if last.get("reason") == "OOMKilled" and status.get("restartCount", 0) >= 1:
                    return pod
            return None

        seen = vms.wait_each(
            "OOMKilled with a restart",
            {node: functools.partial(oom_seen, name) for node, name in names.items()},
            POD_TIMEOUT_S,
        )
        for node in NODES:
            vms.timings[f"{node} pod create->OOMKilled+restart"] = seen[node][1] - created[node]
        vms.say(
            "pod create->OOMKilled with a restart in the API: "
            + ", ".join(f"{node} {vms.timings[f'{node} pod create->OOMKilled+restart']:.1f}s" for node in NODES)
        )
        for node in NODES:
            pod = seen[node][0]
            assert pod["spec"]["nodeName"] == node
            [status] = pod["status"]["containerStatuses"]
            terminated = status["lastState"]["terminated"]
            assert (terminated["reason"], terminated["exitCode"]) == ("OOMKilled", 137), terminated
            assert status["restartCount"] >= 1
            records = json.loads(pod["metadata"]["annotations"]["minikube-py.io/oom-records"])
            assert records, "no OOM record"
            assert records[0]["limit_bytes"] == 64 << 20, records[0]
    finally:
        delete_quietly(vms, *names.values())
    for name in names.values():
        vms.wait(f"{name} to be deleted", gone(vms, name), POD_TIMEOUT_S)


SERVER = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", 8080))
s.listen(8)
print("listening", flush=True)
while True:
    conn, peer = s.accept()
    print("connection from", peer[0], flush=True)
    conn.sendall(("hello from " + socket.gethostname() + "\\n").encode())
    conn.close()
"""

CLIENT = """
import socket, sys, time
deadline = time.monotonic() + 90
while True:
    try:
        with socket.create_connection((sys.argv[1], 8080), timeout=5) as c:
            print("reply:", c.makefile().readline().strip(), flush=True)
            break
    except OSError as err:
        if time.monotonic() > deadline:
            raise
        print("retry:", err, flush=True)
        time.sleep(1)
"""


def test_pod_to_pod_tcp_between_the_vms(vm_cluster: VmCluster) -> None:
    """A pod on vm1 serves TCP on its pod IP; a pod on vm2 connects across the VMs and logs the reply."""
    vms = vm_cluster
    nodes = {n["metadata"]["name"]: n for n in vms.api.get("/api/v1/nodes")["items"]}
    cidrs = {name: nodes[name]["spec"].get("podCIDR", "") for name in NODES}
    assert all(cidrs.values()) and len(set(cidrs.values())) == 2, cidrs
    try:
        vms.api.create_pod(pod_manifest("net-server", "vm1", [GUEST_PYTHON, "-S", "-c", SERVER]))
        vms.wait("the server pod to run", phase_is(vms, "net-server", "Running"), POD_TIMEOUT_S)
        server_ip = str(vms.wait("the server's pod IP", lambda: vms.api.pod("net-server")["status"].get("podIP"), 30))
        assert ipaddress_in(server_ip, cidrs["vm1"]), (server_ip, cidrs)
        vms.wait("the server to listen", log_contains(vms, "net-server", "listening"), 60)
        vms.api.create_pod(
            pod_manifest("net-client", "vm2", [GUEST_PYTHON, "-S", "-c", CLIENT, server_ip], restart_policy="Never")
        )
        created = time.monotonic()
        client = vms.wait("the client pod to finish", phase_is(vms, "net-client", "Succeeded", "Failed"), POD_TIMEOUT_S)
        vms.timings["vm2->vm1 client pod create->Succeeded"] = time.monotonic() - created
        client_log = vms.api.logs("net-client")
        assert client["status"]["phase"] == "Succeeded", client_log
        assert "reply: hello from net-server" in client_log
        client_ip = client["status"]["podIP"]
        assert ipaddress_in(client_ip, cidrs["vm2"]), (client_ip, cidrs)
        # No NAT on the way: the server saw the client's pod IP (its log line may trail the client's reply).
        seen = log_contains(vms, "net-server", f"connection from {client_ip}")
        vms.wait("the server's log line of the connection", seen, 30)
        vms.say(
            f"pod {client_ip} on vm2 -> pod {server_ip} on vm1 over TCP: client pod create->Succeeded "
            f"{vms.timings['vm2->vm1 client pod create->Succeeded']:.1f}s"
        )
    finally:
        delete_quietly(vms, "net-server", "net-client")
    for name in ("net-server", "net-client"):
        vms.wait(f"{name} to be deleted", gone(vms, name), POD_TIMEOUT_S)


def ipaddress_in(address: str, cidr: str) -> bool:
    return ipaddress.IPv4Address(address) in ipaddress.IPv4Network(cidr)
