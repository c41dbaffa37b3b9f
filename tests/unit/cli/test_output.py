"""kubectl's printing rules, as pure functions: ages, tabwriter, pod status, rows, the memory chart."""

from __future__ import annotations

from typing import Any

import pytest

from minikube_py.cli import output

NOW = 1_700_000_000.0


def _ts(seconds_ago: float) -> str:
    import time

    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(NOW - seconds_ago))


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (-5, "<invalid>"),
        (-1, "0s"),
        (0, "0s"),
        (5, "5s"),
        (119, "119s"),
        (120, "2m"),
        (182, "3m2s"),
        (599, "9m59s"),
        (600, "10m"),
        (179 * 60, "179m"),
        (3 * 3600, "3h"),
        (5 * 3600 + 3 * 60, "5h3m"),
        (8 * 3600 + 59 * 60, "8h"),
        (47 * 3600, "47h"),
        (2 * 86400, "2d"),
        (2 * 86400 + 4 * 3600, "2d4h"),
        (8 * 86400, "8d"),
        (729 * 86400, "729d"),
        (2 * 365 * 86400, "2y"),
        (2 * 365 * 86400 + 30 * 86400, "2y30d"),
        (9 * 365 * 86400, "9y"),
    ],
)
def test_human_duration_matches_apimachinery(seconds: float, text: str) -> None:
    assert output.human_duration(seconds) == text


def test_since_handles_missing_and_bad_timestamps() -> None:
    assert output.since(None, NOW) == "<unknown>"
    assert output.since("yesterday", NOW) == "<unknown>"
    assert output.since(_ts(65), NOW) == "65s"


def test_table_pads_like_kubectl_and_remembers_widths() -> None:
    table = output.Table(["name", "ok"])
    assert table.render([["a", "x"]]) == "NAME   OK\na      x\n"
    assert table.render([["a-much-longer-name", "y"]], header=False) == "a-much-longer-name   y\n"
    assert table.render([["b", "z"]], header=False) == "b                    z\n"


def test_tabwrite_aligns_column_blocks_like_go() -> None:
    text = "Name:\tweb\nLabels:\ta=b\n\tc=d\nContainers:\n  app:\n    Image:\tx\n    Restart Count:\t0\n"
    assert output.tabwrite(text) == (
        "Name:    web\nLabels:  a=b\n         c=d\nContainers:\n  app:\n    Image:          x\n    Restart Count:  0\n"
    )


def _pod(status: dict[str, Any], **spec: Any) -> dict[str, Any]:
    meta = spec.pop("metadata", {})
    return {
        "metadata": {"name": "p", "creationTimestamp": _ts(30), **meta},
        "spec": {"containers": [{"name": "app"}], **spec},
        "status": status,
    }


def _running(name: str = "app", ready: bool = True) -> dict[str, Any]:
    return {"name": name, "ready": ready, "restartCount": 0, "state": {"running": {}}}


@pytest.mark.parametrize(
    ("pod", "ready", "status"),
    [
        (_pod({"phase": "Pending"}), "0/1", "Pending"),
        (
            _pod({"phase": "Pending", "conditions": [{"type": "PodScheduled", "reason": "SchedulingGated"}]}),
            "0/1",
            "SchedulingGated",
        ),
        (
            _pod({"phase": "Running", "containerStatuses": [{"name": "app", "state": {"terminated": {"signal": 9}}}]}),
            "0/1",
            "Signal:9",
        ),
        (
            _pod({"phase": "Running", "reason": "NodeLost"}, metadata={"deletionTimestamp": _ts(1)}),
            "0/1",
            "Unknown",
        ),
        (
            _pod({"phase": "Succeeded", "reason": ""}, metadata={"deletionTimestamp": _ts(1)}),
            "0/1",
            "Succeeded",
        ),
        # a finished container next to a running one: Running if the pod is Ready, else NotReady
        (
            _pod(
                {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True"}],
                    "containerStatuses": [
                        _running("app"),
                        {"name": "job", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    ],
                },
                containers=[{"name": "app"}, {"name": "job"}],
            ),
            "1/2",
            "Running",
        ),
        (
            _pod(
                {
                    "phase": "Running",
                    "containerStatuses": [
                        _running("app"),
                        {"name": "job", "state": {"terminated": {"exitCode": 0, "reason": "Completed"}}},
                    ],
                },
                containers=[{"name": "app"}, {"name": "job"}],
            ),
            "1/2",
            "NotReady",
        ),
        # a sidecar (restartable init container) counts towards READY and does not block initialization
        (
            _pod(
                {
                    "phase": "Running",
                    "conditions": [{"type": "Initialized", "status": "True"}],
                    "initContainerStatuses": [{**_running("proxy"), "started": True}],
                    "containerStatuses": [_running("app")],
                },
                initContainers=[{"name": "proxy", "restartPolicy": "Always"}],
            ),
            "2/2",
            "Running",
        ),
        (
            _pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [
                        {"name": "a", "state": {"terminated": {"exitCode": 0}}},
                        {"name": "b", "state": {"waiting": {"reason": "CrashLoopBackOff"}}},
                    ],
                },
                initContainers=[{"name": "a"}, {"name": "b"}],
            ),
            "0/1",
            "Init:CrashLoopBackOff",
        ),
        (
            _pod(
                {
                    "phase": "Pending",
                    "initContainerStatuses": [{"name": "a", "state": {"terminated": {"exitCode": 2}}}],
                },
                initContainers=[{"name": "a"}],
            ),
            "0/1",
            "Init:ExitCode:2",
        ),
    ],
)
def test_pod_summary_follows_print_pod(pod: dict[str, Any], ready: str, status: str) -> None:
    summary = output.pod_summary(pod)
    assert (summary[0], summary[1]) == (ready, status)


def test_pod_row_restarts_show_the_last_restart() -> None:
    status = {
        "phase": "Running",
        "containerStatuses": [
            {
                "name": "app",
                "ready": True,
                "restartCount": 5,
                "state": {"running": {}},
                "lastState": {"terminated": {"exitCode": 1, "finishedAt": _ts(200)}},
            }
        ],
    }
    assert output.pod_row(_pod(status), NOW) == ["p", "1/1", "Running", "5 (3m20s ago)", "30s"]


def test_quota_row_splits_requests_and_limits() -> None:
    rq = {
        "metadata": {"name": "q", "creationTimestamp": _ts(7200)},
        "status": {
            "hard": {"pods": "4", "limits.cpu": "2", "requests.memory": "1Gi", "limits.memory": "2Gi"},
            "used": {"pods": "1", "limits.cpu": "500m", "requests.memory": "512Mi"},
        },
    }
    assert output.quota_row(rq, NOW) == [
        "q",
        "120m",
        "pods: 1/4, requests.memory: 512Mi/1Gi",
        "limits.cpu: 500m/2, limits.memory: 0/2Gi",
    ]


def test_event_row_wide() -> None:
    event = {
        "metadata": {"name": "web.17a"},
        "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{app}"},
        "reason": "Killing",
        "message": "Stopping container app ",
        "type": "Normal",
        "count": 2,
        "firstTimestamp": _ts(300),
        "lastTimestamp": _ts(10),
        "source": {"component": "kubelet", "host": "node-a"},
    }
    assert output.event_row(event, NOW, wide=True) == [
        "10s",
        "Normal",
        "Killing",
        "pod/web",
        "spec.containers{app}",
        "kubelet, node-a",
        "Stopping container app",
        "5m",
        "2",
        "web.17a",
    ]


def test_memory_chart_partial_blocks_and_limit_row() -> None:
    mi = 1024 * 1024
    curve = [[-1.0, 2 * mi], [-0.5, 5 * mi], [0.0, 7 * mi]]
    # top = 8Mi (the limit), 4 rows of 2Mi each; the limit is the top edge of row 0
    assert output.memory_chart(curve, 8 * mi, rows=4) == [
        "limit 8Mi ┤┄┄▄",
        "          ┤ ▄█",
        "          ┤ ██",
        "          ┤███",
        "        0 └───",
        "           -1.0s 0s (kill)",
    ]
    # no limit: the top label is the peak; more samples than columns are folded to each slice's peak
    many = [[-10 + i * 0.1, (i % 10) * mi] for i in range(101)]
    lines = output.memory_chart(many, None, rows=2, columns=20)
    assert lines[0].startswith("9Mi ┤") and len(lines[0]) == len("9Mi ┤") + 20
    assert lines[-2] == "  0 └" + "─" * 20
    assert output.memory_chart([], None) == []


def test_format_bytes() -> None:
    assert [output.format_bytes(v) for v in (512, 2048, 1536 * 1024, 64 * 1024 * 1024, 3 * 1024**3)] == [
        "512B",
        "2Ki",
        "1.5Mi",
        "64Mi",
        "3Gi",
    ]


def test_crashloop_status_names_the_crash_reason() -> None:
    from minikube_py.cli import output

    pod = {
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c"}]},
        "status": {
            "phase": "Running",
            "containerStatuses": [
                {
                    "name": "c",
                    "ready": False,
                    "restartCount": 2,
                    "state": {"waiting": {"reason": "CrashLoopBackOff"}},
                    "lastState": {"terminated": {"reason": "OOMKilled", "exitCode": 137}},
                }
            ],
        },
    }
    assert output.pod_status(pod) == "CrashLoopBackOff (OOMKilled)"
    pod["status"]["containerStatuses"][0]["lastState"]["terminated"]["reason"] = "Error"
    assert output.pod_status(pod) == "CrashLoopBackOff"
