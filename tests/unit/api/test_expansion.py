from __future__ import annotations

import pytest

from minikube_py.api import expansion, types

CONTEXT = {"VAR_A": "A", "VAR_B": "B", "VAR_C": "C", "VAR_REF": "$(VAR_A)", "VAR_EMPTY": ""}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("$(VAR_A)", "A"),
        ("$(VAR_A)-$(VAR_A)", "A-A"),
        ("___$(VAR_B)___", "___B___"),
        ("$(VAR_A)_$(VAR_B)_$(VAR_C)", "A_B_C"),
        ("$$(VAR_B)_$(VAR_A)", "$(VAR_B)_A"),
        ("$$(VAR_A)_$$(VAR_B)", "$(VAR_A)_$(VAR_B)"),
        ("f000-$$VAR_A", "f000-$VAR_A"),
        ("foo\\$(VAR_C)bar", "foo\\Cbar"),
        ("$(VAR_A$(VAR_B))", "$(VAR_A$(VAR_B))"),
        ("$(VAR_A$(VAR_B)", "$(VAR_A$(VAR_B)"),
        ("$(VAR_REF)", "$(VAR_A)"),  # values are not expanded twice
        ("foo$(VAR_EMPTY)bar", "foobar"),
        ("foo$(VAR_Awhoops!", "foo$(VAR_Awhoops!"),
        ("f00__(VAR_A)__", "f00__(VAR_A)__"),
        ("$?_boo_$!", "$?_boo_$!"),
        ("$VAR_A", "$VAR_A"),
        ("$(VAR_DNE)", "$(VAR_DNE)"),
        ("$$$$$$(BIG_MONEY)", "$$$(BIG_MONEY)"),
        ("$$$$$$(VAR_A)", "$$$(VAR_A)"),
        ("$$$$$$$(GOOD_ODDS)", "$$$$(GOOD_ODDS)"),
        ("$$$$$$$(VAR_A)", "$$$A"),
        ("$VAR_A)", "$VAR_A)"),
        ("${VAR_A}", "${VAR_A}"),
        ("$(VAR_B)_______$(A", "B_______$(A"),
        ("$(VAR_C)_______$(", "C_______$("),
        ("$(VAR_A)foobarzab$", "Afoobarzab$"),
        ("--$($($($($--", "--$($($($($--"),
        ("$($($($($--foo$(", "$($($($($--foo$("),
        ("$(foo$$var)", "$(foo$$var)"),
        ("$$", "$"),
        ("$", "$"),
        ("", ""),
        ("\n", "\n"),
    ],
)
def test_expand_matches_kubernetes(text: str, expected: str) -> None:
    assert expansion.expand(text, expansion.mapping_for(CONTEXT)) == expected


def test_mapping_consults_contexts_in_order() -> None:
    lookup = expansion.mapping_for({"A": "first"}, {"A": "second", "B": "b"})
    assert (lookup("A"), lookup("B"), lookup("C")) == ("first", "b", "$(C)")


def container(
    *env: types.EnvVar, command: list[str] | None = None, args: list[str] | None = None
) -> types.Container:
    return types.Container(name="c", env=list(env), command=command or [], args=args or [])


def test_environment_resolves_earlier_variables_only() -> None:
    c = container(
        types.EnvVar("FOO", "bar"),
        types.EnvVar("ZOO", "$(FOO)-1"),
        types.EnvVar("BLU", "$(ZOO)-2"),
        types.EnvVar("EARLY", "$(LATE)"),
        types.EnvVar("LATE", "x"),
    )
    assert expansion.container_environment(c) == [
        ("FOO", "bar"),
        ("ZOO", "bar-1"),
        ("BLU", "bar-1-2"),
        ("EARLY", "$(LATE)"),
        ("LATE", "x"),
    ]


def test_environment_service_links_and_field_refs() -> None:
    c = container(
        types.EnvVar("URL", "http://$(DB_SERVICE_HOST):5432"),
        types.EnvVar("POD", value_from={"fieldRef": {"fieldPath": "metadata.name"}}),
        types.EnvVar("SECRET", value_from={"secretKeyRef": {"name": "s", "key": "k"}}),
        types.EnvVar("DB_SERVICE_PORT", "override"),
    )
    env = expansion.container_environment(
        c,
        service_env={"DB_SERVICE_HOST": "10.0.0.9", "DB_SERVICE_PORT": "5432"},
        field_values={"metadata.name": "web"},
    )
    assert env == [
        ("URL", "http://10.0.0.9:5432"),
        ("POD", "web"),
        ("SECRET", ""),
        ("DB_SERVICE_PORT", "override"),
        ("DB_SERVICE_HOST", "10.0.0.9"),
    ]


def test_duplicate_name_keeps_first_position_and_last_value() -> None:
    c = container(types.EnvVar("A", "1"), types.EnvVar("B", "2"), types.EnvVar("A", "$(A)$(B)"))
    assert expansion.container_environment(c) == [("A", "12"), ("B", "2")]


def test_expand_command_and_args() -> None:
    c = container(
        types.EnvVar("MSG", "hello world"),
        command=["/bin/echo", "$(MSG)"],
        args=["$$(MSG)", "$(UNKNOWN)", "a$(MSG)b"],
    )
    env = expansion.container_environment(c)
    assert expansion.expand_command(c, env) == [
        "/bin/echo",
        "hello world",
        "$(MSG)",
        "$(UNKNOWN)",
        "ahello worldb",
    ]
