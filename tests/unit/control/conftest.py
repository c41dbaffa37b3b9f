"""A real API server on loopback with a real SQLite store in a temp dir."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from minikube_py.control import apiserver
from minikube_py.control.store import SQLiteStore


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[TestClient[Any, Any]]:
    store = await SQLiteStore.open(str(tmp_path / "state.db"))
    app = apiserver.create_app(store)
    client: TestClient[Any, Any] = TestClient(TestServer(app, host="127.0.0.1"))
    await client.start_server()
    try:
        yield client
    finally:
        await client.close()
        await store.close()
