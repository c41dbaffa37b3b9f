"""Reading one YAML (or JSON) settings file, with the reason spelled out when it can't be read."""

from __future__ import annotations

from typing import Any

import yaml


class SettingsFileError(ValueError):
    """The file is missing, unreadable, not YAML, or not a mapping. The message names ``what`` and the path."""


def load_mapping(path: str, what: str) -> dict[str, Any]:
    """The top-level mapping of a YAML file (``{}`` for an empty file); ``what`` names it in errors."""
    try:
        with open(path) as f:
            loaded = yaml.safe_load(f)
    except OSError as err:
        raise SettingsFileError(f"cannot read {what} {path}: {err.strerror or err}") from err
    except yaml.YAMLError as err:
        raise SettingsFileError(f"{what} {path} is not valid YAML: {err}") from err
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SettingsFileError(f"{what} {path} must hold a mapping")
    return loaded
