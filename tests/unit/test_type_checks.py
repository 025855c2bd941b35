"""Every type's checks as data: attributes in, the compile-time error out (or none), through
the compiler's build_params; cron's field checks here instead of only in the integration tier;
the package versions as dnf compares them (vercmp), reached through the package provider."""

from __future__ import annotations

from typing import Any

import pytest

from gitpuppet.errors import SourceError
from tests.unit.typecases import make

BAD: list[tuple[str, str, dict[str, Any], str]] = [
    ("file", "/etc/x", {"mode": "999"}, "must be an octal string"),
    ("file", "relative", {}, "is not absolute"),
    ("file", "/etc/x", {"ensure": "link"}, "ensure: link needs a target"),
    ("file", "/etc/x", {"content": "a", "source": "b"}, "give only one of content, source"),
    ("file", "/etc/x", {"mdoe": "0644"}, "did you mean 'mode'"),
    ("exec", "true", {"timeout": -1}, "timeout must be a positive number"),
    ("exec", "true", {"tries": 0}, "tries must be at least 1"),
    ("line", "l", {"path": "rel", "line": "a"}, "path 'rel' is not absolute"),
    ("host", "h", {"ip": "300.1.1.1"}, "is not an IP address"),
    ("host", "h", {}, "host needs an ip"),
    ("service", "s", {"ensure": "running", "enable": "mask"}, "contradict each other"),
    ("service", "s", {"ensure": "sometimes"}, "must be one of running, stopped"),
    ("user", "bad name", {}, "is not a valid user name"),
    ("user", "u", {"uid": -5}, "uid must be 0 or more"),
    ("group", "g", {"gid": "x"}, "must be an integer"),
    ("group", "bad:name", {}, "is not a valid group name"),
    ("git", "/srv/x", {}, "git needs a source URL"),
    ("cron", "job", {}, "cron needs a command"),
    ("cron", "job", {"command": "a\nb"}, "must be one line"),
    ("cron", "job", {"command": "x", "minute": "61"}, "minute '61' is not a valid cron field"),
    ("cron", "job", {"command": "x", "minute": "5-1"}, "minute '5-1'"),
    ("cron", "job", {"command": "x", "hour": "24"}, "hour '24' is not a valid cron field"),
    ("cron", "job", {"command": "x", "hour": "*/0"}, "step '0' must be a number from 1 to 24"),
    ("cron", "job", {"command": "x", "monthday": "0"}, "monthday '0'"),
    ("cron", "job", {"command": "x", "month": "0"}, "month '0' is not a valid cron field"),
    ("cron", "job", {"command": "x", "month": "foo"}, "month 'foo'"),
    ("cron", "job", {"command": "x", "weekday": "8"}, "weekday '8' is not a valid cron field"),
    ("cron", "job", {"command": "x", "special": "@daily", "minute": "5"}, "drop minute"),
    ("cron", "job", {"command": "x", "environment": {"1A": "x"}}, "not an environment variable"),
    ("cron", "job", {"command": "x", "environment": {"A": "x\ny"}}, "must be one line"),
]


@pytest.mark.parametrize(
    ("type_name", "title", "attrs", "error"), BAD, ids=[f"{t}-{e[:24]}" for t, _, _, e in BAD]
)
def test_a_bad_declaration_is_refused_at_compile_time(
    type_name: str, title: str, attrs: dict[str, Any], error: str
) -> None:
    with pytest.raises(SourceError, match=error) as info:
        make(type_name, title, **attrs)
    assert str(info.value).startswith("t.yaml:1: ")  # file and line, always


GOOD: list[tuple[str, str, dict[str, Any]]] = [
    ("cron", "job", {"command": "x", "minute": "*/15", "hour": "1-5/2", "weekday": "mon-fri"}),
    ("cron", "job", {"command": "x", "weekday": "7", "month": "jan,jul"}),
    ("cron", "job", {"command": "x", "special": "@reboot"}),
    ("cron", "job", {"ensure": "absent"}),  # removing needs no command
    ("file", "/etc/x", {"mode": "0644", "content": "a"}),
    ("service", "s", {"ensure": "stopped", "enable": "mask"}),
    ("host", "h", {"ip": "::1"}),
]


@pytest.mark.parametrize(
    ("type_name", "title", "attrs"), GOOD, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(GOOD)]
)
def test_a_good_declaration_passes(type_name: str, title: str, attrs: dict[str, Any]) -> None:
    assert make(type_name, title, **attrs).params is not None
