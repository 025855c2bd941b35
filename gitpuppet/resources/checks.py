"""Checks on attribute text that every type shares, run at compile time (pure).

A value that would corrupt a line-based file (/etc/hosts, /etc/passwd, /etc/group, a cron.d
job, authorized_keys) or that the kernel cannot take (a NUL byte in a path or an argv) is
rejected here, after templates have rendered, so a `for_each` item or a data value is held to
the same rule as a literal. Path attributes are brought to one normal form, so `/x/m`, `/x/./m`,
`//x/m` and `/x/m/` are one resource.
"""

from __future__ import annotations

import datetime
import functools
import re
import shlex
from typing import Any

from gitpuppet.errors import SourceError, SourcePos

# Every C0 control but TAB, DEL, and what Python's splitlines() also breaks a line at (NEL,
# LINE SEPARATOR, PARAGRAPH SEPARATOR): any of them in a one-line value splits or garbles the
# line when the file is read again.
_LINE_BREAKING = re.compile("[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")
_NAMES = {
    "\n": "a newline",
    "\r": "a carriage return",
    "\x00": "a NUL byte",
    "\t": "a tab",
}


def describe_char(ch: str) -> str:
    """A control character as a person would name it."""
    return _NAMES.get(ch, f"the control character U+{ord(ch):04X}")


def text_problem(text: str, multiline: bool) -> str | None:
    """What makes `text` unusable as a value, or None: a NUL byte anywhere; any line break or
    control character (TAB aside) when the value must be one line."""
    if multiline:
        return _NUL if "\x00" in text else None
    found = _LINE_BREAKING.search(text)
    if found is None:
        return None
    if found.group() == "\x00":
        return _NUL
    return (
        f"contains {describe_char(found.group())}; it must be one line of text "
        "(it would corrupt the line-based file it is written to)"
    )


_NUL = "contains a NUL byte, which no file, path or command can hold; remove it"


def all_clean(
    multi: frozenset[str], multiline_title: bool, title: str, values: dict[str, Any]
) -> bool:
    """True when no value (nor the title) can have a problem that `value_problem` reports:
    the common case, decided with one scan of the one-line strings joined by a TAB (a
    character they may hold) and one NUL test of the others. False means: look closer.
    `multi` are the attributes that may hold several lines."""
    lines = [] if multiline_title else [title]
    for key, value in values.items():
        if value.__class__ is not str:
            if isinstance(value, (list, dict)):
                return False  # rare enough to take the item-by-item path
        elif key in multi:
            if "\x00" in value:
                return False
        else:
            lines.append(value)
    if multiline_title and "\x00" in title:
        return False
    return _LINE_BREAKING.search("\t".join(lines)) is None


def value_problem(multiline: bool, value: Any) -> str | None:
    """`text_problem` for every string inside a coerced attribute value."""
    if value.__class__ is str:
        return text_problem(value, multiline)
    if isinstance(value, list):
        for item in value:
            if isinstance(item, str):
                problem = text_problem(item, multiline)
                if problem:
                    return problem
    if isinstance(value, dict):
        for name, item in value.items():
            problem = text_problem(str(name), False)
            if problem:
                return f"has a name that {problem}"
            problem = text_problem(str(item), multiline)
            if problem:
                return f"value of {name} {problem}"
    return None


def not_text(value: Any) -> str | None:
    """Why a YAML value is not text that a string attribute can take, or None: a date or a
    timestamp (an unquoted 2024-01-01), binary data (!!binary), a set."""
    if isinstance(value, datetime.date):
        return (
            f"is a YAML date ({value.isoformat()}), not a string; quote it: '{value.isoformat()}'"
        )
    if isinstance(value, (bytes, bytearray)):
        return (
            "is binary data (!!binary), not a string; use `source:` for a binary file or give "
            "the text as a quoted string"
        )
    if not isinstance(value, (str, int, float, list, dict)) and value is not None:
        return f"is a YAML {type(value).__name__}, not a string; quote it"
    return None


class PathError(ValueError):
    """A path that cannot be brought to a normal form (it climbs with `..`)."""


def normal_path(path: str) -> str:
    """An absolute path in its one normal form: `//` collapsed, `.` dropped, no trailing `/`
    (Puppet does the same). A relative path is given back unchanged (the type's own check
    says it is not absolute). Raises PathError for a `..` component."""
    if not path.startswith("/"):
        return path
    if "//" not in path and "/." not in path and not path.endswith("/"):
        return path  # already normal: most paths, and the cheap test
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise PathError(f"path '{path}' has a '..' component; write the path it means without '..'")
    return "/" + "/".join(parts)


def typed_title(type_name: str, path_titled: bool, title: str, pos: SourcePos) -> str:
    """The title of a resource of a path-titled type (file, git) in the path's normal form."""
    if not path_titled:
        return title
    try:
        return normal_path(title)
    except PathError as exc:
        raise SourceError(pos, f"{type_name}: {exc}") from None


def no_none(type_name: str, rendered: dict[str, Any], parts: list[Any]) -> None:
    """A template that renders to nothing (None) is an error, not "use the default": it most
    often means a variable or a lookup that is empty by mistake. `parts` are the entry's
    (name, raw value, position, needs rendering)."""
    for key, _, where, dynamic in parts:
        if dynamic and rendered.get(key, "") is None:
            raise SourceError(
                where,
                f"{type_name} attribute '{key}' renders to nothing (None)",
                "give the template a value (e.g. `| default('…')`), or leave the attribute out",
            )


def command_problem(command: str, split: bool) -> str | None:
    """Why a command would fail before it runs, or None: nothing but blanks, or (run without a
    shell, so split the way the apply will split it) an unbalanced quote or an empty program."""
    if not command.strip():
        return "is empty; give the command to run"
    if not split:
        return None
    try:
        argv = shlex.split(command)
    except ValueError as exc:
        return (
            f"cannot be split into arguments ({str(exc).lower()}); close the quote or escape "
            "it with a backslash"
        )
    if not argv or not argv[0]:
        return "has an empty program name"
    return None


# A host name or alias as /etc/hosts takes it: no blank, no '#', no leading '-' or '.'.
HOST_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")


def host_name_problem(name: str) -> str | None:
    """Why `name` cannot be a name or alias of an /etc/hosts entry, or None."""
    if HOST_NAME.fullmatch(name) and len(name) <= 253:
        return None
    return (
        f"'{name}' is not a host name (letters, digits, '-', '_' and '.', no blanks or '#', "
        "at most 253)"
    )


# What an /etc/passwd field cannot hold: its separator.
def passwd_field_problem(key: str, value: str) -> str | None:
    """Why `value` cannot go into the `key` field of /etc/passwd, or None."""
    if ":" in value:
        return f"{key} cannot contain ':' (it separates the fields of /etc/passwd)"
    return None


def option_like(key: str, value: str) -> str | None:
    """A name that a tool would read as an option (a leading '-'), or one with blanks."""
    if value.startswith("-"):
        return f"{key} '{value}' starts with '-' (a tool would read it as an option)"
    if any(ch.isspace() for ch in value):
        return f"{key} '{value}' contains a blank"
    return None


# What the shadow tools accept (at most 32 long), and never a leading '-' (read as an option).
ACCOUNT_NAME = re.compile(r"[A-Za-z0-9_.][A-Za-z0-9_.@-]*\$?")


@functools.lru_cache(maxsize=4096)
def is_account_name(name: str) -> bool:
    """A user or group name that useradd/groupadd would take."""
    return bool(ACCOUNT_NAME.fullmatch(name)) and len(name) <= 32


Problems = list[tuple[str, str]]


def account_rules(key: str, names: Any, what: str) -> Problems:
    """Each string of `names` (a name, a number or a list) must be a user or group name."""
    if names.__class__ is str:
        if is_account_name(names):
            return []
        names = [names]
    elif not isinstance(names, list):
        return []
    for name in names:
        if isinstance(name, str) and not is_account_name(name):
            return [(key, f"{key} '{name}' is not a {what} name (letters, digits, '_', '-', '.')")]
    return []


def name_rules(name: str) -> Problems:
    """A package or unit name that a tool would read as an option, or with blanks."""
    problem = option_like("name", name)
    return [("name", problem)] if problem else []


# A crypt(3) hash ($id$…), a locked or disabled account (! or * first), empty, or old DES.
CRYPT_HASH = re.compile(r"(\$.*|[!*].*|[./0-9A-Za-z]{13}|)")


def is_crypt_hash(password: str) -> bool:
    """A value the shadow file can hold as a password hash (never a plain password)."""
    return "\n" not in password and ":" not in password and bool(CRYPT_HASH.fullmatch(password))


def account_problems(kind: str, name: str, number: int | None, key: str) -> Problems:
    """A user's or group's name and id, as the shadow tools would take them."""
    errs = []
    if not is_account_name(name):
        errs.append(
            (
                "name",
                f"'{name}' is not a valid {kind} name (letters, digits, '_', '-' and '.', "
                "not starting with '-', at most 32)",
            )
        )
    if number is not None and number < 0:
        errs.append((key, f"{key} must be 0 or more, not {number} (a negative id)"))
    return errs
