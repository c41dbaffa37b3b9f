"""A stand-in agent process for the restart test: hosts a Runtime, starts three pods, then idles.

Run as ``python -m tests.privileged.agent_host STATE_DIR NODE_DIR OUT_JSON``; the test kill -9s it.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import uuid

from minikube_py.node.cgroups.driver import CgroupResources, QOSTier
from minikube_py.node.cgroups.factory import CgroupConfig, new_driver
from minikube_py.node.runtime.model import ContainerConfig, PodSandboxConfig
from minikube_py.node.runtime.runtime import Runtime

ALLOC = "import time\nb = []\nfor _ in range(50):\n    b.append(bytearray(4 << 20))\n    time.sleep(0.02)\n"
PODS = {
    "long": ["sleep", "300"],
    "quitter": ["sh", "-c", "sleep 2; exit 3"],
    "hog": ["sh", "-c", f"sleep 2; exec {sys.executable} -S -c '{ALLOC}'"],
}


async def main(state_dir: str, node_dir: str, out: str) -> None:
    pause = shutil.which("catatonit")
    assert pause
    runtime = Runtime(new_driver(CgroupConfig(node_dir=node_dir)), state_dir=state_dir, pause_argv=(pause, "-P"))
    await runtime.start()
    started = {}
    for name, argv in PODS.items():
        sandbox = await runtime.run_pod_sandbox(
            PodSandboxConfig(
                uid=str(uuid.uuid4()), name=name, namespace="default", hostname=name, tier=QOSTier.BURSTABLE
            )
        )
        limit = 64 << 20 if name == "hog" else None
        container = await runtime.start_container(
            sandbox,
            ContainerConfig(
                name=name, argv=argv, env=[("PATH", "/usr/bin:/bin")], resources=CgroupResources(memory_limit=limit)
            ),
        )
        started[name] = {"uid": sandbox.config.uid, "pause": sandbox.pause_pid, "pid": container.pid}
    with open(out + ".tmp", "w") as f:
        json.dump(started, f)
    os.replace(out + ".tmp", out)
    await asyncio.sleep(3600)


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:4]))
