"""`apt_source`: a deb822 file in /etc/apt/sources.list.d/<name>.sources and its signing key
in /etc/apt/keyrings/<name>.asc|gpg (`Signed-By:` points to it), both owned whole.

When either changed, apt-get update runs for this source alone (`Dir::Etc::sourcelist` set
to its file, `sourceparts` off): each changed source's lists are fetched once, the others not
at all. Every apt package of the catalog goes after every apt_source (spec.auto_edges), so a
package whose repository was just added is installed from fresh lists. An update that fails
puts the old source file back, so the next run sees the change again and retries it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from gitpuppet.command import run_command
from gitpuppet.errors import ApplyError
from gitpuppet.model import Change, Resource
from gitpuppet.resources.base import ApplyContext, ResourceType
from gitpuppet.resources.wholefile import (
    WholeFile,
    content_changes,
    read_whole,
    remove_whole,
    write_whole,
)
from gitpuppet.types.apt_source import spec
from gitpuppet.types.apt_source.spec import AptSourceParams, key_suffix, sources_text

# Tests point these at temporary folders.
SOURCES_DIR = spec.SOURCES_DIR
KEYRING_DIR = spec.KEYRING_DIR
UPDATE_TIMEOUT = 600


@dataclass(slots=True)
class SourceState:
    sources: WholeFile
    keys: dict[str, WholeFile]  # by suffix: .asc and .gpg


def _sources_path(p: AptSourceParams) -> str:
    return os.path.join(SOURCES_DIR, f"{p.name}.sources")


def _key_path(p: AptSourceParams, suffix: str) -> str:
    return os.path.join(KEYRING_DIR, p.name + suffix)


def _wanted_key(p: AptSourceParams) -> str | None:
    """The key file the source should have (its suffix), or None."""
    if p.ensure == "absent" or p.key_data is None:
        return None
    return key_suffix(p.key_data)


def update_source(path: str) -> None:
    """apt-get update for the one source file at `path`."""
    argv = ["apt-get", "update", "-q", "-o", f"Dir::Etc::sourcelist={path}"]
    argv += ["-o", "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0"]
    result = run_command(argv, timeout=UPDATE_TIMEOUT)
    errors = [ln for ln in result.output.splitlines() if ln.startswith(("E:", "Err:"))]
    if result.returncode != 0 or errors:
        raise ApplyError(
            f"apt-get update of {path} failed: {(errors or ['exit ' + str(result.returncode)])[0]}",
            output=result.output,
            hint="check the URIs, suites and the signing key",
        )


class AptSourceType(ResourceType):
    name = "apt_source"

    def current(self, res: Resource, ctx: ApplyContext) -> SourceState:
        p: AptSourceParams = res.params
        keys = {s: read_whole(_key_path(p, s), ctx) for s in (".asc", ".gpg")}
        return SourceState(read_whole(_sources_path(p), ctx), keys)

    def diff(self, cur: SourceState, res: Resource, ctx: ApplyContext) -> list[Change]:
        p: AptSourceParams = res.params
        changes: list[Change] = []
        wanted = _wanted_key(p)
        for suffix, found in cur.keys.items():
            if suffix == wanted and p.key_data is not None:
                changes += content_changes(found, p.key_data, "key", res.sensitive, ctx)
            elif found.kind is not None:
                changes.append(Change("key", found.path, "absent"))
        if p.ensure == "absent":
            if cur.sources.kind is not None:
                changes.append(Change("ensure", "present", "absent"))
            return changes
        key_path = _key_path(p, wanted) if wanted else None
        new = sources_text(p, key_path)
        return changes + content_changes(cur.sources, new, "sources", res.sensitive, ctx)

    def apply(
        self, res: Resource, cur: SourceState, changes: list[Change], ctx: ApplyContext
    ) -> None:
        """The key, then the source file, then apt-get update for it."""
        p: AptSourceParams = res.params
        wanted = _wanted_key(p)
        if p.ensure == "absent":
            remove_whole(_sources_path(p), ctx, res.sensitive)
        for suffix in (".asc", ".gpg"):
            if suffix == wanted and p.key_data is not None:
                write_whole(_key_path(p, suffix), p.key_data, ctx, res.sensitive)
            elif cur.keys[suffix].kind is not None:
                remove_whole(_key_path(p, suffix), ctx, res.sensitive)
        if p.ensure == "absent":
            return
        path = _sources_path(p)
        write_whole(path, sources_text(p, _key_path(p, wanted) if wanted else None), ctx)
        try:
            update_source(path)
        except ApplyError:
            old = cur.sources
            if old.kind == "file" and old.data is not None:
                write_whole(path, old.data, ctx, res.sensitive)
            else:
                remove_whole(path, ctx, res.sensitive)
            raise


TYPE: Any = AptSourceType()
