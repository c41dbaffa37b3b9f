"""Bearer-token access: loopback connections pass, others need the token; token file and kubeconfig."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import yaml
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from minikube_py.control import auth


def _request(local: Any, headers: dict[str, str] | None = None) -> web.Request:
    transport = mock.Mock()
    transport.get_extra_info.side_effect = lambda name, default=None: local if name == "sockname" else default
    return make_mocked_request("GET", "/api/v1/pods", headers=headers or {}, transport=transport)


async def _ok(request: web.Request) -> web.StreamResponse:
    return web.Response(text="served")


@pytest.mark.parametrize(
    ("local", "headers", "status"),
    [
        (("127.0.0.1", 6443), {}, 200),
        (("127.0.0.53", 6443), {}, 200),
        (("::1", 6443, 0, 0), {}, 200),
        (("::ffff:127.0.0.1", 6443, 0, 0), {}, 200),
        (("10.77.0.254", 6443), {}, 401),
        (("10.77.0.254", 6443), {"Authorization": "Bearer wrong"}, 401),
        (("10.77.0.254", 6443), {"Authorization": "Basic s3cret"}, 401),
        (("10.77.0.254", 6443), {"Authorization": "Bearer "}, 401),
        (("10.77.0.254", 6443), {"Authorization": "Bearer s3cret"}, 200),
        (("10.77.0.254", 6443), {"Authorization": "bearer s3cret"}, 200),
        (None, {}, 401),  # unknown socket: treated as remote
    ],
)
async def test_remote_requests_need_the_token(local: Any, headers: dict[str, str], status: int) -> None:
    middleware = auth.bearer_middleware("s3cret")
    response = await middleware(_request(local, headers), _ok)
    assert response.status == status
    if status == 401:
        assert isinstance(response, web.Response) and response.text is not None
        assert '"reason": "Unauthorized"' in response.text and "served" not in response.text


def test_token_is_created_once_with_private_permissions(tmp_path: Path) -> None:
    path = str(tmp_path / "cp" / "token")
    first = auth.load_or_create_token(path)
    assert len(first) >= 40
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert auth.load_or_create_token(path) == first


def test_a_new_token_never_begins_with_a_dash() -> None:
    # "--token -abc" reads as an option to argparse: a token drawn with a leading "-" is drawn again.
    draws = iter(["-starts-with-dash", "-again", "fine-token"])
    assert auth.new_token(lambda nbytes: next(draws)) == "fine-token"
    assert not any(auth.new_token().startswith("-") for _ in range(200))


def test_kubeconfig_is_what_kubectl_reads(tmp_path: Path) -> None:
    path = str(tmp_path / "kubeconfig")
    auth.write_kubeconfig(path, "http://10.77.0.254:6443", "tok")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    config = yaml.safe_load(Path(path).read_text())
    context = next(c for c in config["contexts"] if c["name"] == config["current-context"])["context"]
    cluster = next(c for c in config["clusters"] if c["name"] == context["cluster"])["cluster"]
    user = next(u for u in config["users"] if u["name"] == context["user"])["user"]
    assert (cluster["server"], user["token"]) == ("http://10.77.0.254:6443", "tok")


def test_the_official_kubernetes_client_loads_it(tmp_path: Path) -> None:
    kubernetes = pytest.importorskip("kubernetes")
    path = str(tmp_path / "kubeconfig")
    auth.write_kubeconfig(path, "http://10.77.0.254:6443", "tok")
    configuration = kubernetes.client.Configuration()
    kubernetes.config.load_kube_config(config_file=path, client_configuration=configuration)
    assert configuration.host == "http://10.77.0.254:6443"
    assert configuration.api_key["BearerToken"] == "Bearer tok"
