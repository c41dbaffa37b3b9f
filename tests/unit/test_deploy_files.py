"""The deployment files: the systemd units pass ``systemd-analyze verify``, the Vagrantfile passes
``vagrant validate``, and the lab's provisioning script writes the settings the units read.

``systemd-analyze verify`` (Debian's ``systemd`` package; works where systemd is not PID 1) checks that
``ExecStart=``'s binary exists, so it runs on copies whose ``/opt/minikube-py/.venv/bin/minikube-py`` is
rewritten to this checkout's.  It exits 0 on settings it only warns about and ignores (``Type=bogus``, a
misspelt key): any message about the unit counts as a failure here, which the broken copies below prove.

``vagrant validate`` (Debian's ``vagrant``) runs offline in an empty network namespace when it can.
It validates the machine-independent settings plus the selected provider's block, and only a usable provider
can be selected: libvirt through Debian's ``vagrant-libvirt`` plugin (no libvirtd needed), and VirtualBox
(not packaged for Debian 12) through a ``VBoxManage`` shim that answers ``--version`` only; the test fails if
Vagrant asked the shim anything else.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from minikube_py.cli.main import build_parser

REPO = Path(__file__).resolve().parents[2]
UNITS = REPO / "systemd"
VAGRANT_DIR = REPO / "vagrant"
UNIT_NAMES = ["minikube-py-control-plane.service", "minikube-py-agent.service"]
INSTALLED_BINARY = "/opt/minikube-py/.venv/bin/minikube-py"


def _our_binary() -> Path:
    binary = Path(sys.prefix) / "bin" / "minikube-py"
    if not binary.exists():
        binary = REPO / ".venv" / "bin" / "minikube-py"
    assert binary.exists(), f"{binary} missing: run `make install`"
    return binary


def _settings(text: str) -> dict[str, list[str]]:
    """Key → values of a unit file (all sections; comments skipped; keys may repeat)."""
    settings: dict[str, list[str]] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def _verify(unit: Path) -> tuple[int, str]:
    proc = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "SYSTEMD_LOG_COLOR": "0", "SYSTEMD_PAGER": ""},
    )
    # Messages about our unit name the file path or the unit name; others (e.g. about the host's own units)
    # are not ours to judge.
    ours = [line for line in proc.stderr.splitlines() if unit.name in line]
    return proc.returncode, "\n".join(ours)


def _copy_for_verify(name: str, tmp_path: Path, *, text: str | None = None) -> Path:
    source = (UNITS / name).read_text() if text is None else text
    assert INSTALLED_BINARY in source
    copy = tmp_path / name
    copy.write_text(source.replace(INSTALLED_BINARY, str(_our_binary())))
    return copy


requires_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze missing: `make install` (package systemd)"
)


@requires_systemd_analyze
@pytest.mark.parametrize("name", UNIT_NAMES)
def test_unit_verifies(name: str, tmp_path: Path) -> None:
    rc, messages = _verify(_copy_for_verify(name, tmp_path))
    assert (rc, messages) == (0, ""), messages


@requires_systemd_analyze
@pytest.mark.parametrize(
    ("breakage", "replacement"),
    [
        ("Type=notify", "Type=notifyy"),  # warned and ignored: exit status 0, caught by the message check
        ("KillMode=process", "KillMode=processes"),
        ("Delegate=yes", "Delegat=yes"),
        ("[Service]", "[Servic]"),  # no ExecStart left: exit status 1
        (INSTALLED_BINARY, "/nonexistent/minikube-py"),  # the binary must exist
    ],
)
def test_broken_unit_fails_verify(breakage: str, replacement: str, tmp_path: Path) -> None:
    name = "minikube-py-agent.service"
    text = (UNITS / name).read_text()
    assert breakage in text
    broken = tmp_path / name
    if breakage == INSTALLED_BINARY:
        broken.write_text(text.replace(breakage, replacement))
    else:
        broken = _copy_for_verify(name, tmp_path, text=text.replace(breakage, replacement))
    rc, messages = _verify(broken)
    assert rc != 0 or messages, f"systemd-analyze verify accepted a unit with {replacement!r}"


@pytest.mark.parametrize("name", UNIT_NAMES)
def test_unit_settings(name: str) -> None:
    settings = _settings((UNITS / name).read_text())
    assert settings["Type"] == ["notify"]
    assert settings["NotifyAccess"] == ["main"]
    assert settings["Restart"] == ["on-failure"]
    assert settings["EnvironmentFile"] == ["-/etc/default/minikube-py"]
    if name == "minikube-py-agent.service":
        assert settings["Delegate"] == ["yes"]
        assert settings["KillMode"] == ["process"]
    else:
        assert "Delegate" not in settings and "KillMode" not in settings


def _exec_start_variables() -> set[str]:
    found: set[str] = set()
    for name in UNIT_NAMES:
        (exec_start,) = _settings((UNITS / name).read_text())["ExecStart"]
        found |= set(re.findall(r"\$\{(\w+)\}", exec_start))
    return found


def _env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep and re.fullmatch(r"[A-Z_]+", key), f"not a KEY=value line: {line!r}"
            values[key] = value
    return values


def test_sample_default_file_documents_every_variable() -> None:
    sample = UNITS / "minikube-py.default"
    assert (
        set(_env_file(sample))
        == _exec_start_variables()
        == {"MKPY_SERVER", "MKPY_ADDRESS", "MKPY_TOKEN", "MKPY_LISTEN"}
    )


# --- the Vagrant lab


def _offline_prefix() -> list[str]:
    """Run in an empty network namespace where we may (as root), so that nothing can be downloaded."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "--net", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "--net"]
    return []


def _vagrant_validate(vagrant_dir: Path, tmp_path: Path, provider: str, path_prefix: str = "") -> tuple[int, str]:
    home = tmp_path / "vagrant-home"
    env = {
        **os.environ,
        "VAGRANT_CWD": str(vagrant_dir),
        "VAGRANT_HOME": str(home),  # no user plugins or boxes; Debian's vagrant-libvirt is a system plugin
        "VAGRANT_DOTFILE_PATH": str(tmp_path / "vagrant-dot"),  # leave no .vagrant/ in the checkout
        "VAGRANT_DEFAULT_PROVIDER": provider,
        "VAGRANT_CHECKPOINT_DISABLE": "1",
        "VAGRANT_NO_COLOR": "1",
    }
    if path_prefix:
        env["PATH"] = f"{path_prefix}:{env['PATH']}"
    proc = subprocess.run(
        [*_offline_prefix(), "vagrant", "validate"], capture_output=True, text=True, timeout=180, env=env
    )
    boxes = home / "boxes"
    assert not boxes.exists() or not any(boxes.iterdir()), "vagrant validate fetched a box"
    return proc.returncode, proc.stdout + proc.stderr


def _vboxmanage_shim(tmp_path: Path) -> tuple[str, Path]:
    bindir = tmp_path / "vbox-shim"
    bindir.mkdir()
    calls = tmp_path / "vboxmanage.calls"
    shim = bindir / "VBoxManage"
    shim.write_text(
        f'#!/bin/sh\necho "$*" >> {shlex.quote(str(calls))}\n'
        '[ "$1" = --version ] && { echo 7.0.14r161095; exit 0; }\nexit 1\n'
    )
    shim.chmod(shim.stat().st_mode | stat.S_IXUSR)
    return str(bindir), calls


requires_vagrant = pytest.mark.skipif(
    shutil.which("vagrant") is None, reason="vagrant missing: `make install` (package vagrant)"
)


def _validate(provider: str, vagrant_dir: Path, tmp_path: Path) -> tuple[int, str]:
    if provider == "virtualbox":
        bindir, calls = _vboxmanage_shim(tmp_path)
        result = _vagrant_validate(vagrant_dir, tmp_path, provider, bindir)
        assert set(calls.read_text().splitlines()) == {"--version"}, "validate asked VirtualBox for more"
        return result
    return _vagrant_validate(vagrant_dir, tmp_path, provider)


@requires_vagrant
@pytest.mark.parametrize("provider", ["libvirt", "virtualbox"])
def test_vagrantfile_validates(provider: str, tmp_path: Path) -> None:
    rc, output = _validate(provider, VAGRANT_DIR, tmp_path)
    assert rc == 0, output
    assert "Vagrantfile validated successfully." in output


@requires_vagrant
@pytest.mark.parametrize(
    ("provider", "breakage", "replacement", "expected"),
    [
        ("libvirt", "lv.cpus = 2", "lv.cpus = 2\n    lv.cpu_count = 2", "cpu_count"),
        ("virtualbox", "vb.cpus = 2", "vb.cpus = 2\n    vb.cpu_count = 2", "cpu_count"),
        ("libvirt", 'path: "provision.sh"', 'path: "provisioning.sh"', "provisioning.sh"),
        ("libvirt", "trigger.name =", "trigger.title =", "title"),
        ("libvirt", "Vagrant.configure", "Vagrant.configur", "configur"),
    ],
)
def test_broken_vagrantfile_fails_validate(
    provider: str, breakage: str, replacement: str, expected: str, tmp_path: Path
) -> None:
    lab = tmp_path / "vagrant"
    lab.mkdir()
    shutil.copy(VAGRANT_DIR / "provision.sh", lab / "provision.sh")
    text = (VAGRANT_DIR / "Vagrantfile").read_text()
    assert breakage in text
    (lab / "Vagrantfile").write_text(text.replace(breakage, replacement))
    rc, output = _validate(provider, lab, tmp_path)
    assert rc != 0 and expected in output, output


def _provision(tmp_path: Path, *args: str, token: str | None = "0123456789abcdef0123456789abcdef") -> tuple[int, str]:
    repo = tmp_path / "repo"
    shutil.copytree(UNITS, repo / "systemd")
    (repo / "vagrant").mkdir()
    if token is not None:
        (repo / "vagrant" / ".mkpy-token").write_text(token + "\n")
    env = {**os.environ, "MKPY_REPO": str(repo), "DESTDIR": str(tmp_path / "root")}
    proc = subprocess.run(
        ["bash", str(VAGRANT_DIR / "provision.sh"), *args], capture_output=True, text=True, timeout=30, env=env
    )
    return proc.returncode, proc.stdout + proc.stderr


@pytest.mark.parametrize(("role", "own_ip"), [("control-plane", "192.168.56.10"), ("agent", "192.168.56.11")])
def test_provision_writes_unit_and_settings(role: str, own_ip: str, tmp_path: Path) -> None:
    rc, output = _provision(tmp_path, role, "192.168.56.10", own_ip)
    assert rc == 0, output
    root = tmp_path / "root"
    unit = f"minikube-py-{role}.service"
    assert (root / "etc/systemd/system" / unit).read_text() == (UNITS / unit).read_text()
    assert [p.name for p in (root / "etc/systemd/system").iterdir()] == [unit]
    settings = root / "etc/default/minikube-py"
    assert stat.S_IMODE(settings.stat().st_mode) == 0o600  # it holds the token
    values = _env_file(settings)
    assert values == {
        "MKPY_LISTEN": "192.168.56.10",
        "MKPY_SERVER": "http://192.168.56.10:6443",
        "MKPY_ADDRESS": own_ip,
        "MKPY_TOKEN": "0123456789abcdef0123456789abcdef",
    }
    token_file = root / "var/lib/minikube-py/control-plane/token"
    if role == "control-plane":  # the control plane's own token file holds the same shared token
        assert token_file.read_text() == values["MKPY_TOKEN"] + "\n"
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    else:
        assert not token_file.exists()
    # the unit's ExecStart with these values is a command line our CLI accepts
    (exec_start,) = _settings((UNITS / unit).read_text())["ExecStart"]
    argv = shlex.split(re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], exec_start.replace("%H", "mkpy-node1")))
    args = build_parser().parse_args(argv[1:])
    if role == "agent":
        assert (args.server, args.address, args.listen, args.token) == (
            "http://192.168.56.10:6443",
            own_ip,
            own_ip,
            values["MKPY_TOKEN"],
        )
    else:
        assert args.host == "192.168.56.10"


def test_provision_refuses_without_token_or_role(tmp_path: Path) -> None:
    rc, output = _provision(tmp_path / "a", "agent", "192.168.56.10", "192.168.56.11", token=None)
    assert rc == 1 and "no shared token" in output
    rc, output = _provision(tmp_path / "b", "agent", "192.168.56.10", "192.168.56.11", token="short")
    assert rc == 1 and "no shared token" in output
    rc, output = _provision(tmp_path / "c", "kubelet", "192.168.56.10", "192.168.56.11")
    assert rc == 2 and "unknown role" in output
    assert not (tmp_path / "a" / "root").exists()
