"""The HTTP(S) GET of an httpGet probe, as ``pkg/probe/http`` does it, over sockets the caller dials.

- one request per connection (``Connection: close``, keep-alive off), HTTP/1.1;
- default headers ``User-Agent: kube-probe/<major>.<minor>`` and ``Accept: */*``; a header the probe gives with an
  empty value removes the default; ``Host`` given as a header becomes the request's host (virtual hosts);
- success iff 200 <= status < 400; a 3xx that is not followed is a *Warning* (counted as success) with the text
  ``Probe terminated redirects, Response body: ...``; redirects are followed to the same hostname only, at most 10;
- the body is read up to 10 KiB (``maxRespBodyLength``) and becomes the output of a successful probe;
- HTTPS without certificate verification; the whole exchange, redirects included, within the timeout.
Error texts follow Go's net/http (``Get "http://...": dial tcp ...: connect: connection refused``).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import urllib.parse
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from minikube_py.node.prober.results import Outcome, Result

MAX_BODY = 10 * 1024  # kubelet pkg/probe/http maxRespBodyLength
MAX_REDIRECTS = 10  # Go net/http default, kept by the kubelet's redirect checker
MAX_HEADER_BYTES = 64 * 1024
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})

# Dial(host, port, remaining seconds) -> a connected socket; raises DialError with Go's text.
Dial = Callable[[str, int, float], Awaitable[socket.socket]]


class DialError(Exception):
    """A failed connection, with Go's wording (``dial tcp 127.0.0.1:80: connect: connection refused``)."""


class _Broken(Exception):
    pass


@dataclass(frozen=True)
class Response:
    status: int
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None


def join_host_port(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def format_url(scheme: str, host: str, port: int, path: str) -> str:
    """kubelet formatURL: the path (with its query) under ``scheme://host:port``."""
    if not path.startswith("/"):
        path = "/" + path
    return f"{scheme.lower()}://{join_host_port(host, port)}{path}"


def request_headers(given: Sequence[tuple[str, str]], user_agent: str) -> list[tuple[str, str]]:
    """The probe's headers (repeats kept) plus the kubelet's defaults; an empty value removes a default."""
    names = {name.lower() for name, _ in given}
    headers = [(name, value) for name, value in given if value != "" or name.lower() not in ("user-agent", "accept")]
    if "user-agent" not in names:
        headers.append(("User-Agent", user_agent))
    if "accept" not in names:
        headers.append(("Accept", "*/*"))
    return headers


async def _read_response(reader: asyncio.StreamReader) -> Response:
    while True:
        status_line = await reader.readline()
        if not status_line:
            raise _Broken("EOF")
        parts = status_line.decode("latin-1").rstrip("\r\n").split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise _Broken(f"malformed HTTP response {status_line.decode('latin-1').strip()!r}")
        status = int(parts[1])
        headers: list[tuple[str, str]] = []
        size = 0
        while True:
            line = await reader.readline()
            size += len(line)
            if size > MAX_HEADER_BYTES:
                raise _Broken("server response headers exceeded 65536 bytes; aborted")
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            headers.append((name.strip(), value.strip()))
        if 100 <= status < 200:
            continue  # an interim response (100 Continue): the real one follows
        response = Response(status, headers, b"")
        return Response(status, headers, await _read_body(reader, response))


async def _read_body(reader: asyncio.StreamReader, response: Response) -> bytes:
    if response.status in (204, 304):
        return b""
    body = bytearray()
    if (response.header("Transfer-Encoding") or "").lower() == "chunked":
        while len(body) < MAX_BODY:
            size_line = await reader.readline()
            try:
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            except ValueError:
                break
            if size == 0:
                break
            chunk = await reader.readexactly(min(size, MAX_BODY - len(body)))
            body += chunk
            if len(chunk) < size:
                break  # truncated at the limit (the kubelet too reads at most 10 KiB and moves on)
            await reader.readline()  # the chunk's CRLF
        return bytes(body)
    length = response.header("Content-Length")
    limit = min(int(length), MAX_BODY) if length is not None and length.isdigit() else MAX_BODY
    while len(body) < limit:
        data = await reader.read(limit - len(body))
        if not data:
            break
        body += data
    return bytes(body)


async def _exchange(
    dial: Dial, url: urllib.parse.SplitResult, headers: list[tuple[str, str]], deadline: float
) -> Response:
    loop = asyncio.get_running_loop()
    host = url.hostname or ""
    port = url.port or (443 if url.scheme == "https" else 80)
    sock = await dial(host, port, deadline - loop.time())
    context: ssl.SSLContext | None = None
    if url.scheme == "https":
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE  # kubelet: InsecureSkipVerify
    try:
        reader, writer = await asyncio.open_connection(
            sock=sock, ssl=context, server_hostname=host if context else None, limit=MAX_HEADER_BYTES
        )
    except BaseException:
        sock.close()
        raise
    try:
        target = url.path or "/"
        if url.query:
            target += "?" + url.query
        given_host = next((v for k, v in headers if k.lower() == "host"), None)
        lines = [f"GET {target} HTTP/1.1", f"Host: {given_host or url.netloc}"]
        lines += [f"{k}: {v}" for k, v in headers if k.lower() not in ("host", "connection")]
        lines.append("Connection: close")
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()
        return await _read_response(reader)
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            await asyncio.wait_for(writer.wait_closed(), 0.5)


async def get(
    dial: Dial,
    scheme: str,
    host: str,
    port: int,
    path: str,
    headers: Sequence[tuple[str, str]],
    timeout: float,
    user_agent: str,
) -> Outcome:
    """One httpGet probe: Success, Warning (an unfollowed 3xx) or Failure, with the kubelet's output text."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    url_text = format_url(scheme, host, port, path)
    first_host = urllib.parse.urlsplit(url_text).hostname
    all_headers = request_headers(headers, user_agent)
    redirects = 0
    try:
        async with asyncio.timeout_at(deadline):
            while True:
                url = urllib.parse.urlsplit(url_text)
                response = await _exchange(dial, url, all_headers, deadline)
                location = response.header("Location")
                if response.status not in REDIRECT_CODES or not location:
                    break
                next_url = urllib.parse.urljoin(url_text, location)
                next_split = urllib.parse.urlsplit(next_url)
                if next_split.scheme not in ("http", "https"):
                    break
                if next_split.hostname != first_host:
                    break  # kubelet: a redirect to another host is not followed (http.ErrUseLastResponse)
                redirects += 1
                if redirects >= MAX_REDIRECTS:
                    return Outcome(Result.FAILURE, f'Get "{next_url}": stopped after {MAX_REDIRECTS} redirects')
                url_text = next_url
    except TimeoutError:
        return Outcome(
            Result.FAILURE,
            f'Get "{url_text}": context deadline exceeded (Client.Timeout exceeded while awaiting headers)',
        )
    except DialError as err:
        return Outcome(Result.FAILURE, f'Get "{url_text}": {err}')
    except _Broken as err:
        return Outcome(Result.FAILURE, f'Get "{url_text}": {err}')
    except (OSError, ssl.SSLError, asyncio.IncompleteReadError) as err:
        return Outcome(Result.FAILURE, f'Get "{url_text}": {_go_error(err)}')
    body = response.body.decode("utf-8", errors="replace")
    if 200 <= response.status < 400:
        if response.status >= 300:
            return Outcome(Result.WARNING, f"Probe terminated redirects, Response body: {body}")
        return Outcome(Result.SUCCESS, body)
    return Outcome(Result.FAILURE, f"HTTP probe failed with statuscode: {response.status}")


def _go_error(err: BaseException) -> str:
    if isinstance(err, asyncio.IncompleteReadError | ConnectionResetError):
        return "EOF" if isinstance(err, asyncio.IncompleteReadError) else "read: connection reset by peer"
    if isinstance(err, OSError) and err.strerror:
        text = err.strerror
        return text[:1].lower() + text[1:]
    return str(err) or type(err).__name__
