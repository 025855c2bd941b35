"""The agent's checkout: the tree of the commit last applied, for apply/node/lookup/validate."""

from __future__ import annotations

from gitpuppet.compile.source import SourceTree
from gitpuppet.errors import GitpuppetError


def agent_tree(config_path: str) -> SourceTree:
    """The applied commit's tree of the node's clone; a clear error when there is none yet."""
    from gitpuppet.agent.run import open_node_repo, repo_path
    from gitpuppet.config import load_config
    from gitpuppet.state import load_state

    config = load_config(config_path)
    hint = "run `gitpuppet run` first, or give a control repo directory (--repo PATH)"
    if not (repo_path(config) / "HEAD").exists():
        raise GitpuppetError(f"no clone of the control repo under {config.state_dir} yet", hint)
    repo = open_node_repo(config)
    commit = load_state(config.state_dir).applied_commit or repo.marked("applied")
    if not commit:
        raise GitpuppetError("no commit has been applied on this node yet", hint)
    from gitpuppet.modules import for_applied

    return for_applied(config, repo, commit)
