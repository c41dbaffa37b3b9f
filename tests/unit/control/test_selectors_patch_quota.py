"""Pure control-plane rules: label/field selectors, PATCH formats, ResourceQuota accounting and messages."""

from __future__ import annotations

from typing import Any

import pytest

from minikube_py.api import codec, defaults, types
from minikube_py.control import errors, patch, quota, selectors


def _obj(labels: dict[str, str] | None = None, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "a", "namespace": "ns", "labels": labels or {}},
        "spec": {"nodeName": "n1"},
        "status": status,
    }


@pytest.mark.parametrize(
    ("selector", "labels", "matches"),
    [
        ("app=web", {"app": "web"}, True),
        ("app==web", {"app": "db"}, False),
        ("app!=web", {}, True),  # != matches objects without the key
        ("app in (web, db)", {"app": "db"}, True),
        ("app notin (web)", {"app": "db"}, True),
        ("app notin (web)", {}, True),
        ("tier", {"tier": "x"}, True),
        ("!tier", {"tier": "x"}, False),
        ("app=web,tier in (fe)", {"app": "web", "tier": "fe"}, True),
        ("app=web,tier in (fe)", {"app": "web", "tier": "be"}, False),
        ("", {}, True),
    ],
)
def test_label_selectors(selector: str, labels: dict[str, str], matches: bool) -> None:
    assert selectors.label_predicate(selector)(_obj(labels)) is matches


def test_bad_label_selector_is_a_400() -> None:
    with pytest.raises(errors.ApiError) as info:
        selectors.parse_label_selector("app in web")
    assert info.value.code == 400


def test_field_selectors() -> None:
    running = _obj(phase="Running")
    assert selectors.parse_field_selector("pods", "status.phase=Running,spec.nodeName=n1")(running)
    assert not selectors.parse_field_selector("pods", "status.phase!=Running")(running)
    with pytest.raises(errors.ApiError, match=r"field label not supported: spec\.foo"):
        selectors.parse_field_selector("pods", "spec.foo=1")


def test_merge_strategic_and_json_patch() -> None:
    pod = {
        "metadata": {"labels": {"a": "1", "b": "2"}},
        "spec": {"containers": [{"name": "c", "image": "x"}, {"name": "d"}]},
    }
    merged = patch.merge_patch(pod, {"metadata": {"labels": {"a": None, "c": "3"}}})
    assert merged["metadata"]["labels"] == {"b": "2", "c": "3"}
    strategic = patch.strategic_merge_patch(pod, {"spec": {"containers": [{"name": "c", "image": "y"}]}})
    assert strategic["spec"]["containers"] == [{"name": "c", "image": "y"}, {"name": "d"}]
    plain = patch.merge_patch(pod, {"spec": {"containers": [{"name": "c", "image": "y"}]}})
    assert plain["spec"]["containers"] == [{"name": "c", "image": "y"}]  # a merge patch replaces lists
    ops = [
        {"op": "add", "path": "/metadata/labels/d", "value": "4"},
        {"op": "remove", "path": "/metadata/labels/a"},
        {"op": "replace", "path": "/spec/containers/1/name", "value": "e"},
        {"op": "test", "path": "/metadata/labels/b", "value": "2"},
    ]
    out = patch.json_patch(pod, ops)
    assert out["metadata"]["labels"] == {"b": "2", "d": "4"} and out["spec"]["containers"][1]["name"] == "e"
    assert pod["metadata"]["labels"] == {"a": "1", "b": "2"}  # input untouched
    with pytest.raises(errors.ApiError) as info:
        patch.json_patch(pod, [{"op": "test", "path": "/metadata/labels/b", "value": "9"}])
    assert info.value.code == 422


def _pod(name: str, containers: list[dict[str, Any]], phase: str = "") -> types.Pod:
    pod = codec.decode(
        types.Pod,
        {"metadata": {"name": name, "namespace": "q"}, "spec": {"containers": containers}, "status": {"phase": phase}},
    )
    defaults.default_pod(pod)
    return pod


def _rq(hard: dict[str, str]) -> types.ResourceQuota:
    return codec.decode(
        types.ResourceQuota, {"metadata": {"name": "compute", "namespace": "q"}, "spec": {"hard": hard}}
    )


def test_quota_usage_counts_non_terminal_pods() -> None:
    rq = _rq({"pods": "10", "requests.cpu": "2", "limits.memory": "1Gi", "count/pods": "20", "cpu": "3"})
    pods = [
        _pod(
            "a",
            [
                {
                    "name": "c",
                    "command": ["x"],
                    "resources": {"requests": {"cpu": "500m"}, "limits": {"memory": "256Mi"}},
                }
            ],
        ),
        _pod("b", [{"name": "c", "command": ["x"], "resources": {"limits": {"cpu": "1", "memory": "256Mi"}}}]),
        _pod("done", [{"name": "c", "command": ["x"], "resources": {"requests": {"cpu": "1"}}}], phase="Succeeded"),
    ]
    used = {k: str(v) for k, v in quota.compute_used(rq, pods).items()}
    assert used == {"pods": "2", "requests.cpu": "1500m", "limits.memory": "512Mi", "count/pods": "3", "cpu": "1500m"}


def test_quota_must_specify_message() -> None:
    rq = _rq({"limits.cpu": "4", "requests.memory": "1Gi"})
    pod = _pod(
        "x",
        [
            {"name": "app", "command": ["x"]},
            {"name": "sidecar", "command": ["x"], "resources": {"requests": {"memory": "1Mi"}}},
        ],
    )
    assert quota.admit_pod(rq, pod, {}) == (
        "failed quota: compute: must specify limits.cpu for: app,sidecar; requests.memory for: app"
    )


def test_quota_exceeded_message() -> None:
    rq = _rq({"requests.cpu": "2", "pods": "5"})
    pod = _pod("x", [{"name": "app", "command": ["x"], "resources": {"requests": {"cpu": "500m"}}}])
    used = {"requests.cpu": quota.Quantity.parse("1800m"), "pods": quota.Quantity.parse("1")}
    assert quota.admit_pod(rq, pod, used) == (
        "exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=1800m, limited: requests.cpu=2"
    )
    assert quota.admit_pod(rq, pod, {"requests.cpu": quota.Quantity.parse("1500m")}) is None
