"""Read a container's CRI log back as plain text (what `kubectl logs` would print)."""

from __future__ import annotations

import os
from pathlib import Path

from minikube_py.node.runtime import logs


def stream_text(path: Path | str, stream: str = "stdout") -> str:
    if not os.path.exists(path):
        return ""
    return b"".join(logs.read_log(str(path), streams=(stream,))).decode(errors="replace")
