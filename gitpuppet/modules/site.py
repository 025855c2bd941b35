"""The control repo's source tree with its modules: compiled with the commits of modules.yaml,
or with the module commits recorded when a control commit was applied (SPEC §9)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from gitpuppet.compile.modspec import ModuleSpec, load_modules
from gitpuppet.compile.source import ModularTree, SourceTree
from gitpuppet.errors import GitpuppetError, SourceError
from gitpuppet.modules.cache import APPLIED_FILE, ModuleCache


def with_modules(
    site: SourceTree,
    cache: ModuleCache,
    *,
    offline: bool = False,
    recorded: dict[str, Any] | None = None,
) -> SourceTree:
    """`site` with the modules of its modules.yaml (`site` itself when it has none).

    `recorded`: name -> {url, ref, commit} of the modules the control commit was applied with
    (the fallback compiles with exactly those, fetching nothing)."""
    specs = load_modules(site)
    if not specs:
        return site
    trees: dict[str, SourceTree] = {}
    commits: dict[str, str] = {}
    for spec in specs:
        _check_collision(site, spec)
        pinned = _recorded_commit(recorded, spec)
        resolved = cache.resolve(spec, offline=offline or recorded is not None, recorded=pinned)
        trees[spec.name] = cache.tree(resolved)
        commits[spec.name] = resolved.commit
    return ModularTree(site, trees, commits)


def _recorded_commit(recorded: dict[str, Any] | None, spec: ModuleSpec) -> str | None:
    entry = (recorded or {}).get(spec.name)
    if isinstance(entry, dict) and entry.get("url") == spec.url and entry.get("ref") == spec.ref:
        commit = entry.get("commit")
        return commit if isinstance(commit, str) else None
    return None


def _check_collision(site: SourceTree, spec: ModuleSpec) -> None:
    """A module's name may not also be a class or define folder of the control repo."""
    for folder in ("classes", "defines"):
        for path in (f"{folder}/{spec.name}.yaml", f"{folder}/{spec.name}"):
            if site.is_file(path) or site.is_dir(path):
                raise SourceError(
                    spec.pos,
                    f"module '{spec.name}' has the name of the control repo's {path}",
                    "rename the module in modules.yaml, or that class/define folder",
                )


# -- what the agent applied, and where a command's cache lives ------------------------------


def record_applied(cache_root: Path, commit: str, tree: SourceTree) -> None:
    """Remember the module commits `commit` was applied with (its fallback uses them)."""
    from gitpuppet.state import write_json_atomic

    if not isinstance(tree, ModularTree):
        return
    entries = {}
    for spec in load_modules(tree.site):
        entries[spec.name] = {"url": spec.url, "ref": spec.ref, "commit": tree.commits[spec.name]}
    write_json_atomic(Path(cache_root) / APPLIED_FILE, {"commit": commit, "modules": entries})


def recorded_for(cache_root: Path, commit: str) -> dict[str, Any] | None:
    """The modules recorded for `commit` by `record_applied`, or None."""
    from gitpuppet.state import read_json

    try:
        data = read_json(Path(cache_root) / APPLIED_FILE)
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("commit") != commit:
        return None
    modules = data.get("modules")
    return modules if isinstance(modules, dict) else None


def user_cache_root() -> Path:
    """Where `validate PATH` / `node` keep modules without --state-dir: the user's cache."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "gitpuppet" / "modules"


def cache_for(config: Any, root: Path | None = None) -> ModuleCache:
    """A ModuleCache with the agent config's transport settings (and verify), at `root` or
    under its state dir."""
    return ModuleCache(
        root if root is not None else Path(config.state_dir) / "modules",
        ssh_key=config.ssh_key,
        known_hosts=config.known_hosts,
        ca_file=config.ca_file,
        allowed_signers=config.verify_allowed_signers,
    )


def for_directory(
    site: SourceTree,
    config_path: str | None,
    root: Path | None = None,
    offline: bool = False,
) -> SourceTree:
    """`apply PATH`, `validate PATH`, `node --repo PATH`: `site` with its modules, cached at
    `root` (the state dir's modules/ when the command has one, else the user's cache), fetched
    with the agent config's keys and known_hosts when that config exists. Fetching is a network
    read, not running code; `offline` uses the cache only."""
    from gitpuppet.config import load_config

    if not load_modules(site):
        return site
    config = None
    if config_path and Path(config_path).is_file():
        try:
            config = load_config(config_path)
        except GitpuppetError:
            config = None
    root = root if root is not None else user_cache_root()
    if config is None:
        cache = ModuleCache(root)
    else:
        cache = cache_for(config, root)
        cache.allowed_signers = None  # a local directory is not a signed commit: nothing to trust
    return with_modules(site, cache, offline=offline)


def for_applied(config: Any, repo: Any, commit: str) -> SourceTree:
    """The agent's checkout: `commit` with the module commits it was applied with (no fetch)."""
    cache = cache_for(config)
    return with_modules(
        repo.tree(commit), cache, offline=True, recorded=recorded_for(cache.root, commit)
    )
