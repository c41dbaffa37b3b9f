"""PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902), and strategic merge patch.

Strategic merge patch is applied like a merge patch except that lists of objects keyed by ``name``
(containers, initContainers, env, ports, volumes, volumeMounts, conditions by ``type``) are merged per key,
which covers what ``kubectl`` sends for these types; ``$patch`` directives are not supported (400).
"""

from __future__ import annotations

import copy
from typing import Any

from minikube_py.control import errors

_MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "conditions": "type",
    "tolerations": "key",
}


def merge_patch(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: Any, patch: Any, key: str = "") -> Any:
    if isinstance(patch, dict):
        if any(k.startswith("$") for k in patch):
            raise errors.bad_request("strategic merge patch directives ($patch, $retainKeys...) are not supported")
        result = dict(target) if isinstance(target, dict) else {}
        for k, value in patch.items():
            if value is None:
                result.pop(k, None)
            else:
                result[k] = strategic_merge_patch(result.get(k), value, k)
        return result
    merge_key = _MERGE_KEYS.get(key)
    if isinstance(patch, list) and merge_key and isinstance(target, list):
        merged = [copy.deepcopy(item) for item in target]
        index = {item.get(merge_key): i for i, item in enumerate(merged) if isinstance(item, dict)}
        for item in patch:
            if isinstance(item, dict) and item.get(merge_key) in index:
                i = index[item[merge_key]]
                merged[i] = strategic_merge_patch(merged[i], item)
            else:
                merged.append(copy.deepcopy(item))
        return merged
    return copy.deepcopy(patch)


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise errors.bad_request(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _walk(doc: Any, parts: list[str]) -> Any:
    for part in parts:
        if isinstance(doc, list):
            try:
                doc = doc[int(part)]
            except (ValueError, IndexError) as err:
                raise errors.ApiError(422, "Invalid", f"the path {part!r} does not exist in the list") from err
        elif isinstance(doc, dict) and part in doc:
            doc = doc[part]
        else:
            raise errors.ApiError(422, "Invalid", f"the path {'/'.join(parts)!r} does not exist")
    return doc


def _add(doc: Any, parts: list[str], value: Any) -> Any:
    if not parts:
        return value
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if not 0 <= index <= len(parent):
            raise errors.ApiError(422, "Invalid", f"index {index} out of range")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise errors.ApiError(422, "Invalid", "cannot add to a scalar")
    return doc


def _remove(doc: Any, parts: list[str]) -> Any:
    parent = _walk(doc, parts[:-1])
    last = parts[-1]
    try:
        if isinstance(parent, list):
            return parent.pop(int(last))
        return parent.pop(last)
    except (KeyError, ValueError, IndexError, AttributeError) as err:
        raise errors.ApiError(422, "Invalid", f"the path {'/'.join(parts)!r} does not exist") from err


def json_patch(target: Any, operations: Any) -> Any:
    if not isinstance(operations, list):
        raise errors.bad_request("a JSON patch must be a list of operations")
    doc = copy.deepcopy(target)
    for op in operations:
        if not isinstance(op, dict) or "op" not in op or "path" not in op:
            raise errors.bad_request(f"invalid JSON patch operation: {op!r}")
        kind, parts = op["op"], _pointer(op["path"])
        if kind == "add":
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "remove":
            _remove(doc, parts)
        elif kind == "replace":
            _remove(doc, parts)
            doc = _add(doc, parts, copy.deepcopy(op.get("value")))
        elif kind == "test":
            if _walk(doc, parts) != op.get("value"):
                raise errors.ApiError(422, "Invalid", f"test operation failed at {op['path']!r}")
        elif kind in ("move", "copy"):
            source = _pointer(op.get("from", ""))
            value = copy.deepcopy(_walk(doc, source))
            if kind == "move":
                _remove(doc, source)
            doc = _add(doc, parts, value)
        else:
            raise errors.bad_request(f"unknown JSON patch operation {kind!r}")
    return doc


PATCH_TYPES = {
    "application/merge-patch+json": merge_patch,
    "application/strategic-merge-patch+json": strategic_merge_patch,
    "application/json-patch+json": json_patch,
    "application/apply-patch+yaml": merge_patch,  # server-side apply approximated as a merge (documented)
}
