"""Write a benchmark control repo: N file resources rendered from templates, N/10 directories
holding them, one refreshonly exec notified by every hundredth file. Deterministic: the same
arguments give the same bytes.

    python bench/gen_repo.py OUT --files 1000 --root /tmp/gp-bench-root

Shape: node `bench.example.com` declares class `bench`, which includes `bench.dirs`,
`bench.files` and `bench.service`; `bench.files` uses the defined type `bench.conf` once per
entry of `bench.files` in data/common.yaml (for_each over a mapping). Facts: bench/facts.yaml.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

# Templates use facts, node vars, define/class parameters, loops and data lookups.
TEMPLATES = {
    "app.conf.j2": (
        "# managed by gitpuppet on {{ node.name }}\n"
        "[service]\nname = {{ title }}\nport = {{ port }}\nworkers = {{ facts.processors.count * 2 }}\n"
        "{% for opt in options %}{{ opt }} = on\n{% endfor %}"
    ),
    "motd.j2": "{{ node.name }} ({{ facts.os.family }}), role {{ node.vars.role }}\nfile {{ title }}\n",
    "hosts.j2": "{% for h in lookup('peers') %}{{ h.ip }} {{ h.name }}\n{% endfor %}",
}
KINDS = list(TEMPLATES)

NODES = "bench.example.com:\n  classes: [bench]\n  vars: {role: bench}\n"

CLASSES = {
    "init.yaml": "include: [bench.dirs, bench.files, bench.service]\n",
    "dirs.yaml": (
        "resources:\n"
        "  - file: \"{{ lookup('bench.root') }}\"\n    ensure: directory\n"
        "  - file: \"{{ lookup('bench.root') }}/{{ item }}\"\n    ensure: directory\n"
        "    for_each: \"{{ lookup('bench.dirs') }}\"\n"
    ),
    "files.yaml": (
        "params: {port: 8080, options: [gzip, keepalive]}\n"
        "resources:\n"
        '  - bench.conf: "{{ key }}"\n'
        "    for_each: \"{{ lookup('bench.files') }}\"\n"
        '    template: "{{ value }}"\n'
        '    port: "{{ port }}"\n'
        '    options: "{{ options }}"\n'
    ),
    "service.yaml": (
        "resources:\n  - exec: reload-bench\n    command: /bin/true\n    refreshonly: true\n"
    ),
}

DEFINE = (
    "params: {template: ~, port: ~, options: ~}\n"
    "resources:\n"
    "  - file: \"{{ lookup('bench.root') }}/{{ title }}\"\n"
    '    template: "{{ template }}"\n'
    '    mode: "0644"\n'
    # Every hundredth file notifies the exec; the rest notify nothing.
    "    notify: \"{{ ['exec:reload-bench'] if title.endswith('00.conf') else [] }}\"\n"
)


def file_map(files: int) -> dict[str, str]:
    """Relative path -> template name, for N files spread over N/10 directories."""
    dirs = max(1, files // 10)
    return {f"d{i % dirs:04d}/f{i:05d}.conf": KINDS[i % len(KINDS)] for i in range(files)}


def generate(out: Path, files: int, root: str) -> Path:
    """Write the control repo into OUT (created) with all managed paths under ROOT; returns OUT."""
    dirs = max(1, files // 10)
    for sub in ("nodes", "classes/bench", "defines/bench", "templates", "data"):
        (out / sub).mkdir(parents=True, exist_ok=True)
    (out / "nodes" / "bench.yaml").write_text(NODES)
    for name, text in TEMPLATES.items():
        (out / "templates" / name).write_text(text)
    for name, text in CLASSES.items():
        (out / "classes" / "bench" / name).write_text(text)
    (out / "defines" / "bench" / "conf.yaml").write_text(DEFINE)
    data = {
        "bench": {
            "root": root,
            "dirs": [f"d{d:04d}" for d in range(dirs)],
            "files": file_map(files),
        },
        "peers": [{"name": f"peer{i}.example.com", "ip": f"10.0.0.{i}"} for i in range(1, 6)],
    }
    # JSON is YAML; written as one flow document it loads fast and stays deterministic.
    (out / "data" / "common.yaml").write_text(json.dumps(data, indent=1) + "\n")
    return out


def main() -> None:
    """Command line: gen_repo.py OUT --files N --root DIR."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--root", default="/tmp/gitpuppet-bench-root")
    args = parser.parse_args()
    print(generate(args.out, args.files, args.root))


if __name__ == "__main__":
    main()
