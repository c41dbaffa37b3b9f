"""Eviction config parsing and validation (helpers.go ParseThresholdConfig, defaults_linux.go)."""

from __future__ import annotations

import pytest

from minikube_py.node.eviction import types as et
from minikube_py.node.eviction.types import EvictionConfig, EvictionConfigError, Signal

from .fakes import q


def summary(config: EvictionConfig) -> list[tuple[str, str, float, str | None]]:
    return [
        (t.signal.value, str(t.value), t.grace_period, None if t.min_reclaim is None else str(t.min_reclaim))
        for t in config.thresholds
    ]


def test_linux_defaults_and_the_allocatable_copy() -> None:
    assert summary(EvictionConfig()) == [
        ("memory.available", "100Mi", 0.0, None),
        ("nodefs.available", "10%", 0.0, None),
        ("nodefs.inodesFree", "5%", 0.0, None),
        ("imagefs.available", "15%", 0.0, None),
        ("allocatableMemory.available", "100Mi", 0.0, None),
    ]
    config = EvictionConfig()
    assert config.eviction_pressure_transition_period == 300.0
    assert config.housekeeping_interval == 10.0
    assert config.eviction_max_pod_grace_period == 0


def test_setting_one_hard_key_drops_the_other_defaults() -> None:
    config = EvictionConfig(eviction_hard={"memory.available": "200Mi"}, enforce_node_allocatable=())
    assert summary(config) == [("memory.available", "200Mi", 0.0, None)]


def test_merge_default_eviction_settings_keeps_the_other_defaults() -> None:
    config = EvictionConfig(
        eviction_hard={"memory.available": "200Mi"}, merge_default_eviction_settings=True, enforce_node_allocatable=()
    )
    assert summary(config) == [
        ("memory.available", "200Mi", 0.0, None),
        ("nodefs.available", "10%", 0.0, None),
        ("nodefs.inodesFree", "5%", 0.0, None),
        ("imagefs.available", "15%", 0.0, None),
    ]


def test_empty_eviction_hard_means_no_hard_thresholds() -> None:
    assert EvictionConfig(eviction_hard={}).thresholds == ()


@pytest.mark.parametrize("text", ["0%", "100%"])
def test_zero_and_hundred_percent_are_ignored(text: str) -> None:
    config = EvictionConfig(eviction_hard={"nodefs.available": text, "memory.available": "1Gi"})
    assert [t.signal for t in config.thresholds] == [Signal.MEMORY_AVAILABLE, Signal.ALLOCATABLE_MEMORY_AVAILABLE]


@pytest.mark.parametrize(
    ("hard", "error"),
    [
        ({"memory.available": "-1Mi"}, "eviction threshold memory.available must be positive: -1Mi"),
        ({"memory.available": "0"}, "eviction threshold memory.available must be positive: 0"),
        ({"nodefs.available": "150%"}, "eviction percentage threshold nodefs.available must be <= 100%: 150%"),
        ({"nodefs.available": "-5%"}, "eviction percentage threshold nodefs.available must be >= 0%: -5%"),
        ({"nodefs.available": "ten%"}, 'strconv.ParseFloat: parsing "ten": invalid syntax'),
        ({"memory.available": "12mi"}, "unable to parse quantity's suffix"),
    ],
)
def test_bad_threshold_values(hard: dict[str, str], error: str) -> None:
    with pytest.raises(EvictionConfigError) as info:
        EvictionConfig(eviction_hard=hard)
    assert str(info.value) == error


def test_unknown_signal_lists_the_supported_ones() -> None:
    with pytest.raises(EvictionConfigError) as info:
        EvictionConfig(eviction_hard={"memory.free": "1Gi"})
    assert str(info.value) == (
        "unsupported eviction signal memory.free (supported: memory.available, nodefs.available, "
        "nodefs.inodesFree, imagefs.available, imagefs.inodesFree, pid.available, allocatableMemory.available)"
    )


def test_soft_threshold_without_grace_period_is_refused() -> None:
    with pytest.raises(EvictionConfigError) as info:
        EvictionConfig(eviction_soft={"memory.available": "1.5Gi"})
    assert str(info.value) == "grace period must be specified for the soft eviction threshold memory.available"


def test_soft_thresholds_get_their_grace_and_min_reclaim_applies_to_every_threshold_of_the_signal() -> None:
    config = EvictionConfig(
        eviction_hard={"memory.available": "1Gi"},
        eviction_soft={"memory.available": "1.5Gi"},
        eviction_soft_grace_period={"memory.available": "1m30s"},
        eviction_minimum_reclaim={"memory.available": "500Mi"},
    )
    assert summary(config) == [
        ("memory.available", "1Gi", 0.0, "500Mi"),
        ("memory.available", "1536Mi", 90.0, "500Mi"),
        ("allocatableMemory.available", "1Gi", 0.0, "500Mi"),
    ]
    assert [t.is_hard for t in config.thresholds] == [True, False, True]


def test_soft_threshold_with_zero_grace_behaves_as_hard() -> None:
    config = EvictionConfig(
        eviction_hard={}, eviction_soft={"pid.available": "100"}, eviction_soft_grace_period={"pid.available": "0s"}
    )
    assert config.thresholds[0].is_hard


@pytest.mark.parametrize(
    ("field", "value", "error"),
    [
        (
            "eviction_soft_grace_period",
            {"memory.available": "-1s"},
            "invalid eviction grace period specified: -1s, must be a positive value",
        ),
        ("eviction_soft_grace_period", {"memory.available": "soon"}, 'time: invalid duration "soon"'),
        (
            "eviction_minimum_reclaim",
            {"memory.available": "-1Mi"},
            "negative eviction minimum reclaim specified for memory.available",
        ),
        (
            "eviction_minimum_reclaim",
            {"nodefs.available": "0%"},
            "eviction percentage minimum reclaim nodefs.available must be positive: 0%",
        ),
    ],
)
def test_bad_grace_periods_and_min_reclaims(field: str, value: dict[str, str], error: str) -> None:
    with pytest.raises(EvictionConfigError) as info:
        EvictionConfig(**{field: value})  # type: ignore[arg-type]
    assert str(info.value) == error


def test_percentages_are_float32_fractions() -> None:
    (threshold,) = EvictionConfig(eviction_hard={"nodefs.available": "10%"}).thresholds
    assert threshold.value.percentage == pytest.approx(0.1, abs=1e-8)
    assert threshold.value.percentage != 0.1  # float32(0.1) = 0.100000001490116...
    # so 10% of 10Gi is 16 bytes more than 1Gi, exactly as the kubelet computes it
    assert threshold.value.resolve(10 * 1024**3) == 1024**3 + 16


def test_parse_flag() -> None:
    assert et.parse_flag("memory.available<128Mi,nodefs.available<10%") == {
        "memory.available": "128Mi",
        "nodefs.available": "10%",
    }
    assert et.parse_flag("memory.available=1m30s", "=") == {"memory.available": "1m30s"}
    assert et.parse_flag("") == {}
    with pytest.raises(EvictionConfigError, match="malformed pair, expect string<string"):
        et.parse_flag("memory.available=128Mi")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0.0), ("30s", 30.0), ("5m", 300.0), ("1m30s", 90.0), ("1h", 3600.0), ("1.5h", 5400.0), ("300ms", 0.3)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert et.parse_duration(text) == pytest.approx(seconds)


def test_parse_config_from_kubelet_configuration_keys() -> None:
    config = et.parse_config(
        {
            "kind": "KubeletConfiguration",
            "evictionHard": {"memory.available": "100Mi", "nodefs.available": "10%"},
            "evictionSoft": {"memory.available": "300Mi"},
            "evictionSoftGracePeriod": {"memory.available": "30s"},
            "evictionMaxPodGracePeriod": 60,
            "evictionMinimumReclaim": {"memory.available": "50Mi"},
            "evictionPressureTransitionPeriod": "30s",
            "enforceNodeAllocatable": [],
        }
    )
    assert config.eviction_max_pod_grace_period == 60
    assert config.eviction_pressure_transition_period == 30.0
    assert summary(config) == [
        ("memory.available", "100Mi", 0.0, "50Mi"),
        ("nodefs.available", "10%", 0.0, None),
        ("memory.available", "300Mi", 30.0, "50Mi"),
    ]
    assert config.thresholds[0].value.quantity == q("100Mi")


def test_parse_config_without_eviction_keys_gives_the_defaults() -> None:
    assert et.parse_config({}).thresholds == EvictionConfig().thresholds
