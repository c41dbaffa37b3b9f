"""The real prober: exec inside the container, TCP and HTTP inside the pod's network namespace.

``Prober`` is the interface the probe worker uses (``testing.FakeProber`` scripts it in unit tests).  Every run
returns an ``Outcome``; UNKNOWN means the prober could not probe (no running container, a named port the
container does not declare, a gRPC probe, a command that could not be executed) and the run is thrown away.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import os
import signal
import socket
import sys
import weakref
from dataclasses import dataclass
from typing import Protocol

from minikube_py import errors
from minikube_py.api import expansion, types
from minikube_py.node.prober import httpclient, netns, reaper
from minikube_py.node.prober.results import Kind, Outcome, Result
from minikube_py.node.runtime.model import Container, Sandbox
from minikube_py.node.runtime.runtime import Runtime

KUBE_PROBE_VERSION = "1.30"  # the kubelet version minikube_py's agent reports (v1.30.0-minikube-py)
USER_AGENT = f"kube-probe/{KUBE_PROBE_VERSION}"
MAX_EXEC_OUTPUT = 10 * 1024  # kubelet pkg/probe/exec maxReadLength
POD_LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Target:
    """What a probe runs against: the container (spec and running instance) in its pod sandbox."""

    pod: types.Pod
    spec: types.Container
    container: Container | None
    sandbox: Sandbox | None
    pod_ip: str = ""  # empty while pods have no network of their own: probe the pod's loopback instead


class Prober(Protocol):
    async def probe(self, kind: Kind, probe: types.Probe, target: Target) -> Outcome: ...


def resolve_port(port: int | str, spec: types.Container) -> int:
    """A probe port by number, or by the name of one of the container's ports (kubelet findPortByName)."""
    if isinstance(port, int):
        return port
    if port.isdigit():
        return int(port)
    for declared in spec.ports:
        if declared.name == port:
            return declared.container_port
    raise LookupError(f"couldn't find port {port} in container {spec.name}")


class RuntimeProber:
    def __init__(
        self, runtime: Runtime, *, sockets: netns.SocketFactory | None = None, python: str = sys.executable
    ) -> None:
        self._runtime = runtime
        self._sockets = sockets or netns.SocketFactory()
        self._python = python

    def close(self) -> None:
        self._sockets.close()

    async def probe(self, kind: Kind, probe: types.Probe, target: Target) -> Outcome:
        timeout = float(probe.timeout_seconds or 1)
        try:
            if probe.exec is not None:
                return await self._exec(probe.exec, target, timeout)
            if probe.http_get is not None:
                return await self._http(probe.http_get, target, timeout)
            if probe.tcp_socket is not None:
                return await self._tcp(probe.tcp_socket, target, timeout)
            if probe.grpc is not None:
                return Outcome(Result.UNKNOWN, "gRPC probes are not supported by minikube_py")
            return Outcome(Result.UNKNOWN, "missing probe handler")
        except LookupError as err:
            return Outcome(Result.UNKNOWN, str(err))
        except (errors.MinikubeError, netns.NetnsError) as err:
            return Outcome(Result.UNKNOWN, str(err))

    # --- exec

    async def _exec(self, action: types.ExecAction, target: Target, timeout: float) -> Outcome:
        container = target.container
        if container is None or not container.running:
            return Outcome(Result.UNKNOWN, f"container {target.spec.name} is not running")
        env = list(container.config.env)
        command = expansion.expand_command(types.Container(name=target.spec.name, command=action.command), env)
        result = await self._runtime.exec_in_container(
            container,
            reaper.wrap(command, self._python),
            timeout=timeout,
            env=env,
            stop_signal=signal.SIGTERM,  # the reaper kills and reaps everything below it, then exits
        )
        output = (result.stdout + result.stderr)[:MAX_EXEC_OUTPUT]
        if result.timed_out:
            return Outcome(Result.FAILURE, f"command {json.dumps(' '.join(command))} timed out")
        if result.exit_code == reaper.EXEC_FAILED_CODE and result.stderr.startswith(reaper.EXEC_FAILED_MARKER):
            return Outcome(Result.UNKNOWN, result.stderr[len(reaper.EXEC_FAILED_MARKER) :].strip())
        return Outcome(Result.SUCCESS if result.exit_code == 0 else Result.FAILURE, output)

    # --- network

    def _in_pod(self, host: str, target: Target) -> tuple[str, bool]:
        """(address, dial from inside the pod's network namespace?)"""
        if host:
            return host, False  # an explicit host is dialled from the node, as the kubelet does
        if target.pod_ip:
            return target.pod_ip, False
        return POD_LOOPBACK, True

    def _dialer(self, target: Target, in_pod: bool) -> httpclient.Dial:
        async def dial(host: str, port: int, remaining: float) -> socket.socket:
            loop = asyncio.get_running_loop()
            where = f"dial tcp {httpclient.join_host_port(host, port)}"
            try:
                address = str(ipaddress.ip_address(host))
            except ValueError:
                try:
                    infos = await asyncio.wait_for(
                        loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), max(remaining, 0.001)
                    )
                except TimeoutError:
                    raise httpclient.DialError(f"{where}: i/o timeout") from None
                except OSError as err:
                    raise httpclient.DialError(f"dial tcp: lookup {host}: no such host ({err})") from err
                address = str(infos[0][4][0])
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            if in_pod:
                sandbox = target.sandbox
                if sandbox is None:
                    raise httpclient.DialError(f"{where}: the pod has no sandbox")
                sock = await self._sockets.create(
                    f"/proc/{sandbox.pause_pid}/ns/net", sandbox.namespaces.get("net"), family
                )
            else:
                sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
            try:
                async with asyncio.timeout(max(remaining, 0.001)):  # no task per connect (wait_for makes one)
                    await loop.sock_connect(sock, (address, port))
            except TimeoutError:
                sock.close()
                raise httpclient.DialError(f"{where}: i/o timeout") from None
            except OSError as err:
                sock.close()
                # asyncio puts its own words in strerror; Go prints the errno's text.
                text = (os.strerror(err.errno) if err.errno else str(err)).lower()
                raise httpclient.DialError(f"{where}: connect: {text}") from err
            except BaseException:
                sock.close()
                raise
            return sock

        return dial

    async def _tcp(self, action: types.TCPSocketAction, target: Target, timeout: float) -> Outcome:
        port = resolve_port(action.port, target.spec)
        host, in_pod = self._in_pod(action.host, target)
        try:
            sock = await self._dialer(target, in_pod)(host, port, timeout)
        except httpclient.DialError as err:
            return Outcome(Result.FAILURE, str(err))
        sock.close()  # connected is healthy, whatever the server does next
        return Outcome(Result.SUCCESS, "")

    async def _http(self, action: types.HTTPGetAction, target: Target, timeout: float) -> Outcome:
        port = resolve_port(action.port, target.spec)
        host, in_pod = self._in_pod(action.host, target)
        return await httpclient.get(
            self._dialer(target, in_pod),
            action.scheme or "HTTP",
            host,
            port,
            action.path or "/",
            [(h.name, h.value) for h in action.http_headers],
            timeout,
            USER_AGENT,
        )


_shared: weakref.WeakKeyDictionary[Runtime, RuntimeProber] = weakref.WeakKeyDictionary()


def shared_prober(runtime: Runtime) -> RuntimeProber:
    """One prober (and one namespace thread) per runtime, for pod workers not given a prober of their own."""
    prober = _shared.get(runtime)
    if prober is None:
        prober = _shared[runtime] = RuntimeProber(runtime)
    return prober
