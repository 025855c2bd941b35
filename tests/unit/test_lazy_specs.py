"""A compile imports the specs of the types it declares, not every type's (the registry is
lazy), and the registry still lists every type."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from gitpuppet.types import schemas

ROOT = Path(__file__).resolve().parents[2]
PROGRAM = """
import sys
from gitpuppet.compile import DirTree, compile_catalog
cat = compile_catalog(DirTree(sys.argv[1]), "n1.example.com", {"fqdn": "n1.example.com"})
assert [str(r.ref) for r in cat.resources] == ["file:/etc/motd"], cat.resources
print(sorted(m.split(".")[2] for m in sys.modules if m.endswith(".spec") and m.startswith("gitpuppet.types.")))
"""


def test_a_compile_imports_only_the_specs_it_uses(tmp_path: Path) -> None:
    (tmp_path / "nodes.yaml").write_text("n1.example.com:\n  classes: [a]\n")
    (tmp_path / "classes").mkdir()
    (tmp_path / "classes" / "a.yaml").write_text(
        "resources:\n  - file: /etc/motd\n    content: hi\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", PROGRAM, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        timeout=60,
    ).stdout
    assert out.strip() == "['file']"


def test_the_registry_lists_every_type_folder() -> None:
    folders = sorted(
        p.name for p in (ROOT / "gitpuppet" / "types").iterdir() if (p / "spec.py").is_file()
    )
    assert list(schemas()) == folders
    assert "mount" in schemas() and "nosuch" not in schemas()
    assert schemas()["mount"].type_name == "mount"
    assert schemas().get("nosuch") is None
