"""One generic converter between the dataclasses in ``minikube_py.api.types`` and Kubernetes-shaped dicts.

There is no per-type table: each dataclass is read once through its type hints and turned into a small
tree of "shapes" (string, integer, quantity, list of X, map of X, object, raw JSON...). JSON names come
from the Python name (``termination_grace_period_seconds`` -> ``terminationGracePeriodSeconds``,
``host_ip`` -> ``hostIP``) or from the field metadata key ``types.JSON_NAME``.

Decoding behaves like the Kubernetes API server's default (non-strict) mode:

* unknown fields are dropped and reported as warnings, worded as the API server words them
  (``unknown field "spec.foo"``);
* ``null`` means "not set";
* every problem (wrong JSON type, bad quantity, non-object where an object belongs) becomes a ``FieldError``
  with its path, and all of them are raised together in one ``DecodeError`` -- nothing else escapes;
* raw JSON parts are kept as given and never walked, so deeply nested input cannot exhaust the stack.

Encoding leaves out ``None`` and, like Go's ``omitempty``, zero scalars and empty collections, except fields
marked ``metadata=types.KEEP``; quantities are written in canonical form (``1.5`` -> ``"1500m"``).

Pure: no I/O.
"""

from __future__ import annotations

import dataclasses
import types as pytypes
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from minikube_py.api import field, quantity, types

T = TypeVar("T")

# Word-level spellings Kubernetes uses inside camelCase names (hostIP, podCIDRs, containerID, hostPID).
_INITIALISMS = {
    "id": "ID",
    "ip": "IP",
    "ips": "IPs",
    "cidr": "CIDR",
    "cidrs": "CIDRs",
    "pid": "PID",
    "ipc": "IPC",
}


def json_name(python_name: str) -> str:
    """``termination_grace_period_seconds`` -> ``terminationGracePeriodSeconds``, ``pod_ips`` -> ``podIPs``.

    Words after the first are capitalized, except the initialisms Kubernetes spells in capitals.
    """
    first, *rest = python_name.rstrip("_").split("_")
    return first + "".join(_INITIALISMS.get(word, word[:1].upper() + word[1:]) for word in rest)


def json_type_name(value: object) -> str:
    """The JSON type of a decoded value, as shown in type errors."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return type(value).__name__


class DecodeError(field.InvalidObject):
    """The input could not be turned into the requested type; ``errors`` lists every problem with its path."""

    def __init__(self, kind: str, name: str, errors: list[field.FieldError], warnings: list[str] | None = None) -> None:
        super().__init__(kind, name, errors)
        self.warnings: list[str] = list(warnings or [])


class _Context:
    __slots__ = ("errors", "warnings")

    def __init__(self) -> None:
        self.errors: list[field.FieldError] = []
        self.warnings: list[str] = []

    def type_error(self, path: field.Path, value: object, expected: str) -> _Failed:
        self.errors.append(field.type_invalid(path, json_type_name(value), f"must be {expected}"))
        return FAILED


class _Failed:
    """Returned by a shape whose input was rejected (the error is already recorded)."""


FAILED = _Failed()


class _Shape:
    """How one Python type maps to JSON."""

    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        raise NotImplementedError

    def encode(self, value: Any) -> Any:
        return value

    def is_empty(self, value: Any) -> bool:
        return value is None


class _String(_Shape):
    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        if isinstance(value, str):
            return value
        return ctx.type_error(path, value, "a string")

    def is_empty(self, value: Any) -> bool:
        return bool(value == "")


class _Integer(_Shape):
    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        if isinstance(value, bool):
            return ctx.type_error(path, value, "an integer")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return ctx.type_error(path, value, "an integer")

    def is_empty(self, value: Any) -> bool:
        return bool(value == 0)


class _Float(_Shape):
    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return ctx.type_error(path, value, "a number")

    def is_empty(self, value: Any) -> bool:
        return bool(value == 0)


class _Boolean(_Shape):
    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        if isinstance(value, bool):
            return value
        return ctx.type_error(path, value, "a boolean")

    def is_empty(self, value: Any) -> bool:
        return value is False


class _IntOrString(_Shape):
    """Kubernetes' ``IntOrString`` (probe ports, for instance)."""

    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        if isinstance(value, str):
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        return ctx.type_error(path, value, "an integer or a string")

    def is_empty(self, value: Any) -> bool:
        return value in (0, "")


class _Quantity(_Shape):
    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            return ctx.type_error(path, value, "a quantity (a string or a number)")
        try:
            # As Quantity.UnmarshalJSON: surrounding whitespace is ignored ("1 Gi" is still invalid).
            return quantity.Quantity.unmarshal(value)
        except quantity.QuantityError as err:
            ctx.errors.append(field.invalid(path, value, str(err)))
            return FAILED

    def encode(self, value: Any) -> Any:
        return value.canonical()


class _Optional(_Shape):
    def __init__(self, inner: _Shape) -> None:
        self.inner = inner

    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        return None if value is None else self.inner.decode(value, path, ctx)

    def encode(self, value: Any) -> Any:
        return None if value is None else self.inner.encode(value)


class _List(_Shape):
    def __init__(self, item: _Shape) -> None:
        self.item = item

    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        if not isinstance(value, (list, tuple)):
            return ctx.type_error(path, value, "a list")
        out = []
        for i, item in enumerate(value):
            if item is None:
                ctx.errors.append(field.invalid(path.index(i), None, "must not be null"))
                continue
            decoded = self.item.decode(item, path.index(i), ctx)
            if decoded is not FAILED:
                out.append(decoded)
        return out

    def encode(self, value: Any) -> Any:
        return [self.item.encode(v) for v in value]

    def is_empty(self, value: Any) -> bool:
        return not value


class _Map(_Shape):
    def __init__(self, item: _Shape) -> None:
        self.item = item

    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        if not isinstance(value, Mapping):
            return ctx.type_error(path, value, "an object")
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                ctx.errors.append(field.invalid(path, key, "keys must be strings"))
                continue
            decoded = self.item.decode(item, path.key(key), ctx)
            if decoded is not FAILED:
                out[key] = decoded
        return out

    def encode(self, value: Any) -> Any:
        return {k: self.item.encode(v) for k, v in value.items()}

    def is_empty(self, value: Any) -> bool:
        return not value


class _RawObject(_Shape):
    """A JSON object kept exactly as written (its content is not examined)."""

    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        if not isinstance(value, Mapping):
            return ctx.type_error(path, value, "an object")
        return dict(value)

    def is_empty(self, value: Any) -> bool:
        return not value


class _RawAny(_Shape):
    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        return value


@dataclasses.dataclass(frozen=True)
class _FieldSpec:
    attr: str
    json: str
    shape: _Shape
    keep: bool


class _Object(_Shape):
    def __init__(self, cls: type[Any]) -> None:
        self.cls = cls
        self.fields: list[_FieldSpec] = []
        self.by_json: dict[str, _FieldSpec] = {}
        self.rest: _FieldSpec | None = None

    def compile(self) -> None:
        hints = typing.get_type_hints(self.cls)
        for f in dataclasses.fields(self.cls):
            spec = _FieldSpec(
                attr=f.name,
                json=f.metadata.get(types.JSON_NAME, json_name(f.name)),
                shape=_shape_for(hints[f.name]),
                keep=bool(f.metadata.get(types.KEEP_EMPTY, False)),
            )
            self.fields.append(spec)
            if f.metadata.get(types.INLINE_REST, False):
                self.rest = spec
            else:
                self.by_json[spec.json] = spec

    def decode(self, value: Any, path: field.Path, ctx: _Context) -> Any:
        if not isinstance(value, Mapping):
            return ctx.type_error(path, value, "an object")
        kwargs: dict[str, Any] = {}
        rest: dict[str, Any] = {}
        for key, item in value.items():
            if not isinstance(key, str):
                ctx.errors.append(field.invalid(path, key, "field names must be strings"))
                continue
            spec = self.by_json.get(key)
            if spec is None:
                if self.rest is not None:
                    rest[key] = item
                else:
                    ctx.warnings.append(f"unknown field {field.go_quote(str(path.child(key)))}")
                continue
            if item is None:
                continue  # null means "not set", as in Kubernetes
            decoded = spec.shape.decode(item, path.child(key), ctx)
            if decoded is not FAILED:
                kwargs[spec.attr] = decoded
        if self.rest is not None and rest:
            kwargs[self.rest.attr] = rest
        return self.cls(**kwargs)

    def encode(self, value: Any) -> Any:
        out: dict[str, Any] = {}
        for spec in self.fields:
            item = getattr(value, spec.attr)
            if spec is self.rest:
                out.update(item)
                continue
            if item is None or (not spec.keep and spec.shape.is_empty(item)):
                continue
            out[spec.json] = spec.shape.encode(item)
        return out


_SCALARS: dict[Any, _Shape] = {str: _String(), int: _Integer(), float: _Float(), bool: _Boolean()}


_OBJECT_SHAPES: dict[type[Any], _Object] = {}


def _object_shape(cls: type[Any]) -> _Object:
    shape = _OBJECT_SHAPES.get(cls)
    if shape is None:
        shape = _Object(cls)
        _OBJECT_SHAPES[cls] = shape  # registered before compiling, so self-referencing types terminate
        shape.compile()
    return shape


def _shape_for(tp: Any) -> _Shape:
    if tp in _SCALARS:
        return _SCALARS[tp]
    if tp is Any:
        return _RawAny()
    if tp is quantity.Quantity:
        return _Quantity()
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (typing.Union, pytypes.UnionType):
        present = [a for a in args if a is not type(None)]
        if set(present) == {int, str}:
            inner: _Shape = _IntOrString()
        elif len(present) == 1:
            inner = _shape_for(present[0])
        else:
            raise TypeError(f"unsupported union {tp!r}")
        return _Optional(inner) if len(present) < len(args) else inner
    if origin is list:
        return _List(_shape_for(args[0]))
    if origin is dict:
        if args[1] is Any:
            return _RawObject()
        return _Map(_shape_for(args[1]))
    if dataclasses.is_dataclass(tp) and isinstance(tp, type):
        return _object_shape(tp)
    raise TypeError(f"unsupported type {tp!r}")


def _object_identity(data: object, fallback_kind: str) -> tuple[str, str]:
    kind, name = fallback_kind, ""
    if isinstance(data, Mapping):
        if isinstance(data.get("kind"), str) and data["kind"]:
            kind = data["kind"]
        metadata = data.get("metadata")
        if isinstance(metadata, Mapping) and isinstance(metadata.get("name"), str):
            name = metadata["name"]
    return kind, name


def decode(cls: type[T], data: object, path: field.PathLike = "", *, warnings: list[str] | None = None) -> T:
    """Build a ``cls`` from Kubernetes-shaped JSON data.

    Raises ``DecodeError`` (an ``InvalidObject``) listing every problem. Unknown-field warnings are
    appended to ``warnings`` when a list is given (and are also kept on a raised ``DecodeError``).
    """
    ctx = _Context()
    base = path if isinstance(path, field.Path) else field.Path(path)
    result = _object_shape(cls).decode(data, base, ctx)
    if warnings is not None:
        warnings.extend(ctx.warnings)
    if ctx.errors or result is FAILED:
        kind, name = _object_identity(data, cls.__name__)
        raise DecodeError(kind, name, ctx.errors, ctx.warnings)
    return typing.cast(T, result)


def encode(obj: object) -> dict[str, Any]:
    """The Kubernetes-shaped dict for a dataclass from ``minikube_py.api.types``."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        raise TypeError(f"encode needs a dataclass instance, got {type(obj).__name__}")
    return typing.cast(dict[str, Any], _object_shape(type(obj)).encode(obj))


# The API group/version each kind is served under.
API_VERSIONS: dict[str, str] = {kind: "v1" for kind in types.KINDS}
API_VERSIONS["PriorityClass"] = "scheduling.k8s.io/v1"


def decode_object(data: object, *, warnings: list[str] | None = None) -> types.KubeObject:
    """Decode an object whose type is named by its own ``apiVersion`` and ``kind``."""
    if not isinstance(data, Mapping):
        raise DecodeError("Object", "", [field.type_invalid(field.Path(), json_type_name(data), "must be an object")])
    kind, name = _object_identity(data, "Object")
    kind_value = data.get("kind")
    api_version = data.get("apiVersion")
    errors: list[field.FieldError] = []
    if not kind_value:
        errors.append(field.required("kind", "the object's kind must be set"))
    elif not isinstance(kind_value, str) or kind_value not in types.KINDS:
        errors.append(field.not_supported("kind", kind_value, sorted(types.KINDS)))
    if not api_version:
        errors.append(field.required("apiVersion", "the object's apiVersion must be set"))
    elif isinstance(kind_value, str) and kind_value in types.KINDS and api_version != API_VERSIONS[kind_value]:
        errors.append(field.not_supported("apiVersion", api_version, [API_VERSIONS[kind_value]]))
    if errors:
        raise DecodeError(kind, name, errors)
    return typing.cast(types.KubeObject, decode(types.KINDS[str(kind_value)], data, warnings=warnings))
