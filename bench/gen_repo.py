"""Write a benchmark control repo: N file resources rendered from templates, N/10 directories
holding them, one refreshonly exec notified by some files. Deterministic.

    python bench/gen_repo.py OUT --files 1000 --root /tmp/gp-bench-root
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

TEMPLATES = {
    "app.conf.j2": (
        "# managed by gitpuppet on {{ node.name }}\n"
        "[service]\nname = {{ title }}\nport = {{ port }}\nworkers = {{ facts.processors.count * 2 }}\n"
        "{% for opt in options %}{{ opt }} = on\n{% endfor %}"
    ),
    "motd.j2": "{{ node.name }} ({{ facts.os.family }}), role {{ node.vars.role }}\nfile {{ title }}\n",
    "hosts.j2": "{% for h in lookup('peers') %}{{ h.ip }} {{ h.name }}\n{% endfor %}",
}

FACTS = {
    "fqdn": "bench.example.com",
    "hostname": "bench",
    "os": {"name": "Debian", "family": "Debian", "release": {"full": "12.5", "major": "12"}},
    "processors": {"count": 2},
}


def generate(out: Path, files: int, root: str) -> Path:
    """Write the repo and its facts file (OUT/../facts-<N>.json); returns OUT."""
    dirs = max(1, files // 10)
    (out / "nodes").mkdir(parents=True, exist_ok=True)
    for sub in ("classes", "defines", "templates", "data"):
        (out / sub).mkdir(exist_ok=True)
    (out / "nodes" / "bench.yaml").write_text(
        "bench.example.com:\n  classes: [bench.dirs, bench.files]\n  vars: {role: bench}\n"
    )
    for name, text in TEMPLATES.items():
        (out / "templates" / name).write_text(text)
    # Data drives the for_each loops: one entry per directory, one per file.
    data = {
        "bench": {
            "root": root,
            "dirs": [f"d{d:04d}" for d in range(dirs)],
            "files": {
                f"d{i % dirs:04d}/f{i:05d}.conf": ["app.conf.j2", "motd.j2", "hosts.j2"][i % 3]
                for i in range(files)
            },
        },
        "peers": [{"name": f"peer{i}.example.com", "ip": f"10.0.0.{i}"} for i in range(1, 6)],
    }
    (out / "data" / "common.yaml").write_text(json.dumps(data, indent=1))
    (out / "classes" / "bench").mkdir(exist_ok=True)
    (out / "classes" / "bench" / "dirs.yaml").write_text(
        "resources:\n"
        "  - file: \"{{ lookup('bench.root') }}\"\n    ensure: directory\n"
        "  - file: \"{{ lookup('bench.root') }}/{{ item }}\"\n    ensure: directory\n"
        "    for_each: \"{{ lookup('bench.dirs') }}\"\n"
    )
    (out / "classes" / "bench" / "files.yaml").write_text(
        "params: {port: 8080, options: [gzip, keepalive]}\n"
        "resources:\n"
        '  - bench.conf: "{{ key }}"\n    template: "{{ value }}"\n'
        "    for_each: \"{{ lookup('bench.files') }}\"\n"
        "  - exec: reload-bench\n    command: /bin/true\n    refreshonly: true\n"
    )
    (out / "defines" / "bench").mkdir(exist_ok=True)
    (out / "defines" / "bench" / "conf.yaml").write_text(
        "params: {template: ~, port: 8080, options: [gzip]}\n"
        "resources:\n"
        "  - file: \"{{ lookup('bench.root') }}/{{ title }}\"\n"
        '    template: "{{ template }}"\n    mode: "0644"\n'
        "    notify: \"{{ 'exec:reload-bench' if title.endswith('0.conf') and title[-9:-5] == '0000' else [] }}\"\n"
    )
    facts = out.parent / f"facts-{out.name}.json"
    facts.write_text(json.dumps(FACTS))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--root", default="/tmp/gitpuppet-bench-root")
    args = parser.parse_args()
    print(generate(args.out, args.files, args.root))


if __name__ == "__main__":
    main()
