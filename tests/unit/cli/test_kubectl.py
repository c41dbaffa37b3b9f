"""kubectl verbs end to end: the real API server (SQLite store) and a fake node agent on loopback."""

from __future__ import annotations

import contextlib
import io
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from minikube_py.cli import client as client_mod
from minikube_py.cli import output
from minikube_py.control import apiserver
from tests.unit.cli.conftest import Cluster, ages

MANIFEST = """\
apiVersion: v1
kind: Namespace
metadata:
  name: team
---
apiVersion: v1
kind: Pod
metadata:
  name: web
  namespace: team
  labels: {app: web, tier: front}
spec:
  containers:
  - name: app
    image: busybox
    command: [sleep, "3600"]
    resources:
      requests: {cpu: 250m, memory: 64Mi}
      limits: {cpu: 500m, memory: 128Mi}
---
apiVersion: v1
kind: ResourceQuota
metadata:
  name: compute
  namespace: team
spec:
  hard: {pods: "10", requests.cpu: "2", limits.memory: 4Gi}
"""


def _freeze(monkeypatch: pytest.MonkeyPatch, ahead: int = 5) -> float:
    """Fix the API server's clock at now and the CLI's ``ahead`` seconds later: objects made by the test are ``Ns``
    old however long it runs.  (The server runs in this process; everything it stamps goes through
    ``apiserver.now_rfc3339``.)"""
    stamp = int(time.time())  # whole seconds, as the server's timestamps
    monkeypatch.setattr(apiserver, "now_rfc3339", lambda: _rfc3339(stamp))
    frozen = float(stamp + ahead)
    monkeypatch.setattr(output, "now", lambda: frozen)
    return frozen


def _rfc3339(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


# ---- apply / create ------------------------------------------------------------------------------------


def test_apply_creates_then_reports_unchanged_then_configured(cluster: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(MANIFEST)

    assert cluster.run("apply", "-f", str(path)) == (
        0,
        "namespace/team created\npod/web created\nresourcequota/compute created\n",
        "",
    )
    assert cluster.run("apply", "-f", str(path)) == (
        0,
        "namespace/team unchanged\npod/web unchanged\nresourcequota/compute unchanged\n",
        "",
    )

    changed = MANIFEST.replace("tier: front", "release: v2").replace('pods: "10"', 'pods: "20"')
    path.write_text(changed)
    assert cluster.run("apply", "-f", str(path)) == (
        0,
        "namespace/team unchanged\npod/web configured\nresourcequota/compute configured\n",
        "",
    )
    pod = cluster.client.get("/api/v1/namespaces/team/pods/web")
    # the label dropped from the manifest is removed, the new one added, server-side fields kept
    assert pod["metadata"]["labels"] == {"app": "web", "release": "v2"}
    assert pod["spec"]["priority"] == 0
    assert len(pod["spec"]["tolerations"]) == 2
    applied = json.loads(pod["metadata"]["annotations"][output.LAST_APPLIED])
    assert applied["metadata"]["labels"] == {"app": "web", "release": "v2"}
    quota = cluster.client.get("/api/v1/namespaces/team/resourcequotas/compute")
    assert quota["spec"]["hard"]["pods"] == "20"
    assert cluster.run("apply", "-f", str(path))[1].count("unchanged") == 3


def test_apply_from_stdin_and_directory(cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(MANIFEST.split("---\n")[0]))
    assert cluster.run("apply", "-f", "-") == (0, "namespace/team created\n", "")
    nested = tmp_path / "manifests" / "more"
    nested.mkdir(parents=True)
    (tmp_path / "manifests" / "a.yaml").write_text(MANIFEST.split("---\n")[1])
    (nested / "b.json").write_text(json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "other"}}))
    assert cluster.run("apply", "-f", str(tmp_path / "manifests")) == (0, "pod/web created\n", "")
    assert cluster.run("apply", "-R", "-f", str(tmp_path / "manifests")) == (
        0,
        "pod/web unchanged\nnamespace/other created\n",
        "",
    )


def test_apply_namespace_flag_conflict_and_invalid_object(cluster: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "pod.yaml"
    path.write_text(MANIFEST.split("---\n")[1])
    code, out, err = cluster.run("apply", "-f", str(path), "-n", "default")
    assert (code, out) == (1, "")
    assert err == (
        'error: the namespace from the provided object "team" does not match the namespace "default". '
        "You must pass '--namespace=team' to perform this operation.\n"
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: Pod\nmetadata: {name: bad}\nspec:\n  containers: [{name: app, image: x}]\n")
    code, out, err = cluster.run("apply", "-f", str(bad))
    assert code == 1
    assert err.startswith('The Pod "bad" is invalid: spec.containers[0].command: Required value')


def test_apply_quota_rejection_names_the_file(cluster: Cluster, tmp_path: Path) -> None:
    path = tmp_path / "app.yaml"
    path.write_text(MANIFEST.replace("limits.memory: 4Gi", "limits.memory: 64Mi"))
    code, out, err = cluster.run("apply", "-f", str(path))
    # the quota is created after the pod, so a second pod is needed to hit it
    assert code == 0
    second = tmp_path / "second.yaml"
    second.write_text(MANIFEST.split("---\n")[1].replace("name: web", "name: web2"))
    code, out, err = cluster.run("apply", "-f", str(second))
    assert (code, out) == (1, "")
    assert err.startswith(f'Error from server (Forbidden): error when creating "{second}": pods "web2" is forbidden: ')
    assert "exceeded quota: compute" in err


def test_create_namespace_and_already_exists(cluster: Cluster) -> None:
    assert cluster.run("create", "namespace", "team") == (0, "namespace/team created\n", "")
    assert cluster.run("create", "ns", "team") == (
        1,
        "",
        'Error from server (AlreadyExists): namespaces "team" already exists\n',
    )


# ---- get -----------------------------------------------------------------------------------------------


def _cs(name: str, *, ready: bool = False, restarts: int = 0, **state: Any) -> dict[str, Any]:
    status: dict[str, Any] = {"name": name, "ready": ready, "restartCount": restarts, "image": "busybox", "imageID": ""}
    status["state"] = state.pop("state", {})
    if "last" in state:
        status["lastState"] = state.pop("last")
    return status


def test_get_pods_computes_status_like_kubectl(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster.create_node("node-a")
    frozen = _freeze(monkeypatch)
    crash_finished = _rfc3339(frozen - 65)
    cases: dict[str, dict[str, Any]] = {
        "a-running": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [_cs("app", ready=True, state={"running": {"startedAt": _rfc3339(frozen - 30)}})],
        },
        "b-oom": {
            "phase": "Running",
            "containerStatuses": [
                _cs("app", restarts=1, state={"terminated": {"exitCode": 137, "reason": "OOMKilled"}})
            ],
        },
        "c-crash": {
            "phase": "Running",
            "containerStatuses": [
                _cs(
                    "app",
                    restarts=4,
                    state={"waiting": {"reason": "CrashLoopBackOff"}},
                    last={"terminated": {"exitCode": 1, "reason": "Error", "finishedAt": crash_finished}},
                )
            ],
        },
        "d-creating": {
            "phase": "Pending",
            "containerStatuses": [_cs("app", state={"waiting": {"reason": "ContainerCreating"}})],
        },
        "e-evicted": {"phase": "Failed", "reason": "Evicted", "message": "The node was low on resource: memory."},
        "f-completed": {
            "phase": "Succeeded",
            "containerStatuses": [_cs("app", state={"terminated": {"exitCode": 0, "reason": "Completed"}})],
        },
        "g-exitcode": {"phase": "Running", "containerStatuses": [_cs("app", state={"terminated": {"exitCode": 3}})]},
        "h-starterror": {
            "phase": "Running",
            "containerStatuses": [_cs("app", state={"terminated": {"exitCode": 128, "reason": "StartError"}})],
        },
    }
    for name, status in cases.items():
        cluster.create_pod(name, nodeName="node-a")
        cluster.set_status(name, status)
    init = {"name": "setup", "image": "busybox", "command": ["true"]}
    cluster.create_pod("i-init", initContainers=[init], nodeName="node-a")
    cluster.set_status(
        "i-init",
        {"phase": "Pending", "initContainerStatuses": [_cs("setup", state={"running": {}})], "containerStatuses": []},
    )
    cluster.create_pod("j-initerror", initContainers=[init], nodeName="node-a")
    cluster.set_status(
        "j-initerror",
        {
            "phase": "Pending",
            "initContainerStatuses": [_cs("setup", state={"terminated": {"exitCode": 1, "reason": "Error"}})],
        },
    )
    cluster.create_pod("k-terminating", nodeName="node-a")
    cluster.set_status("k-terminating", cases["a-running"])
    assert cluster.client.delete("/api/v1/namespaces/default/pods/k-terminating")["metadata"]["deletionTimestamp"]

    code, out, err = cluster.run("get", "pods")
    assert (code, err) == (0, "")
    assert ages(out) == (
        "NAME            READY   STATUS              RESTARTS      AGE\n"
        "a-running       1/1     Running             0             Ns\n"
        "b-oom           0/1     OOMKilled           1             Ns\n"
        "c-crash         0/1     CrashLoopBackOff    4 (65s ago)   Ns\n"
        "d-creating      0/1     ContainerCreating   0             Ns\n"
        "e-evicted       0/1     Evicted             0             Ns\n"
        "f-completed     0/1     Completed           0             Ns\n"
        "g-exitcode      0/1     ExitCode:3          0             Ns\n"
        "h-starterror    0/1     StartError          0             Ns\n"
        "i-init          0/1     Init:0/1            0             Ns\n"
        "j-initerror     0/1     Init:Error          0             Ns\n"
        "k-terminating   1/1     Terminating         0             Ns\n"
    )


def test_get_pods_wide_name_json_yaml_selectors(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    _freeze(monkeypatch)
    cluster.create_node("node-a")
    cluster.run("create", "namespace", "team")
    cluster.create_pod("web", labels={"app": "web"}, nodeName="node-a")
    cluster.set_status("web", {"phase": "Running", "podIP": "10.0.0.7", "podIPs": [{"ip": "10.0.0.7"}]})
    cluster.create_pod("db", labels={"app": "db"})
    cluster.create_pod("job", "team", labels={"app": "web"})

    assert ages(cluster.run("get", "po", "-o", "wide")[1]) == (
        "NAME   READY   STATUS    RESTARTS   AGE   IP         NODE     NOMINATED NODE   READINESS GATES\n"
        "db     0/1     Pending   0          Ns    <none>     <none>   <none>           <none>\n"
        "web    0/1     Running   0          Ns    10.0.0.7   node-a   <none>           <none>\n"
    )
    assert cluster.run("get", "pods", "-o", "name") == (0, "pod/db\npod/web\n", "")
    assert cluster.run("get", "pods", "-l", "app=web", "-o", "name") == (0, "pod/web\n", "")
    assert cluster.run("get", "pods", "--field-selector", "spec.nodeName=node-a", "-o", "name")[1] == "pod/web\n"
    assert ages(cluster.run("get", "pods", "-A", "-l", "app=web")[1]) == (
        "NAMESPACE   NAME   READY   STATUS    RESTARTS   AGE\n"
        "default     web    0/1     Running   0          Ns\n"
        "team        job    0/1     Pending   0          Ns\n"
    )
    assert ages(cluster.run("get", "pods", "-n", "team", "--show-labels")[1]) == (
        "NAME   READY   STATUS    RESTARTS   AGE   LABELS\njob    0/1     Pending   0          Ns    app=web\n"
    )

    one = json.loads(cluster.run("get", "pod", "web", "-o", "json")[1])
    assert (one["kind"], one["metadata"]["name"], one["status"]["podIP"]) == ("Pod", "web", "10.0.0.7")
    listing = json.loads(cluster.run("get", "pods", "-o", "json")[1])
    assert listing["kind"] == "List" and [p["metadata"]["name"] for p in listing["items"]] == ["db", "web"]
    assert listing["metadata"] == {"resourceVersion": ""}
    as_yaml = yaml.safe_load(cluster.run("get", "pods", "web", "db", "-o", "yaml")[1])
    assert as_yaml["kind"] == "List" and [p["metadata"]["name"] for p in as_yaml["items"]] == ["web", "db"]
    single_yaml = cluster.run("get", "pods", "web", "-o", "yaml")[1]
    assert single_yaml.startswith("apiVersion: v1\nkind: Pod\nmetadata:\n")

    assert cluster.run("get", "pods", "-l", "app=nothing") == (0, "", "No resources found in default namespace.\n")
    assert cluster.run("get", "pods", "-A", "-l", "app=nothing") == (0, "", "No resources found\n")


def test_get_nodes_namespaces_quotas_events(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    _freeze(monkeypatch)
    cluster.create_node("node-a", labels={"node-role.kubernetes.io/control-plane": ""})
    cluster.create_node("node-b", ready=False, spec={"unschedulable": True})
    cluster.client.post("/api/v1/nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "node-c"}})
    assert ages(cluster.run("get", "nodes")[1]) == (
        "NAME     STATUS                        ROLES           AGE   VERSION\n"
        "node-a   Ready                         control-plane   Ns    v1.30.0-minikube-py\n"
        "node-b   NotReady,SchedulingDisabled   <none>          Ns    v1.30.0-minikube-py\n"
        "node-c   Unknown                       <none>          Ns    \n"
    )
    assert ages(cluster.run("get", "no", "node-a", "-o", "wide")[1]) == (
        "NAME     STATUS   ROLES           AGE   VERSION               INTERNAL-IP   EXTERNAL-IP   OS-IMAGE     "
        "KERNEL-VERSION   CONTAINER-RUNTIME\n"
        "node-a   Ready    control-plane   Ns    v1.30.0-minikube-py   127.0.0.1     <none>        Test Linux   "
        "6.1.0            <unknown>\n"
    )

    cluster.run("create", "namespace", "team")
    assert ages(cluster.run("get", "ns")[1]) == (
        "NAME              STATUS   AGE\n"
        "default           Active   Ns\n"
        "kube-node-lease   Active   Ns\n"
        "kube-public       Active   Ns\n"
        "kube-system       Active   Ns\n"
        "team              Active   Ns\n"
    )

    quota = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": "compute"},
        "spec": {"hard": {"pods": "10", "requests.cpu": "2", "limits.memory": "4Gi"}},
    }
    cluster.client.post("/api/v1/namespaces/team/resourcequotas", quota)
    resources = {"requests": {"cpu": "500m"}, "limits": {"memory": "256Mi"}}
    cluster.create_pod(
        "web", "team", containers=[{"name": "app", "image": "x", "command": ["sleep", "1"], "resources": resources}]
    )
    assert ages(cluster.run("get", "quota", "-n", "team")[1]) == (
        "NAME      AGE   REQUEST                            LIMIT\n"
        "compute   Ns    pods: 1/10, requests.cpu: 500m/2   limits.memory: 256Mi/4Gi\n"
    )

    pod = cluster.client.get("/api/v1/namespaces/team/pods/web")
    cluster.create_event(pod, "Scheduled", "Successfully assigned team/web to node-a", component="default-scheduler")
    cluster.create_event(pod, "BackOff", "Back-off restarting failed container app", "Warning", count=5)
    assert ages(cluster.run("get", "events", "-n", "team")[1]) == (
        "LAST SEEN   TYPE      REASON      OBJECT    MESSAGE\n"
        "Ns          Warning   BackOff     pod/web   Back-off restarting failed container app\n"
        "Ns          Normal    Scheduled   pod/web   Successfully assigned team/web to node-a\n"
    )
    assert ages(cluster.run("get", "ev", "-A", "--field-selector", "reason=BackOff")[1]) == (
        "NAMESPACE   LAST SEEN   TYPE      REASON    OBJECT    MESSAGE\n"
        "team        Ns          Warning   BackOff   pod/web   Back-off restarting failed container app\n"
    )


class _Worker(threading.Thread):
    """A thread whose failure fails the test: ``join()`` re-raises what ``target`` raised."""

    def __init__(self, target: Callable[[], None]) -> None:
        super().__init__(name="test-worker", daemon=True)
        self._work = target
        self._error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            self._work()
        except BaseException as err:  # handed to the test thread by join()
            self._error = err

    def join(self, timeout: float | None = 30) -> None:
        super().join(timeout)
        assert not self.is_alive(), "the worker thread did not finish"
        if self._error is not None:
            raise self._error


def test_get_watch_prints_rows_as_events_arrive(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    _freeze(monkeypatch)
    cluster.create_pod("web")

    def later() -> None:
        cluster.wait_for_watchers()  # the CLI has listed and its watch is live
        cluster.create_pod("api-server-of-the-team")
        cluster.set_status("web", {"phase": "Running"})

    worker = _Worker(later)
    code, out, err = cluster.run(
        "get", "pods", "-w", "--watch-max-events", "2", "--watch-timeout", "30", "--output-watch-events"
    )
    worker.join()
    assert (code, err) == (0, "")
    # widths are remembered (tabwriter.RememberWidths): later rows keep earlier columns and only widen them
    assert ages(out) == (
        "EVENT   NAME   READY   STATUS    RESTARTS   AGE\n"
        "ADDED   web    0/1     Pending   0          Ns\n"
        "ADDED   api-server-of-the-team   0/1     Pending   0          Ns\n"
        "MODIFIED   web                      0/1     Running   0          Ns\n"
    )


def test_get_watch_single_name_json(cluster: Cluster) -> None:
    cluster.create_pod("web")
    cluster.create_pod("other")

    def later() -> None:
        cluster.wait_for_watchers()  # the CLI has listed and its watch is live
        cluster.set_status("other", {"phase": "Running"})
        cluster.set_status("web", {"phase": "Succeeded"})

    worker = _Worker(later)
    code, out, err = cluster.run(
        "get", "pod", "web", "-w", "--watch-only", "--watch-max-events", "1", "--watch-timeout", "30", "-o", "json"
    )
    worker.join()
    assert (code, err) == (0, "")
    event = json.loads(out)
    assert (event["metadata"]["name"], event["status"]["phase"]) == ("web", "Succeeded")


# ---- describe ------------------------------------------------------------------------------------------

OOM_RECORDS = [
    {
        "container": "app",
        "kill_number": 1,
        "detected_at": 1_700_000_000,
        "limit_bytes": 64 * 1024 * 1024,
        "peak_bytes": 64 * 1024 * 1024 - 4096,
        "victim_pid": 4242,
        "victim_command": "python3 -c leak()",
        "main_process_killed": True,
        "memory_curve": [[-3.5 + 0.5 * i, (i + 1) * 8 * 1024 * 1024] for i in range(8)],
    }
]
SANDBOX = {
    "namespaces": {"pid": 4026532301, "net": 4026532305, "ipc": 4026532302},
    "cgroup": "/sys/fs/cgroup/kubepods/burstable/pod1234",
    "cgroups": {"app": {"cpu.max": "50000 100000", "memory.max": "67108864", "cpu.weight": "10"}},
}


def _trace(pod: str) -> dict[str, Any]:
    filters = ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodeResourcesFit"]
    return {
        "pod": pod,
        "uid": "u",
        "time": apiserver_now(),
        "result": "Scheduled",
        "node": "node-a",
        "message": "",
        "trace": {
            "pod": pod,
            "profile": "default-scheduler",
            "numAllNodes": 2,
            "evaluatedNodes": 2,
            "feasibleNodes": 1,
            "filterPlugins": filters,
            "scorePlugins": [{"plugin": "NodeResourcesFit", "weight": 1}, {"plugin": "TaintToleration", "weight": 3}],
            "nodes": [
                {
                    "name": "node-a",
                    "feasible": True,
                    "filters": [{"plugin": p, "code": "Success"} for p in filters],
                    "scores": [
                        {"plugin": "NodeResourcesFit", "raw": 81, "normalized": 81, "weight": 1, "weighted": 81},
                        {"plugin": "TaintToleration", "raw": 0, "normalized": 100, "weight": 3, "weighted": 300},
                    ],
                    "total": 381,
                },
                {
                    "name": "node-b",
                    "feasible": False,
                    "filters": [
                        {"plugin": "NodeUnschedulable", "code": "Success"},
                        {"plugin": "NodeName", "code": "Success"},
                        {
                            "plugin": "TaintToleration",
                            "code": "UnschedulableAndUnresolvable",
                            "reasons": ["node(s) had untolerated taint {gpu: true}"],
                        },
                    ],
                },
            ],
            "selected": "node-a",
            "tiedNodes": 1,
        },
    }


def apiserver_now() -> str:
    return apiserver.now_rfc3339()  # the server's clock: frozen along with the CLI's by _freeze


def test_describe_pod_with_events_scheduling_oom_and_sandbox(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    frozen = _freeze(monkeypatch)
    cluster.create_node("node-a")
    containers = [
        {
            "name": "app",
            "image": "python:3.12",
            "command": ["python3", "-c", "leak()"],
            "env": [{"name": "MODE", "value": "leak"}],
            "resources": {"limits": {"memory": "64Mi", "cpu": "500m"}, "requests": {"memory": "64Mi", "cpu": "250m"}},
        }
    ]
    annotations = {
        output.OOM_RECORDS_ANNOTATION: json.dumps(OOM_RECORDS),
        output.SANDBOX_ANNOTATION: json.dumps(SANDBOX),
        "team": "payments",
    }
    pod = cluster.create_pod(
        "web", labels={"app": "web"}, annotations=annotations, containers=containers, nodeName="node-a"
    )
    started = _rfc3339(frozen - 20)
    cluster.set_status(
        "web",
        {
            "phase": "Running",
            "hostIP": "127.0.0.1",
            "podIP": "10.0.0.7",
            "podIPs": [{"ip": "10.0.0.7"}],
            "startTime": started,
            "conditions": [{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}],
            "containerStatuses": [
                _cs(
                    "app",
                    restarts=1,
                    state={"waiting": {"reason": "CrashLoopBackOff"}},
                    last={
                        "terminated": {
                            "exitCode": 137,
                            "reason": "OOMKilled",
                            "startedAt": started,
                            "finishedAt": _rfc3339(frozen - 10),
                        }
                    },
                )
            ],
        },
    )
    cluster.create_event(
        pod,
        "Scheduled",
        "Successfully assigned default/web to node-a",
        component="default-scheduler",
        firstTimestamp=_rfc3339(frozen - 65),
        lastTimestamp=_rfc3339(frozen - 65),
    )
    cluster.create_event(
        pod,
        "BackOff",
        "Back-off restarting failed container app",
        "Warning",
        count=3,
        firstTimestamp=_rfc3339(frozen - 40),
        lastTimestamp=_rfc3339(frozen - 12),
    )
    cluster.traces["default/web"] = _trace("default/web")

    code, out, err = cluster.run("describe", "pod", "web")
    assert (code, err) == (0, "")
    text = ages(out)
    assert text.startswith(
        "Name:         web\n"
        "Namespace:    default\n"
        "Priority:     0\n"
        "Node:         node-a/127.0.0.1\n"
        f"Start Time:   {output.rfc1123z(started)}\n"
        "Labels:       app=web\n"
        "Annotations:  team: payments\n"
        "Status:       Running\n"
        "IP:           10.0.0.7\n"
        "IPs:\n"
        "  IP:  10.0.0.7\n"
        "Containers:\n"
    )
    assert (
        "    Command:\n      python3\n      -c\n      leak()\n"
        "    State:          Waiting\n"
        "      Reason:       CrashLoopBackOff\n"
        "    Last State:     Terminated\n"
        "      Reason:       OOMKilled\n"
        "      Exit Code:    137\n"
        f"      Started:      {output.rfc1123z(started)}\n"
        f"      Finished:     {output.rfc1123z(frozen - 10)}\n"
        "    Ready:          False\n"
        "    Restart Count:  1\n"
        "    Limits:\n      cpu:     500m\n      memory:  64Mi\n"
        "    Requests:\n      cpu:     250m\n      memory:  64Mi\n"
        "    Environment:\n      MODE:  leak\n"
        "    Mounts:  <none>\n"
    ) in text
    assert (
        "Conditions:\n  Type           Status\n  Ready          False \n  PodScheduled   True \n"
        "Volumes:         <none>\nQoS Class:       Burstable\nNode-Selectors:  <none>\n"
        "Tolerations:     node.kubernetes.io/not-ready:NoExecute op=Exists for 300s\n"
        "                 node.kubernetes.io/unreachable:NoExecute op=Exists for 300s\n"
        "Scheduling:\n"
    ) in text

    assert (
        "Scheduling:\n"
        "  Result:   Scheduled (Ns ago)\n"
        "  Node:     node-a\n"
        "  Profile:  default-scheduler\n"
        "  Nodes:    2 evaluated of 2, 1 feasible\n"
        "  Node               Filters                                                                 Score  "
        "Score Details\n"
        "  ----               -------                                                                 -----  "
        "-------------\n"
        "  node-a (selected)  passed 5/5                                                              381    "
        "NodeResourcesFit 81x1, TaintToleration 100x3\n"
        "  node-b             rejected by TaintToleration: node(s) had untolerated taint {gpu: true}  -      -\n"
    ) in text

    assert (
        "OOM kills:\n"
        "  Kill #1 of container app:\n"
        f"    Detected:             {output.rfc1123z(1_700_000_000)}\n"
        "    Limit:                64Mi (67108864 bytes)\n"
        "    Peak:                 64Mi (67104768 bytes)\n"
        "    Victim:               pid 4242 (python3 -c leak())\n"
        "    Main Process Killed:  yes (the container exited)\n"
        "    Memory (working set), 8 samples:\n"
    ) in text
    chart = [
        "      limit 64Mi ┤┄┄┄┄┄┄┄█",
        "                 ┤      ██",
        "                 ┤     ███",
        "                 ┤    ████",
        "                 ┤   █████",
        "                 ┤  ██████",
        "                 ┤ ███████",
        "                 ┤████████",
        "               0 └────────",
        "                  -3.5s 0s (kill)",
    ]
    assert "\n".join(chart) + "\n" in out

    assert (
        "Sandbox:\n"
        "  Namespaces:\n"
        "    ipc:   4026532302\n"
        "    net:   4026532305\n"
        "    pid:   4026532301\n"
        "  Cgroup:  /sys/fs/cgroup/kubepods/burstable/pod1234\n"
        "  Cgroup Values:\n"
        "    app:\n"
        "      cpu.max:     50000 100000\n"
        "      cpu.weight:  10\n"
        "      memory.max:  67108864\n"
    ) in text
    assert text.endswith(
        "Events:\n"
        "  Type     Reason     Age                From               Message\n"
        "  ----     ------     ----               ----               -------\n"
        "  Normal   Scheduled  65s                default-scheduler  Successfully assigned default/web to node-a\n"
        "  Warning  BackOff    12s (x3 over 40s)  kubelet            Back-off restarting failed container app\n"
    )


def test_describe_pod_without_trace_or_events(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    _freeze(monkeypatch)
    cluster.create_pod("lonely")
    code, out, err = cluster.run("describe", "po", "lonely")
    assert (code, err) == (0, "")
    assert "Scheduling:" not in out and "OOM kills:" not in out and "Sandbox:" not in out
    assert "Node:         <none>\n" in out
    assert out.endswith("Events:           <none>\n")
    assert cluster.run("describe", "pod", "ghost") == (1, "", 'Error from server (NotFound): pods "ghost" not found\n')


def test_describe_node_lists_pods_and_allocated_resources(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    _freeze(monkeypatch)
    taint = {"key": "gpu", "value": "true", "effect": "NoSchedule"}
    cluster.create_node("node-a", labels={"node-role.kubernetes.io/worker": ""}, spec={"taints": [taint]})
    big = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"cpu": "2", "memory": "2Gi"}}
    small = {"requests": {"cpu": "250m", "memory": "256Mi"}}
    for name, resources in (("big", big), ("small", small)):
        cluster.create_pod(
            name,
            nodeName="node-a",
            tolerations=[{"key": "gpu", "operator": "Exists"}],
            containers=[{"name": "app", "image": "x", "command": ["sleep", "1"], "resources": resources}],
        )
    cluster.create_pod("elsewhere")
    code, out, err = cluster.run("describe", "node", "node-a")
    assert (code, err) == (0, "")
    text = ages(out)
    assert text.startswith("Name:               node-a\nRoles:              worker\nLabels:             node-role")
    assert "Taints:             gpu=true:NoSchedule\nUnschedulable:      false\n" in text
    assert "  InternalIP:  127.0.0.1\n  Hostname:    node-a\n" in text
    assert (
        "Non-terminated Pods:          (2 in total)\n"
        "  Namespace                   Name     CPU Requests  CPU Limits  Memory Requests  Memory Limits  Age\n"
        "  ---------                   ----     ------------  ----------  ---------------  -------------  ---\n"
        "  default                     big      1 (25%)       2 (50%)     1Gi (12%)        2Gi (25%)      Ns\n"
        "  default                     small    250m (6%)     0 (0%)      256Mi (3%)       0 (0%)         Ns\n"
        "Allocated resources:\n"
        "  (Total limits may be over 100 percent, i.e., overcommitted.)\n"
        "  Resource           Requests      Limits\n"
        "  --------           --------      ------\n"
        "  cpu                1250m (31%)   2 (50%)\n"
        "  memory             1280Mi (15%)  2Gi (25%)\n"
        "  ephemeral-storage  0 (0%)        0 (0%)\n"
        "Events:              <none>\n"
    ) in text


# ---- delete --------------------------------------------------------------------------------------------


def test_delete_unbound_pod_and_namespace(cluster: Cluster) -> None:
    cluster.create_pod("web")
    assert cluster.run("delete", "pod", "web") == (0, 'pod "web" deleted\n', "")
    assert cluster.run("get", "pods") == (0, "", "No resources found in default namespace.\n")
    cluster.run("create", "namespace", "team")
    cluster.create_pod("job", "team")
    assert cluster.run("delete", "ns", "team") == (0, 'namespace "team" deleted\n', "")
    assert cluster.run("get", "pods", "-A", "-o", "name") == (0, "", "No resources found\n")
    assert cluster.run("delete", "pod", "ghost", "other") == (
        1,
        "",
        'Error from server (NotFound): pods "ghost" not found\nError from server (NotFound): pods "other" not found\n',
    )


def test_delete_waits_until_the_agent_removes_the_pod(cluster: Cluster) -> None:
    cluster.create_node("node-a")
    cluster.create_pod("web", nodeName="node-a")
    gone_at: list[float] = []

    def agent() -> None:  # what the node agent does after stopping the containers
        path = "/api/v1/namespaces/default/pods/web"
        while not cluster.client.get(path)["metadata"].get("deletionTimestamp"):
            time.sleep(0.05)
        time.sleep(0.5)
        gone_at.append(time.monotonic())
        cluster.client.delete(path, {"gracePeriodSeconds": "0"})

    worker = threading.Thread(target=agent)
    worker.start()
    code, out, err = cluster.run("delete", "pod", "web", "--grace-period", "5")
    returned = time.monotonic()
    worker.join()
    assert (code, out, err) == (0, 'pod "web" deleted\n', "")
    assert gone_at and returned >= gone_at[0]


def test_delete_no_wait_leaves_terminating_pod_and_force(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    _freeze(monkeypatch)
    cluster.create_node("node-a")
    cluster.create_pod("web", nodeName="node-a")
    assert cluster.run("delete", "pod", "web", "--no-wait") == (0, 'pod "web" deleted\n', "")
    assert "Terminating" in cluster.run("get", "pod", "web")[1]
    assert cluster.run("delete", "pod", "web", "--wait", "--timeout", "0.3") == (
        1,
        'pod "web" deleted\n',
        "error: timed out waiting for the condition on pods/web\n",
    )
    code, out, err = cluster.run("delete", "pod", "web", "--grace-period", "0", "--force")
    assert (code, out) == (0, 'pod "web" force deleted\n')
    assert err.startswith("Warning: Immediate deletion does not wait for confirmation")
    cluster.create_pod("a", labels={"app": "x"})
    cluster.create_pod("b", labels={"app": "x"})
    assert cluster.run("delete", "pods", "-l", "app=x") == (0, 'pod "a" deleted\npod "b" deleted\n', "")


# ---- errors --------------------------------------------------------------------------------------------


@contextlib.contextmanager
def _closed_port() -> Iterator[int]:
    """A loopback port that refuses connections while the block runs: bound, so no other process can take it,
    but not listening."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield int(s.getsockname()[1])


def test_errors_and_exit_codes(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cluster.run("get", "pods", "nope") == (1, "", 'Error from server (NotFound): pods "nope" not found\n')
    assert cluster.run("get", "widgets") == (1, "", 'error: the server doesn\'t have a resource type "widgets"\n')
    assert cluster.run("get", "pods", "x", "-A") == (
        2,
        "",
        "error: a resource cannot be retrieved by name across all namespaces\n",
    )
    assert cluster.run("get", "pods", "-l", "a in (b") == (
        1,
        "",
        "Error from server (BadRequest): unable to parse requirement: 'a in (b'\n",
    )
    assert cluster.run("get", "pods", "-n", "ghost") == (0, "", "No resources found in ghost namespace.\n")

    from minikube_py.cli import main as cli

    with _closed_port() as port:
        out, err = io.StringIO(), io.StringIO()
        assert cli.main(["get", "pods", "--server", f"http://127.0.0.1:{port}"], out=out, err=err) == 1
        assert err.getvalue() == (
            f"error: cannot reach the API server at http://127.0.0.1:{port} (connection refused); "
            "is `minikube-py up` running?\n"
        )
        monkeypatch.setenv(client_mod.SERVER_ENV, f"http://127.0.0.1:{port}")
        out, err = io.StringIO(), io.StringIO()
        assert cli.main(["delete", "pod", "x"], out=out, err=err) == 1
        assert f"http://127.0.0.1:{port} (connection refused)" in err.getvalue()


def test_check_response_turns_status_into_cli_error() -> None:
    body = json.dumps({"kind": "Status", "message": 'pods "x" not found', "reason": "NotFound", "code": 404})
    with pytest.raises(client_mod.CliError) as caught:
        client_mod.check_response(404, body.encode())
    assert (caught.value.message, caught.value.code, caught.value.reason) == ('pods "x" not found', 404, "NotFound")
    assert caught.value.render() == 'Error from server (NotFound): pods "x" not found'
    with pytest.raises(client_mod.CliError) as plain:
        client_mod.check_response(502, b"bad gateway")
    assert plain.value.render() == "Error from server (ServiceUnavailable): bad gateway"
    invalid = {
        "kind": "Status",
        "reason": "Invalid",
        "code": 422,
        "message": "...",
        "details": {
            "kind": "Pod",
            "name": "p",
            "causes": [{"field": "spec.a", "message": "Required value"}, {"field": "spec.b", "message": "Invalid"}],
        },
    }
    with pytest.raises(client_mod.CliError) as caught_invalid:
        client_mod.check_response(422, json.dumps(invalid).encode())
    assert caught_invalid.value.render() == 'The Pod "p" is invalid: \n* spec.a: Required value\n* spec.b: Invalid'
    client_mod.check_response(200, b"{}")


# ---- logs / exec / top ---------------------------------------------------------------------------------


def _agent_queries(cluster: Cluster, prefix: str) -> list[dict[str, list[str]]]:
    found = []
    for _method, path, query in cluster.agent.requests:
        if path.startswith(prefix):
            merged: dict[str, list[str]] = {}
            for key, value in query:
                merged.setdefault(key, []).append(value)
            found.append(merged)
    return found


def test_logs_through_the_api_server(cluster: Cluster) -> None:
    cluster.create_node("node-a")
    cluster.create_pod("web", nodeName="node-a")
    cluster.agent.logs["default/web/app"] = ["starting", "listening on :8080", "GET / 200"]
    assert cluster.run("logs", "web") == (0, "starting\nlistening on :8080\nGET / 200\n", "")
    assert cluster.run("logs", "pod/web", "--tail", "1", "-f") == (0, "GET / 200\n", "")
    assert cluster.run("logs", "web", "--timestamps", "--tail=2")[1] == (
        "2024-01-01T00:00:00.000000000Z listening on :8080\n2024-01-01T00:00:01.000000000Z GET / 200\n"
    )
    assert cluster.run("logs", "web", "-p", "--since", "2m")[0] == 0
    assert _agent_queries(cluster, "/containerLogs/default/web/app") == [
        {},
        {"follow": ["true"], "tailLines": ["1"]},
        {"tailLines": ["2"], "timestamps": ["true"]},
        {"previous": ["true"], "sinceSeconds": ["120"]},
    ]
    assert cluster.run("logs", "ghost") == (1, "", 'Error from server (NotFound): pods "ghost" not found\n')


def test_logs_defaults_to_the_first_container_and_reports_agent_errors(cluster: Cluster) -> None:
    cluster.create_node("node-a")
    two = [
        {"name": "app", "image": "x", "command": ["sleep", "1"]},
        {"name": "sidecar", "image": "x", "command": ["sleep", "1"]},
    ]
    cluster.create_pod("web", nodeName="node-a", containers=two)
    cluster.agent.logs["default/web/app"] = ["from app"]
    assert cluster.run("logs", "web") == (0, "from app\n", 'Defaulted container "app" out of: app, sidecar\n')
    assert cluster.run("logs", "web", "-c", "sidecar") == (1, "", "Error from server (NotFound): no such container\n")
    cluster.create_pod("pending")
    assert cluster.run("logs", "pending") == (
        1,
        "",
        'Error from server (BadRequest): pod "pending" is not scheduled to a node yet\n',
    )


def test_exec_prints_output_and_exits_with_the_command_code(cluster: Cluster) -> None:
    cluster.create_node("node-a")
    cluster.create_pod("web", nodeName="node-a")
    cluster.agent.exec_reply = {"exitCode": 3, "stdout": "hello\n", "stderr": "oops\n"}
    assert cluster.run("exec", "web", "--", "sh", "-c", "echo hello; exit 3") == (
        3,
        "hello\n",
        "oops\ncommand terminated with exit code 3\n",
    )
    cluster.agent.exec_reply = {"exitCode": 0, "stdout": "total 0\n", "stderr": ""}
    assert cluster.run("exec", "web", "-c", "app", "--", "ls", "-l") == (0, "total 0\n", "")
    assert cluster.run("exec", "-it", "web", "--", "true")[0] == 0
    assert _agent_queries(cluster, "/exec/default/web/app") == [
        {"command": ["sh", "-c", "echo hello; exit 3"]},
        {"command": ["ls", "-l"]},
        {"command": ["true"]},
    ]
    assert cluster.run("exec", "web") == (2, "", "error: you must specify at least one command for the container\n")


def _container_stats(name: str, nano: int, working_set: int, throttled_ns: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "cpu": {
            "usageNanoCores": nano,
            "usageCoreNanoSeconds": nano * 10,
            "throttledPeriods": throttled_ns // 1_000_000,
            "throttledTimeNanoSeconds": throttled_ns,
        },
        "memory": {"workingSetBytes": working_set, "usageBytes": working_set + 4096, "limitBytes": 0},
    }


def test_top_pods_and_nodes_from_the_agent_summary(cluster: Cluster) -> None:
    cluster.create_node("node-a")
    cluster.create_node("node-b")
    cluster.run("create", "namespace", "team")
    cluster.create_pod("web", nodeName="node-a")
    cluster.create_pod("api", nodeName="node-a")
    cluster.create_pod("job", "team", nodeName="node-a")
    mi = 1024 * 1024
    cluster.agent.summary = {
        "node": {
            "nodeName": "node-a",
            "cpu": {"usageNanoCores": 1_500_000_000, "usageCoreNanoSeconds": 9},
            "memory": {"workingSetBytes": 2048 * mi},
        },
        "pods": [
            {
                "podRef": {"name": "web", "namespace": "default", "uid": "1"},
                "containers": [
                    _container_stats("app", 250_000_000, 100 * mi, throttled_ns=1_250_000_000),
                    _container_stats("sidecar", 1_000_001, 20 * mi + 5),
                ],
            },
            {
                "podRef": {"name": "api", "namespace": "default", "uid": "2"},
                "containers": [_container_stats("app", 5_000_000, 300 * mi)],
            },
            {"podRef": {"name": "job", "namespace": "team", "uid": "3"}, "containers": [_container_stats("c", 1, 1)]},
        ],
    }
    assert cluster.run("top", "pods") == (
        0,
        "NAME   CPU(cores)   MEMORY(bytes)   CPU-THROTTLED(seconds)\n"
        "api    5m           300Mi           0.00\n"
        "web    252m         120Mi           1.25\n",
        "",
    )
    assert cluster.run("top", "pod", "-A", "--sort-by", "memory")[1] == (
        "NAMESPACE   NAME   CPU(cores)   MEMORY(bytes)   CPU-THROTTLED(seconds)\n"
        "default     api    5m           300Mi           0.00\n"
        "default     web    252m         120Mi           1.25\n"
        "team        job    1m           0Mi             0.00\n"
    )
    assert cluster.run("top", "pod", "web", "--containers")[1] == (
        "POD   NAME      CPU(cores)   MEMORY(bytes)   CPU-THROTTLED(seconds)\n"
        "web   app       250m         100Mi           1.25\n"
        "web   sidecar   2m           20Mi            0.00\n"
    )
    # node-b reports through the same fake agent (same port) but lists itself as the same summary:
    # its row is still computed from its own allocatable (4 CPUs, 8Gi)
    code, out, err = cluster.run("top", "nodes")
    assert (code, err) == (0, "")
    assert out == (
        "NAME     CPU(cores)   CPU%   MEMORY(bytes)   MEMORY%\n"
        "node-a   1500m        37%    2048Mi          25%\n"
        "node-b   1500m        37%    2048Mi          25%\n"
    )
    assert [p for _m, p, _q in cluster.agent.requests if p == "/stats/summary"]


def test_top_nodes_marks_an_unreachable_agent_unknown(cluster: Cluster) -> None:
    cluster.create_node("node-a")
    with _closed_port() as port:
        cluster.client.put(
            "/api/v1/nodes/node-a/status",
            {
                "apiVersion": "v1",
                "kind": "Node",
                "status": {
                    "allocatable": {"cpu": "1"},
                    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
                    "daemonEndpoints": {"kubeletEndpoint": {"Port": port}},
                },
            },
        )
        code, out, err = cluster.run("top", "node")
    assert code == 0
    assert out == (
        "NAME     CPU(cores)   CPU%        MEMORY(bytes)   MEMORY%\n"
        "node-a   <unknown>    <unknown>   <unknown>       <unknown>\n"
    )
    assert err.startswith("warning: no metrics from node node-a: error talking to the node agent at http://127.0.0.1:")


def test_apply_over_an_object_made_without_apply(cluster: Cluster, tmp_path: Path) -> None:
    cluster.run("create", "namespace", "team")
    path = tmp_path / "ns.yaml"
    path.write_text("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n  labels: {owner: me}\n")
    code, out, err = cluster.run("apply", "-f", str(path))
    assert (code, out) == (0, "namespace/team configured\n")
    assert err.startswith(
        "Warning: resource namespaces/team is missing the kubectl.kubernetes.io/last-applied-configuration "
        "annotation which is required by kubectl apply."
    )
    assert cluster.client.get("/api/v1/namespaces/team")["metadata"]["labels"]["owner"] == "me"
    assert cluster.run("apply", "-f", str(path)) == (0, "namespace/team unchanged\n", "")


def test_options_may_come_before_or_after_names(cluster: Cluster) -> None:
    cluster.run("create", "namespace", "team")
    cluster.create_pod("job", "team")
    cluster.create_pod("web", "team")
    assert cluster.run("get", "pods", "-n", "team", "job", "-o", "name") == (0, "pod/job\n", "")
    assert cluster.run("get", "-o", "name", "pods", "web", "--namespace=team") == (0, "pod/web\n", "")
    assert cluster.run("delete", "pod", "-n", "team", "job", "web") == (
        0,
        'pod "job" deleted\npod "web" deleted\n',
        "",
    )
