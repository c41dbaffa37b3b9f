"""A Kubernetes manifest all the way to real processes: expansion, QoS placement, limits, oom_score_adj."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

import psutil
import pytest
import yaml

from minikube_py.api import codec, defaults, types
from minikube_py.node import kuberuntime
from minikube_py.node.runtime.runtime import Runtime
from tests.privileged.logtext import stream_text

pytestmark = [pytest.mark.root, pytest.mark.cgv2guest]

MANIFEST = """
apiVersion: v1
kind: Pod
metadata: {name: greeter}
spec:
  hostname: greeter-host
  containers:
  - name: app
    command: [sh, -c]
    args: ["echo $(MSG) from $(POD_NAME) on $HOSTNAME in $(pwd); cat /proc/self/oom_score_adj; sleep 300"]
    workingDir: /tmp
    env:
    - {name: GREETING, value: hello}
    - {name: MSG, value: "$(GREETING) world"}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    resources:
      requests: {cpu: 100m, memory: 256Mi}
      limits: {cpu: 300m, memory: 512Mi}
"""


async def test_manifest_runs_with_kubelet_semantics(runtime: Runtime, tmp_path: Path) -> None:
    pod = codec.decode(types.Pod, yaml.safe_load(MANIFEST))
    pod.metadata.uid = str(uuid.uuid4())
    defaults.default_pod(pod)
    capacity = psutil.virtual_memory().total
    sandbox = await runtime.run_pod_sandbox(kuberuntime.sandbox_config(pod))
    assert sandbox.cgroup == f"kubepods/burstable/pod{pod.metadata.uid}"
    cfg = kuberuntime.container_config(
        pod, pod.spec.containers[0], memory_capacity_bytes=capacity, log_path=str(tmp_path / "app.log")
    )
    c = await runtime.start_container(sandbox, cfg)
    deadline = time.monotonic() + 30  # a shell, echo and cat: slow under load and in the TCG guest
    while len(stream_text(tmp_path / "app.log").splitlines()) < 2:
        assert time.monotonic() < deadline, f"the app's two lines never came: {stream_text(tmp_path / 'app.log')!r}"
        await asyncio.sleep(0.05)
    first, adj = stream_text(tmp_path / "app.log").splitlines()[:2]
    assert first == "hello world from greeter on greeter-host in /tmp"
    expected_adj = max(3, min(999, 1000 - (1000 * (256 << 20)) // capacity))
    assert int(adj) == expected_adj  # raising oom_score_adj needs no privilege, so this is exact
    assert int(Path(f"/proc/{c.pid}/oom_score_adj").read_text()) == expected_adj
    # Pod-level cgroup: every container has limits, so the pod gets quota and memory limit too.
    pod_stats = runtime.driver.stats(sandbox.cgroup)
    assert pod_stats.memory_limit == 512 << 20
    assert runtime.container_stats(c).memory_limit == 512 << 20
    settings = runtime.driver.settings(c.cgroup)
    assert settings.get("cpu.cfs_quota_us", settings.get("cpu.max", "").split(" ")[0]) == "30000"
    await runtime.remove_pod_sandbox(sandbox, grace=0.2)
    assert not os.path.exists(f"/proc/{c.pid}")
