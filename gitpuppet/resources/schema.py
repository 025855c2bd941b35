"""The attribute schema of every resource type, checked at compile time.

Pure: no system access, so the compiler can import it. Each type is a dataclass whose fields
carry a `kind` in their metadata; `build_params` turns a YAML mapping into that dataclass or
raises a SourceError naming the attribute, its line, and the likely fix.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from typing import Any

from gitpuppet.errors import SourceError, SourcePos, did_you_mean
from gitpuppet.resources import checks
from gitpuppet.resources.checks import is_account_name
from gitpuppet.resources.coerce import (
    ANY,
    BOOL,
    INT,
    INTLIST,
    MAP,
    MODE,
    STR,
    STR_OR_INT,
    STRLIST,
    coerce,
)

# The base of every schema lives in schemabase.py: the specs under gitpuppet/types/ build on it
# and this module lists them, without an import cycle.
from gitpuppet.resources.schemabase import Params, attr, internal
from gitpuppet.types.apt_source.spec import AptSourceParams
from gitpuppet.types.ini_setting.spec import IniSettingParams
from gitpuppet.types.mount.spec import MountParams
from gitpuppet.types.sysctl.spec import SysctlParams

FILE_ENSURE = ("file", "present", "directory", "link", "absent")


@dataclass(slots=True)
class FileParams(Params):
    type_name = "file"
    namevar = "path"
    path: str = attr(STR, doc="the absolute path managed (the title)")
    ensure: str = attr(
        STR,
        "file",
        FILE_ENSURE,
        doc="file, directory, link or absent; present: a file or a link, as it is",
    )
    content: str | None = attr(STR, doc="the file's content, given inline")
    source: str | None = attr(
        STR, doc="the content from a file under files/ (a folder with recurse)"
    )
    template: str | None = attr(STR, doc="the content from a Jinja2 template under templates/")
    owner: str | int | None = attr(STR_OR_INT, doc="owning user, by name or uid")
    group: str | int | None = attr(STR_OR_INT, doc="owning group, by name or gid")
    mode: str | None = attr(MODE, doc='permissions as an octal string, e.g. "0640"')
    target: str | None = attr(STR, doc="what a link points to (ensure: link)")
    recurse: bool = attr(BOOL, False, doc="manage a directory's contents from its source folder")
    purge: bool = attr(
        BOOL, False, doc="with recurse: remove entries nothing in the catalog manages"
    )
    force: bool = attr(
        BOOL,
        False,
        doc="replace a directory (or a file where a directory belongs) instead of failing",
    )
    backup: bool = attr(BOOL, True, doc="keep the replaced content in the backup store")
    replace: bool = attr(
        BOOL, True, doc="false: create the file if missing, never change an existing one's content"
    )
    validate: str | None = attr(
        STR, doc="a command run on the new content before it replaces the old (% is the temp file)"
    )
    # Filled in by the compiler: the bytes to write (from content, source or template), and for
    # a recursive directory, relative path -> bytes (None for a sub-directory).
    data: bytes | None = internal()
    tree: dict[str, bytes | None] | None = internal()

    def check(self) -> list[tuple[str, str]]:
        errs: list[tuple[str, str]] = []
        if not os.path.isabs(self.path):
            errs.append(("path", f"file path '{self.path}' is not absolute"))
        given = [k for k in ("content", "source", "template") if getattr(self, k) is not None]
        if len(given) > 1:
            errs.append(
                (given[1], f"give only one of content, source, template (got {', '.join(given)})")
            )
        if self.ensure == "link" and not self.target:
            errs.append(("ensure", "ensure: link needs a target"))
        if self.target and self.ensure != "link":
            errs.append(("target", "target is only for ensure: link"))
        if self.ensure in ("link", "absent") and given:
            errs.append((given[0], f"{given[0]} makes no sense with ensure: {self.ensure}"))
        if self.recurse and self.ensure != "directory":
            errs.append(("recurse", "recurse needs ensure: directory"))
        if self.purge and not self.recurse:
            errs.append(("purge", "purge needs recurse: true"))
        if self.ensure == "directory" and (self.content is not None or self.template is not None):
            errs.append(("ensure", "a directory has no content; use source with recurse"))
        if self.ensure == "directory" and self.source and not self.recurse:
            errs.append(("source", "a directory's source needs recurse: true"))
        return errs


@dataclass(slots=True)
class PackageParams(Params):
    type_name = "package"
    name: str = attr(STR, doc="the package name (the title)")
    ensure: str = attr(
        STR, "installed", doc="installed, present, latest, absent, purged or a version"
    )
    provider: str | None = attr(
        STR,
        None,
        ("apt", "dnf", "pip"),
        doc="the package manager (default: from the facts)",
    )


@dataclass(slots=True)
class ServiceParams(Params):
    type_name = "service"
    name: str = attr(STR, doc="the service (unit) name (the title)")
    ensure: str | None = attr(
        STR,
        None,
        ("running", "stopped"),
        doc="not given: left as it is",
    )
    enable: bool | str | None = attr(ANY, None, doc="true, false or mask")
    provider: str | None = attr(
        STR,
        None,
        ("systemd", "sysvinit"),
        doc="the init system (default: from the facts)",
    )
    restart: str = attr(
        STR, "restart", ("restart", "reload"), doc="what a refresh does to a running service"
    )

    def check(self) -> list[tuple[str, str]]:
        if self.enable not in (None, True, False, "mask"):
            return [("enable", f"enable must be true, false or mask, not {self.enable!r}")]
        if self.enable == "mask" and self.ensure == "running":
            return [
                (
                    "enable",
                    "enable: mask and ensure: running contradict each other (a masked unit "
                    "cannot start); use enable: false",
                )
            ]
        return []


@dataclass(slots=True)
class ExecParams(Params):
    type_name = "exec"
    namevar = "command"
    command: str = attr(
        STR, doc="the command (the title), split into words as a shell would, run without one"
    )
    creates: str | None = attr(STR, doc="a path: the command runs only while it does not exist")
    onlyif: str | None = attr(STR, doc="a command: run only if it exits 0")
    unless: str | None = attr(STR, doc="a command: run only if it exits non-zero")
    refreshonly: bool = attr(BOOL, False, doc="run only when refreshed (notify/subscribe)")
    cwd: str | None = attr(STR, doc="the absolute working directory")
    environment: dict[str, str] = attr(MAP, {}, doc="extra environment variables")
    path: list[str] = attr(
        STRLIST,
        ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"],
        doc="the folders searched for the command's program",
    )
    user: str | int | None = attr(STR_OR_INT, doc="run as this user")
    group: str | int | None = attr(STR_OR_INT, doc="run with this group")
    timeout: int = attr(INT, 300, doc="seconds before the command's process group is killed")
    returns: list[int] = attr(INTLIST, [0], doc="the exit codes that mean success")
    tries: int = attr(INT, 1, doc="how many times to try before failing")
    try_sleep: int = attr(INT, 0, doc="seconds to wait between tries")
    shell: bool = attr(BOOL, False, doc="run the command with /bin/sh -c")

    def check(self) -> list[tuple[str, str]]:
        errs = []
        if self.timeout <= 0:
            errs.append(("timeout", "timeout must be a positive number of seconds"))
        if self.tries < 1:
            errs.append(("tries", "tries must be at least 1"))
        if self.cwd and not os.path.isabs(self.cwd):
            errs.append(("cwd", f"cwd '{self.cwd}' is not absolute"))
        return errs


@dataclass(slots=True)
class UserParams(Params):
    type_name = "user"
    name: str = attr(STR, doc="the login name (the title)")
    ensure: str = attr(STR, "present", ("present", "absent"), doc="present or absent")
    uid: int | None = attr(INT, doc="the numeric user id")
    gid: str | int | None = attr(STR_OR_INT, doc="the primary group, by name or gid")
    groups: list[str] | None = attr(STRLIST, doc="supplementary groups: the whole list")
    home: str | None = attr(STR, doc="the absolute home directory")
    managehome: bool = attr(
        BOOL, False, doc="create the home directory (and remove it with ensure: absent)"
    )
    shell: str | None = attr(STR, doc="the login shell")
    comment: str | None = attr(STR, doc="the GECOS field (full name)")
    system: bool = attr(BOOL, False, doc="a system account (a uid below 1000) when created")
    password: str | None = attr(STR, doc="a crypt(3) hash, never a plain password; never printed")
    authorized_keys: list[str] | None = attr(
        STRLIST, doc="ssh public keys: the whole ~/.ssh/authorized_keys"
    )

    def check(self) -> list[tuple[str, str]]:
        errs = account_problems("user", self.name, self.uid, "uid")
        if isinstance(self.gid, int) and self.gid < 0:
            errs.append(("gid", f"gid must be 0 or more, not {self.gid}"))
        if self.home is not None and not os.path.isabs(self.home):
            errs.append(("home", f"home '{self.home}' is not absolute"))
        if self.password is not None and not is_crypt_hash(self.password):
            errs.append(
                (
                    "password",
                    "password is not a crypt(3) hash (the value is not shown: it is sensitive); "
                    "give the hash, e.g. from `mkpasswd -m yescrypt`, never the plain password",
                )
            )
        for key in self.authorized_keys or []:
            if "\n" in key or "\r" in key:
                errs.append(("authorized_keys", "each authorized key must be one line"))
                break
        return errs


@dataclass(slots=True)
class GroupParams(Params):
    type_name = "group"
    name: str = attr(STR, doc="the group name (the title)")
    ensure: str = attr(STR, "present", ("present", "absent"), doc="present or absent")
    gid: int | None = attr(INT, doc="the numeric group id")
    system: bool = attr(BOOL, False, doc="a system group (a gid below 1000) when created")
    members: list[str] | None = attr(STRLIST, doc="the members: the whole list")

    def check(self) -> list[tuple[str, str]]:
        return account_problems("group", self.name, self.gid, "gid")


# A crypt(3) hash ($id$…), a locked or disabled account (! or * first), empty, or old DES.
CRYPT_HASH = re.compile(r"(\$.*|[!*].*|[./0-9A-Za-z]{13}|)")


def is_crypt_hash(password: str) -> bool:
    return "\n" not in password and ":" not in password and bool(CRYPT_HASH.fullmatch(password))


def account_problems(kind: str, name: str, number: int | None, key: str) -> list[tuple[str, str]]:
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
        errs.append((key, f"{key} must be 0 or more, not {number}"))
    return errs


@dataclass(slots=True)
class LineParams(Params):
    # The title is the line itself: `- line: "PermitRootLogin no"`, or, with `text:`, only a
    # name (`- line: set the db password` + `text: "password=..."`), so that a sensitive line
    # need not be its own title. (A `line:` attribute beside the `line:` type key would be a
    # duplicate YAML key, hence `text`.)
    type_name = "line"
    namevar = "line"
    path: str = attr(STR, doc="the absolute path of the file edited")
    line: str | None = attr(STR, doc="the line to ensure (the title, unless `text` is given)")
    text: str | None = attr(STR, doc="the line, when the title is only a name")
    match: str | None = attr(
        STR,
        doc="a regex: the last matching line is replaced (absent: all are removed)",
    )
    after: str | None = attr(
        STR, doc="a regex: a new line goes after the last matching line (else at the end)"
    )
    ensure: str = attr(STR, "present", ("present", "absent"), doc="present or absent")
    follow: bool = attr(BOOL, False, doc="edit the file a link at `path` points to")
    validate: str | None = attr(
        STR, doc="a command run on the new text before it replaces the old; % is its temp file"
    )

    @property
    def wanted(self) -> str | None:
        """The line to ensure: `text` when given (the title is then a name), else the title."""
        return self.text if self.text is not None else self.line

    def check(self) -> list[tuple[str, str]]:
        errs = []
        key = "text" if self.text is not None else "line"
        if not self.path:
            errs.append(("path", "line needs a path"))
        elif not os.path.isabs(self.path):
            errs.append(("path", f"path '{self.path}' is not absolute"))
        if self.ensure == "present" and self.wanted is None:
            errs.append(("line", "line needs `line:` (the text to ensure)"))
        if self.ensure == "absent" and self.wanted is None and self.match is None:
            errs.append(("ensure", "ensure: absent needs `line:` or `match:`"))
        if self.wanted is not None and "\n" in self.wanted:
            errs.append((key, "line must be a single line"))
        for key in ("match", "after"):
            pattern = getattr(self, key)
            if pattern is not None:
                try:
                    re.compile(pattern)
                except re.error as exc:
                    errs.append((key, f"{key} is not a valid regular expression: {exc}"))
        return errs


CRON_FIELDS = ("minute", "hour", "monthday", "month", "weekday")


@dataclass(slots=True)
class CronParams(Params):
    type_name = "cron"
    name: str = attr(STR, doc="the job's name: /etc/cron.d/<name> (the title)")
    ensure: str = attr(STR, "present", ("present", "absent"), doc="present or absent")
    command: str | None = attr(STR, doc="the command cron runs")
    user: str = attr(STR, "root", doc="the user the job runs as")
    minute: str | int = attr(STR_OR_INT, "*", doc="cron's minute field")
    hour: str | int = attr(STR_OR_INT, "*", doc="cron's hour field")
    monthday: str | int = attr(STR_OR_INT, "*", doc="cron's day-of-month field")
    month: str | int = attr(STR_OR_INT, "*", doc="cron's month field")
    weekday: str | int = attr(STR_OR_INT, "*", doc="cron's day-of-week field")
    special: str | None = attr(
        STR,
        None,
        (
            "@reboot",
            "@yearly",
            "@annually",
            "@monthly",
            "@weekly",
            "@daily",
            "@midnight",
            "@hourly",
        ),
        doc="a schedule such as @daily instead of the five time fields",
    )
    environment: dict[str, str] = attr(MAP, {}, doc="variables set at the top of the cron file")

    def check(self) -> list[tuple[str, str]]:
        # The rules live with the type (pure functions); imported here, not at the top, since
        # the type module imports this one.
        from gitpuppet.resources.cron import job_problems

        return job_problems(self)


@dataclass(slots=True)
class HostParams(Params):
    type_name = "host"
    name: str = attr(STR, doc="the host name (the title)")
    ensure: str = attr(STR, "present", ("present", "absent"), doc="present or absent")
    ip: str | None = attr(STR, doc="the IP address (v4 or v6)")
    aliases: list[str] = attr(STRLIST, [], doc="other names of the same address")
    target: str = attr(STR, "/etc/hosts", doc="the hosts file edited")

    def check(self) -> list[tuple[str, str]]:
        import ipaddress

        if self.ensure == "present":
            if not self.ip:
                return [("ip", "host needs an ip")]
            try:
                ipaddress.ip_address(self.ip)
            except ValueError:
                return [("ip", f"'{self.ip}' is not an IP address")]
        return []


@dataclass(slots=True)
class GitParams(Params):
    type_name = "git"
    namevar = "path"
    path: str = attr(STR, doc="the absolute path of the checkout (the title)")
    source: str | None = attr(STR, doc="the repository URL")
    revision: str = attr(STR, "HEAD", doc="a branch, tag or commit to check out")
    ensure: str = attr(
        STR,
        "present",
        ("present", "latest", "absent"),
        doc="present clones once, latest follows the revision",
    )
    owner: str | int | None = attr(STR_OR_INT, doc="owning user of the checkout")
    group: str | int | None = attr(STR_OR_INT, doc="owning group of the checkout")

    def check(self) -> list[tuple[str, str]]:
        errs = []
        if not os.path.isabs(self.path):
            errs.append(("path", f"path '{self.path}' is not absolute"))
        if self.ensure != "absent" and not self.source:
            errs.append(("source", "git needs a source URL"))
        return errs


# The types that are one folder under gitpuppet/types/.
NEW_TYPES = (SysctlParams, MountParams, AptSourceParams, IniSettingParams)

SCHEMAS: dict[str, type[Params]] = {
    cls.type_name: cls
    for cls in (
        FileParams,
        PackageParams,
        ServiceParams,
        ExecParams,
        UserParams,
        GroupParams,
        LineParams,
        CronParams,
        HostParams,
        GitParams,
        *NEW_TYPES,
    )
}

# Attributes that every type accepts; the compiler handles them, not the type.
METAPARAMS = (
    "require",
    "before",
    "notify",
    "subscribe",
    "noop",
    "tags",
    "sensitive",
    "when",
    "for_each",
)
# What each metaparameter means (for the generated reference, gitpuppet.reference).
METAPARAM_DOCS: dict[str, str] = {
    "require": "references applied before this resource",
    "before": "references applied after this resource",
    "notify": "references refreshed when this resource changes (ordered after it)",
    "subscribe": "references whose change refreshes this resource (ordered before it)",
    "noop": "true: never change this resource, only report what would change",
    "tags": "extra tags (every resource has its type, class and define as tags)",
    "sensitive": "true: the title, values and diffs are redacted everywhere",
    "when": "a Jinja2 expression: the resource is declared only when it is true",
    "for_each": "a list or mapping: the resource is declared once per item",
}

_FIELDS: dict[str, dict[str, dataclasses.Field[Any]]] = {
    name: {f.name: f for f in dataclasses.fields(cls) if f.metadata.get("kind") != "internal"}  # type: ignore[arg-type]
    for name, cls in SCHEMAS.items()
}


def attribute_names(type_name: str) -> list[str]:
    """The attributes a type accepts (without metaparameters)."""
    return list(_FIELDS[type_name])


def check_attribute_names(type_name: str, names: dict[str, SourcePos]) -> None:
    """An error for the first attribute that is neither the type's nor a metaparameter."""
    fields = _FIELDS[type_name]
    for key, where in names.items():
        if key not in fields and key not in METAPARAMS:
            raise SourceError(
                where,
                f"unknown attribute '{key}' for {type_name}",
                did_you_mean(key, list(fields) + list(METAPARAMS)),
            )


def build_params(
    type_name: str,
    title: str,
    attrs: dict[str, Any],
    pos: SourcePos,
    attr_pos: dict[str, SourcePos],
    check_names: bool = True,
) -> Params:
    """Check `attrs` against the type's schema and build its params dataclass.

    `check_names=False` when the caller has run `check_attribute_names` on them already."""
    fields = _FIELDS[type_name]
    cls = SCHEMAS[type_name]
    values: dict[str, Any] = {}
    paths = checks.PATH_ATTRS.get(type_name, ())
    if check_names:
        check_attribute_names(type_name, {key: attr_pos.get(key, pos) for key in attrs})
    for key, raw in attrs.items():
        where = attr_pos.get(key, pos)
        spec = fields.get(key)
        if spec is None:
            continue  # a metaparameter: the compiler handles it
        if raw is None:
            continue  # ~ means "use the default"
        value, problem = coerce(spec.metadata["kind"], raw)
        if problem:
            raise SourceError(where, f"{type_name} attribute '{key}' {problem}")
        choices = spec.metadata["choices"]
        if choices and value not in choices:
            raise SourceError(
                where,
                f"{type_name} attribute '{key}' must be one of {', '.join(choices)}, not '{value}'",
                did_you_mean(str(value), choices),
            )
        values[key] = _normal_path(type_name, key, value, where) if key in paths else value
    namevar = cls.namevar
    if namevar not in values:
        values[namevar] = (
            _normal_path(type_name, namevar, title, pos) if namevar in paths else title
        )
    params = cls(**values)
    for key, message in params.check():
        raise SourceError(attr_pos.get(key, pos), f"{type_name}:{title}: {message}")
    # After the type's own checks (their words are more precise), before the shared rules on
    # names (a newline is better reported as a newline than as "not a host name").
    _check_text(type_name, title, values, attr_pos, pos)
    for key, message in checks.TYPE_RULES.get(type_name, _no_rules)(params):
        raise SourceError(attr_pos.get(key, pos), f"{type_name}:{title}: {message}")
    return params


def _no_rules(params: Params) -> list[tuple[str, str]]:
    return []


def _check_text(
    type_name: str,
    title: str,
    values: dict[str, Any],
    attr_pos: dict[str, SourcePos],
    pos: SourcePos,
) -> None:
    """No NUL byte anywhere, and one line of text where a line-based file needs one."""
    if checks.all_clean(type_name, title, values):
        return  # nearly always: one scan of every string, no per-value work
    problem = checks.text_problem(title, multiline=type_name == "exec")
    if problem:
        raise SourceError(pos, f"the title of a {type_name} {problem}")
    for key, value in values.items():
        problem = checks.value_problem(type_name, key, value)
        if problem:
            raise SourceError(attr_pos.get(key, pos), f"{type_name} attribute '{key}' {problem}")


def _normal_path(type_name: str, key: str, value: Any, where: SourcePos) -> Any:
    """A path attribute in its normal form (a value that is not a string as it is)."""
    if isinstance(value, str):
        try:
            return checks.normal_path(value)
        except checks.PathError as exc:
            raise SourceError(where, f"{type_name} attribute '{key}': {exc}") from None
    return value
