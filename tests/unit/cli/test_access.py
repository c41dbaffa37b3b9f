"""Where the CLI finds the server and its token: flags, environment, kubeconfig, defaults."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikube_py.cli import client as client_mod
from minikube_py.control import auth


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in (client_mod.SERVER_ENV, client_mod.TOKEN_ENV, client_mod.KUBECONFIG_ENV):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(client_mod, "DEFAULT_KUBECONFIG", str(tmp_path / "absent"))


def test_defaults_without_any_configuration() -> None:
    assert client_mod.resolve_access() == ("http://127.0.0.1:6443", None)


def test_kubeconfig_gives_server_and_token(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "kc"
    auth.write_kubeconfig(str(path), "http://10.77.0.254:6443/", "t0k")
    assert client_mod.resolve_access(kubeconfig_flag=str(path)) == ("http://10.77.0.254:6443", "t0k")
    monkeypatch.setenv(client_mod.KUBECONFIG_ENV, str(path))
    assert client_mod.resolve_access() == ("http://10.77.0.254:6443", "t0k")


def test_flags_and_environment_win_over_the_kubeconfig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "kc"
    auth.write_kubeconfig(str(path), "http://10.77.0.254:6443", "t0k")
    monkeypatch.setenv(client_mod.KUBECONFIG_ENV, str(path))
    monkeypatch.setenv(client_mod.TOKEN_ENV, "from-env")
    assert client_mod.resolve_access("http://127.0.0.1:1") == ("http://127.0.0.1:1", "from-env")
    assert client_mod.resolve_access(token_flag="flag") == ("http://10.77.0.254:6443", "flag")


def test_the_local_control_planes_kubeconfig_is_used_when_readable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "kubeconfig"
    auth.write_kubeconfig(str(path), "http://127.0.0.1:7443", "local")
    monkeypatch.setattr(client_mod, "DEFAULT_KUBECONFIG", str(path))
    assert client_mod.resolve_access() == ("http://127.0.0.1:7443", "local")


@pytest.mark.parametrize(("content", "message"), [("kind: [", "not valid YAML"), ("- 1\n", "must hold a mapping")])
def test_a_broken_kubeconfig_is_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "kc"
    path.write_text(content)
    with pytest.raises(client_mod.CliError, match=message):
        client_mod.resolve_access(kubeconfig_flag=str(path))


def test_a_missing_explicit_kubeconfig_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(client_mod.CliError, match="cannot read kubeconfig"):
        client_mod.resolve_access(kubeconfig_flag=str(tmp_path / "nope"))
