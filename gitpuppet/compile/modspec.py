"""modules.yaml (SPEC §9): which external modules a control repo uses, each pinned by a git ref.

```yaml
ntp:   {url: "ssh://git@git.example.com/modules/ntp.git", ref: v1.4.0}   # a tag
nginx: {url: "https://git.example.com/modules/nginx.git", ref: main}     # a branch: followed
users: {url: "file:///srv/git/users.git", ref: 3f9c2e1d…}                # a full commit id
```

Pure: parsing and checking only (validate runs this without any network). A module's name is
the first part of its classes' names and of its `<module>:path` templates and files, so it is
a plain lower-case identifier; its URL takes the transports the control repo's `repo:` takes.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gitpuppet.compile.loader import PosDict, YamlCache, expect_mapping
from gitpuppet.compile.source import SourceTree
from gitpuppet.errors import SourceError, SourcePos, did_you_mean

MODULES_FILE = "modules.yaml"
ENTRY_KEYS = ("url", "ref")
# The schemes the control repo's `repo:` takes (git/urls.py); scp-like and plain paths too.
SCHEMES = ("ssh", "git+ssh", "ssh+git", "https", "http", "git", "file")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_COMMIT = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
# git check-ref-format, in short: no "..", no control characters or ~^:?*[\ and spaces, no
# leading "-" or "/", no ".lock" ending, no "@{".
_REF = re.compile(
    r"^(?!-)(?!/)(?!.*\.\.)(?!.*@\{)(?!.*//)(?!.*\.lock$)(?!.*/$)[^\x00-\x20~^:?*\[\\\x7f]+$"
)


@dataclass(frozen=True, slots=True)
class ModuleSpec:
    """One entry of modules.yaml: `ref` is a tag or branch name, or a full commit id."""

    name: str
    url: str
    ref: str
    pos: SourcePos

    @property
    def is_commit(self) -> bool:
        """True when `ref` is a commit id (trusted through the control commit that pins it)."""
        return bool(_COMMIT.match(self.ref))


def load_modules(tree: SourceTree) -> list[ModuleSpec]:
    """The modules of the control repo (none without modules.yaml); SourceError at file:line."""
    if not tree.is_file(MODULES_FILE):
        return []
    return parse_modules(YamlCache(tree))


def parse_modules(yaml_cache: YamlCache) -> list[ModuleSpec]:
    """Parse and check modules.yaml through `yaml_cache` (positions of every key kept)."""
    raw = yaml_cache.load_optional(MODULES_FILE)
    data = expect_mapping(raw, MODULES_FILE, MODULES_FILE)
    specs = []
    for name, entry in data.items():
        pos = data.pos(name)
        _check_name(name, pos)
        if not isinstance(entry, dict):
            raise SourceError(
                pos,
                f"module '{name}' must be a mapping with url and ref",
                f'write {name}: {{url: "https://…/{name}.git", ref: v1.0.0}}',
            )
        entry_pos = entry.pos if isinstance(entry, PosDict) else (lambda key=None, p=pos: p)
        for key in entry:
            if key not in ENTRY_KEYS:
                raise SourceError(
                    entry_pos(key),
                    f"unknown key '{key}' in module '{name}'",
                    did_you_mean(str(key), ENTRY_KEYS) or "use url and ref",
                )
        url = _check_url(name, entry.get("url"), entry_pos("url") if "url" in entry else pos)
        ref = _check_ref(name, entry.get("ref"), entry_pos("ref") if "ref" in entry else pos)
        specs.append(ModuleSpec(str(name), url, ref, pos))
    return specs


def _check_name(name: object, pos: SourcePos) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise SourceError(
            pos,
            f"bad module name {name!r}",
            "a module name is lower-case letters, digits and _, starting with a letter",
        )


def _check_url(name: str, url: object, pos: SourcePos) -> str:
    if not isinstance(url, str) or not url.strip():
        raise SourceError(pos, f"module '{name}' needs a url (a git repository URL)")
    if any(ord(c) < 0x20 or c == "\x7f" for c in url):
        raise SourceError(pos, f"the url of module '{name}' holds a control character")
    if url.startswith("-") or re.match(r"^[A-Za-z][A-Za-z0-9+.-]*::", url):
        raise SourceError(
            pos,
            f"module '{name}': {url!r} is not supported (a remote helper or an option)",
            "use ssh://, https://, http://, git:// or file://",
        )
    if "://" in url and url.split("://", 1)[0].lower() not in SCHEMES:
        raise SourceError(
            pos,
            f"module '{name}': URL scheme '{url.split('://', 1)[0]}' is not supported",
            "use ssh://, https://, http://, git:// or file://",
        )
    return url


def _check_ref(name: str, ref: object, pos: SourcePos) -> str:
    if isinstance(ref, (int, float)) and not isinstance(ref, bool):
        raise SourceError(
            pos,
            f"the ref of module '{name}' is a number ({ref!r}), not a name",
            f'quote it: ref: "{ref}"',
        )
    if not isinstance(ref, str) or not ref:
        raise SourceError(pos, f"module '{name}' needs a ref: a tag, a branch or a full commit id")
    if ref.startswith("refs/") or not _REF.match(ref):
        raise SourceError(
            pos,
            f"the ref of module '{name}' ({ref!r}) is not a tag, branch or commit id",
            "give a tag (v1.4.0), a branch (main) or a full 40-character commit id",
        )
    if re.fullmatch(r"[0-9a-f]{7,39}", ref):
        raise SourceError(
            pos,
            f"the ref of module '{name}' ({ref}) looks like a short commit id",
            "give the full 40-character commit id (a short one could name another commit)",
        )
    return ref
