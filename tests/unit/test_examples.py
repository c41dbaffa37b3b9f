"""The manifests in examples/ stay valid: decoded, defaulted and validated like the API server does."""

from __future__ import annotations

from pathlib import Path

import pytest

from minikube_py import manifests
from minikube_py.api import codec, defaults, validation

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_valid(path: Path) -> None:
    objects = manifests.load([str(path)])
    assert objects
    for manifest in objects:
        obj = codec.decode_object(manifest.data)
        defaults.default_object(obj)
        assert validation.validate_object(obj) == []


def test_there_are_examples_for_the_tour() -> None:
    assert {p.name for p in EXAMPLES} >= {"oom.yaml", "cpu-throttle.yaml", "probes.yaml", "eviction.yaml"}
