"""`apt_source` parameters, checks, automatic edges and key resolution (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from gitpuppet.errors import SourceError, SourcePos
from gitpuppet.model import Ref
from gitpuppet.resources.coerce import BOOL, STR, STRLIST
from gitpuppet.resources.schema import ContentSources, EdgeIndex, Params, attr, internal

SOURCES_DIR = "/etc/apt/sources.list.d"
KEYRING_DIR = "/etc/apt/keyrings"
ARMOR = b"-----BEGIN PGP PUBLIC KEY BLOCK-----"
# apt reads only files of sources.list.d whose name is made of these (and ends in .sources).
_NAME = re.compile(r"[A-Za-z0-9_.-]+")


@dataclass(slots=True)
class AptSourceParams(Params):
    type_name = "apt_source"
    multiline = frozenset({"key"})  # an armoured key spans lines
    name: str = attr(STR, doc="the source's name: sources.list.d/<name>.sources (the title)")
    ensure: str = attr(STR, "present", ("present", "absent"), doc="present or absent")
    uris: list[str] = attr(STRLIST, [], doc="the repository URIs")
    suites: list[str] = attr(STRLIST, [], doc='the suites (bookworm …), or a path ending in "/"')
    components: list[str] = attr(STRLIST, [], doc="the components (main …); none for a path suite")
    types: list[str] = attr(STRLIST, ["deb"], doc="deb and/or deb-src")
    architectures: list[str] = attr(STRLIST, [], doc="only these architectures (default: all)")
    key: str | None = attr(
        STR, doc="the ASCII-armoured signing key, written to /etc/apt/keyrings/<name>.asc"
    )
    key_source: str | None = attr(
        STR, doc="the signing key (armoured or binary) from a file under files/"
    )
    trusted: bool = attr(
        BOOL, False, doc="Trusted: yes, apt accepts the source unsigned (local mirrors only)"
    )
    # Filled in from key or key_source when the catalog is compiled.
    key_data: bytes | None = internal()

    def check(self) -> list[tuple[str, str]]:
        return source_problems(self)

    @classmethod
    def resolve(
        cls,
        attrs: dict[str, Any],
        attr_pos: dict[str, SourcePos],
        pos: SourcePos,
        scope: dict[str, Any],
        sources: ContentSources,
    ) -> dict[str, Any]:
        """The key's bytes: `key` as written, or `key_source` read from files/ at compile time."""
        source = attrs.get("key_source")
        if isinstance(source, str):
            where = attr_pos.get("key_source", pos)
            data = sources.read_source(source, where, "key_source")
            if not (data.lstrip().startswith(ARMOR) or (data and data[0] & 0x80)):
                raise SourceError(
                    where,
                    f"apt_source key_source {source} is not an OpenPGP public key",
                    "give the key as exported by `gpg --export` (binary) or `--armor`",
                )
            return {"key_data": data}
        key = attrs.get("key")
        if isinstance(key, str):
            return {"key_data": key.encode()}
        return {}

    def paths_written(self) -> tuple[list[str], bool]:
        """Its .sources file and its key (a `purge` of sources.list.d leaves them alone)."""
        paths = [f"{SOURCES_DIR}/{self.name}.sources"]
        data = self.key_data if self.key_data is not None else (self.key or "").encode()
        if data:
            paths.append(f"{KEYRING_DIR}/{self.name}{key_suffix(data)}")
        return paths, False

    def auto_edges(self, ref: Ref, index: EdgeIndex) -> None:
        """Every apt package after every source (its lists are fresh by then); a source
        after the directories its files go into, when declared."""
        for folder in (SOURCES_DIR, KEYRING_DIR):
            index.need_path(folder, ref, "automatic: the directory of its file")
        for pkg in index.software:
            if getattr(pkg.params, "provider", None) in (None, "apt"):
                index.add(ref, pkg.ref, "automatic: apt sources before apt packages")


def key_suffix(data: bytes) -> str:
    """.asc for an armoured key, .gpg for a binary one (apt tells them apart so)."""
    return ".asc" if data.lstrip().startswith(ARMOR) else ".gpg"


def sources_text(p: AptSourceParams, key_path: str | None) -> bytes:
    """The deb822 stanza of the source."""
    fields = [
        ("Types", p.types),
        ("URIs", p.uris),
        ("Suites", p.suites),
        ("Components", p.components),
        ("Architectures", p.architectures),
        ("Signed-By", [key_path] if key_path else []),
        ("Trusted", ["yes"] if p.trusted else []),
    ]
    lines = [f"# managed by gitpuppet (apt_source:{p.name})"]
    lines += [f"{name}: {' '.join(values)}" for name, values in fields if values]
    return ("\n".join(lines) + "\n").encode()


def source_problems(p: AptSourceParams) -> list[tuple[str, str]]:
    """What apt would not read, or read differently than meant."""
    errs: list[tuple[str, str]] = []
    if not _NAME.fullmatch(p.name) or p.name.startswith("."):
        errs.append(
            ("name", f"apt ignores {p.name}.sources: use letters, digits, '_', '-' and '.'")
        )
    if p.key is not None and p.key_source is not None:
        errs.append(("key_source", "give only one of key and key_source"))
    if p.key is not None and not p.key.lstrip().startswith(ARMOR.decode()):
        errs.append(("key", "key must be an ASCII-armoured public key (-----BEGIN PGP …)"))
    if p.ensure == "absent":
        return errs
    for key in ("uris", "suites", "types"):
        if not getattr(p, key):
            errs.append((key, f"apt_source needs {key}"))
    for key in ("uris", "suites", "components", "types", "architectures"):
        for value in getattr(p, key):
            if not value or any(ch.isspace() for ch in value) or value.startswith("-"):
                errs.append((key, f"{key} item '{value}' must be one word (no blanks)"))
    for kind in p.types:
        if kind not in ("deb", "deb-src"):
            errs.append(("types", f"types item '{kind}' must be deb or deb-src"))
    flat = [s for s in p.suites if s.endswith("/")]
    if flat and p.components:
        errs.append(("components", "a path suite (ending in /) takes no components"))
    if p.suites and not flat and not p.components:
        errs.append(("components", "apt_source needs components (e.g. main)"))
    return errs
