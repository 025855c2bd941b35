"""Errors that reach a person: each carries what is wrong, where, and how to fix it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SourcePos:
    """A place in the control repo: path relative to the repo root, 1-based line."""

    file: str
    line: int = 0

    def __str__(self) -> str:
        return f"{self.file}:{self.line}" if self.line else self.file


class GitpuppetError(Exception):
    """An error meant for a person; the CLI prints it without a traceback."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class SourceError(GitpuppetError):
    """Something wrong in the control repo, at a file and line."""

    def __init__(self, pos: SourcePos | None, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.pos = pos

    def __str__(self) -> str:
        text = super().__str__()
        return f"{self.pos}: {text}" if self.pos else text


class CompileErrors(GitpuppetError):
    """Several source errors found in one pass (validate collects them all)."""

    def __init__(self, errors: list[SourceError]) -> None:
        super().__init__("\n".join(str(e) for e in errors))
        self.errors = errors


class ConfigError(GitpuppetError):
    """The agent configuration is wrong: names the file and the key."""


class ApplyError(GitpuppetError):
    """A resource could not be changed; `output` is what a command printed."""

    def __init__(self, message: str, output: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.output = output


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A 'did you mean ...' hint for a misspelt name, or None when nothing is close."""
    import difflib  # only when there is an error to explain

    options = list(choices)
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not close and len(word) >= 3:
        # An abbreviation ('dir' for 'directory') is as likely as a typo.
        close = [c for c in options if c.startswith(word)][:1]
    return f"did you mean '{close[0]}'?" if close else None
