"""The httpGet client against a tiny server on the loopback: status rules, headers, redirects, body limit."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import pytest

from minikube_py.node.prober import httpclient
from minikube_py.node.prober.results import Result

ROUTES: dict[str, tuple[int, list[tuple[str, str]], bytes]] = {
    "/ok": (200, [], b"fine"),
    "/bad": (500, [], b"boom"),
    "/big": (200, [], b"x" * 50_000),
    "/same": (302, [("Location", "/ok")], b""),
    "/other": (302, [("Location", "http://elsewhere.invalid/ok")], b"moved"),
    "/loop": (302, [("Location", "/loop")], b""),
    "/final3xx": (304, [], b""),
}


@pytest.fixture
async def server() -> AsyncIterator[tuple[int, list[bytes]]]:
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            requests.append(head)
            path = head.split(b" ")[1].decode()
            if path == "/hang":
                await reader.read()  # until the client gives up and closes
                return
            status, headers, body = ROUTES[path]
            lines = [f"HTTP/1.1 {status} X", *(f"{k}: {v}" for k, v in headers), f"Content-Length: {len(body)}"]
            writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body)
            await writer.drain()
        finally:
            writer.close()

    srv = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = srv.sockets[0].getsockname()[1]
    async with srv:
        yield port, requests


async def dial(host: str, port: int, remaining: float) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
    try:
        await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    except OSError as err:
        sock.close()
        raise httpclient.DialError(f"dial tcp {host}:{port}: connect: connection refused") from err
    return sock


async def _get(port: int, path: str, headers: list[tuple[str, str]] | None = None, timeout: float = 10):
    return await httpclient.get(dial, "HTTP", "127.0.0.1", port, path, headers or [], timeout, "kube-probe/1.30")


async def test_status_rules_and_texts(server: tuple[int, list[bytes]]) -> None:
    port, requests = server
    assert (await _get(port, "/ok")).result is Result.SUCCESS
    assert (await _get(port, "/ok")).output == "fine"
    bad = await _get(port, "/bad")
    assert (bad.result, bad.output) == (Result.FAILURE, "HTTP probe failed with statuscode: 500")
    head = requests[0].decode()
    assert head.startswith("GET /ok HTTP/1.1\r\n")
    assert f"Host: 127.0.0.1:{port}\r\n" in head and "User-Agent: kube-probe/1.30\r\n" in head
    assert "Accept: */*\r\n" in head and "Connection: close\r\n" in head


async def test_headers_repeat_override_and_remove_defaults(server: tuple[int, list[bytes]]) -> None:
    port, requests = server
    await _get(port, "/ok", [("X-A", "1"), ("X-A", "2"), ("Accept", ""), ("User-Agent", "me"), ("Host", "vhost")])
    head = requests[-1].decode()
    assert "X-A: 1\r\nX-A: 2\r\n" in head and "User-Agent: me\r\n" in head and "Host: vhost\r\n" in head
    assert "Accept" not in head and "kube-probe" not in head


async def test_redirects(server: tuple[int, list[bytes]]) -> None:
    port, _ = server
    same = await _get(port, "/same")
    assert (same.result, same.output) == (Result.SUCCESS, "fine")  # followed on the same host
    other = await _get(port, "/other")
    assert (other.result, other.output) == (Result.WARNING, "Probe terminated redirects, Response body: moved")
    loop = await _get(port, "/loop")
    assert loop.result is Result.FAILURE and loop.output.endswith("stopped after 10 redirects")
    assert (await _get(port, "/final3xx")).result is Result.WARNING


async def test_body_limit_timeout_and_refused(server: tuple[int, list[bytes]]) -> None:
    port, _ = server
    assert len((await _get(port, "/big")).output) == httpclient.MAX_BODY
    hung = await _get(port, "/hang", timeout=0.2)
    assert hung.result is Result.FAILURE
    assert hung.output == (
        f'Get "http://127.0.0.1:{port}/hang": '
        "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
    )
    with socket.socket() as held:  # bound, so no other process can take the port, but not listening: refused
        held.bind(("127.0.0.1", 0))
        closed_port = held.getsockname()[1]
        refused = await _get(closed_port, "/ok")
    assert refused.output == (
        f'Get "http://127.0.0.1:{closed_port}/ok": dial tcp 127.0.0.1:{closed_port}: connect: connection refused'
    )


def test_url_and_port_helpers() -> None:
    from minikube_py.api import types
    from minikube_py.node.prober import runners

    assert httpclient.format_url("HTTPS", "::1", 8443, "healthz?x=1") == "https://[::1]:8443/healthz?x=1"
    spec = types.Container(name="c", ports=[types.ContainerPort(name="http", container_port=8080)])
    assert runners.resolve_port("http", spec) == 8080 and runners.resolve_port(81, spec) == 81
    with pytest.raises(LookupError, match="couldn't find port nope"):
        runners.resolve_port("nope", spec)
