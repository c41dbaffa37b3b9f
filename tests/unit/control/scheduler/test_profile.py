"""Profiles from KubeSchedulerConfiguration: defaults, merging, validation, and configs that change decisions."""

from __future__ import annotations

import pytest

from minikube_py.control.scheduler.framework import Handle
from minikube_py.control.scheduler.profile import ConfigError, default_profile, load_config, load_profiles

from .builders import node, pod, scheduler, scheduler_from, taint


def test_default_profile_matches_kube_scheduler_defaults() -> None:
    described = default_profile(Handle()).describe()
    assert described == {
        "schedulerName": "default-scheduler",
        "queueSort": ["PrioritySort"],
        "preFilter": ["NodeName", "NodeAffinity", "NodeResourcesFit"],
        "filter": ["NodeUnschedulable", "NodeName", "TaintToleration", "NodeAffinity", "NodeResourcesFit"],
        "postFilter": [],
        "preScore": ["TaintToleration", "NodeAffinity", "NodeResourcesFit", "NodeResourcesBalancedAllocation"],
        "score": [
            {"name": "TaintToleration", "weight": 3},
            {"name": "NodeAffinity", "weight": 2},
            {"name": "NodeResourcesFit", "weight": 1},
            {"name": "NodeResourcesBalancedAllocation", "weight": 1},
        ],
        "reserve": [],
        "permit": [],
        "preBind": [],
        "bind": ["DefaultBinder"],
        "postBind": [],
    }
    fit = default_profile(Handle()).plugins["NodeResourcesFit"]
    assert fit.strategy == "LeastAllocated"
    assert [(r.name, r.weight) for r in fit.resources] == [("cpu", 1), ("memory", 1)]


# "busy" already runs 2 CPU / 4Gi of its 4 CPU / 8Gi; the pod asks 1 CPU / 2Gi.
# LeastAllocated: empty 75, busy 25; MostAllocated: empty 25, busy 75.  Balanced is 100 on both and
# TaintToleration 100 on both, so the strategy alone decides.
def two_nodes_one_busy(config: str | None) -> str | None:
    sched = scheduler_from(config) if config is not None else scheduler()
    sched.on_node_added(node("empty"))
    sched.on_node_added(node("busy"))
    sched.on_pod_added(pod("running", cpu="2", memory="4Gi", node_name="busy"))
    result = sched.schedule_one(pod("new", cpu="1", memory="2Gi"))
    return result.node_name


MOST_ALLOCATED_YAML = """
apiVersion: kubescheduler.config.k8s.io/v1
kind: KubeSchedulerConfiguration
profiles:
- schedulerName: default-scheduler
  pluginConfig:
  - name: NodeResourcesFit
    args:
      scoringStrategy:
        type: MostAllocated
        resources:
        - {name: cpu, weight: 1}
        - {name: memory, weight: 1}
"""


def test_a_most_allocated_profile_packs_instead_of_spreading() -> None:
    assert two_nodes_one_busy(None) == "empty"
    assert two_nodes_one_busy(MOST_ALLOCATED_YAML) == "busy"


def test_disabling_a_filter_in_yaml_changes_the_result() -> None:
    config = """
profiles:
- schedulerName: default-scheduler
  plugins:
    filter:
      disabled:
      - name: TaintToleration
"""
    for sched, expected in ((scheduler(), None), (scheduler_from(config), "tainted")):
        sched.on_node_added(node("tainted", taints=[taint("dedicated", "gpu")]))
        assert sched.schedule_one(pod("p", cpu="1")).node_name == expected
    # It is gone from Filter only; it still scores.
    described = load_profiles(config, handle=Handle())[0].describe()
    assert "TaintToleration" not in described["filter"]
    assert {"name": "TaintToleration", "weight": 3} in described["score"]


def test_score_weight_override_and_order() -> None:
    config = """
profiles:
- schedulerName: default-scheduler
  plugins:
    score:
      enabled:
      - {name: NodeResourcesBalancedAllocation, weight: 5}
"""
    described = load_profiles(config, handle=Handle())[0].describe()
    # A plugin re-configured at a specific point comes first there (expandMultiPointPlugins).
    assert described["score"] == [
        {"name": "NodeResourcesBalancedAllocation", "weight": 5},
        {"name": "TaintToleration", "weight": 3},
        {"name": "NodeAffinity", "weight": 2},
        {"name": "NodeResourcesFit", "weight": 1},
    ]


def test_disable_all_scores_then_enable_one() -> None:
    config = """
profiles:
- schedulerName: default-scheduler
  plugins:
    score:
      disabled: [{name: "*"}]
      enabled: [{name: NodeResourcesFit}]
"""
    described = load_profiles(config, handle=Handle())[0].describe()
    assert described["score"] == [{"name": "NodeResourcesFit", "weight": 1}]
    # preScore is untouched by the score section
    assert described["preScore"] == [
        "TaintToleration",
        "NodeAffinity",
        "NodeResourcesFit",
        "NodeResourcesBalancedAllocation",
    ]


def test_multiple_profiles_route_by_scheduler_name() -> None:
    config = MOST_ALLOCATED_YAML + "- schedulerName: spread\n"
    sched = scheduler_from(config)
    sched.on_node_added(node("empty"))
    sched.on_node_added(node("busy"))
    sched.on_pod_added(pod("running", cpu="2", memory="4Gi", node_name="busy"))
    assert sched.schedule_one(pod("a", cpu="1", memory="2Gi")).node_name == "busy"
    assert sched.schedule_one(pod("b", cpu="1", memory="2Gi", scheduler_name="spread")).node_name == "empty"
    result = sched.schedule_one(pod("c", cpu="1", scheduler_name="nobody"))
    assert result.node_name is None
    assert result.status.code.value == "Error"
    assert "profile not found" in result.message


def test_global_settings() -> None:
    config = load_config({"percentageOfNodesToScore": 30, "podInitialBackoffSeconds": 2, "podMaxBackoffSeconds": 20})
    assert (
        config.percentage_of_nodes_to_score,
        config.pod_initial_backoff_seconds,
        config.pod_max_backoff_seconds,
    ) == (
        30,
        2,
        20,
    )
    assert [p.scheduler_name for p in config.profiles] == ["default-scheduler"]


@pytest.mark.parametrize(
    ("config", "error"),
    [
        (
            {"profiles": [{"schedulerName": "s", "plugins": {"score": {"enabled": [{"name": "ImageLocality"}]}}}]},
            'profiles[0].plugins.score.enabled[0].name: Unsupported value: "ImageLocality"',
        ),
        (
            {"profiles": [{"schedulerName": "s", "pluginConfig": [{"name": "Nope", "args": {}}]}]},
            'profiles[0].pluginConfig[0].name: Unsupported value: "Nope"',
        ),
        (
            {
                "profiles": [
                    {
                        "schedulerName": "s",
                        "pluginConfig": [{"name": "NodeResourcesFit", "args": {"scoringStrategy": {"type": "Fancy"}}}],
                    }
                ]
            },
            "profiles[0].pluginConfig[0].args.scoringStrategy.type: Unsupported value: 'Fancy'",
        ),
        (
            {
                "profiles": [
                    {
                        "schedulerName": "s",
                        "pluginConfig": [
                            {
                                "name": "NodeResourcesFit",
                                "args": {
                                    "scoringStrategy": {
                                        "type": "LeastAllocated",
                                        "resources": [{"name": "cpu", "weight": 101}],
                                    }
                                },
                            }
                        ],
                    }
                ]
            },
            "profiles[0].pluginConfig[0].args.scoringStrategy.resources[0].weight: Invalid value: 101: "
            "resource weight of cpu not in valid range (0, 100]",
        ),
        (
            {
                "profiles": [
                    {
                        "schedulerName": "s",
                        "pluginConfig": [
                            {
                                "name": "NodeResourcesFit",
                                "args": {"scoringStrategy": {"type": "RequestedToCapacityRatio"}},
                            }
                        ],
                    }
                ]
            },
            "profiles[0].pluginConfig[0].args.scoringStrategy.requestedToCapacityRatio.shape: Required value",
        ),
        (
            {
                "profiles": [
                    {
                        "schedulerName": "s",
                        "pluginConfig": [
                            {
                                "name": "NodeResourcesFit",
                                "args": {
                                    "scoringStrategy": {
                                        "type": "RequestedToCapacityRatio",
                                        "requestedToCapacityRatio": {
                                            "shape": [{"utilization": 50, "score": 1}, {"utilization": 40, "score": 11}]
                                        },
                                    }
                                },
                            }
                        ],
                    }
                ]
            },
            "shape[1].score: Invalid value: 11: not in valid range [0, 10]",
        ),
        (
            {
                "profiles": [
                    {
                        "schedulerName": "s",
                        "pluginConfig": [
                            {
                                "name": "NodeResourcesFit",
                                "args": {
                                    "scoringStrategy": {
                                        "type": "RequestedToCapacityRatio",
                                        "requestedToCapacityRatio": {
                                            "shape": [{"utilization": 50, "score": 1}, {"utilization": 40, "score": 2}]
                                        },
                                    }
                                },
                            }
                        ],
                    }
                ]
            },
            "shape[1].utilization: Invalid value: 40: utilization values must be sorted in increasing order",
        ),
        (
            {
                "profiles": [
                    {
                        "schedulerName": "s",
                        "pluginConfig": [
                            {
                                "name": "NodeResourcesBalancedAllocation",
                                "args": {"resources": [{"name": "cpu", "weight": 2}]},
                            }
                        ],
                    }
                ]
            },
            "profiles[0].pluginConfig[0].args.resources[0].weight: Invalid value: 2: must be 1",
        ),
        (
            {"profiles": [{"schedulerName": "s", "pluginConfig": [{"name": "TaintToleration", "args": {"x": 1}}]}]},
            "profiles[0].pluginConfig[0].args.x: unknown field",
        ),
        (
            {"profiles": [{"schedulerName": "s", "plugins": {"filter": {"enabled": [{"name": "PrioritySort"}]}}}]},
            'profiles[0].plugins.filter.enabled[0]: Invalid value: "PrioritySort": does not extend filter',
        ),
        (
            {"profiles": [{"schedulerName": "s"}, {"schedulerName": "s"}]},
            'profiles[1].schedulerName: Duplicate value: "s"',
        ),
        ({"profiles": [{"plugins": {}}]}, "profiles[0].schedulerName: Required value"),
        ({"profile": []}, 'profile: unknown field "profile"'),
        ({"percentageOfNodesToScore": 101}, "percentageOfNodesToScore: Invalid value: 101: not in valid range [0-100]"),
        ({"podInitialBackoffSeconds": 5, "podMaxBackoffSeconds": 2}, "podMaxBackoffSeconds: Invalid value: 2"),
        ({"apiVersion": "kubescheduler.config.k8s.io/v1beta3"}, "apiVersion: Unsupported value"),
        (
            {"profiles": [{"schedulerName": "s", "plugins": {"queueSort": {"disabled": [{"name": "*"}]}}}]},
            "exactly one queue sort plugin is required",
        ),
        (
            {"profiles": [{"schedulerName": "s", "plugins": {"bind": {"disabled": [{"name": "DefaultBinder"}]}}}]},
            "profiles[0].plugins.bind: Required value: at least one bind plugin is needed",
        ),
    ],
)
def test_validation_errors(config: dict[str, object], error: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(config)
    assert any(error in e for e in info.value.errors), info.value.errors


def test_invalid_yaml_and_several_errors_at_once() -> None:
    with pytest.raises(ConfigError, match="invalid YAML"):
        load_config("profiles: [")
    with pytest.raises(ConfigError) as info:
        load_config({"percentageOfNodesToScore": -1, "profiles": [{"schedulerName": ""}]})
    assert len(info.value.errors) == 2


def test_profiles_share_the_queue_sort_plugin() -> None:
    config = load_config(
        {
            "profiles": [
                {"schedulerName": "a"},
                {"schedulerName": "b", "pluginConfig": [{"name": "PrioritySort", "args": {}}]},
            ]
        }
    )
    assert [p.scheduler_name for p in config.profiles] == ["a", "b"]


def test_disabling_an_unimplemented_default_plugin_is_accepted() -> None:
    # Configs copied from kube-scheduler docs often disable plugins this scheduler does not have.
    config = load_config(
        {"profiles": [{"schedulerName": "s", "plugins": {"score": {"disabled": [{"name": "ImageLocality"}]}}}]}
    )
    assert config.profiles[0].scheduler_name == "s"
