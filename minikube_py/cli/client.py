"""A small synchronous HTTP client for the minikube_py API server (stdlib only).

The server comes from ``--server``, then ``$MINIKUBE_PY_SERVER``, then the kubeconfig (``--kubeconfig``, else
``$KUBECONFIG``, else the control plane's own ``/var/lib/minikube-py/control-plane/kubeconfig`` when readable),
then ``http://127.0.0.1:6443``.  The bearer token comes from ``--token``, ``$MINIKUBE_PY_TOKEN`` or the same
kubeconfig; the API server requires it from clients beyond loopback.  Bodies are
JSON both ways.  Every non-2xx reply goes through ``check_response``, which turns a Kubernetes ``Status``
body into a ``CliError`` carrying the server's message, HTTP code and reason, so commands can print
``Error from server (NotFound): pods "x" not found`` exactly as kubectl does.  ``stream_lines`` reads a
chunked reply line by line (watch streams, ``logs -f``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import urllib.parse
from collections.abc import Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

SERVER_ENV = "MINIKUBE_PY_SERVER"
TOKEN_ENV = "MINIKUBE_PY_TOKEN"
KUBECONFIG_ENV = "KUBECONFIG"
DEFAULT_KUBECONFIG = "/var/lib/minikube-py/control-plane/kubeconfig"
DEFAULT_SERVER = "http://127.0.0.1:6443"
DEFAULT_TIMEOUT = 30.0
USER_AGENT = "minikube-py-kubectl"

Query = Mapping[str, str | int | bool | Sequence[str]] | Sequence[tuple[str, str]]

# apimachinery's NewGenericServerResponse: the reason a bare HTTP code stands for.
_REASON_BY_CODE = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    502: "ServiceUnavailable",
    503: "ServiceUnavailable",
    504: "Timeout",
}


class CliError(Exception):
    """A failed request or command.  ``code`` is the HTTP status (0 when no server reply was involved)."""

    def __init__(
        self,
        message: str,
        code: int = 0,
        *,
        reason: str = "",
        details: Mapping[str, Any] | None = None,
        from_server: bool = False,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.details: dict[str, Any] = dict(details or {})
        self.from_server = from_server

    def with_source(self, verb: str, source: str) -> CliError:
        """kubectl's AddSourceToErr: ``error when creating "pod.yaml": <message>``."""
        if not self.from_server:
            return self
        return CliError(
            f"error when {verb} {json.dumps(source)}: {self.message}",
            self.code,
            reason=self.reason,
            details=self.details,
            from_server=True,
        )

    def render(self) -> str:
        """The line kubectl prints for this error (without the trailing newline)."""
        if not self.from_server:
            return f"error: {self.message}"
        if self.reason == "Invalid":
            rendered = _render_invalid(self.details)
            if rendered is not None:
                return rendered
        if self.reason:
            return f"Error from server ({self.reason}): {self.message}"
        return f"Error from server: {self.message}"


class ServerUnreachable(CliError):
    """No reply at all: the connection was refused, the host is unknown, or it timed out."""


def _render_invalid(details: Mapping[str, Any]) -> str | None:
    """cmdutil.checkErr for a 422: ``The Pod "x" is invalid: ...`` from the Status details."""
    kind, name = details.get("kind") or "", details.get("name") or ""
    if not kind and not name:
        return None
    head = f"The {kind} {json.dumps(name)} is invalid"
    messages: list[str] = []
    for cause in details.get("causes") or []:
        if not isinstance(cause, dict):
            continue
        text = f"{cause['field']}: {cause.get('message', '')}" if cause.get("field") else str(cause.get("message", ""))
        if text not in messages:
            messages.append(text)
    if not messages:
        return head
    if len(messages) == 1:
        return f"{head}: {messages[0]}"
    return f"{head}: " + "".join(f"\n* {m}" for m in messages)


def check_response(status: int, body: bytes, content_type: str = "") -> None:
    """Raise ``CliError`` for a non-2xx reply: the Status ``message`` when the body is one, else the text."""
    if 200 <= status < 300:
        return
    text = body.decode("utf-8", errors="replace").strip()
    parsed: Any = None
    if text.startswith("{"):
        with contextlib.suppress(ValueError):
            parsed = json.loads(text)
    if isinstance(parsed, dict) and parsed.get("kind") == "Status":
        code = parsed.get("code") if isinstance(parsed.get("code"), int) else status
        details = parsed.get("details") if isinstance(parsed.get("details"), dict) else None
        raise CliError(
            str(parsed.get("message") or _REASON_BY_CODE.get(status, f"HTTP {status}")),
            code or status,
            reason=str(parsed.get("reason") or ""),
            details=details,
            from_server=True,
        )
    message = text or http.client.responses.get(status, f"HTTP {status}")
    if status == 404 and not text:
        message = "the server could not find the requested resource"
    raise CliError(message, status, reason=_REASON_BY_CODE.get(status, ""), from_server=True)


def read_kubeconfig(path: str) -> tuple[str | None, str | None]:
    """(server, token) of the current context of a kubeconfig file; raises CliError when it is malformed."""
    from minikube_py.util.yamlfile import SettingsFileError, load_mapping

    try:
        config = load_mapping(path, "kubeconfig")
    except SettingsFileError as err:
        raise CliError(str(err)) from err

    def named(section: str, name: object) -> dict[str, Any]:
        for entry in config.get(section) or []:
            if isinstance(entry, dict) and entry.get("name") == name:
                return entry
        return {}

    context = named("contexts", config.get("current-context")).get("context") or {}
    cluster = named("clusters", context.get("cluster")).get("cluster") or {}
    user = named("users", context.get("user")).get("user") or {}
    server, token = cluster.get("server"), user.get("token")
    return (str(server) if server else None, str(token) if token else None)


def resolve_access(
    server_flag: str | None = None, *, token_flag: str | None = None, kubeconfig_flag: str | None = None
) -> tuple[str, str | None]:
    """(server, token) by the precedence in the module docstring."""
    path = kubeconfig_flag or os.environ.get(KUBECONFIG_ENV, "").split(os.pathsep)[0] or None
    if path is None and os.access(DEFAULT_KUBECONFIG, os.R_OK):
        path = DEFAULT_KUBECONFIG
    config_server, config_token = read_kubeconfig(path) if path else (None, None)
    server = server_flag or os.environ.get(SERVER_ENV) or config_server or DEFAULT_SERVER
    token = token_flag or os.environ.get(TOKEN_ENV) or config_token
    return server.rstrip("/"), token


@dataclass
class Response:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        if not self.body:
            return None
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as err:
            raise CliError(f"the server returned a reply that is not JSON: {err}") from err


class Client:
    """One API server; a new connection per request (the CLI makes few)."""

    def __init__(
        self,
        server: str | None = None,
        *,
        token: str | None = None,
        kubeconfig: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.server, self.token = resolve_access(server, token_flag=token, kubeconfig_flag=kubeconfig)
        parsed = urllib.parse.urlsplit(self.server if "://" in self.server else f"http://{self.server}")
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise CliError(f"invalid server address {self.server!r}: expected http://HOST:PORT")
        self._scheme = parsed.scheme
        self._host = parsed.hostname
        self._port = parsed.port or (443 if parsed.scheme == "https" else 80)
        self._base_path = parsed.path.rstrip("/")
        self.timeout = timeout

    # --- plumbing

    def _connection(self, timeout: float | None) -> http.client.HTTPConnection:
        if self._scheme == "https":
            return http.client.HTTPSConnection(self._host, self._port, timeout=timeout)
        return http.client.HTTPConnection(self._host, self._port, timeout=timeout)

    def url(self, path: str, query: Query | None = None) -> str:
        target = self._base_path + path
        if query:
            items = query.items() if isinstance(query, Mapping) else query
            pairs: list[tuple[str, str]] = []
            for key, value in items:
                if isinstance(value, bool):
                    pairs.append((key, "true" if value else "false"))
                elif isinstance(value, (list, tuple)):
                    pairs.extend((key, str(v)) for v in value)
                else:
                    pairs.append((key, str(value)))
            if pairs:
                target += "?" + urllib.parse.urlencode(pairs)
        return target

    def _unreachable(self, err: BaseException) -> ServerUnreachable:
        if isinstance(err, ConnectionRefusedError):
            why = "connection refused"
        elif isinstance(err, socket.gaierror):
            why = f"unknown host {self._host!r}"
        elif isinstance(err, TimeoutError | socket.timeout):
            why = "timed out"
        else:
            why = str(err) or type(err).__name__
        return ServerUnreachable(f"cannot reach the API server at {self.server} ({why}); is `minikube-py up` running?")

    @contextlib.contextmanager
    def _open(
        self, method: str, path: str, query: Query | None, body: Any, timeout: float | None
    ) -> Iterator[http.client.HTTPResponse]:
        conn = self._connection(timeout)
        headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        payload: bytes | None = None
        if body is not None:
            payload = json.dumps(body).encode("utf-8")
            headers["Content-Type"] = "application/json"
        try:
            try:
                conn.request(method, self.url(path, query), body=payload, headers=headers)
                response = conn.getresponse()
            except (OSError, http.client.HTTPException) as err:
                raise self._unreachable(err) from err
            try:
                yield response
            finally:
                response.close()
        finally:
            conn.close()

    # --- requests

    def request(
        self, method: str, path: str, *, query: Query | None = None, body: Any = None, timeout: float | None = None
    ) -> Response:
        """One request; the whole reply read; errors raised through ``check_response``."""
        with self._open(method, path, query, body, timeout if timeout is not None else self.timeout) as response:
            try:
                data = response.read()
            except (OSError, http.client.HTTPException) as err:
                raise CliError(f"error reading the reply from {self.server}: {err}") from err
            content_type = response.getheader("Content-Type", "") or ""
            check_response(response.status, data, content_type)
            return Response(response.status, content_type, data)

    def get(self, path: str, query: Query | None = None) -> Any:
        return self.request("GET", path, query=query).json()

    def post(self, path: str, body: Any = None, query: Query | None = None) -> Any:
        return self.request("POST", path, query=query, body=body).json()

    def put(self, path: str, body: Any) -> Any:
        return self.request("PUT", path, body=body).json()

    def delete(self, path: str, query: Query | None = None) -> Any:
        return self.request("DELETE", path, query=query).json()

    @contextlib.contextmanager
    def stream(self, path: str, query: Query | None = None) -> Iterator[Iterator[bytes]]:
        """GET a streamed reply; yields an iterator over its lines (with their newline) as they arrive."""
        with self._open("GET", path, query, None, None) as response:
            if not 200 <= response.status < 300:
                check_response(response.status, response.read(), response.getheader("Content-Type", "") or "")

            def lines() -> Iterator[bytes]:
                while True:
                    try:
                        line = response.readline()
                    except (OSError, http.client.HTTPException) as err:
                        raise CliError(f"the stream from {self.server} broke: {err}") from err
                    if not line:
                        return
                    yield line

            yield lines()

    def stream_json(self, path: str, query: Query | None = None) -> Generator[dict[str, Any], None, None]:
        """Watch events (``{"type", "object"}``) one per line, until the server ends the stream."""
        with self.stream(path, query) as lines:
            for line in lines:
                if not line.strip():
                    continue
                try:
                    event = json.loads(line.decode("utf-8"))
                except (UnicodeDecodeError, ValueError) as err:
                    raise CliError(f"the watch stream sent a line that is not JSON: {err}") from err
                if isinstance(event, dict):
                    yield event
