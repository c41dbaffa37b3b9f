"""Read Kubernetes objects from manifest files and write them back out.

Reading accepts what ``kubectl apply -f`` accepts: JSON or YAML text, several YAML documents in one stream
(``---``), ``kind: List`` wrappers (flattened into their items), a file, a directory (its ``*.yaml``,
``*.yml`` and ``*.json`` files in name order, optionally recursive), or standard input (``-``). Empty
documents are skipped. Objects come back as plain dicts; turning them into typed objects is the caller's
choice (``load_pods`` does it for Pods).

Every problem with the input becomes a ``ManifestError`` naming the file and the document; nothing else
escapes for bad input. This is the only module of the API layer that does I/O.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

import yaml

from minikube_py import errors
from minikube_py.api import codec, types

STDIN = "-"
STDIN_NAME = "<stdin>"
MANIFEST_SUFFIXES = (".yaml", ".yml", ".json")
FORMATS = ("json", "yaml")

_BaseLoader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """Safe YAML loading that, like Kubernetes' YAML-to-JSON step, leaves timestamps as strings."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}


class ManifestError(errors.MinikubeError):
    """A manifest could not be read or parsed; the message names the source and the document."""

    def __init__(self, message: str, *, source: str = "", document: int = 0) -> None:
        super().__init__(message)
        self.source = source
        self.document = document


@dataclasses.dataclass(frozen=True)
class Manifest:
    """One object read from a source; ``document`` counts YAML documents from 1 (JSON text is document 1)."""

    source: str
    document: int
    data: dict[str, Any]

    def where(self) -> str:
        return f"{self.source} (document {self.document})"


def _kind_of(value: object) -> str:
    return codec.json_type_name(value)


def _looks_like_json(text: str, source: str) -> bool:
    if source.endswith(".json"):
        return True
    stripped = text.lstrip()
    return stripped.startswith("{")


def _parse_json(text: str, source: str) -> list[tuple[int, object]]:
    try:
        return [(1, json.loads(text))]
    except json.JSONDecodeError as err:
        raise ManifestError(
            f"{source}: invalid JSON at line {err.lineno}, column {err.colno}: {err.msg}",
            source=source,
            document=1,
        ) from err
    except RecursionError as err:
        raise ManifestError(f"{source}: the JSON is nested too deeply", source=source, document=1) from err


def _yaml_error_text(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    if mark is not None:
        return f"line {mark.line + 1}, column {mark.column + 1}: {problem}"
    return str(problem)


def _parse_yaml(text: str, source: str) -> list[tuple[int, object]]:
    documents: list[tuple[int, object]] = []
    number = 0
    try:
        for number, document in enumerate(yaml.load_all(text, Loader=_Loader), start=1):
            documents.append((number, document))
    except yaml.YAMLError as err:
        failing = number + 1
        raise ManifestError(
            f"{source}: document {failing}: invalid YAML at {_yaml_error_text(err)}",
            source=source,
            document=failing,
        ) from err
    except RecursionError as err:
        raise ManifestError(
            f"{source}: document {number + 1}: the YAML is nested too deeply",
            source=source,
            document=number + 1,
        ) from err
    return documents


def _flatten_lists(source: str, document: int, value: object) -> Iterator[Manifest]:
    """Yield the objects of one document, expanding ``kind: List`` (also nested Lists) without recursion."""
    pending: list[object] = [value]
    while pending:
        item = pending.pop(0)
        if not isinstance(item, dict):
            raise ManifestError(
                f"{source}: document {document}: expected an object, got {_kind_of(item)}",
                source=source,
                document=document,
            )
        if item.get("kind") == "List" or (isinstance(item.get("kind"), str) and item["kind"].endswith("List")):
            items = item.get("items")
            if items is None:
                continue
            if not isinstance(items, list):
                raise ManifestError(
                    f"{source}: document {document}: List items must be a list, got {_kind_of(items)}",
                    source=source,
                    document=document,
                )
            pending[0:0] = items
            continue
        yield Manifest(source, document, item)


def parse_text(text: str, source: str = "<string>") -> list[Manifest]:
    """All objects in a JSON or (multi-document) YAML text."""
    documents = _parse_json(text, source) if _looks_like_json(text, source) else _parse_yaml(text, source)
    manifests: list[Manifest] = []
    for number, document in documents:
        if document is None:
            continue  # empty YAML document
        manifests.extend(_flatten_lists(source, number, document))
    return manifests


def _read_file(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ManifestError(f"{path}: not UTF-8 text", source=str(path)) from err
    except OSError as err:
        raise ManifestError(f"{path}: {err.strerror or err}", source=str(path)) from err


def manifest_files(directory: Path, *, recursive: bool = False) -> list[Path]:
    """The manifest files of a directory, in name order (whole relative paths when recursive)."""
    try:
        if recursive:
            found = [
                Path(root, name)
                for root, _dirs, names in os.walk(directory)
                for name in names
                if name.endswith(MANIFEST_SUFFIXES)
            ]
        else:
            found = [p for p in directory.iterdir() if p.is_file() and p.name.endswith(MANIFEST_SUFFIXES)]
    except OSError as err:
        raise ManifestError(f"{directory}: {err.strerror or err}", source=str(directory)) from err
    return sorted(found, key=lambda p: p.relative_to(directory).parts)


def read_path(path: str | Path, *, recursive: bool = False) -> list[Manifest]:
    """Objects from one file or from every manifest file of a directory."""
    target = Path(path)
    if target.is_dir():
        manifests: list[Manifest] = []
        for file in manifest_files(target, recursive=recursive):
            manifests.extend(parse_text(_read_file(file), str(file)))
        return manifests
    if not target.exists():
        raise ManifestError(f"{target}: no such file or directory", source=str(target))
    return parse_text(_read_file(target), str(target))


def read_stream(stream: TextIO, source: str = STDIN_NAME) -> list[Manifest]:
    try:
        text = stream.read()
    except (OSError, UnicodeDecodeError) as err:
        raise ManifestError(f"{source}: cannot read: {err}", source=source) from err
    return parse_text(text, source)


def load(
    sources: str | Path | Sequence[str | Path], *, recursive: bool = False, stdin: TextIO | None = None
) -> list[Manifest]:
    """Objects from every source in order; ``-`` reads standard input (or ``stdin`` when given)."""
    if isinstance(sources, (str, Path)):
        sources = [sources]
    manifests: list[Manifest] = []
    for source in sources:
        if str(source) == STDIN:
            manifests.extend(read_stream(stdin if stdin is not None else sys.stdin))
        else:
            manifests.extend(read_path(source, recursive=recursive))
    return manifests


def load_objects(
    sources: str | Path | Sequence[str | Path], *, recursive: bool = False, stdin: TextIO | None = None
) -> list[dict[str, Any]]:
    """Like ``load``, but only the object dicts."""
    return [m.data for m in load(sources, recursive=recursive, stdin=stdin)]


def load_pods(
    sources: str | Path | Sequence[str | Path],
    *,
    recursive: bool = False,
    stdin: TextIO | None = None,
    warnings: list[str] | None = None,
) -> list[types.Pod]:
    """Every object of the sources decoded as a Pod.

    Raises ``ManifestError`` for unreadable input or an object that is not a Pod, and ``codec.DecodeError``
    for a Pod whose fields have the wrong shape.
    """
    pods: list[types.Pod] = []
    for manifest in load(sources, recursive=recursive, stdin=stdin):
        kind = manifest.data.get("kind")
        if kind != "Pod":
            raise ManifestError(
                f"{manifest.where()}: expected kind Pod, got {kind!r}",
                source=manifest.source,
                document=manifest.document,
            )
        pods.append(codec.decode(types.Pod, manifest.data, warnings=warnings))
    return pods


def as_document(objects: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """One object as itself, several wrapped in a ``kind: List`` (as kubectl prints them)."""
    if len(objects) == 1:
        return objects[0]
    return {"apiVersion": "v1", "kind": "List", "metadata": {}, "items": list(objects)}


def dump(objects: Iterable[dict[str, Any]], fmt: str) -> str:
    """Serialize objects as JSON (indented) or YAML; several objects become one List."""
    document = as_document(list(objects))
    if fmt == "json":
        return json.dumps(document, indent=4, ensure_ascii=False) + "\n"
    if fmt == "yaml":
        return yaml.safe_dump(document, sort_keys=False, default_flow_style=False, allow_unicode=True)
    raise ValueError(f"unknown output format {fmt!r}; use one of {', '.join(FORMATS)}")


def write(objects: Iterable[dict[str, Any]], fmt: str, stream: TextIO) -> None:
    stream.write(dump(objects, fmt))


def write_file(objects: Iterable[dict[str, Any]], fmt: str, path: str | Path) -> None:
    target = Path(path)
    try:
        target.write_text(dump(objects, fmt), encoding="utf-8")
    except OSError as err:
        raise ManifestError(f"{target}: {err.strerror or err}", source=str(target)) from err
