"""Label and field selectors, as ``kubectl get -l`` / ``--field-selector`` send them.

Label grammar (k8s.io/apimachinery labels.Parse): comma-separated requirements, each one of
``key``, ``!key``, ``key=value``, ``key==value``, ``key!=value``, ``key in (a,b)``, ``key notin (a,b)``.
Field selectors support ``=``, ``==`` and ``!=`` on a fixed set of fields per resource.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from minikube_py.control import errors

_SET_RE = re.compile(r"^\s*(!?)\s*([A-Za-z0-9_./-]+)\s*(?:(notin|in)\s*\(([^)]*)\)|(==|!=|=)\s*([A-Za-z0-9_.-]*))?\s*$")


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # exists | !exists | in | notin | = | !=
    values: tuple[str, ...] = ()

    def matches(self, labels: Mapping[str, str]) -> bool:
        if self.op == "exists":
            return self.key in labels
        if self.op == "!exists":
            return self.key not in labels
        if self.op in ("in", "="):
            return labels.get(self.key) in self.values
        # notin and != also match objects that lack the key, as in Kubernetes
        return labels.get(self.key) not in self.values


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return [p for p in parts if p.strip()]


def parse_label_selector(text: str) -> list[Requirement]:
    requirements = []
    for part in _split_top_level(text or ""):
        m = _SET_RE.match(part)
        if not m:
            raise errors.bad_request(f"unable to parse requirement: {part.strip()!r}")
        negate, key, set_op, set_values, op, value = m.groups()
        if negate and (set_op or op):
            raise errors.bad_request(f"unable to parse requirement: {part.strip()!r}")
        if set_op:
            values = tuple(v.strip() for v in set_values.split(",") if v.strip())
            requirements.append(Requirement(key, set_op, values))
        elif op:
            requirements.append(Requirement(key, "!=" if op == "!=" else "=", (value,)))
        else:
            requirements.append(Requirement(key, "!exists" if negate else "exists"))
    return requirements


# Fields each resource supports in field selectors (the apiserver's per-type field label conversion).
FIELD_GETTERS: dict[str, dict[str, Callable[[dict[str, Any]], str]]] = {
    "pods": {
        "metadata.name": lambda o: o.get("metadata", {}).get("name", ""),
        "metadata.namespace": lambda o: o.get("metadata", {}).get("namespace", ""),
        "spec.nodeName": lambda o: o.get("spec", {}).get("nodeName", ""),
        "spec.schedulerName": lambda o: o.get("spec", {}).get("schedulerName", ""),
        "status.phase": lambda o: o.get("status", {}).get("phase", ""),
        "spec.restartPolicy": lambda o: o.get("spec", {}).get("restartPolicy", ""),
    },
    "events": {
        "metadata.name": lambda o: o.get("metadata", {}).get("name", ""),
        "metadata.namespace": lambda o: o.get("metadata", {}).get("namespace", ""),
        "involvedObject.kind": lambda o: o.get("involvedObject", {}).get("kind", ""),
        "involvedObject.name": lambda o: o.get("involvedObject", {}).get("name", ""),
        "involvedObject.namespace": lambda o: o.get("involvedObject", {}).get("namespace", ""),
        "involvedObject.uid": lambda o: o.get("involvedObject", {}).get("uid", ""),
        "reason": lambda o: o.get("reason", ""),
        "type": lambda o: o.get("type", ""),
    },
    "nodes": {
        "metadata.name": lambda o: o.get("metadata", {}).get("name", ""),
        "spec.unschedulable": lambda o: str(bool(o.get("spec", {}).get("unschedulable", False))).lower(),
    },
}
_DEFAULT_FIELDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "metadata.name": lambda o: o.get("metadata", {}).get("name", ""),
    "metadata.namespace": lambda o: o.get("metadata", {}).get("namespace", ""),
}


def parse_field_selector(resource: str, text: str) -> Callable[[dict[str, Any]], bool]:
    getters = FIELD_GETTERS.get(resource, _DEFAULT_FIELDS)
    checks: list[tuple[Callable[[dict[str, Any]], str], bool, str]] = []
    for part in (text or "").split(","):
        part = part.strip()
        if not part:
            continue
        m = re.match(r"^([A-Za-z0-9_.]+)\s*(==|!=|=)\s*(.*)$", part)
        if not m:
            raise errors.bad_request(f"invalid field selector: {part!r}")
        name, op, value = m.groups()
        if name not in getters:
            raise errors.bad_request(f"field label not supported: {name}")
        checks.append((getters[name], op == "!=", value))

    def predicate(obj: dict[str, Any]) -> bool:
        return all((getter(obj) != value) if negated else (getter(obj) == value) for getter, negated, value in checks)

    return predicate


def label_predicate(text: str) -> Callable[[dict[str, Any]], bool]:
    requirements = parse_label_selector(text)

    def predicate(obj: dict[str, Any]) -> bool:
        labels = obj.get("metadata", {}).get("labels") or {}
        return all(r.matches(labels) for r in requirements)

    return predicate
