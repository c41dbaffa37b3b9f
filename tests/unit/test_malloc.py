"""The long-running services pin glibc's mmap threshold (util/malloc.py)."""

from __future__ import annotations

from minikube_py.util import malloc


def test_the_mmap_threshold_is_pinned_on_glibc() -> None:
    # This project runs on glibc (Debian): mallopt exists and accepts the value; pinning twice is harmless.
    assert malloc.pin_mmap_threshold() is True
    assert malloc.pin_mmap_threshold(malloc.DEFAULT_MMAP_THRESHOLD) is True
