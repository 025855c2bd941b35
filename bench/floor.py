"""The floor: the least a Python program must do for the bench workload. Renders the same
templates with Jinja2 and compares/writes the same files, with no gitpuppet at all.

    python bench/floor.py REPO ROOT
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import jinja2
import yaml

FACTS = Path(__file__).resolve().parent / "facts.yaml"


def dotted(data: dict, key: str) -> object:
    """The data lookup, reduced to what the bench needs: one level, dotted keys."""
    for part in key.split("."):
        data = data[part]
    return data


def main() -> None:
    """Render every bench file and write those whose bytes differ; prints the count written."""
    repo, root = Path(sys.argv[1]), sys.argv[2]
    data = yaml.load((repo / "data" / "common.yaml").read_text(), Loader=yaml.CSafeLoader)
    facts = yaml.load(FACTS.read_text(), Loader=yaml.CSafeLoader)
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(repo / "templates"), keep_trailing_newline=True
    )
    scope = {
        "node": {"name": "bench.example.com", "vars": {"role": "bench"}},
        "facts": facts,
        "port": 8080,
        "options": ["gzip", "keepalive"],
        "lookup": lambda key: dotted(data, key),
    }
    os.makedirs(root, exist_ok=True)
    for d in data["bench"]["dirs"]:
        os.makedirs(os.path.join(root, d), exist_ok=True)
    changed = 0
    for rel, template in data["bench"]["files"].items():
        content = env.get_template(template).render(scope, title=rel).encode()
        path = os.path.join(root, rel)
        try:
            with open(path, "rb") as fh:
                if fh.read() == content:
                    continue
        except FileNotFoundError:
            pass
        tmp = path + ".tmp"
        with open(tmp, "wb") as fh:
            fh.write(content)
            os.fsync(fh.fileno())
        os.rename(tmp, path)
        changed += 1
    print(changed)


if __name__ == "__main__":
    main()
