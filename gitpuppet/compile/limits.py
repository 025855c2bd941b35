"""What one template render may cost: sizes of strings and sequences, emitted text, steps.

A control repo is root's configuration, but `validate` runs in CI on pull requests anyone may
open, so a template must not be able to hang a machine or eat its memory. Each check here runs
*before* the Python operation that would allocate (`'a' * 10**10` is refused, not attempted),
estimating the result's size from the operands. Every refusal is a `RenderLimit`, which the
template layer turns into an error at the file and line being rendered.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from typing import Any

MAX_SIZE = 8 * 1024 * 1024  # characters of one string, items of one sequence
MAX_EMIT = 4 * MAX_SIZE  # characters a render may produce (buffers and includes counted)
MAX_STEPS = 1_000_000  # loop iterations plus calls in one render (well under a second)
MAX_INT_BITS = 1 << 16  # an int past this is no configuration value
_CONTAINERS = (list, tuple, dict, set, frozenset)
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([a-zA-Z%])")
_DIGITS = re.compile(r"\d+")


class RenderLimit(Exception):
    """A render went past one of the limits above; the message says which and why."""


def too_big(what: str, size: int, limit: int = MAX_SIZE) -> RenderLimit:
    return RenderLimit(f"{what} would be {size:,} long, over the limit of {limit:,}")


def length(value: Any) -> int:
    """Characters of a string, items of a sequence or mapping, else 1 (no deep walk)."""
    if isinstance(value, (str, bytes, *_CONTAINERS)):
        return len(value)
    return 1


def text_weight(value: Any, limit: int = MAX_SIZE) -> int:
    """About how long `str(value)` would be; the walk stops once past `limit`."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if not isinstance(value, _CONTAINERS):
        if isinstance(value, int) and not isinstance(value, bool):
            return value.bit_length() // 3 + 2
        return 32
    total = 0
    stack: list[Any] = [value]
    while stack and total <= limit:
        item = stack.pop()
        if isinstance(item, (str, bytes)):
            total += len(item) + 4
        elif isinstance(item, dict):
            total += 2 + 2 * len(item)
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, _CONTAINERS):
            total += 2 + 2 * len(item)
            stack.extend(item)
        else:
            total += 24
    return total


def check_text(what: str, value: Any, extra: int = 0) -> None:
    """Refuse a value whose text (plus `extra`) would pass MAX_SIZE."""
    size = text_weight(value) + extra
    if size > MAX_SIZE:
        raise too_big(what, size)


def check_int(value: Any, what: str) -> None:
    """Refuse an integer argument past MAX_SIZE (a width, a count, a fill length)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_SIZE:
        raise RenderLimit(f"{what} {value} is over the limit of {MAX_SIZE:,}")


# -- operators ------------------------------------------------------------------------------


def check_binop(op: str, left: Any, right: Any) -> None:
    """Refuse `left op right` when its result would be too large to build."""
    if op == "*":
        _check_repeat(left, right)
    elif op == "+" and isinstance(left, (str, bytes, list, tuple)):
        if isinstance(right, type(left)) and len(left) + len(right) > MAX_SIZE:
            raise too_big("a concatenation", len(left) + len(right))
    elif op == "**":
        _check_power(left, right)
    elif op == "%" and isinstance(left, (str, bytes)):
        fmt = left if isinstance(left, str) else left.decode("latin-1")
        values = right if isinstance(right, tuple) else (right,)
        if isinstance(right, dict):
            values = tuple(right.values())
        check_printf(fmt, values)


def _check_repeat(left: Any, right: Any) -> None:
    seq, count = (left, right) if isinstance(right, int) else (right, left)
    if not isinstance(count, int) or isinstance(count, bool):
        return
    if isinstance(seq, int) and not isinstance(seq, bool):
        if seq.bit_length() + count.bit_length() > MAX_INT_BITS:
            raise RenderLimit(f"an integer product over {MAX_INT_BITS} bits")
    elif isinstance(seq, (str, bytes, list, tuple)) and len(seq) * max(count, 0) > MAX_SIZE:
        raise too_big("a repetition", len(seq) * count)


def _check_power(base: Any, exp: Any) -> None:
    if not (isinstance(base, int) and isinstance(exp, int)) or exp <= 0 or abs(base) < 2:
        return
    if base.bit_length() * exp > MAX_INT_BITS:
        raise RenderLimit(f"{base} ** {exp} is over {MAX_INT_BITS} bits")


def check_printf(fmt: str, values: Iterable[Any]) -> None:
    """Refuse `fmt % values` whose widths, precisions or fields would make it too large."""
    values = tuple(values)
    for value in values:
        check_int(value, "a '*' width")
    specs = _PRINTF.findall(fmt)
    widths = 0
    for width, precision, _conv in specs:
        for number in (width, precision):
            if number.isdigit():
                check_int(int(number), "a format width")
                widths += int(number)
    largest = max((text_weight(v) for v in values), default=0)
    size = len(fmt) + widths + len(specs) * largest
    if size > MAX_SIZE:
        raise too_big("a formatted string", size)


def check_format(fmt: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse `fmt.format(...)` whose widths or fields would make it too large."""
    values = (*args, *kwargs.values())
    for value in values:
        check_int(value, "a format argument")
    fields = 0
    widths = 0
    try:
        parsed = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format itself says what is wrong
    for _literal, name, spec, _conv in parsed:
        if name is None:
            continue
        fields += 1
        for number in _DIGITS.findall(spec or ""):
            check_int(int(number), "a format width")
            widths += int(number)
    largest = max((text_weight(v) for v in values), default=0)
    size = len(fmt) + widths + fields * largest
    if size > MAX_SIZE:
        raise too_big("a formatted string", size)


# -- string methods and filters ------------------------------------------------------------


def check_str_method(text: str | bytes, name: str, args: tuple[Any, ...]) -> None:
    """Refuse a str/bytes method call (`'x'.ljust(10**9)`) whose result would be too large."""
    for value in args:
        check_int(value, f"argument of {name}()")
    if name == "expandtabs" and args and isinstance(args[0], int):
        tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
        if tabs * args[0] > MAX_SIZE:
            raise too_big(f"{name}()", tabs * args[0])
    elif name == "replace" and len(args) >= 2:
        check_replace(text, args[0], args[1])
    elif name == "join" and args:
        items = args[0] if isinstance(args[0], _CONTAINERS) else ()
        check_text("a join", items, len(text) * len(items))


def check_replace(text: Any, old: Any, new: Any) -> None:
    """Refuse a replace whose result would pass MAX_SIZE."""
    if not isinstance(text, (str, bytes)) or type(old) is not type(text):
        return
    hits = text.count(old) if old else len(text) + 1  # type: ignore[arg-type]
    size = len(text) + hits * max(0, text_weight(new) - len(old))
    if size > MAX_SIZE:
        raise too_big("a replace", size)


def check_filter(name: str, value: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Refuse a filter call whose result would be too large, before it runs."""
    for arg in (*args, *kwargs.values()):
        check_int(arg, f"argument of filter {name}")
    if name == "replace" and len(args) >= 2:
        check_replace(str(value) if not isinstance(value, (str, bytes)) else value, *args[:2])
    elif name == "join":
        sep = args[0] if args else kwargs.get("d", "")
        items = value if isinstance(value, _CONTAINERS) else ()
        check_text("a join", items, text_weight(sep) * len(items))
    elif name == "format" and isinstance(value, str):
        check_printf(value, (*args, *kwargs.values()))
    elif name == "indent":
        width = args[0] if args else kwargs.get("width", 4)
        lines = value.count("\n") + 1 if isinstance(value, str) else 1
        per_line = width if isinstance(width, int) else text_weight(width)
        check_text("an indent", value, lines * max(per_line, 0))
    elif name == "wordwrap":
        wrap = kwargs.get("wrapstring") or (args[3] if len(args) > 3 else "\n")
        check_text("a wordwrap", value, text_weight(value) * text_weight(wrap))
    elif name in ("string", "tojson", "to_yaml", "pprint", "xmlattr", "urlencode", "list"):
        check_text(f"filter {name}", value, text_weight(value))
