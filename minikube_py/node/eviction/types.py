"""Eviction vocabulary: signals, thresholds, the kubelet-style configuration, and the stats snapshot.

Mirrors ``pkg/kubelet/eviction/api/types.go`` (Signal, Threshold, ThresholdValue, GetThresholdQuantity),
``pkg/kubelet/eviction/helpers.go`` (``ParseThresholdConfig`` and its error texts) and
``pkg/kubelet/eviction/defaults_linux.go`` (``DefaultEvictionHard``). Reference: k8s-semantics.md §7.

Pure data and parsing: no I/O, no clock.
"""

from __future__ import annotations

import dataclasses
import enum
import math
import re
import struct
from collections.abc import Mapping
from typing import Any

from minikube_py.api import quantity as qty

__all__ = [
    "DEFAULT_EVICTION_HARD",
    "ContainerStats",
    "EvictionConfig",
    "EvictionConfigError",
    "FsStats",
    "NodeCondition",
    "NodeStats",
    "PodStats",
    "Signal",
    "Threshold",
    "ThresholdValue",
    "parse_config",
    "parse_duration",
    "parse_flag",
    "parse_thresholds",
]


class Signal(enum.StrEnum):
    """An eviction signal; every one uses the only operator the kubelet has, ``LessThan``."""

    MEMORY_AVAILABLE = "memory.available"
    NODEFS_AVAILABLE = "nodefs.available"
    NODEFS_INODES_FREE = "nodefs.inodesFree"
    IMAGEFS_AVAILABLE = "imagefs.available"
    IMAGEFS_INODES_FREE = "imagefs.inodesFree"
    PID_AVAILABLE = "pid.available"
    # Internal: measured on the kubepods cgroup; added as a copy of each hard memory.available threshold when
    # enforceNodeAllocatable contains "pods" (helpers.go addAllocatableThresholds).
    ALLOCATABLE_MEMORY_AVAILABLE = "allocatableMemory.available"


class NodeCondition(enum.StrEnum):
    MEMORY_PRESSURE = "MemoryPressure"
    DISK_PRESSURE = "DiskPressure"
    PID_PRESSURE = "PIDPressure"


# The resource names the kubelet reports in messages and events (helpers.go signalToResource).
RESOURCE_MEMORY = "memory"
RESOURCE_EPHEMERAL_STORAGE = "ephemeral-storage"
RESOURCE_INODES = "inodes"
RESOURCE_PIDS = "pids"

SIGNAL_TO_NODE_CONDITION: Mapping[Signal, NodeCondition] = {
    Signal.MEMORY_AVAILABLE: NodeCondition.MEMORY_PRESSURE,
    Signal.ALLOCATABLE_MEMORY_AVAILABLE: NodeCondition.MEMORY_PRESSURE,
    Signal.NODEFS_AVAILABLE: NodeCondition.DISK_PRESSURE,
    Signal.NODEFS_INODES_FREE: NodeCondition.DISK_PRESSURE,
    Signal.IMAGEFS_AVAILABLE: NodeCondition.DISK_PRESSURE,
    Signal.IMAGEFS_INODES_FREE: NodeCondition.DISK_PRESSURE,
    Signal.PID_AVAILABLE: NodeCondition.PID_PRESSURE,
}

SIGNAL_TO_RESOURCE: Mapping[Signal, str] = {
    Signal.MEMORY_AVAILABLE: RESOURCE_MEMORY,
    Signal.ALLOCATABLE_MEMORY_AVAILABLE: RESOURCE_MEMORY,
    Signal.NODEFS_AVAILABLE: RESOURCE_EPHEMERAL_STORAGE,
    Signal.NODEFS_INODES_FREE: RESOURCE_INODES,
    Signal.IMAGEFS_AVAILABLE: RESOURCE_EPHEMERAL_STORAGE,
    Signal.IMAGEFS_INODES_FREE: RESOURCE_INODES,
    Signal.PID_AVAILABLE: RESOURCE_PIDS,
}

MEMORY_SIGNALS = frozenset({Signal.MEMORY_AVAILABLE, Signal.ALLOCATABLE_MEMORY_AVAILABLE})

# defaults_linux.go. Newer docs also list imagefs.inodesFree<5%; the code we checked has these four.
DEFAULT_EVICTION_HARD: Mapping[str, str] = {
    "memory.available": "100Mi",
    "nodefs.available": "10%",
    "nodefs.inodesFree": "5%",
    "imagefs.available": "15%",
}

# The kubelet's defaults (v1beta1/defaults.go; --housekeeping-interval for the monitoring period).
DEFAULT_PRESSURE_TRANSITION_PERIOD = 300.0
DEFAULT_HOUSEKEEPING_INTERVAL = 10.0
NODE_ALLOCATABLE_ENFORCEMENT_KEY = "pods"


class EvictionConfigError(ValueError):
    """The configuration was refused; ``str(err)`` starts with the kubelet's own error text."""


# ----------------------------------------------------------------------------------------------------
# Threshold values


def _float32(value: float) -> float:
    """Round to the nearest IEEE float32, as Go's ``float32(...)`` does."""
    result: float = struct.unpack("f", struct.pack("f", value))[0]
    return result


@dataclasses.dataclass(frozen=True, slots=True)
class ThresholdValue:
    """Exactly one of an absolute ``quantity`` or a ``percentage`` (a float32 fraction: 10% is 0.1f)."""

    quantity: qty.Quantity | None = None
    percentage: float = 0.0

    def resolve(self, capacity: int) -> int:
        """``GetThresholdQuantity``: the absolute amount, percentages taken of ``capacity`` and truncated."""
        if self.quantity is not None:
            return self.quantity.value()
        return int(float(capacity) * self.percentage)

    def resolve_quantity(self, capacity: int) -> qty.Quantity:
        """Same, as the Quantity the kubelet prints: the parsed input, or a BinarySI quantity for a percentage."""
        if self.quantity is not None:
            return self.quantity
        return qty.Quantity.from_int(self.resolve(capacity), qty.Format.BINARY_SI)

    def __str__(self) -> str:
        if self.quantity is not None:
            return self.quantity.canonical()
        return f"{self.percentage * 100:g}%"


@dataclasses.dataclass(frozen=True, slots=True)
class Threshold:
    """One eviction threshold: evict when ``signal`` < ``value`` for ``grace_period`` seconds.

    ``grace_period == 0`` makes it a hard threshold (``isHardEvictionThreshold``), even when it was written
    under evictionSoft with a ``0s`` grace period.
    """

    signal: Signal
    value: ThresholdValue
    grace_period: float = 0.0
    min_reclaim: ThresholdValue | None = None

    @property
    def is_hard(self) -> bool:
        return self.grace_period == 0

    def describe(self) -> str:
        kind = "hard" if self.is_hard else f"soft, grace {self.grace_period:g}s"
        reclaim = f", minReclaim {self.min_reclaim}" if self.min_reclaim is not None else ""
        return f"{self.signal}<{self.value} ({kind}{reclaim})"


# ----------------------------------------------------------------------------------------------------
# Parsing (helpers.go parseThresholdStatement / parseGracePeriods / parseMinimumReclaims)


def _supported() -> str:
    return ", ".join(s.value for s in Signal)


def _signal(name: str) -> Signal:
    try:
        return Signal(name)
    except ValueError:
        raise EvictionConfigError(f"unsupported eviction signal {name} (supported: {_supported()})") from None


def _parse_percentage(text: str) -> float:
    """``parsePercentage``: ParseFloat(trimmed, 32) as float32, divided by 100 in float32."""
    number = text.rstrip("%")
    try:
        value = float(number)
    except ValueError:
        raise EvictionConfigError(f'strconv.ParseFloat: parsing "{number}": invalid syntax') from None
    if not math.isfinite(value) or "_" in number:
        raise EvictionConfigError(f'strconv.ParseFloat: parsing "{number}": invalid syntax')
    return _float32(_float32(value) / 100)


def _parse_quantity(text: str) -> qty.Quantity:
    try:
        return qty.Quantity.parse(text)
    except qty.QuantityError as err:
        raise EvictionConfigError(str(err)) from err


def _parse_threshold_statement(name: str, text: str) -> Threshold | None:
    signal = _signal(name)
    if text.endswith("%"):
        if text in ("0%", "100%"):  # ignored on purpose: a way to switch a default off
            return None
        percentage = _parse_percentage(text)
        if percentage < 0:
            raise EvictionConfigError(f"eviction percentage threshold {signal} must be >= 0%: {text}")
        if percentage > 1:
            raise EvictionConfigError(f"eviction percentage threshold {signal} must be <= 100%: {text}")
        return Threshold(signal, ThresholdValue(percentage=percentage))
    value = _parse_quantity(text)
    if value.sign() <= 0:
        raise EvictionConfigError(f"eviction threshold {signal} must be positive: {value.canonical()}")
    return Threshold(signal, ThresholdValue(quantity=value))


_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION_PART = re.compile(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)")


def parse_duration(text: str) -> float:
    """Go's ``time.ParseDuration`` ("1m30s", "300ms", "5m", "0") in seconds."""
    body = text[1:] if text[:1] in "+-" else text
    sign = -1.0 if text.startswith("-") else 1.0
    if body == "0":
        return 0.0
    if not body:
        raise EvictionConfigError(f'time: invalid duration "{text}"')
    total = 0.0
    pos = 0
    while pos < len(body):
        match = _DURATION_PART.match(body, pos)
        if match is None or match.group(1) in ("", "."):
            raise EvictionConfigError(f'time: invalid duration "{text}"')
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    return sign * total


def _parse_grace_periods(statements: Mapping[str, str]) -> dict[Signal, float]:
    results: dict[Signal, float] = {}
    for name, text in statements.items():
        signal = _signal(name)
        period = parse_duration(text)
        if period < 0:
            raise EvictionConfigError(f"invalid eviction grace period specified: {text}, must be a positive value")
        results[signal] = period
    return results


def _parse_minimum_reclaims(statements: Mapping[str, str]) -> dict[Signal, ThresholdValue]:
    results: dict[Signal, ThresholdValue] = {}
    for name, text in statements.items():
        signal = _signal(name)
        if text.endswith("%"):
            percentage = _parse_percentage(text)
            if percentage <= 0:
                raise EvictionConfigError(f"eviction percentage minimum reclaim {signal} must be positive: {text}")
            results[signal] = ThresholdValue(percentage=percentage)
            continue
        value = _parse_quantity(text)
        if value.sign() < 0:
            raise EvictionConfigError(f"negative eviction minimum reclaim specified for {signal}")
        results[signal] = ThresholdValue(quantity=value)
    return results


def _statements(statements: Mapping[str, str]) -> list[Threshold]:
    parsed = (_parse_threshold_statement(name, text) for name, text in statements.items())
    return [t for t in parsed if t is not None]


def parse_thresholds(
    eviction_hard: Mapping[str, str],
    eviction_soft: Mapping[str, str],
    eviction_soft_grace_period: Mapping[str, str],
    eviction_minimum_reclaim: Mapping[str, str],
    enforce_node_allocatable: tuple[str, ...] = (NODE_ALLOCATABLE_ENFORCEMENT_KEY,),
) -> tuple[Threshold, ...]:
    """``ParseThresholdConfig``: hard thresholds, then soft ones (each needs a grace period), min-reclaims
    attached to every threshold of their signal, then allocatableMemory.available copies of hard memory ones."""
    results = _statements(eviction_hard)
    soft = _statements(eviction_soft)
    grace_periods = _parse_grace_periods(eviction_soft_grace_period)
    min_reclaims = _parse_minimum_reclaims(eviction_minimum_reclaim)
    for threshold in soft:
        if threshold.signal not in grace_periods:
            raise EvictionConfigError(
                f"grace period must be specified for the soft eviction threshold {threshold.signal}"
            )
        results.append(dataclasses.replace(threshold, grace_period=grace_periods[threshold.signal]))
    results = [
        dataclasses.replace(t, min_reclaim=min_reclaims[t.signal]) if t.signal in min_reclaims else t for t in results
    ]
    if NODE_ALLOCATABLE_ENFORCEMENT_KEY in enforce_node_allocatable:
        results += [
            Threshold(Signal.ALLOCATABLE_MEMORY_AVAILABLE, t.value, 0.0, t.min_reclaim)
            for t in results
            if t.signal is Signal.MEMORY_AVAILABLE and t.is_hard
        ]
    return tuple(results)


# ----------------------------------------------------------------------------------------------------
# Configuration


def _frozen_map(value: Mapping[str, str] | None) -> Mapping[str, str] | None:
    return None if value is None else dict(value)


@dataclasses.dataclass(frozen=True)
class EvictionConfig:
    """The kubelet's eviction settings, validated on construction (``thresholds`` holds the parsed result).

    Construction raises :class:`EvictionConfigError`, so a node agent refuses to start on a bad config, as
    the kubelet does.
    """

    eviction_hard: Mapping[str, str] | None = None
    """Signal -> "100Mi" / "10%". ``None`` means the Linux defaults; any mapping (even ``{}``) replaces them
    entirely unless ``merge_default_eviction_settings`` is set (reference pitfall 4)."""
    eviction_soft: Mapping[str, str] = dataclasses.field(default_factory=dict)
    eviction_soft_grace_period: Mapping[str, str] = dataclasses.field(default_factory=dict)
    """Signal -> Go duration ("1m30s"). Required for every soft threshold."""
    eviction_max_pod_grace_period: int = 0
    """Seconds; caps the pod's own terminationGracePeriodSeconds on soft evictions (0 kills at once)."""
    eviction_minimum_reclaim: Mapping[str, str] = dataclasses.field(default_factory=dict)
    eviction_pressure_transition_period: float = DEFAULT_PRESSURE_TRANSITION_PERIOD
    """Seconds a pressure condition must stay clear before it is reported False (5 m)."""
    housekeeping_interval: float = DEFAULT_HOUSEKEEPING_INTERVAL
    """Seconds between synchronize passes when nothing was evicted (10 s)."""
    merge_default_eviction_settings: bool = False
    enforce_node_allocatable: tuple[str, ...] = (NODE_ALLOCATABLE_ENFORCEMENT_KEY,)
    thresholds: tuple[Threshold, ...] = dataclasses.field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "eviction_hard", _frozen_map(self.eviction_hard))
        for name in ("eviction_soft", "eviction_soft_grace_period", "eviction_minimum_reclaim"):
            object.__setattr__(self, name, dict(getattr(self, name)))
        if self.housekeeping_interval <= 0:
            raise EvictionConfigError("housekeeping interval must be positive")
        if self.eviction_pressure_transition_period < 0:
            raise EvictionConfigError("evictionPressureTransitionPeriod must not be negative")
        object.__setattr__(self, "thresholds", parse_thresholds(
            self.effective_eviction_hard(),
            self.eviction_soft,
            self.eviction_soft_grace_period,
            self.eviction_minimum_reclaim,
            self.enforce_node_allocatable,
        ))  # fmt: skip

    def effective_eviction_hard(self) -> dict[str, str]:
        if self.eviction_hard is None:
            return dict(DEFAULT_EVICTION_HARD)
        if self.merge_default_eviction_settings:
            return {**DEFAULT_EVICTION_HARD, **self.eviction_hard}
        return dict(self.eviction_hard)


def parse_flag(text: str, separator: str = "<") -> dict[str, str]:
    """A kubelet map flag: ``"memory.available<128Mi,nodefs.available<10%"`` (``--eviction-hard``/``-soft``),
    or with ``separator="="`` ``"memory.available=1m30s"`` (``--eviction-soft-grace-period``/``-minimum-reclaim``)."""
    result: dict[str, str] = {}
    for pair in text.split(","):
        pair = pair.strip()
        if not pair:
            continue
        key, sep, value = pair.partition(separator)
        if not sep:
            raise EvictionConfigError(f"malformed pair, expect string{separator}string")
        result[key.strip()] = value.strip()
    return result


def _string_map(raw: Mapping[str, Any], key: str) -> dict[str, str] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise EvictionConfigError(f"{key} must be a map of signal to value")
    return {str(k): str(v) for k, v in value.items()}


def _seconds(raw: Mapping[str, Any], key: str, default: float) -> float:
    value = raw.get(key)
    if value is None:
        return default
    if isinstance(value, bool):
        raise EvictionConfigError(f"{key} must be a duration")
    if isinstance(value, int | float):
        return float(value)
    return parse_duration(str(value))


def parse_config(raw: Mapping[str, Any]) -> EvictionConfig:
    """Build an :class:`EvictionConfig` from KubeletConfiguration keys (other keys are ignored).

    Understands ``evictionHard``, ``evictionSoft``, ``evictionSoftGracePeriod``, ``evictionMaxPodGracePeriod``,
    ``evictionMinimumReclaim``, ``evictionPressureTransitionPeriod`` ("5m"), ``mergeDefaultEvictionSettings``,
    ``enforceNodeAllocatable`` and ``housekeepingInterval`` (a flag upstream, accepted here for convenience).
    """
    max_grace = raw.get("evictionMaxPodGracePeriod", 0)
    if isinstance(max_grace, bool) or not isinstance(max_grace, int):
        raise EvictionConfigError("evictionMaxPodGracePeriod must be an integer number of seconds")
    enforce = raw.get("enforceNodeAllocatable", [NODE_ALLOCATABLE_ENFORCEMENT_KEY])
    return EvictionConfig(
        eviction_hard=_string_map(raw, "evictionHard"),
        eviction_soft=_string_map(raw, "evictionSoft") or {},
        eviction_soft_grace_period=_string_map(raw, "evictionSoftGracePeriod") or {},
        eviction_max_pod_grace_period=max_grace,
        eviction_minimum_reclaim=_string_map(raw, "evictionMinimumReclaim") or {},
        eviction_pressure_transition_period=_seconds(
            raw, "evictionPressureTransitionPeriod", DEFAULT_PRESSURE_TRANSITION_PERIOD
        ),
        housekeeping_interval=_seconds(raw, "housekeepingInterval", DEFAULT_HOUSEKEEPING_INTERVAL),
        merge_default_eviction_settings=bool(raw.get("mergeDefaultEvictionSettings", False)),
        enforce_node_allocatable=tuple(str(x) for x in enforce),
    )


# ----------------------------------------------------------------------------------------------------
# Stats snapshot (the subset of the kubelet's stats Summary that eviction reads)


@dataclasses.dataclass(frozen=True, slots=True)
class FsStats:
    available_bytes: int | None = None
    capacity_bytes: int | None = None
    inodes_free: int | None = None
    inodes: int | None = None
    time: float | None = None
    """When measured; ``None`` takes the snapshot's time."""


@dataclasses.dataclass(frozen=True, slots=True)
class ContainerStats:
    name: str
    memory_working_set_bytes: int | None = None
    rootfs_used_bytes: int | None = None
    rootfs_inodes_used: int | None = None
    logs_used_bytes: int | None = None
    logs_inodes_used: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class PodStats:
    uid: str
    memory_working_set_bytes: int | None = None
    """The pod cgroup's working set: what memory ranking compares with the request."""
    containers: tuple[ContainerStats, ...] = ()
    volume_used_bytes: Mapping[str, int] = dataclasses.field(default_factory=dict)
    volume_inodes_used: Mapping[str, int] = dataclasses.field(default_factory=dict)
    process_count: int | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class NodeStats:
    """One stats snapshot. A field left ``None`` produces no observation, so its thresholds are never met."""

    time: float | None = None
    memory_available_bytes: int | None = None
    """capacity - workingSet(root cgroup); capacity is taken as available + working set."""
    memory_working_set_bytes: int | None = None
    allocatable_memory_available_bytes: int | None = None
    """Same pair for the kubepods cgroup (allocatableMemory.available)."""
    allocatable_memory_working_set_bytes: int | None = None
    nodefs: FsStats | None = None
    imagefs: FsStats | None = None
    image_fs_dedicated: bool = False
    """True when the runtime's image fs is another device: nodefs ranking then counts logs + local volumes
    and imagefs ranking counts writable layers."""
    max_pid: int | None = None
    num_processes: int | None = None
    pods: tuple[PodStats, ...] = ()
