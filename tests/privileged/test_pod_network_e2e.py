"""Pod networking for real: three nodes in network namespaces on one cluster bridge; pods get IPs from their
node's pod CIDR and reach pods on other nodes over TCP; nothing is left when the cluster stops."""

from __future__ import annotations

import ipaddress
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.privileged.test_up_e2e import run_up

pytestmark = [pytest.mark.root]

SERVER = (
    "import socket\n"
    "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    "s.bind(('0.0.0.0', 8080)); s.listen(8)\n"
    "while True:\n"
    "    c, peer = s.accept()\n"
    "    c.sendall(f'hello {peer[0]} from {socket.gethostname()}'.encode()); c.close()\n"
)


def _client(target: str) -> list[str]:
    script = (
        "import socket, sys, time\n"
        "for _ in range(100):\n"
        "    try:\n"
        f"        c = socket.create_connection(({target!r}, 8080), timeout=2); break\n"
        "    except OSError as e:\n"
        "        err = e; time.sleep(0.1)\n"
        "else:\n"
        "    print('failed', err, flush=True); sys.exit(1)\n"
        "print(c.recv(200).decode(), flush=True)\n"
    )
    return [sys.executable, "-S", "-c", script]


def _pinned(name: str, node: str, command: list[str], restart: str = "Always") -> dict[str, Any]:
    return {
        "metadata": {"name": name},
        "spec": {"nodeName": node, "restartPolicy": restart, "containers": [{"name": "main", "command": command}]},
    }


def _addresses_in(namespaces: list[str]) -> list[str]:
    out = []
    for ns in namespaces:
        text = subprocess.run(["ip", "-n", ns, "-o", "-4", "addr"], capture_output=True, text=True).stdout
        out += [w.split("/")[0] for w in text.split() if w.count(".") == 3 and "/" in w]
    return out


def _links() -> set[str]:
    out = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


async def test_pods_get_ips_from_their_node_cidr_and_talk_across_nodes(tmp_path: Path) -> None:
    links_before = _links()
    async with run_up(tmp_path, "--nodes", "3", "--node-cpu", "1", "--node-memory", "1Gi", nodes=3) as c:
        nodes = {n["metadata"]["name"]: n for n in (await c.get("/api/v1/nodes"))["items"]}
        subnet = nodes["node-1"]["status"]["addresses"][0]["address"].rsplit(".", 1)[0]
        netns_names = [c.node_netns(f"node-{i}") for i in (1, 2, 3)]
        assert all(any(a.startswith(f"{subnet}.") for a in _addresses_in([n])) for n in netns_names), netns_names
        cluster_id = netns_names[0].split("-")[1]
        cidrs = {name: n["spec"]["podCIDR"] for name, n in nodes.items()}
        assert len(set(cidrs.values())) == 3 and all(x.startswith("10.244.") for x in cidrs.values()), cidrs
        pods = [
            _pinned("server", "node-3", [sys.executable, "-S", "-c", SERVER]),
            _pinned("neighbour", "node-3", [sys.executable, "-S", "-c", SERVER]),
        ]
        for body in pods:
            status, created = await c.post("/api/v1/namespaces/default/pods", body)
            assert status == 201, created

        async def ip_of(name: str) -> str | None:
            pod = await c.get(f"/api/v1/namespaces/default/pods/{name}")
            return pod["status"].get("podIP") if pod["status"].get("phase") == "Running" else None

        server_ip = await c.wait("server running with an IP", lambda: ip_of("server"), timeout=30)
        neighbour_ip = await c.wait("neighbour running with an IP", lambda: ip_of("neighbour"), timeout=30)
        for ip in (server_ip, neighbour_ip):
            assert ipaddress.ip_address(ip) in ipaddress.ip_network(cidrs["node-3"])
        server = await c.get("/api/v1/namespaces/default/pods/server")
        assert server["status"]["podIPs"] == [{"ip": server_ip}]
        assert server["status"]["hostIP"] == nodes["node-3"]["status"]["addresses"][0]["address"]

        # Across nodes (node-1 → node-3), and on the same node (node-3 → node-3).
        clients = [
            _pinned("far", "node-1", _client(server_ip), "Never"),
            _pinned("near", "node-3", _client(neighbour_ip), "Never"),
        ]
        for body in clients:
            status, created = await c.post("/api/v1/namespaces/default/pods", body)
            assert status == 201, created

        async def finished(name: str) -> dict[str, Any] | None:
            pod = await c.get(f"/api/v1/namespaces/default/pods/{name}")
            return pod if pod["status"].get("phase") in ("Succeeded", "Failed") else None

        for name, target in (("far", "server"), ("near", "neighbour")):
            pod = await c.wait(f"{name} to finish", lambda n=name: finished(n), timeout=60)  # type: ignore[misc]
            logs = await c.get(f"/api/v1/namespaces/default/pods/{name}/log")
            assert pod["status"]["phase"] == "Succeeded", logs
            client_ip = pod["status"]["podIP"]
            # No NAT: the server sees the client pod's own IP, and answers with its own hostname (the pod name).
            assert logs.strip() == f"hello {client_ip} from {target}", logs
        far = await c.get("/api/v1/namespaces/default/pods/far")
        assert ipaddress.ip_address(far["status"]["podIP"]) in ipaddress.ip_network(cidrs["node-1"])
    assert c.proc.returncode == 0
    # The bridge, the node namespaces, the pods' veths and the machine's end of the cluster network are gone.
    assert f"mkpy{cluster_id}h" not in _links(), _links() - links_before
    netns = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert f"mkpy-{cluster_id}-" not in netns, netns
    routes = subprocess.run(["ip", "route"], capture_output=True, text=True).stdout
    assert "10.244." not in routes and f"{subnet}." not in routes, routes
