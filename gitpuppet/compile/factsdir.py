"""`validate --facts-dir D`: D/<node name>.yaml (or .yml, .json) holds one node's facts.

A node name comes from a file name, or from `--node`, and is joined to D: it must stay one file
of D. `..`, slashes, hidden names and links that resolve outside D are refused.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from gitpuppet.errors import GitpuppetError

EXTENSIONS = (".yaml", ".yml", ".json")


@dataclass
class FactsDir:
    """The facts folder of a validate run."""

    root: Path
    problems: list[str] = field(default_factory=list)

    def names(self) -> list[str]:
        """Every node that has a facts file here, lower-cased, sorted; bad entries go to
        `problems` (and are not compiled)."""
        if not self.root.is_dir():
            raise GitpuppetError(
                f"--facts-dir {self.root}: not a folder", "give a folder of <node>.yaml files"
            )
        out: set[str] = set()
        for entry in sorted(os.listdir(self.root)):
            stem, ext = os.path.splitext(entry)
            if ext not in EXTENSIONS:
                continue
            try:
                self.file_for(stem)
            except GitpuppetError as exc:
                self.problems.append(str(exc))
                continue
            out.add(stem.lower())
        return sorted(out)

    def file_for(self, name: str) -> Path | None:
        """The facts file of `name` in this folder, None when it has none; an error when the
        name or the file would leave the folder."""
        if not name or "/" in name or "\\" in name or "\0" in name or name.startswith("."):
            raise GitpuppetError(
                f"--facts-dir: node name {name!r} is not a plain file name of {self.root}",
                "a node name has no slashes and does not start with a dot",
            )
        root = self.root.resolve()
        for ext in EXTENSIONS:
            for spelled in dict.fromkeys((name, name.lower())):
                candidate = self.root / f"{spelled}{ext}"
                if not candidate.exists() and not candidate.is_symlink():
                    continue
                real = candidate.resolve()
                if real.parent != root and root not in real.parents:
                    raise GitpuppetError(
                        f"--facts-dir: {candidate} links out of the folder (to {real}); refused",
                        "copy the facts file into the folder",
                    )
                if not real.is_file():
                    raise GitpuppetError(f"--facts-dir: {candidate} is not a regular file")
                return real  # read what was checked, not the link again
        return None
