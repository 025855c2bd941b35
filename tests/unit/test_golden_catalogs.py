"""The compiler's output is byte-for-byte what it was before its speed work: `gitpuppet node`
(JSON and the human view) for sample-repo's nodes, a generated 1,000-resource repo and the
template zoo (tests/cases/golden/zoo: one resource per shape of template string, and nodes whose
compile fails), compared with golden files under tests/cases/golden/.

The golden files were written by the compiler as it was before that work (`python
tests/unit/test_golden_catalogs.py --write` with that code first on sys.path). A change that
means to alter the output regenerates them and says why in its commit.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "cases" / "golden"
FACTS = ROOT / "bench" / "facts.yaml"
SAMPLE_NODES = [
    "web01.example.com",
    "web02.example.com",
    "db01.example.com",
    "web7.staging.example.com",
    "pc3.lab.example.com",
    "laptop.example.com",
]
ZOO_NODES = ["zoo.example.com", "zoo7.example.com"]
ZOO_ERRORS = [
    "err-undefined.example.com",
    "err-attr.example.com",
    "err-index.example.com",
    "err-item.example.com",
    "err-multi.example.com",
    "err-private.example.com",
    "err-none.example.com",
]
BENCH_ROOT = "/srv/gp-bench"  # the managed root the generated repo's paths start with


def run_node(repo: Path, node: str, *flags: str) -> tuple[int, str]:
    """`gitpuppet node NODE --repo REPO --facts bench/facts.yaml [FLAGS]`: (exit code, output)."""
    from gitpuppet.cli import cli

    os.environ.setdefault("GITPUPPET_CONFIG", "/nonexistent/config.yaml")
    args = ["node", node, "--repo", str(repo), "--facts", str(FACTS), *flags]
    result = CliRunner().invoke(cli, args, catch_exceptions=False)
    return result.exit_code, result.output


def bench_repo(base: Path) -> Path:
    """The benchmark's generated control repo with 1,000 file resources."""
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        from gen_repo import generate
    finally:
        sys.path.remove(str(ROOT / "bench"))
    return generate(base / "bench1000", 1000, BENCH_ROOT)


def outputs(bench: Path) -> dict[str, str]:
    """Golden file name -> the text the compiler gives for it now."""
    out: dict[str, str] = {}
    targets = [(ROOT / "sample-repo", n, f"sample-{n}") for n in SAMPLE_NODES]
    targets += [(GOLDEN / "zoo", n, f"zoo-{n}") for n in ZOO_NODES]
    for repo, node, name in targets:
        out[f"{name}.json"] = _json_output(repo, node)
        code, text = run_node(repo, node)
        assert code == 0, text
        out[f"{name}.txt"] = text
    errors = {}
    for node in ZOO_ERRORS:
        code, text = run_node(GOLDEN / "zoo", node)
        errors[node] = {"exit": code, "output": text}
    out["zoo-errors.json"] = json.dumps(errors, indent=1, ensure_ascii=False) + "\n"
    out["bench-1000.json"] = _json_output(bench, "bench.example.com")
    return out


def _json_output(repo: Path, node: str) -> str:
    """`node --json` stored indented (readable diffs); `_compact` gives the exact bytes back."""
    code, text = run_node(repo, node, "--json")
    assert code == 0, text
    return json.dumps(json.loads(text), indent=1, ensure_ascii=False) + "\n"


def _compact(stored: str) -> str:
    """The exact `node --json` output a stored (indented) golden file stands for."""
    return json.dumps(json.loads(stored)) + "\n"


@pytest.fixture(scope="module")
def current(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return outputs(bench_repo(tmp_path_factory.mktemp("golden")))


def _golden_names() -> list[str]:
    return sorted(p.name for p in GOLDEN.glob("*.*") if p.is_file())


def test_every_golden_file_is_checked(current: dict[str, str]) -> None:
    assert sorted(current) == _golden_names()


@pytest.mark.parametrize("name", _golden_names())
def test_output_is_the_golden_one(current: dict[str, str], name: str) -> None:
    stored = (GOLDEN / name).read_text()
    now = current[name]
    if name.endswith(".json") and name != "zoo-errors.json":
        # Byte-identical `node --json`, and the first differing resource named if not.
        if _compact(now) != _compact(stored):
            _first_difference(json.loads(stored), json.loads(now))
        assert _compact(now) == _compact(stored)
    assert now == stored


def _first_difference(old: dict[str, Any], new: dict[str, Any]) -> None:
    for a, b in zip(old["resources"], new["resources"], strict=False):
        assert b == a, f"resource {a['ref']} differs"
    for key in old:
        assert new.get(key) == old[key], f"{key} differs"


if __name__ == "__main__":
    import tempfile

    if sys.argv[1:] != ["--write"]:
        raise SystemExit(f"usage: {sys.argv[0]} --write")
    with tempfile.TemporaryDirectory() as tmp:
        for golden_name, text in outputs(bench_repo(Path(tmp))).items():
            (GOLDEN / golden_name).write_text(text)
            print(f"wrote {GOLDEN / golden_name}")
