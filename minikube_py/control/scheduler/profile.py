"""Scheduling profiles from a KubeSchedulerConfiguration-shaped config (dict or YAML text).

Shape (``kubescheduler.config.k8s.io/v1``; only these fields are accepted, anything else is an error)::

    apiVersion: kubescheduler.config.k8s.io/v1      # optional
    kind: KubeSchedulerConfiguration                 # optional
    percentageOfNodesToScore: 0                      # 0 = adaptive; 1..100 = that share of nodes
    podInitialBackoffSeconds: 1
    podMaxBackoffSeconds: 10
    profiles:
    - schedulerName: default-scheduler
      percentageOfNodesToScore: 50                   # optional, overrides the global value
      plugins:
        multiPoint: {enabled: [{name, weight}], disabled: [{name}]}
        filter:     {enabled: [...], disabled: [{name: "*"}]}
        score:      {enabled: [{name: NodeResourcesFit, weight: 5}], disabled: [...]}
        ...         # queueSort preFilter postFilter preScore reserve permit preBind bind postBind
      pluginConfig:
      - name: NodeResourcesFit
        args: {scoringStrategy: {type: MostAllocated}}

Merging follows kube-scheduler (``apis/config/v1/default_plugins.go`` ``mergePlugins`` and
``runtime/framework.go`` ``expandMultiPointPlugins``): the defaults live in ``multiPoint``; a plugin listed in
``multiPoint`` is placed at every extension point it implements unless that point disables it (or ``*``);
enabling a plugin at a specific point overrides its multiPoint entry there (that is how a score weight is
changed); plugins enabled only at a point come after the multiPoint ones.  A score weight of 0 or unset is 1.

Default plugins (kube-scheduler ``getDefaultPlugins``, the subset implemented here, same order and weights):
PrioritySort, NodeUnschedulable, NodeName, TaintToleration (score weight 3), NodeAffinity (2),
NodeResourcesFit (1, LeastAllocated over cpu and memory, weight 1 each), NodeResourcesBalancedAllocation (1),
DefaultBinder.  Not implemented: SchedulingGates, NodePorts, the volume plugins, PodTopologySpread (2),
InterPodAffinity (2), DefaultPreemption, ImageLocality (1); disabling them is accepted, enabling them is an
error.

Pure: no I/O (the caller reads the file).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml

from minikube_py.control.scheduler import framework
from minikube_py.control.scheduler.framework import (
    EXTENSION_POINTS,
    BatchScorePlugin,
    BindPlugin,
    ClusterEvent,
    EnqueueExtensions,
    FilterPlugin,
    Handle,
    InvalidArgs,
    NormalizeScorePlugin,
    PermitPlugin,
    PostBindPlugin,
    PostFilterPlugin,
    PreBindPlugin,
    PreFilterPlugin,
    PreScorePlugin,
    QueueSortPlugin,
    ReservePlugin,
    ScorePlugin,
)
from minikube_py.control.scheduler.plugins import REGISTRY
from minikube_py.control.scheduler.plugins import args as args_mod
from minikube_py.errors import MinikubeError

API_VERSION = "kubescheduler.config.k8s.io/v1"
KIND = "KubeSchedulerConfiguration"
DEFAULT_SCHEDULER_NAME = "default-scheduler"
MULTI_POINT = "multiPoint"
DEFAULT_POD_INITIAL_BACKOFF_SECONDS = 1
DEFAULT_POD_MAX_BACKOFF_SECONDS = 10

# (name, score weight) in kube-scheduler's default order.
DEFAULT_MULTI_POINT: tuple[tuple[str, int | None], ...] = (
    ("PrioritySort", None),
    ("NodeUnschedulable", None),
    ("NodeName", None),
    ("TaintToleration", 3),
    ("NodeAffinity", 2),
    ("NodeResourcesFit", 1),
    ("NodeResourcesBalancedAllocation", 1),
    ("DefaultBinder", None),
)


class ConfigError(MinikubeError, ValueError):
    """The scheduler configuration is invalid; ``errors`` lists every problem as ``<field path>: <problem>``."""

    def __init__(self, errors: Sequence[str]) -> None:
        self.errors = list(errors)
        super().__init__("invalid scheduler configuration: " + "; ".join(self.errors))


@dataclass(frozen=True, slots=True)
class PluginRef:
    name: str
    weight: int | None = None


@dataclass(frozen=True, slots=True)
class PluginSet:
    enabled: tuple[PluginRef, ...] = ()
    disabled: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ProfileConfig:
    scheduler_name: str
    plugins: Mapping[str, PluginSet]
    plugin_config: Mapping[str, Mapping[str, Any]]
    percentage_of_nodes_to_score: int | None = None


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    profiles: tuple[ProfileConfig, ...]
    percentage_of_nodes_to_score: int = 0
    pod_initial_backoff_seconds: int = DEFAULT_POD_INITIAL_BACKOFF_SECONDS
    pod_max_backoff_seconds: int = DEFAULT_POD_MAX_BACKOFF_SECONDS


@dataclass(frozen=True, slots=True)
class ScorePluginEntry:
    plugin: ScorePlugin
    weight: int
    normalizer: NormalizeScorePlugin | None
    batch: BatchScorePlugin | None = None

    @property
    def name(self) -> str:
        return self.plugin.NAME


@dataclass(slots=True)
class Profile:
    """One built framework: the plugin instances at each extension point, in order (``frameworkImpl``)."""

    scheduler_name: str
    queue_sort: QueueSortPlugin
    pre_filter: tuple[PreFilterPlugin, ...] = ()
    filter: tuple[FilterPlugin, ...] = ()
    post_filter: tuple[PostFilterPlugin, ...] = ()
    pre_score: tuple[PreScorePlugin, ...] = ()
    score: tuple[ScorePluginEntry, ...] = ()
    reserve: tuple[ReservePlugin, ...] = ()
    permit: tuple[PermitPlugin, ...] = ()
    pre_bind: tuple[PreBindPlugin, ...] = ()
    bind: tuple[BindPlugin, ...] = ()
    post_bind: tuple[PostBindPlugin, ...] = ()
    percentage_of_nodes_to_score: int | None = None
    plugins: dict[str, Any] = field(default_factory=dict)

    def events_for(self, plugin_name: str) -> ClusterEvent:
        """The cluster events that can undo a rejection by ``plugin_name`` (all of them if it does not say)."""
        plugin = self.plugins.get(plugin_name)
        if isinstance(plugin, EnqueueExtensions):
            return plugin.events_to_register()
        return ~ClusterEvent(0)

    def describe(self) -> dict[str, Any]:
        """The plugins at each extension point, with score weights (JSON-serializable)."""
        out: dict[str, Any] = {"schedulerName": self.scheduler_name, "queueSort": [self.queue_sort.NAME]}
        for point, plugins in (
            ("preFilter", self.pre_filter),
            ("filter", self.filter),
            ("postFilter", self.post_filter),
            ("preScore", self.pre_score),
            ("reserve", self.reserve),
            ("permit", self.permit),
            ("preBind", self.pre_bind),
            ("bind", self.bind),
            ("postBind", self.post_bind),
        ):
            out[point] = [p.NAME for p in plugins]
        out["score"] = [{"name": e.name, "weight": e.weight} for e in self.score]
        return out


# ----------------------------------------------------------------------------------------------------
# Parsing


_TOP_FIELDS = (
    "apiVersion",
    "kind",
    "profiles",
    "percentageOfNodesToScore",
    "podInitialBackoffSeconds",
    "podMaxBackoffSeconds",
)
_PROFILE_FIELDS = ("schedulerName", "plugins", "pluginConfig", "percentageOfNodesToScore")


def _unknown(data: Mapping[str, Any], allowed: Sequence[str], path: str, errors: list[str]) -> None:
    prefix = f"{path}." if path else ""
    errors.extend(f'{prefix}{key}: unknown field "{key}"' for key in data if key not in allowed)


# Shape checks shared with the plugins' argument validation.
_mapping = args_mod.expect_mapping
_list = args_mod.expect_list
_int = args_mod.expect_int


def _percentage(value: Any, path: str, errors: list[str]) -> int | None:
    pct = _int(value, path, errors)
    if pct is not None and not 0 <= pct <= 100:
        errors.append(f"{path}: Invalid value: {pct}: not in valid range [0-100]")
        return None
    return pct


def _parse_plugin_set(data: Any, path: str, errors: list[str]) -> PluginSet:
    data = _mapping(data, path, errors)
    _unknown(data, ("enabled", "disabled"), path, errors)
    enabled: list[PluginRef] = []
    for i, item in enumerate(_list(data.get("enabled"), f"{path}.enabled", errors)):
        item_path = f"{path}.enabled[{i}]"
        entry = _mapping(item, item_path, errors)
        _unknown(entry, ("name", "weight"), item_path, errors)
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            errors.append(f"{item_path}.name: Required value")
            continue
        weight = None
        if entry.get("weight") is not None:
            weight = _int(entry["weight"], f"{item_path}.weight", errors)
            if weight is not None and weight < 0:
                errors.append(f"{item_path}.weight: Invalid value: {weight}: must be non-negative")
        enabled.append(PluginRef(name, weight))
    disabled: list[str] = []
    for i, item in enumerate(_list(data.get("disabled"), f"{path}.disabled", errors)):
        item_path = f"{path}.disabled[{i}]"
        entry = _mapping(item, item_path, errors)
        _unknown(entry, ("name",), item_path, errors)
        name = entry.get("name")
        if not isinstance(name, str) or not name:
            errors.append(f"{item_path}.name: Required value")
            continue
        disabled.append(name)
    return PluginSet(tuple(enabled), tuple(disabled))


def _merge_plugin_set(default: PluginSet, custom: PluginSet) -> PluginSet:
    """``mergePluginSet``: drop disabled defaults (all with ``*``), let custom entries replace defaults in
    place, append the other custom entries."""
    disabled = set(custom.disabled)
    custom_by_name = {ref.name: (i, ref) for i, ref in enumerate(custom.enabled)}
    replaced: set[int] = set()
    enabled: list[PluginRef] = []
    if "*" not in disabled:
        for ref in default.enabled:
            if ref.name in disabled:
                continue
            if ref.name in custom_by_name:
                index, ref = custom_by_name[ref.name]
                replaced.add(index)
            enabled.append(ref)
    enabled.extend(ref for i, ref in enumerate(custom.enabled) if i not in replaced)
    return PluginSet(tuple(enabled), custom.disabled)


def default_plugins() -> dict[str, PluginSet]:
    return {MULTI_POINT: PluginSet(tuple(PluginRef(n, w) for n, w in DEFAULT_MULTI_POINT))}


def _parse_profile(data: Any, path: str, errors: list[str]) -> ProfileConfig:
    data = _mapping(data, path, errors)
    _unknown(data, _PROFILE_FIELDS, path, errors)
    name = data.get("schedulerName")
    if not isinstance(name, str) or not name:
        errors.append(f"{path}.schedulerName: Required value")
        name = ""
    pct = None
    if data.get("percentageOfNodesToScore") is not None:
        pct = _percentage(data["percentageOfNodesToScore"], f"{path}.percentageOfNodesToScore", errors)
    plugins_data = _mapping(data.get("plugins"), f"{path}.plugins", errors)
    points = (MULTI_POINT, *EXTENSION_POINTS)
    _unknown(plugins_data, points, f"{path}.plugins", errors)
    defaults = default_plugins()
    plugins: dict[str, PluginSet] = {}
    for point in points:
        custom = _parse_plugin_set(plugins_data.get(point), f"{path}.plugins.{point}", errors)
        plugins[point] = _merge_plugin_set(defaults.get(point, PluginSet()), custom)
    plugin_config: dict[str, Mapping[str, Any]] = {}
    for i, item in enumerate(_list(data.get("pluginConfig"), f"{path}.pluginConfig", errors)):
        item_path = f"{path}.pluginConfig[{i}]"
        entry = _mapping(item, item_path, errors)
        _unknown(entry, ("name", "args"), item_path, errors)
        plugin_name = entry.get("name")
        if not isinstance(plugin_name, str) or not plugin_name:
            errors.append(f"{item_path}.name: Required value")
            continue
        if plugin_name in plugin_config:
            errors.append(f'{item_path}: Duplicate value: "{plugin_name}"')
            continue
        if plugin_name not in REGISTRY:
            errors.append(f'{item_path}.name: Unsupported value: "{plugin_name}": {_supported()}')
            continue
        plugin_config[plugin_name] = _mapping(entry.get("args"), f"{item_path}.args", errors)
    return ProfileConfig(name, plugins, plugin_config, pct)


def _supported() -> str:
    return "supported values: " + ", ".join(f'"{n}"' for n in sorted(REGISTRY))


def load_config(source: str | Mapping[str, Any] | None = None) -> SchedulerConfig:
    """Parse and validate a configuration (YAML/JSON text or an already-parsed dict; ``None`` = defaults).

    Raises :class:`ConfigError` listing every problem, including bad plugin args and unknown plugins.
    """
    errors: list[str] = []
    if isinstance(source, str):
        try:
            data: Any = yaml.safe_load(source)
        except yaml.YAMLError as err:
            raise ConfigError([f"<input>: invalid YAML: {err}"]) from err
    else:
        data = source
    data = _mapping(data, "<root>", errors)
    _unknown(data, _TOP_FIELDS, "", errors)
    if data.get("apiVersion") not in (None, API_VERSION):
        errors.append(f'apiVersion: Unsupported value: {data["apiVersion"]!r}: supported values: "{API_VERSION}"')
    if data.get("kind") not in (None, KIND):
        errors.append(f'kind: Unsupported value: {data["kind"]!r}: supported values: "{KIND}"')
    pct = 0
    if data.get("percentageOfNodesToScore") is not None:
        pct = _percentage(data["percentageOfNodesToScore"], "percentageOfNodesToScore", errors) or 0
    initial = DEFAULT_POD_INITIAL_BACKOFF_SECONDS
    maximum = DEFAULT_POD_MAX_BACKOFF_SECONDS
    if data.get("podInitialBackoffSeconds") is not None:
        value = _int(data["podInitialBackoffSeconds"], "podInitialBackoffSeconds", errors)
        if value is not None and value <= 0:
            errors.append(f"podInitialBackoffSeconds: Invalid value: {value}: must be greater than 0")
        elif value is not None:
            initial = value
    if data.get("podMaxBackoffSeconds") is not None:
        value = _int(data["podMaxBackoffSeconds"], "podMaxBackoffSeconds", errors)
        if value is not None and value < initial:
            errors.append(
                f"podMaxBackoffSeconds: Invalid value: {value}: must be greater than or equal to "
                "PodInitialBackoffSeconds"
            )
        elif value is not None:
            maximum = value
    raw_profiles = _list(data.get("profiles"), "profiles", errors)
    if not raw_profiles:
        raw_profiles = [{"schedulerName": DEFAULT_SCHEDULER_NAME}]
    profiles: list[ProfileConfig] = []
    seen: set[str] = set()
    for i, raw in enumerate(raw_profiles):
        profile = _parse_profile(raw, f"profiles[{i}]", errors)
        if profile.scheduler_name in seen:
            errors.append(f'profiles[{i}].schedulerName: Duplicate value: "{profile.scheduler_name}"')
        seen.add(profile.scheduler_name)
        profiles.append(profile)
    config = SchedulerConfig(tuple(profiles), pct, initial, maximum)
    if not errors:
        # Build once with an empty handle: runs every factory's args validation and the placement checks.
        try:
            build_profiles(config, Handle())
        except ConfigError as err:
            errors.extend(err.errors)
    if errors:
        raise ConfigError(errors)
    return config


# ----------------------------------------------------------------------------------------------------
# Building


def _expand(plugins: Mapping[str, PluginSet], point: str, instances: Mapping[str, Any]) -> list[PluginRef]:
    """``expandMultiPointPlugins`` for one extension point: overrides, then multiPoint, then the rest."""
    specific = plugins.get(point, PluginSet())
    disabled = set(specific.disabled)
    enabled_names = [ref.name for ref in specific.enabled]
    if "*" in disabled:
        return list(specific.enabled)
    overrides: set[str] = set()
    multi: list[PluginRef] = []
    for ref in plugins[MULTI_POINT].enabled:
        plugin = instances.get(ref.name)
        if plugin is None or not framework.implements(plugin, point) or ref.name in disabled:
            continue
        if ref.name in enabled_names:
            overrides.add(ref.name)
            continue
        multi.append(ref)
    first = [ref for ref in specific.enabled if ref.name in overrides]
    rest = [ref for ref in specific.enabled if ref.name not in overrides]
    return first + multi + rest


def _build_profile(config: ProfileConfig, path: str, handle: Handle, errors: list[str]) -> Profile | None:
    # Instantiate every plugin enabled anywhere, once, with its args.
    instances: dict[str, Any] = {}
    for point, plugin_set in config.plugins.items():
        for i, ref in enumerate(plugin_set.enabled):
            if ref.name in instances:
                continue
            factory = REGISTRY.get(ref.name)
            if factory is None:
                item = f"{path}.plugins.{point}.enabled[{i}]"
                errors.append(f'{item}.name: Unsupported value: "{ref.name}": {_supported()}')
                continue
            try:
                instances[ref.name] = factory(config.plugin_config.get(ref.name), handle)
            except InvalidArgs as err:
                index = list(config.plugin_config).index(ref.name) if ref.name in config.plugin_config else -1
                args_path = f"{path}.pluginConfig[{index}].args" if index >= 0 else f"{path}.pluginConfig"
                errors.extend(f"{args_path}.{e}" for e in err.errors)
    if errors:
        return None
    # A plugin enabled at a specific point must implement it.
    for point in EXTENSION_POINTS:
        for i, ref in enumerate(config.plugins.get(point, PluginSet()).enabled):
            if not framework.implements(instances[ref.name], point):
                item = f"{path}.plugins.{point}.enabled[{i}]"
                errors.append(f'{item}: Invalid value: "{ref.name}": does not extend {point}')
    if errors:
        return None
    expanded = {point: _expand(config.plugins, point, instances) for point in EXTENSION_POINTS}
    for point, refs in expanded.items():
        names = [ref.name for ref in refs]
        for name in {n for n in names if names.count(n) > 1}:
            errors.append(f'{path}.plugins.{point}: Duplicate value: "{name}"')
    queue_sort = expanded["queueSort"]
    if len(queue_sort) != 1:
        errors.append(
            f"{path}.plugins.queueSort: Invalid value: {len(queue_sort)}: exactly one queue sort plugin is required"
        )
    if not expanded["bind"]:
        errors.append(f"{path}.plugins.bind: Required value: at least one bind plugin is needed")
    if errors:
        return None
    multi_weights = {ref.name: ref.weight for ref in config.plugins[MULTI_POINT].enabled}
    score_entries = []
    for ref in expanded["score"]:
        weight = ref.weight if ref.weight is not None else multi_weights.get(ref.name)
        plugin = instances[ref.name]
        normalizer = plugin if isinstance(plugin, NormalizeScorePlugin) else None
        batch = plugin if isinstance(plugin, BatchScorePlugin) else None
        score_entries.append(ScorePluginEntry(plugin, weight or 1, normalizer, batch))

    def at(point: str) -> tuple[Any, ...]:
        return tuple(instances[ref.name] for ref in expanded[point])

    return Profile(
        scheduler_name=config.scheduler_name,
        queue_sort=instances[queue_sort[0].name],
        pre_filter=at("preFilter"),
        filter=at("filter"),
        post_filter=at("postFilter"),
        pre_score=at("preScore"),
        score=tuple(score_entries),
        reserve=at("reserve"),
        permit=at("permit"),
        pre_bind=at("preBind"),
        bind=at("bind"),
        post_bind=at("postBind"),
        percentage_of_nodes_to_score=config.percentage_of_nodes_to_score,
        plugins=instances,
    )


def build_profiles(config: SchedulerConfig, handle: Handle) -> list[Profile]:
    """Instantiate every profile's plugins (raising :class:`ConfigError` on any problem)."""
    errors: list[str] = []
    profiles: list[Profile] = []
    for i, profile_config in enumerate(config.profiles):
        profile = _build_profile(profile_config, f"profiles[{i}]", handle, errors)
        if profile is not None:
            profiles.append(profile)
    if not errors and profiles:
        # One queue serves every profile, so they must sort it the same way (same plugin, same args).
        first = config.profiles[0]
        sort_name = profiles[0].queue_sort.NAME
        for i, profile in enumerate(profiles[1:], start=1):
            args = config.profiles[i].plugin_config.get(sort_name) or {}
            same_args = args == (first.plugin_config.get(sort_name) or {})
            if sort_name != profile.queue_sort.NAME or not same_args:
                errors.append(
                    f"profiles[{i}].plugins.queueSort: Invalid value: queueSort must be the same for all profiles"
                )
    if errors:
        raise ConfigError(errors)
    return profiles


def load_profiles(source: str | Mapping[str, Any] | None = None, *, handle: Handle) -> list[Profile]:
    """``load_config`` then ``build_profiles`` with the real handle."""
    return build_profiles(load_config(source), handle)


def default_profile(handle: Handle) -> Profile:
    """The default profile (``default-scheduler``, kube-scheduler's default plugins and weights)."""
    return build_profiles(load_config(None), handle)[0]
