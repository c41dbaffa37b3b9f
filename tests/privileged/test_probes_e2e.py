"""Probes through `up`: an HTTP readiness probe on a named port reaches the pod at its pod IP (from the node, as
the kubelet does), readiness flips `Ready` without any restart, a TCP liveness probe keeps passing, and the
probe history is served by the agent on demand (through the node proxy) and shown by `describe pod`."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.privileged.test_up_e2e import Cluster, _cli, run_up

pytestmark = [pytest.mark.root]

SERVER = """
import http.server, os, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        ok = self.path != "/ready" or os.path.exists("/state/ready")
        print("probe", self.path, "from", self.client_address[0], flush=True)
        self.send_response(200 if ok else 503); self.end_headers(); self.wfile.write(b"ok" if ok else b"not yet")
    def log_message(self, *args): pass
open("/state/ready", "w").close()
http.server.HTTPServer(("0.0.0.0", 8080), H).serve_forever()
"""


def _web() -> dict[str, Any]:
    return {
        "metadata": {"name": "web"},
        "spec": {
            "containers": [
                {
                    "name": "web",
                    "command": [sys.executable, "-S", "-c", SERVER],
                    "ports": [{"name": "http", "containerPort": 8080}],
                    "readinessProbe": {
                        "httpGet": {"path": "/ready", "port": "http"},
                        "periodSeconds": 1,
                        "failureThreshold": 1,
                    },
                    "livenessProbe": {"tcpSocket": {"port": 8080}, "periodSeconds": 1, "failureThreshold": 10},
                    "volumeMounts": [{"name": "state", "mountPath": "/state"}],
                }
            ],
            "volumes": [{"name": "state", "emptyDir": {}}],
        },
    }


async def _ready(c: Cluster) -> tuple[str, int]:
    pod = await c.get("/api/v1/namespaces/default/pods/web")
    ready = next((x["status"] for x in pod["status"].get("conditions", []) if x["type"] == "Ready"), "")
    restarts = sum(s.get("restartCount", 0) for s in pod["status"].get("containerStatuses", []))
    return ready, restarts


async def test_readiness_flips_without_restarts_and_probes_use_the_pod_ip(tmp_path: Path) -> None:
    async with run_up(tmp_path) as c:
        status, created = await c.post("/api/v1/namespaces/default/pods", _web())
        assert status == 201, created

        async def ready_is(value: str) -> bool:
            return (await _ready(c))[0] == value

        await c.wait("web Ready", lambda: ready_is("True"), timeout=30)
        pod = await c.get("/api/v1/namespaces/default/pods/web")
        pod_ip = pod["status"]["podIP"]
        gateway = pod_ip.rsplit(".", 1)[0] + ".1"

        async def probe_logged() -> bool:
            return f"probe /ready from {gateway}" in await c.get("/api/v1/namespaces/default/pods/web/log")

        # From the node through the pod network (the bridge's address), not the pod's own loopback.  The line
        # reaches the log through the shim's pump, which may trail the Ready it led to.
        await c.wait("the probe's line in the log", probe_logged, timeout=15)

        for flag, expected in (("rm", "False"), ("touch", "True"), ("rm", "False")):
            done = await asyncio.to_thread(_cli, c, "exec", "web", "--", flag, "/state/ready")
            assert done.returncode == 0, done
            await c.wait(f"Ready={expected} after {flag}", lambda e=expected: ready_is(e), timeout=15)  # type: ignore[misc]
        assert (await _ready(c))[1] == 0  # readiness never restarts anything

        node = pod["spec"]["nodeName"]

        async def history() -> dict[str, Any] | None:
            probes = await c.get(f"/api/v1/nodes/{node}/proxy/probes/default/web")  # served by the agent
            entries = probes.get("web", {}).get("readiness", {}).get("history", [])
            return probes if any(e["result"] == "Failure" and "503" in e["output"] for e in entries) else None

        probes = await c.wait("the readiness failures in the probe history", history, timeout=30)
        assert probes["web"]["liveness"]["state"] == "Success", probes["web"]["liveness"]
        done = await asyncio.to_thread(_cli, c, "exec", "web", "--", "touch", "/state/ready")
        assert done.returncode == 0, done
        await c.wait("Ready again", lambda: ready_is("True"), timeout=15)
        assert (await _ready(c))[1] == 0
        described = await asyncio.to_thread(_cli, c, "describe", "pod", "web")
        assert "Probe History:" in described.stdout and "web readiness:" in described.stdout, described.stdout
        events = (await c.get("/api/v1/namespaces/default/events", fieldSelector="reason=Unhealthy"))["items"]
        assert any(e["message"] == "Readiness probe failed: HTTP probe failed with statuscode: 503" for e in events)
    assert c.proc.returncode == 0
