"""Helpers shared by the commands that compile: which tree, which facts, which node."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gitpuppet.cli.app import App
from gitpuppet.compile.source import DirTree, SourceTree
from gitpuppet.errors import GitpuppetError


def open_tree(
    app: App, path: str | None, modules_root: Path | None = None, offline: bool = False
) -> SourceTree:
    """A directory given on the command line, else the agent's checkout at its applied commit;
    with the modules of its modules.yaml (cached at `modules_root`, see gitpuppet/modules/)."""
    if path:
        if not Path(path).is_dir():
            raise GitpuppetError(f"{path} is not a directory", "give the path of a control repo")
        tree = DirTree(path)
        if not tree.is_file("modules.yaml"):
            return tree  # pygit2 is imported only for a repo that has modules to fetch
        from gitpuppet.modules import for_directory

        return for_directory(tree, app.config_path, modules_root, offline)
    if not Path(app.config_path).is_file():
        raise GitpuppetError(
            "no PATH given and no agent checkout yet",
            "give a control repo directory (e.g. --repo sample-repo), or run `gitpuppet bootstrap`",
        )
    from gitpuppet.agent.checkout import agent_tree

    return agent_tree(app.config_path)


def load_facts(facts_file: str | None, facts_d: str | None = None) -> dict[str, Any]:
    """This machine's facts, or the file given with --facts (which replaces them all)."""
    from gitpuppet.facts import gather_facts

    if facts_d is None:
        return gather_facts(override_file=facts_file)
    return gather_facts(facts_d=facts_d, override_file=facts_file)


def inspect_facts(facts_file: str | None, builtin_only: bool = False) -> dict[str, Any]:
    """Facts for a command that only looks (node, lookup, validate): the file given with
    --facts, else this machine's built-in facts and facts.d's .yaml/.json files (none with
    `builtin_only`). A facts.d executable never runs: looking at a repo runs nothing."""
    from gitpuppet.facts import gather_facts

    if builtin_only and facts_file is None:
        return gather_facts(facts_d=None)
    return gather_facts(override_file=facts_file, run_executables=False)


def node_name(name: str | None, facts: dict[str, Any], config_path: str | None = None) -> str:
    """--node, else the agent config's node_name, else the FQDN fact, lower-cased."""
    if name:
        return name.lower()
    if config_path and Path(config_path).is_file():
        try:
            from gitpuppet.config import load_config

            configured = load_config(config_path).node_name
            if configured:
                return configured.lower()
        except (ImportError, GitpuppetError):
            pass
    fqdn = facts.get("fqdn") or facts.get("hostname") or ""
    if not fqdn:
        raise GitpuppetError("cannot tell this node's name: no --node and no fqdn fact")
    return str(fqdn).lower()
