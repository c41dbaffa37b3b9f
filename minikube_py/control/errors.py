"""API errors and the ONE table that maps every error the control plane can meet to a Kubernetes Status.

Handlers raise (or let through) domain errors; ``to_api_error`` turns each into an ``ApiError`` with the
HTTP code, the Status ``reason`` and the message text the Kubernetes API server would use.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from minikube_py.api import field as api_field
from minikube_py.api import quantity
from minikube_py.control import store as store_mod


@dataclass
class ApiError(Exception):
    code: int
    reason: str
    message: str
    details: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        super().__init__(self.message)

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        404, "NotFound", f'{_qualified(resource, group)} "{name}" not found', {"name": name, "kind": resource}
    )


def already_exists(resource: str, name: str, group: str = "") -> ApiError:
    return ApiError(
        409,
        "AlreadyExists",
        f'{_qualified(resource, group)} "{name}" already exists',
        {"name": name, "kind": resource},
    )


def conflict(resource: str, name: str, detail: str, group: str = "") -> ApiError:
    return ApiError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": {detail}',
        {"name": name, "kind": resource},
    )


def forbidden(resource: str, name: str, detail: str, group: str = "") -> ApiError:
    return ApiError(
        403,
        "Forbidden",
        f'{_qualified(resource, group)} "{name}" is forbidden: {detail}',
        {"name": name, "kind": resource},
    )


def bad_request(message: str) -> ApiError:
    return ApiError(400, "BadRequest", message)


def invalid(kind: str, name: str, errors: list[api_field.FieldError]) -> ApiError:
    exc = api_field.InvalidObject(kind, name, errors)
    status = exc.status()
    return ApiError(422, "Invalid", status["message"], status["details"])


def gone(message: str) -> ApiError:
    return ApiError(410, "Expired", message)


def method_not_allowed(method: str) -> ApiError:
    return ApiError(
        405, "MethodNotAllowed", f"the server does not allow this method on the requested resource ({method})"
    )


ACCEPTED_MEDIA_TYPES = (
    "application/json, application/yaml, application/merge-patch+json, application/json-patch+json, "
    "application/strategic-merge-patch+json"
)


def unsupported_media_type(content_type: str) -> ApiError:
    return ApiError(
        415,
        "UnsupportedMediaType",
        "the body of the request was in an unknown format - accepted media types include: "
        f'{ACCEPTED_MEDIA_TYPES}; got "{content_type}"',
    )


def too_large(limit: int) -> ApiError:
    return ApiError(413, "RequestEntityTooLarge", f"the request body is larger than {limit} bytes")


ROTTEN = "the object has been modified; please apply your changes to the latest version and try again"


def to_api_error(exc: BaseException, *, resource: str = "", name: str = "", group: str = "") -> ApiError:
    """The one table: domain error → ApiError."""
    if isinstance(exc, ApiError):
        return exc
    resource = resource or str(getattr(exc, "resource", ""))
    name = name or str(getattr(exc, "name", ""))
    if isinstance(exc, store_mod.NotFound):
        return not_found(resource, name, group)
    if isinstance(exc, store_mod.AlreadyExists):
        return already_exists(resource, name, group)
    if isinstance(exc, store_mod.Conflict):
        return conflict(resource, name, ROTTEN, group)
    if isinstance(exc, store_mod.InvalidContinue):
        return bad_request(f"invalid continue token: {exc}")
    if isinstance(exc, store_mod.Gone):
        return gone(f"too old resource version: {exc}")
    if isinstance(exc, api_field.InvalidObject):
        status = exc.status()
        return ApiError(422, "Invalid", status["message"], status["details"])
    if isinstance(exc, quantity.QuantityError):
        return bad_request(str(exc))
    if isinstance(exc, RecursionError):
        return bad_request("the request body is nested too deeply")
    return ApiError(500, "InternalError", f"Internal error occurred: {exc!r}")
