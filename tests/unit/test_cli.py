from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

import minikube_py
from minikube_py.cli import main as cli

GOOD_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: app
    command: [sleep, "100"]
    resources:
      limits: {cpu: "1", memory: 128Mi}
"""
BAD_POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: bad
spec:
  restartPolicy: Sometimes
  containers:
  - name: app
    resources: {requests: {cpu: "2"}, limits: {cpu: "1"}}
"""
ONE_ERROR_POD = """\
apiVersion: v1
kind: Pod
metadata: {name: single}
spec:
  containers: []
"""
OTHERS = """\
apiVersion: v1
kind: Namespace
metadata: {name: team}
---
apiVersion: v1
kind: Node
metadata: {name: node-1}
status: {capacity: {cpu: "4", memory: 8Gi}}
---
apiVersion: v1
kind: ResourceQuota
metadata: {name: quota}
spec: {hard: {pods: "10"}}
"""


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["version"], capsys) == (0, f"minikube-py {minikube_py.__version__}\n", "")


def test_validate_good_objects(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pod = write(tmp_path, "pod.yaml", GOOD_POD)
    others = write(tmp_path, "others.yaml", OTHERS)
    code, out, err = run(["validate", "-f", pod, "-f", others], capsys)
    assert (code, err) == (0, "")
    assert out.splitlines() == [
        "pod/web validated",
        "namespace/team validated",
        "node/node-1 validated",
        "resourcequota/quota validated",
    ]


def test_validate_lists_every_error_and_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "pods.yaml", f"{GOOD_POD}---\n{BAD_POD}---\n{ONE_ERROR_POD}")
    code, out, err = run(["validate", "-f", path], capsys)
    assert code == 1
    assert out == "pod/web validated\n"
    assert err == (
        'The Pod "bad" is invalid: \n'
        "* spec.containers[0].command: Required value: minikube_py runs processes from the node's "
        "filesystem and does not read image entrypoints; set command\n"
        '* spec.containers[0].resources.requests: Invalid value: "2": '
        "must be less than or equal to cpu limit of 1\n"
        '* spec.restartPolicy: Unsupported value: "Sometimes": '
        'supported values: "Always", "OnFailure", "Never"\n'
        'The Pod "single" is invalid: spec.containers: Required value\n'
    )


def test_validate_reports_decode_errors_and_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        tmp_path,
        "pod.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {colour: red, containers: nope}\n",
    )
    code, out, err = run(["validate", "-f", path], capsys)
    assert (code, out) == (1, "")
    assert err == (
        'Warning: unknown field "spec.colour"\n'
        'The Pod "x" is invalid: spec.containers: Invalid value: "string": must be a list\n'
    )


def test_validate_unknown_kind(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "d.yaml", "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n")
    code, _, err = run(["validate", "-f", path], capsys)
    assert code == 1
    assert err.startswith('The Deployment "d" is invalid: kind: Unsupported value: "Deployment"')


def test_validate_directory_recursive(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path, "a.yaml", GOOD_POD)
    (tmp_path / "sub").mkdir()
    write(tmp_path / "sub", "b.yaml", OTHERS)
    assert run(["validate", "-f", str(tmp_path)], capsys)[1] == "pod/web validated\n"
    assert run(["validate", "-R", "-f", str(tmp_path)], capsys)[1].count("validated") == 4


def test_validate_stdin(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(GOOD_POD))
    assert run(["validate", "-f", "-"], capsys) == (0, "pod/web validated\n", "")


def test_manifest_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "broken.yaml", "kind: Pod\nmetadata: [\n")
    code, out, err = run(["validate", "-f", path], capsys)
    assert (code, out) == (1, "")
    assert err == (
        f"error: {path}: document 1: invalid YAML at line 3, column 1: did not find expected node content\n"
    )
    code, _, err = run(["validate", "-f", str(tmp_path / "missing.yaml")], capsys)
    assert code == 1 and err == f"error: {tmp_path / 'missing.yaml'}: no such file or directory\n"


def test_convert_yaml_sets_defaults_and_qos(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "pod.yaml", GOOD_POD)
    code, out, err = run(["convert", "-f", path], capsys)
    assert (code, err) == (0, "")
    pod = yaml.safe_load(out)
    assert pod["metadata"] == {"name": "web", "namespace": "default"}
    container = pod["spec"]["containers"][0]
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "128Mi"}
    assert container["imagePullPolicy"] == "IfNotPresent"
    assert pod["spec"]["restartPolicy"] == "Always"
    assert pod["spec"]["terminationGracePeriodSeconds"] == 30
    assert pod["status"] == {"qosClass": "Guaranteed"}


def test_convert_json_many_objects_is_a_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, "all.yaml", f"{GOOD_POD}---\n{OTHERS}")
    code, out, _ = run(["convert", "-f", path, "-o", "json"], capsys)
    assert code == 0
    document = json.loads(out)
    assert document["kind"] == "List"
    assert [item["kind"] for item in document["items"]] == ["Pod", "Namespace", "Node", "ResourceQuota"]
    assert document["items"][1]["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert document["items"][2]["status"]["allocatable"] == {"cpu": "4", "memory": "8Gi"}


def test_convert_refuses_undecodable_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(
        tmp_path, "pod.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: x}\nspec: {hostPID: maybe}\n"
    )
    code, out, err = run(["convert", "-f", path], capsys)
    assert (code, out) == (1, "")
    assert err == 'The Pod "x" is invalid: spec.hostPID: Invalid value: "string": must be a boolean\n'


@pytest.mark.parametrize(
    "argv",
    [[], ["nope"], ["validate"], ["convert", "-f", "x", "-o", "xml"]],
)
def test_usage_errors_exit_2(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(argv, capsys)
    assert code == 2
    assert out == ""
    assert "usage: minikube-py" in err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["--help"], capsys)
    assert code == 0
    assert "validate" in out and "convert" in out and "version" in out
