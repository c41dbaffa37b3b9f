"""systemd's sd_notify protocol, stdlib only: one datagram of ``KEY=VALUE`` lines to ``$NOTIFY_SOCKET``.

systemd sets ``NOTIFY_SOCKET`` for ``Type=notify`` services: a filesystem path, or an abstract socket
name written ``@name`` (the ``@`` stands for the leading NUL byte). Without it every call is a no-op that
returns False, so the same code runs under systemd, in a terminal and in tests. With ``NotifyAccess=main``
only the service's main process is heard, which is the process that calls these.
"""

from __future__ import annotations

import os
import socket

__all__ = ["notify", "ready", "status", "stopping"]


def _address(name: str) -> str | bytes:
    if name.startswith("@"):
        return b"\0" + name[1:].encode()
    return name


def notify(state: str) -> bool:
    """Send ``state`` (e.g. ``"READY=1"``, newline-separated for several) to ``$NOTIFY_SOCKET``.

    Returns True when the datagram was sent, False when there is no socket to send to or sending failed
    (readiness is best effort: a manager that went away must not take the service down with it).
    """
    name = os.environ.get("NOTIFY_SOCKET", "")
    if not name or not state:
        return False
    if not (name.startswith("/") or name.startswith("@")):
        return False  # vsock addresses (vsock:CID:PORT) are not supported
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as sock:
            sock.sendto(state.encode(), _address(name))
    except OSError:
        return False
    return True


def ready() -> bool:
    """Start-up is complete: systemd moves a ``Type=notify`` unit from activating to active."""
    return notify("READY=1")


def stopping() -> bool:
    """Shutdown has begun: systemd shows the unit as deactivating."""
    return notify("STOPPING=1")


def status(text: str) -> bool:
    """A one-line status shown by ``systemctl status`` (newlines would start a new assignment)."""
    return notify("STATUS=" + " ".join(text.splitlines()))
