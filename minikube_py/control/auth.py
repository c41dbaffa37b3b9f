"""Bearer-token access to the API server, and the kubeconfig that carries the token to clients.

Rule: a request that arrived on a loopback socket is served as it is (like the old insecure localhost port);
one that arrived from beyond loopback must carry ``Authorization: Bearer <token>`` or gets ``401`` with an
``Unauthorized`` Status and nothing else. There is no TLS yet: the token is a shared secret on the wire.

The token is generated at first start (``secrets.token_urlsafe``) into a 0600 file in the control plane's
data directory; the kubeconfig written next to it names the server and the token, in the shape kubectl and
the official Kubernetes client read.
"""

from __future__ import annotations

import hmac
import ipaddress
import os
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import yaml
from aiohttp import web
from aiohttp.typedefs import Middleware

TOKEN_FILE = "token"
KUBECONFIG_FILE = "kubeconfig"
CLUSTER_NAME = "minikube-py"
USER_NAME = "admin"


def _write_private(path: str, text: str) -> None:
    """Write atomically with mode 0600 (the file never exists with looser permissions)."""
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, text.encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def new_token(draw: Callable[[int], str] = secrets.token_urlsafe) -> str:
    """256 random bits, URL-safe, never beginning with ``-``: ``--token -x…`` reads as an option to argparse
    and to most command lines a user would paste it into."""
    while True:
        token = draw(32)
        if not token.startswith("-"):
            return token


def load_or_create_token(path: str) -> str:
    """The token in ``path``; a new one is generated and stored there when the file doesn't exist."""
    try:
        with open(path) as f:
            token = f.read().strip()
    except FileNotFoundError:
        token = ""
    if token:
        return token
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    token = new_token()
    _write_private(path, token + "\n")
    return token


def kubeconfig(server: str, token: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CLUSTER_NAME, "cluster": {"server": server}}],
        "users": [{"name": USER_NAME, "user": {"token": token}}],
        "contexts": [{"name": CLUSTER_NAME, "context": {"cluster": CLUSTER_NAME, "user": USER_NAME}}],
        "current-context": CLUSTER_NAME,
        "preferences": {},
    }


def write_kubeconfig(path: str, server: str, token: str) -> None:
    _write_private(path, yaml.safe_dump(kubeconfig(server, token), sort_keys=False))


def is_loopback(address: object) -> bool:
    """Whether a socket address (``(host, port, ...)`` tuple) is on loopback (127/8, ::1, v4-mapped)."""
    if not isinstance(address, tuple) or not address:
        return False
    try:
        ip = ipaddress.ip_address(str(address[0]).split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def presented_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def unauthorized() -> web.Response:
    body = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    return web.json_response(body, status=401)


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def bearer_middleware(token: str) -> Middleware:
    """Requests from beyond loopback need the token (compared in constant time); loopback ones don't."""
    expected = token.encode()

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        transport = request.transport
        local = transport.get_extra_info("sockname") if transport is not None else None
        if not is_loopback(local):
            given = presented_token(request)
            if given is None or not hmac.compare_digest(given.encode(), expected):
                return unauthorized()
        return await handler(request)

    return middleware
