from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
import yaml

from minikube_py import manifests
from minikube_py.api import codec

POD_A = (
    "apiVersion: v1\nkind: Pod\nmetadata:\n  name: a\nspec:\n"
    "  containers:\n  - name: c\n    command: [sleep, '1']\n"
)
POD_B = (
    '{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "b"}, "spec": {"containers": [{"name": "c"}]}}'
)
NAMESPACE = "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team\n"


def names(items: list[manifests.Manifest]) -> list[str]:
    return [m.data["metadata"]["name"] for m in items]


def test_multi_document_yaml_skips_empty_documents() -> None:
    text = f"---\n{POD_A}---\n---\n# only a comment\n---\n{NAMESPACE}"
    items = manifests.parse_text(text, "x.yaml")
    assert names(items) == ["a", "team"]
    # A leading "---" does not open an extra document; the empty and comment-only ones still count.
    assert [m.document for m in items] == [1, 4]
    assert items[1].where() == "x.yaml (document 4)"


def test_json_text() -> None:
    items = manifests.parse_text(POD_B, "b.json")
    assert names(items) == ["b"]
    assert items[0].document == 1


def test_list_kind_is_flattened_including_nested_lists() -> None:
    listing = {
        "apiVersion": "v1",
        "kind": "List",
        "items": [
            json.loads(POD_B),
            {"kind": "PodList", "items": [{"kind": "Pod", "metadata": {"name": "c"}}]},
            yaml.safe_load(NAMESPACE),
        ],
    }
    assert names(manifests.parse_text(json.dumps(listing))) == ["b", "c", "team"]
    assert manifests.parse_text('{"kind": "List", "items": null}') == []


def test_timestamps_stay_strings() -> None:
    items = manifests.parse_text(
        "kind: Pod\nmetadata:\n  name: a\n  creationTimestamp: 2024-01-01T00:00:00Z\n"
    )
    assert items[0].data["metadata"]["creationTimestamp"] == "2024-01-01T00:00:00Z"


@pytest.mark.parametrize(
    ("text", "source", "message"),
    [
        (
            f"{POD_A}---\nkind: Pod\nmetadata: [\n",
            "p.yaml",
            "p.yaml: document 2: invalid YAML at line 12, column 1: did not find expected node content",
        ),
        ('{"kind": "Pod",', "p.json", "p.json: invalid JSON at line 1, column 16: Expecting property name"),
        ("- a\n- b\n", "l.yaml", "l.yaml: document 1: expected an object, got array"),
        ("just a string\n", "s.yaml", "s.yaml: document 1: expected an object, got string"),
        (
            '{"kind": "List", "items": 3}',
            "x.json",
            "x.json: document 1: List items must be a list, got integer",
        ),
        ('{"kind": "List", "items": [1]}', "x.json", "x.json: document 1: expected an object, got integer"),
    ],
)
def test_parse_errors_name_source_and_document(text: str, source: str, message: str) -> None:
    with pytest.raises(manifests.ManifestError) as info:
        manifests.parse_text(text, source)
    assert str(info.value).startswith(message)
    assert info.value.source == source


def test_deeply_nested_input_is_a_manifest_error() -> None:
    with pytest.raises(manifests.ManifestError, match="nested too deeply"):
        manifests.parse_text("[" * 100_000 + "]" * 100_000, "deep.json")
    with pytest.raises(manifests.ManifestError, match=r"nested too deeply|invalid YAML"):
        manifests.parse_text("a: " + "[" * 50_000 + "]" * 50_000, "deep.yaml")


def test_read_file_and_directory(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_text(POD_A)
    (tmp_path / "a.json").write_text(POD_B)
    (tmp_path / "c.yml").write_text(NAMESPACE)
    (tmp_path / "notes.txt").write_text("not a manifest")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "d.yaml").write_text("kind: Pod\nmetadata:\n  name: d\n")
    assert names(manifests.read_path(tmp_path / "b.yaml")) == ["a"]
    assert names(manifests.read_path(tmp_path)) == ["b", "a", "team"]
    assert names(manifests.read_path(tmp_path, recursive=True)) == ["b", "a", "team", "d"]
    assert manifests.read_path(tmp_path)[0].source == str(tmp_path / "a.json")


def test_missing_and_unreadable_files(tmp_path: Path) -> None:
    with pytest.raises(manifests.ManifestError, match="no such file or directory"):
        manifests.read_path(tmp_path / "missing.yaml")
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(manifests.ManifestError, match="not UTF-8 text"):
        manifests.read_path(binary)


def test_load_from_stdin_and_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(POD_A)
    items = manifests.load([str(tmp_path / "a.yaml"), "-"], stdin=io.StringIO(NAMESPACE))
    assert names(items) == ["a", "team"]
    assert items[1].source == "<stdin>"
    assert manifests.load_objects("-", stdin=io.StringIO(POD_B)) == [json.loads(POD_B)]


def test_load_pods(tmp_path: Path) -> None:
    (tmp_path / "pods.yaml").write_text(f"{POD_A}---\n{POD_B}\n")
    warnings: list[str] = []
    pods = manifests.load_pods(tmp_path, warnings=warnings)
    assert [p.metadata.name for p in pods] == ["a", "b"]
    assert pods[0].spec.containers[0].command == ["sleep", "1"]
    (tmp_path / "ns.yaml").write_text(NAMESPACE)
    with pytest.raises(
        manifests.ManifestError, match=r"ns.yaml \(document 1\): expected kind Pod, got 'Namespace'"
    ):
        manifests.load_pods(tmp_path)
    (tmp_path / "ns.yaml").write_text("kind: Pod\nmetadata: {name: bad}\nspec: {containers: x}\n")
    with pytest.raises(codec.DecodeError):
        manifests.load_pods(tmp_path)


def test_dump_single_and_many() -> None:
    pod = json.loads(POD_B)
    assert json.loads(manifests.dump([pod], "json")) == pod
    assert yaml.safe_load(manifests.dump([pod], "yaml")) == pod
    both = yaml.safe_load(manifests.dump([pod, pod], "yaml"))
    assert both == {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": [pod, pod]}
    # Key order is kept (apiVersion first, as kubectl prints it).
    assert manifests.dump([pod], "yaml").startswith("apiVersion: v1\nkind: Pod\n")
    with pytest.raises(ValueError, match="unknown output format"):
        manifests.dump([pod], "xml")


def test_write_and_write_file(tmp_path: Path) -> None:
    pod = json.loads(POD_B)
    stream = io.StringIO()
    manifests.write([pod], "json", stream)
    assert json.loads(stream.getvalue()) == pod
    manifests.write_file([pod], "yaml", tmp_path / "out.yaml")
    assert names(manifests.read_path(tmp_path / "out.yaml")) == ["b"]
    with pytest.raises(manifests.ManifestError):
        manifests.write_file([pod], "yaml", tmp_path / "missing-dir" / "out.yaml")
