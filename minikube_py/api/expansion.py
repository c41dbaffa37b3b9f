"""``$(VAR)`` expansion in env values, command and args, exactly as Kubernetes does it.

Source: ``third_party/forked/golang/expansion/expand.go`` and the kubelet's ``makeEnvironmentVariables`` /
``ExpandContainerCommandAndArgs``. Rules:

* ``$(NAME)`` becomes the value of NAME; an unknown NAME is left as written (``$(NAME)``);
* ``$$`` is an escaped ``$`` (so ``$$(NAME)`` gives the literal ``$(NAME)``);
* ``$`` followed by anything else, an unterminated ``$(``, and a ``$`` at the end stay as written;
* nothing else (backslashes, ``${NAME}``, ``$NAME``) is special.

Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from minikube_py.api import types

_OPERATOR = "$"
_OPENER = "("
_CLOSER = ")"


def mapping_for(*contexts: Mapping[str, str]) -> Callable[[str], str]:
    """Look a name up in each context in turn; an unknown name maps back to ``$(name)``."""

    def lookup(name: str) -> str:
        for context in contexts:
            if name in context:
                return context[name]
        return f"{_OPERATOR}{_OPENER}{name}{_CLOSER}"

    return lookup


def _read_reference(text: str) -> tuple[str, bool, int]:
    """After a ``$``: (what was read, whether it is a variable name, how many characters were consumed)."""
    first = text[0]
    if first == _OPERATOR:
        return _OPERATOR, False, 1  # "$$" -> "$"
    if first == _OPENER:
        closer = text.find(_CLOSER, 1)
        if closer != -1:
            return text[1:closer], True, closer + 1
        return _OPERATOR + _OPENER, False, 1  # unterminated: keep "$(" and rescan after it
    return _OPERATOR + first, False, 1


def expand(text: str, mapping: Callable[[str], str]) -> str:
    """Kubernetes' ``expansion.Expand``."""
    out: list[str] = []
    checkpoint = 0
    cursor = 0
    while cursor < len(text):
        if text[cursor] == _OPERATOR and cursor + 1 < len(text):
            out.append(text[checkpoint:cursor])
            read, is_variable, advance = _read_reference(text[cursor + 1 :])
            out.append(mapping(read) if is_variable else read)
            cursor += advance
            checkpoint = cursor + 1
        cursor += 1
    out.append(text[checkpoint:])
    return "".join(out)


def _value_from(env: types.EnvVar, field_values: Mapping[str, str]) -> str:
    source = env.value_from or {}
    field_ref = source.get("fieldRef")
    if isinstance(field_ref, Mapping):
        path = field_ref.get("fieldPath")
        if isinstance(path, str):
            return field_values.get(path, "")
    return ""


def container_environment(
    container: types.Container,
    service_env: Mapping[str, str] | None = None,
    field_values: Mapping[str, str] | None = None,
) -> list[tuple[str, str]]:
    """The container's environment, in declaration order, each value expanded against earlier ones.

    ``service_env`` holds Service link variables: they resolve references and are appended after the
    container's own variables unless one of those has the same name. ``field_values`` answers
    ``valueFrom.fieldRef`` (``{"metadata.name": "web"}``); other ``valueFrom`` sources resolve to ``""``.
    A name declared twice keeps its first position and its last value.
    """
    services = dict(service_env or {})
    fields = field_values or {}
    declared: dict[str, str] = {}
    lookup = mapping_for(declared, services)
    for env in container.env:
        if env.value != "":
            value = expand(env.value, lookup)
        elif env.value_from is not None:
            value = _value_from(env, fields)
        else:
            value = ""
        declared[env.name] = value
    result = list(declared.items())
    result.extend((name, value) for name, value in services.items() if name not in declared)
    return result


def expand_command(container: types.Container, env: Sequence[tuple[str, str]]) -> list[str]:
    """``command + args`` with ``$(VAR)`` references expanded from ``env``."""
    lookup = mapping_for(dict(env))
    return [expand(part, lookup) for part in (*container.command, *container.args)]
