"""The systemd units start commands our CLI really accepts, with the settings the design relies on."""

from __future__ import annotations

import configparser
import shlex
from pathlib import Path

import pytest

from minikube_py.cli.main import build_parser

UNITS = Path(__file__).resolve().parents[2] / "systemd"


def _unit(name: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(UNITS / name)
    return parser


@pytest.mark.parametrize("name", ["minikube-py-control-plane.service", "minikube-py-agent.service"])
def test_exec_start_parses(name: str) -> None:
    argv = shlex.split(_unit(name)["Service"]["ExecStart"])
    assert argv[0].endswith("/minikube-py")
    # systemd substitutes ${VARS} and %H; any value will do for parsing, but the token's must survive one
    # beginning with "-" (the control plane's generated tokens are URL-safe base64: "-" is in the alphabet).
    token = "-Xk3_token"
    args = [
        a.replace("${MKPY_SERVER}", "http://x:1")
        .replace("${MKPY_TOKEN}", token)
        .replace("%H", "h")
        .replace("${", "")
        .replace("}", "")
        for a in argv[1:]
    ]
    parsed = build_parser().parse_args(args)
    if "token" in vars(parsed):
        assert parsed.token == token


def test_agent_unit_delegates_and_keeps_pods() -> None:
    service = _unit("minikube-py-agent.service")["Service"]
    assert service["Delegate"] == "yes" and service["KillMode"] == "process"
