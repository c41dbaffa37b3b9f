"""Strict reading of plugin args dicts (``pluginConfig[].args``): unknown fields and wrong types are errors."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from minikube_py.control.scheduler.framework import InvalidArgs


def no_args(name: str, args: Mapping[str, Any] | None) -> None:
    """For plugins without an args type: only an empty object is accepted."""
    if args:
        raise InvalidArgs([f'{key}: unknown field ("{name}" takes no args)' for key in sorted(args)])


def check_fields(args: Mapping[str, Any], allowed: Sequence[str], path: str = "") -> list[str]:
    prefix = f"{path}." if path else ""
    return [f"{prefix}{key}: unknown field" for key in args if key not in allowed]


def expect_mapping(value: Any, path: str, errors: list[str]) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        errors.append(f"{path}: Invalid value: expected an object")
        return {}
    return value


def expect_list(value: Any, path: str, errors: list[str]) -> list[Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        errors.append(f"{path}: Invalid value: expected a list")
        return []
    return value


def expect_int(value: Any, path: str, errors: list[str]) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        errors.append(f"{path}: Invalid value: {value!r}: expected an integer")
        return None
    return value


def expect_str(value: Any, path: str, errors: list[str]) -> str | None:
    if not isinstance(value, str):
        errors.append(f"{path}: Invalid value: {value!r}: expected a string")
        return None
    return value
