"""Shared test configuration: privilege tiers.

Tests marked ``root`` need root and the real kernel.  They run for real whenever the suite runs as root
(CI does) and are skipped with a clear reason otherwise.  Every root test must remove what it created,
also when it fails: use the fixtures in ``tests/privileged/conftest.py``, which clean up in finalizers.
"""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.vm.plugin"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip_root = pytest.mark.skip(reason="needs root: creates real cgroups, namespaces and processes")
    for item in items:
        if "root" in item.keywords:
            item.add_marker(skip_root)
