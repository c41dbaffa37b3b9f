"""`describe pod` shows the probe history the node agent serves (``/probes/NS/POD`` through the node proxy)."""

from __future__ import annotations

from minikube_py.cli import output

HISTORY = {
    "web": {
        "liveness": {
            "state": "Failure",
            "containerID": "minikube-py://abc",
            "consecutive": {"result": "Failure", "count": 2},
            "onHold": False,
            "history": [
                {"time": 990.0, "latencyMs": 1.25, "result": "Success", "output": "", "containerID": "x"},
                {
                    "time": 995.0,
                    "latencyMs": 2.5,
                    "result": "Failure",
                    "output": "HTTP probe failed with statuscode: 500",
                },
            ],
        },
        "readiness": {"state": "Unknown", "consecutive": {}, "onHold": True, "history": []},
    }
}


POD: dict[str, object] = {"metadata": {"name": "web"}, "spec": {}, "status": {}}


def test_each_probe_shows_its_state_streak_and_last_results() -> None:
    text = output.describe_pod(POD, None, 1000.0, probes=HISTORY)
    section = text[text.index("Probe History:") :]
    lines = [line.split() for line in section.splitlines()[1:] if line.strip()]
    assert lines[0][:4] == ["web", "liveness:", "Failure,", "2×"]
    assert lines[1][:4] == ["10s", "ago", "Success", "1.2ms"] or lines[1][:4] == ["10s", "ago", "Success", "1.3ms"]
    assert lines[2][:4] == ["5s", "ago", "Failure", "2.5ms"]
    assert " ".join(lines[2][4:]) == "HTTP probe failed with statuscode: 500"
    assert "web readiness:" in section and "on hold until the startup probe succeeds" in section


def test_no_history_no_section() -> None:
    assert "Probe History" not in output.describe_pod(POD, None, 0.0, probes=None)
