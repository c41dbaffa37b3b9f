"""Eviction settings from kubelet-style flags and a KubeletConfiguration file, as `up` and `agent` read them."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from minikube_py.cli import main as cli
from minikube_py.node.eviction.types import EvictionConfigError, Signal


def parse(*argv: str):  # type: ignore[no-untyped-def]
    args = cli.build_parser().parse_args(["agent", "--server", "http://127.0.0.1:1", "--node-name", "n", *argv])
    return args, cli._eviction_config(args)


def memory_thresholds(config) -> list[str]:  # type: ignore[no-untyped-def]
    return [str(t.value) for t in config.thresholds if t.signal is Signal.MEMORY_AVAILABLE]


def test_no_flags_and_no_file_leaves_eviction_off() -> None:
    assert parse()[1] is None


def test_flags_set_thresholds_grace_reclaim_transition_and_housekeeping() -> None:
    _, config = parse(
        "--eviction-hard", "memory.available<128Mi,nodefs.available<10%",
        "--eviction-soft", "memory.available<256Mi",
        "--eviction-soft-grace-period", "memory.available=1m30s",
        "--eviction-minimum-reclaim", "memory.available=64Mi",
        "--eviction-pressure-transition-period", "7s",
        "--housekeeping-interval", "2s",
    )  # fmt: skip
    by_kind = {(t.signal, t.is_hard): t for t in config.thresholds}
    assert by_kind[(Signal.MEMORY_AVAILABLE, False)].grace_period == 90
    assert str(by_kind[(Signal.NODEFS_AVAILABLE, True)].value) == "10%"
    assert config.eviction_pressure_transition_period == 7 and config.housekeeping_interval == 2


def test_config_file_with_flags_overriding_it(tmp_path: Path) -> None:
    path = tmp_path / "kubelet.yaml"
    path.write_text(
        "apiVersion: kubelet.config.k8s.io/v1beta1\n"
        "kind: KubeletConfiguration\n"
        "evictionHard: {memory.available: 300Mi}\n"
        "evictionPressureTransitionPeriod: 30s\n"
        "housekeepingInterval: 5s\n"
    )
    _, from_file = parse("--config", str(path))
    assert memory_thresholds(from_file) == ["300Mi"]
    assert from_file.eviction_pressure_transition_period == 30 and from_file.housekeeping_interval == 5
    _, overridden = parse("--config", str(path), "--eviction-hard", "memory.available<100Mi")
    assert memory_thresholds(overridden) == ["100Mi"]
    assert overridden.eviction_pressure_transition_period == 30


def test_argv_for_agent_processes_round_trips(tmp_path: Path) -> None:
    path = tmp_path / "k.yaml"
    path.write_text("kind: KubeletConfiguration\nevictionHard: {memory.available: 300Mi}\n")
    args, config = parse("--config", str(path), "--eviction-max-pod-grace-period", "3", "--housekeeping-interval", "1s")
    argv = cli._eviction_argv(args)
    assert argv[0] == f"--config={path}"
    _, again = parse(*argv)
    assert again == config


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("kind: Pod\n", "kind must be KubeletConfiguration"),
        ("evictionHard: [1, 2\n", "is not valid YAML"),
        ("- a\n", "must hold a mapping"),
        ("evictionSoft: {memory.available: 1Gi}\n", "grace period"),
    ],
)
def test_bad_config_files_are_refused_with_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(EvictionConfigError, match=message):
        parse("--config", str(path))


def test_agent_refuses_to_start_on_a_soft_threshold_without_grace(tmp_path: Path) -> None:
    err = io.StringIO()
    code = cli.main(
        ["agent", "--server", "http://127.0.0.1:1", "--node-name", "n", "--eviction-soft", "memory.available<1Gi"],
        out=io.StringIO(),
        err=err,
    )
    assert code == 2
    assert "error:" in err.getvalue() and "grace period" in err.getvalue()


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(EvictionConfigError, match="cannot read --config"):
        parse("--config", str(tmp_path / "missing.yaml"))
