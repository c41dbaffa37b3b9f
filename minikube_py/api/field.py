"""Field paths and field-level validation errors, worded exactly as Kubernetes words them.

Kubernetes facts (``k8s.io/apimachinery/pkg/util/validation/field/errors.go``):

* an error prints as ``<field>: <body>``; the body is the type's text (``Required value``,
  ``Invalid value``...), followed by ``: <bad value>`` unless the type is Required, Forbidden, TooLong
  or Internal, then by ``: <detail>`` when there is a detail;
* strings are shown quoted (Go ``%q``), numbers and booleans bare, a missing value as ``null``;
* ``NotSupported`` details read ``supported values: "a", "b"``;
* an invalid object prints ``Pod "x" is invalid: <errors>`` where a single error stands alone and several are
  joined as ``[e1, e2]`` after dropping exact duplicates (``ErrorList.ToAggregate``).

Pure data: no I/O.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any


class ErrorType(enum.StrEnum):
    """Kubernetes' machine-readable field error types (also used as ``StatusCause.reason``)."""

    NOT_FOUND = "FieldValueNotFound"
    REQUIRED = "FieldValueRequired"
    DUPLICATE = "FieldValueDuplicate"
    INVALID = "FieldValueInvalid"
    NOT_SUPPORTED = "FieldValueNotSupported"
    FORBIDDEN = "FieldValueForbidden"
    TOO_LONG = "FieldValueTooLong"
    TOO_MANY = "FieldValueTooMany"
    INTERNAL = "InternalError"
    TYPE_INVALID = "FieldValueTypeInvalid"


_TYPE_TEXT: dict[ErrorType, str] = {
    ErrorType.NOT_FOUND: "Not found",
    ErrorType.REQUIRED: "Required value",
    ErrorType.DUPLICATE: "Duplicate value",
    ErrorType.INVALID: "Invalid value",
    ErrorType.NOT_SUPPORTED: "Unsupported value",
    ErrorType.FORBIDDEN: "Forbidden",
    ErrorType.TOO_LONG: "Too long",
    ErrorType.TOO_MANY: "Too many",
    ErrorType.INTERNAL: "Internal error",
    ErrorType.TYPE_INVALID: "Invalid value",
}

# These types never print their bad value (ErrorBody in errors.go).
_VALUELESS = frozenset({ErrorType.REQUIRED, ErrorType.FORBIDDEN, ErrorType.TOO_LONG, ErrorType.INTERNAL})


class _Omitted:
    """Marker for "do not print a value" (Go's ``omitValue``)."""

    def __repr__(self) -> str:
        return "OMITTED"


OMITTED: Any = _Omitted()


class Path:
    """A field path such as ``spec.containers[0].resources.limits[cpu]`` (Go's ``field.Path``).

    Immutable: every method returns a new path.
    """

    __slots__ = ("_text",)

    def __init__(self, name: str = "", *more: str) -> None:
        text = name
        for part in more:
            text = f"{text}.{part}" if text else part
        self._text = text

    @classmethod
    def _raw(cls, text: str) -> Path:
        path = cls()
        path._text = text
        return path

    def child(self, name: str, *more: str) -> Path:
        text = self._text
        for part in (name, *more):
            text = f"{text}.{part}" if text else part
        return Path._raw(text)

    def index(self, i: int) -> Path:
        return Path._raw(f"{self._text}[{i}]")

    def key(self, k: str) -> Path:
        return Path._raw(f"{self._text}[{k}]")

    def __str__(self) -> str:
        return self._text

    def __repr__(self) -> str:
        return f"Path({self._text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Path) and other._text == self._text

    def __hash__(self) -> int:
        return hash(self._text)


PathLike = Path | str


def go_quote(text: str) -> str:
    """Quote a string roughly as Go's ``strconv.Quote`` does (double quotes, backslash escapes)."""
    return json.dumps(text, ensure_ascii=False)


def format_value(value: object) -> str:
    """Render a bad value the way ``ErrorBody`` does: quoted strings, bare numbers, ``null`` for nothing."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value == int(value) and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, (list, tuple, dict)):
        try:
            return json.dumps(value, ensure_ascii=False, default=str, sort_keys=isinstance(value, dict))
        except (TypeError, ValueError, RecursionError):
            return repr(value)
    # Anything else with a string form (a Quantity, an enum) prints bare, like a Go fmt.Stringer.
    return str(value)


@dataclass(frozen=True)
class FieldError:
    """One field-level validation error (Go's ``field.Error``)."""

    type: ErrorType
    field: str
    bad_value: object = ""
    detail: str = ""

    def body(self) -> str:
        """The message without the field name (``ErrorBody``); also what a ``StatusCause`` carries."""
        text = _TYPE_TEXT[self.type]
        if self.type not in _VALUELESS and self.bad_value is not OMITTED:
            text = f"{text}: {format_value(self.bad_value)}"
        if self.detail:
            text = f"{text}: {self.detail}"
        return text

    def message(self) -> str:
        return f"{self.field}: {self.body()}" if self.field else self.body()

    def __str__(self) -> str:
        return self.message()


def required(path: PathLike, detail: str = "") -> FieldError:
    return FieldError(ErrorType.REQUIRED, str(path), "", detail)


def invalid(path: PathLike, value: object, detail: str) -> FieldError:
    return FieldError(ErrorType.INVALID, str(path), value, detail)


def type_invalid(path: PathLike, value: object, detail: str) -> FieldError:
    return FieldError(ErrorType.TYPE_INVALID, str(path), value, detail)


def duplicate(path: PathLike, value: object) -> FieldError:
    return FieldError(ErrorType.DUPLICATE, str(path), value, "")


def not_found(path: PathLike, value: object, detail: str = "") -> FieldError:
    return FieldError(ErrorType.NOT_FOUND, str(path), value, detail)


def forbidden(path: PathLike, detail: str) -> FieldError:
    return FieldError(ErrorType.FORBIDDEN, str(path), "", detail)


def not_supported(path: PathLike, value: object, supported: Sequence[str]) -> FieldError:
    detail = "supported values: " + ", ".join(go_quote(v) for v in supported) if supported else ""
    return FieldError(ErrorType.NOT_SUPPORTED, str(path), value, detail)


def too_long(path: PathLike, max_length: int) -> FieldError:
    return FieldError(ErrorType.TOO_LONG, str(path), "", f"must have at most {max_length} bytes")


def too_many(path: PathLike, actual: int, maximum: int) -> FieldError:
    return FieldError(ErrorType.TOO_MANY, str(path), actual, f"must have at most {maximum} items")


def internal(path: PathLike, detail: str) -> FieldError:
    return FieldError(ErrorType.INTERNAL, str(path), None, detail)


def aggregate_message(errors: Iterable[FieldError]) -> str:
    """``ErrorList.ToAggregate().Error()``: duplicates dropped, one error bare, several in ``[a, b]``."""
    seen: list[str] = []
    for err in errors:
        text = err.message()
        if text not in seen:
            seen.append(text)
    if not seen:
        return ""
    if len(seen) == 1:
        return seen[0]
    return "[" + ", ".join(seen) + "]"


class InvalidObject(Exception):
    """An object failed validation (HTTP 422 ``Invalid``); ``str()`` is Kubernetes' message."""

    def __init__(self, kind: str, name: str, errors: Sequence[FieldError]) -> None:
        self.kind = kind
        self.name = name
        self.errors: list[FieldError] = list(errors)
        super().__init__(self.message())

    def message(self) -> str:
        text = f"{self.kind} {go_quote(self.name)} is invalid"
        agg = aggregate_message(self.errors)
        return f"{text}: {agg}" if agg else text

    def __str__(self) -> str:
        return self.message()

    def status(self) -> dict[str, Any]:
        """The Kubernetes ``Status`` object an API server returns for this error (``NewInvalid``)."""
        causes = [{"reason": str(e.type), "message": e.body(), "field": e.field} for e in self.errors]
        return {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message(),
            "reason": "Invalid",
            "details": {"name": self.name, "kind": self.kind, "causes": causes},
            "code": 422,
        }
