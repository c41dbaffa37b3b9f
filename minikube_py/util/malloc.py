"""glibc malloc policy for the long-running processes (``up``, ``agent``, ``control-plane``).

Kernel/libc facts, measured in the churn soak: glibc serves allocations of 128 KiB and more with ``mmap``
until one such block is freed; then it raises its mmap threshold to that block's size (up to 32 MiB) and
serves later ones from the heap.  asyncio's datagram transport receives every netlink message into a fresh
256 KiB buffer and shrinks it to the message's size; from the heap that leaves the rest of the chunk behind as a
hole that a small, long-lived object can pin, and the heap (which only shrinks from its top) grew steadily.
Pinning the threshold at its default keeps such buffers in their own mappings, returned whole on free.
"""

from __future__ import annotations

import ctypes
import logging

log = logging.getLogger(__name__)

M_MMAP_THRESHOLD = -3  # <malloc.h>; setting it also turns glibc's dynamic threshold off
DEFAULT_MMAP_THRESHOLD = 128 * 1024


def pin_mmap_threshold(threshold: int = DEFAULT_MMAP_THRESHOLD) -> bool:
    """``mallopt(M_MMAP_THRESHOLD, threshold)``; False where the C library has no such knob (not glibc)."""
    try:
        libc = ctypes.CDLL(None)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    if mallopt(M_MMAP_THRESHOLD, threshold) != 1:
        log.debug("mallopt(M_MMAP_THRESHOLD, %d) refused", threshold)
        return False
    return True
