"""The floor: the least a Python program must do for the bench workload. Renders the same
templates with Jinja2 and compares/writes the same files, with no gitpuppet at all.

    python bench/floor.py REPO ROOT
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import jinja2


def main() -> None:
    repo, root = Path(sys.argv[1]), sys.argv[2]
    data = json.loads((repo / "data" / "common.yaml").read_text())
    facts = {"processors": {"count": 2}, "os": {"family": "Debian"}}
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(repo / "templates"), keep_trailing_newline=True
    )
    scope = {
        "node": {"name": "bench.example.com", "vars": {"role": "bench"}},
        "facts": facts,
        "port": 8080,
        "options": ["gzip"],
        "lookup": lambda k: data[k],
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
