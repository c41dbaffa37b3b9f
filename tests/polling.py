"""Waiting in tests: poll a condition until it holds; past the deadline, fail naming what was awaited.

Tests wait for what they check, never for a fixed time: a loaded 2-core CI machine (or the emulated cgroup v2
guest) makes any fixed sleep too short some day.  A deadline only decides when a test gives up.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def until(
    check: Callable[[], T | Awaitable[T]], what: str, *, timeout: float = 10.0, interval: float = 0.01
) -> T:
    """Call ``check`` (plain or async) every ``interval`` s until it returns something truthy, and return that."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        assert loop.time() < deadline, f"timed out after {timeout:g} s waiting for {what}"
        await asyncio.sleep(interval)
