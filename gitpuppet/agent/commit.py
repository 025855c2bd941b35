"""One chosen commit of an agent run: its source tree with modules, its catalog (every compile
failure a GitpuppetError, so the run can fall back), and the refs marking it applied."""

from __future__ import annotations

from typing import Any

from gitpuppet.compile.source import SourceTree
from gitpuppet.config import AgentConfig
from gitpuppet.errors import GitpuppetError
from gitpuppet.git.repo import NodeRepo
from gitpuppet.model import Catalog
from gitpuppet.session import RunOutcome


class CompileFailure(GitpuppetError):
    """The compiler failed in a way it did not report itself (RecursionError, MemoryError...)."""


def commit_source(
    config: AgentConfig, repo: NodeRepo, commit: str, fallback: bool = False
) -> SourceTree:
    """The tree of `commit` with its modules (SPEC §9): fetched as needed, or, for the
    fallback, exactly the module commits it was applied with (nothing fetched)."""
    from gitpuppet.modules import cache_for, recorded_for, with_modules

    cache = cache_for(config)
    recorded = recorded_for(cache.root, commit) if fallback else None
    return with_modules(repo.tree(commit), cache, offline=fallback, recorded=recorded)


def has_module_record(config: AgentConfig, commit: str) -> bool:
    """Whether the module commits `commit` was applied with are recorded (its fallback then
    compiles with exactly those, not the same failing fetch again)."""
    from gitpuppet.modules import cache_for, recorded_for

    return recorded_for(cache_for(config).root, commit) is not None


def compile_commit(
    repo: NodeRepo,
    commit: str,
    node: str,
    facts: dict[str, Any],
    environment: str | None,
    tree: SourceTree | None = None,
) -> Catalog:
    """The catalog of `commit`; every failure, ours or not, is a GitpuppetError (nothing has
    been changed yet, so the run can fall back to the applied commit)."""
    from gitpuppet.compile import compile_catalog

    try:
        return compile_catalog(tree or repo.tree(commit), node, facts, environment)
    except GitpuppetError:
        raise
    except RecursionError:
        raise CompileFailure(
            "the compile ran out of stack (data or templates nested too deep)",
            "flatten the nesting in the last change of the control repo",
        ) from None
    except MemoryError:
        raise CompileFailure(
            "the compile ran out of memory (a huge expansion in data or templates?)",
            "look for YAML aliases or template loops in the last change of the control repo",
        ) from None
    except Exception as exc:  # any bug of the compiler must not stop the fallback
        raise CompileFailure(
            f"internal compiler failure: {type(exc).__name__}: {exc}",
            "please report it; the applied commit is used meanwhile",
        ) from exc


def mark_applied(
    repo: NodeRepo,
    commit: str,
    outcome: RunOutcome,
    noop: bool,
    config: AgentConfig,
    tree: SourceTree,
) -> None:
    """Keep the applied and last good commits as refs (state.json has them too), and the
    module commits the applied one was applied with."""
    if noop:
        return
    repo.mark("applied", commit)
    from gitpuppet.modules import cache_for, record_applied

    try:
        record_applied(cache_for(config).root, commit, tree)
    except GitpuppetError as exc:
        outcome.messages.append(f"cannot record the module commits applied: {exc}")
    stopped = outcome.outcome is not None and outcome.outcome.stopped
    if not outcome.counts.get("failed") and not stopped:  # a run cut short is not "good"
        repo.mark("last-good", commit)
