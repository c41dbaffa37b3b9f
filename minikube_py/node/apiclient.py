"""The agent's asynchronous client of the control plane (plain HTTP + JSON; statuses become typed errors)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from minikube_py import errors


class ApiRequestError(errors.MinikubeError):
    """The API server answered with a Status failure (``code``, ``reason``) or could not be reached (code 0)."""

    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


# A watch asks for bookmarks, which the API server sends every minute on a quiet stream: a watch silent for
# longer than this is dead (a peer that vanished in a partition never sends a FIN), and is given up.
WATCH_READ_TIMEOUT = 150.0


class ApiClient:
    def __init__(
        self, server: str, *, token: str = "", timeout: float = 10.0, watch_read_timeout: float = WATCH_READ_TIMEOUT
    ) -> None:
        """``token``: the cluster's bearer token, presented on every request (needed beyond loopback)."""
        self.server = server.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._timeout = timeout
        self._watch_read_timeout = watch_read_timeout
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ApiClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                headers=self._headers, timeout=aiohttp.ClientTimeout(total=None, sock_connect=self._timeout)
            )
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def request(self, method: str, path: str, body: Any = None, **params: str) -> dict[str, Any]:
        try:
            async with self._http().request(
                method,
                self.server + path,
                json=body,
                params=params or None,
                timeout=aiohttp.ClientTimeout(total=self._timeout),
            ) as r:
                text = await r.text()
                data: dict[str, Any] = json.loads(text) if text else {}
                if r.status >= 400:
                    raise ApiRequestError(r.status, str(data.get("reason", "")), str(data.get("message", text)))
                return data
        except aiohttp.ClientError as err:
            raise ApiRequestError(0, "Unreachable", f"cannot reach the API server at {self.server}: {err}") from err
        except TimeoutError as err:
            raise ApiRequestError(0, "Timeout", f"the API server at {self.server} did not answer in time") from err

    async def watch(self, path: str, **params: str) -> AsyncIterator[dict[str, Any]]:
        """Yield watch events, BOOKMARKs included; raises ApiRequestError(410) on an ERROR event with code 410, and
        ApiRequestError(0, "Timeout") when the stream stays silent beyond the watch read timeout."""
        params = {"allowWatchBookmarks": "true", **params, "watch": "true"}
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout, sock_read=self._watch_read_timeout)
        try:
            async with self._http().get(self.server + path, params=params, timeout=timeout) as r:
                if r.status >= 400:
                    data = await r.json()
                    raise ApiRequestError(r.status, str(data.get("reason", "")), str(data.get("message", "")))
                async for line in r.content:
                    if not line.strip():
                        continue
                    event: dict[str, Any] = json.loads(line)
                    if event.get("type") == "ERROR":
                        status = event.get("object", {})
                        raise ApiRequestError(
                            int(status.get("code", 500)), str(status.get("reason", "")), str(status.get("message", ""))
                        )
                    yield event
        except aiohttp.ConnectionTimeoutError as err:
            raise ApiRequestError(0, "Unreachable", f"cannot reach the API server at {self.server}: {err}") from err
        except TimeoutError as err:  # before ClientError: aiohttp's read timeout is both
            silent = f"watch of {path} silent for {self._watch_read_timeout:g} s"
            raise ApiRequestError(0, "Timeout", silent) from err
        except aiohttp.ClientError as err:
            raise ApiRequestError(0, "Unreachable", f"watch of {path} broke: {err}") from err
