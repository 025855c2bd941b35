"""What every command shares: verbosity, output, the config path, and the one abort path."""

from __future__ import annotations

import functools
import json
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

import click

from gitpuppet.errors import GitpuppetError

DEFAULT_CONFIG = "/etc/gitpuppet/config.yaml"
F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class App:
    """Per-invocation settings; `run` turns GitpuppetError into a message and exit code."""

    verbose: int = 0
    quiet: bool = False
    config_path: str = DEFAULT_CONFIG

    @property
    def color(self) -> bool:
        return sys.stdout.isatty() and "NO_COLOR" not in os.environ

    def out(self, text: str = "", err: bool = False) -> None:
        click.echo(text, err=err)

    def info(self, text: str) -> None:
        if not self.quiet:
            click.echo(text, err=True)

    def debug(self, text: str) -> None:
        if self.verbose:
            click.echo(text, err=True)

    def json(self, data: Any) -> None:
        # Indented for a person at a terminal; compact otherwise (C encoder, much faster).
        indent = 2 if sys.stdout.isatty() else None
        click.echo(json.dumps(data, indent=indent, default=str))

    def abort(self, message: str, code: int = 1) -> NoReturn:
        """The single exit for user errors (credentials in URLs blanked)."""
        from gitpuppet.redact import redact_url

        text = f"error: {redact_url(message)}"
        click.echo(click.style(text, fg="red") if sys.stderr.isatty() else text, err=True)
        sys.exit(code)

    def fail(self, exc: BaseException, code: int = 1) -> NoReturn:
        """Report an exception: the message only, the traceback with -vv."""
        if self.verbose >= 2:
            import traceback  # only here: most runs never need it

            traceback.print_exception(exc)
        if isinstance(exc, GitpuppetError):
            self.abort(str(exc), getattr(exc, "exit_code", code))
        self.abort(
            f"internal error: {type(exc).__name__}: {exc} (run with -vv for the traceback)", code
        )


def common_options(func: F) -> F:
    """Adds -v/-q/--config to a command and passes an `App` as the first argument.

    GitpuppetError raised inside the command ends in `App.fail` (exit 1 unless the error says
    otherwise); other exceptions too, with the traceback shown only under -vv.
    """

    @click.option("-v", "--verbose", count=True, help="More output; -vv shows tracebacks.")
    @click.option("-q", "--quiet", is_flag=True, help="Only errors.")
    @click.option(
        "--config",
        "config_path",
        envvar="GITPUPPET_CONFIG",
        default=DEFAULT_CONFIG,
        show_default=True,
        help="Agent config file (env GITPUPPET_CONFIG).",
    )
    @functools.wraps(func)
    def wrapper(verbose: int, quiet: bool, config_path: str, **kwargs: Any) -> Any:
        app = App(verbose=verbose, quiet=quiet, config_path=config_path)
        try:
            return func(app, **kwargs)
        except (SystemExit, click.exceptions.Exit, click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            app.abort("interrupted", 130)
        except BrokenPipeError:
            # The reader went away (`| head`): stop quietly, like other Unix tools.
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
            sys.exit(141)
        except Exception as exc:  # noqa: BLE001 - the one place user-facing errors are printed
            app.fail(exc)

    return wrapper  # type: ignore[return-value]
