"""The cron type's spec: its parameters, checks and automatic edges (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitpuppet.model import Ref
from gitpuppet.resources.checks import is_account_name
from gitpuppet.resources.coerce import MAP, STR, STR_OR_INT
from gitpuppet.resources.schema import EdgeIndex, Params, attr

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
        return job_problems(self)

    def auto_edges(self, ref: Ref, index: EdgeIndex) -> None:
        index.need_account("user", self.user, ref)

    def paths_written(self) -> tuple[list[str], bool]:
        return [f"/etc/cron.d/{self.name}"], False


_NAME_RULE = re.compile(r"[A-Za-z0-9_-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True, slots=True)
class _Range:
    low: int
    high: int
    names: tuple[str, ...] = ()  # names for low, low+1, … (month, weekday)
    what: str = ""


# 7 is Sunday as well as 0 (every cron since Vixie's accepts both).
_RANGES = {
    "minute": _Range(0, 59, what="0-59"),
    "hour": _Range(0, 23, what="0-23"),
    "monthday": _Range(1, 31, what="1-31"),
    "month": _Range(1, 12, _MONTHS, "1-12 or jan-dec"),
    "weekday": _Range(0, 7, _DAYS, "0-7 (0 and 7 are Sunday) or sun-sat"),
}


def name_problem(title: str) -> str | None:
    """Why cron would ignore /etc/cron.d/<title>, or None."""
    if _NAME_RULE.fullmatch(title):
        return None
    return (
        f"cron ignores /etc/cron.d/{title}: a cron.d file name may only hold letters, digits, "
        "- and _ (no dots)"
    )


def _number(text: str, rng: _Range) -> int | None:
    if text.isdigit():
        value = int(text)
        return value if rng.low <= value <= rng.high else None
    lowered = text.lower()
    if lowered in rng.names:
        return rng.low + rng.names.index(lowered)
    return None


def field_problem(name: str, value: str | int) -> str | None:
    """What is wrong with one time field (`*`, `*/5`, `1-5`, `1,15,30`, `mon-fri`, `0-30/10`), or
    None. A step goes only after `*` or a range, as in every cron."""
    rng = _RANGES[name]
    text = str(value)
    bad = f"{name} '{text}' is not a valid cron field ({rng.what}; *, */step, a-b, a-b/step, lists)"
    if not text or any(ch.isspace() for ch in text):
        return bad
    span = rng.high - rng.low + 1
    for item in text.split(","):
        base, slash, step = item.partition("/")
        if slash and not (step.isdigit() and 1 <= int(step) <= span):
            return f"{name} '{text}': step '{step}' must be a number from 1 to {span}"
        if base == "*":
            continue
        first, dash, last = base.partition("-")
        start = _number(first, rng)
        if start is None:
            return bad
        if not dash:
            if slash:
                return f"{name} '{text}': a step needs * or a range before it (write {first}-{rng.high}/{step})"
            continue
        end = _number(last, rng)
        if end is None:
            return bad
        if start > end:
            return f"{name} '{text}': the range {base} runs backwards"
    return None


def job_problems(p: CronParams) -> list[tuple[str, str]]:
    """(attribute, message) for everything cron would reject or misread (pure)."""
    errs: list[tuple[str, str]] = []
    title_problem = name_problem(p.name)
    if title_problem:
        errs.append(("name", title_problem))
    if p.ensure == "absent":
        return errs
    if not p.command:
        errs.append(("command", "cron needs a command"))
    elif "\n" in p.command or "\r" in p.command:
        errs.append(("command", "a cron command must be one line"))
    if not is_account_name(p.user):
        errs.append(("user", f"'{p.user}' is not a user name"))
    if p.special is not None:
        given = [f for f in CRON_FIELDS if str(getattr(p, f)) != "*"]
        if given:
            errs.append(
                (
                    given[0],
                    f"special: {p.special} replaces the time fields; drop {', '.join(given)}",
                )
            )
    else:
        for f in CRON_FIELDS:
            problem = field_problem(f, getattr(p, f))
            if problem:
                errs.append((f, problem))
    for key, value in p.environment.items():
        if not _ENV_NAME.fullmatch(key):
            errs.append(("environment", f"'{key}' is not an environment variable name"))
        elif "\n" in value or "\r" in value:
            errs.append(("environment", f"the value of {key} must be one line"))
    return errs
