"""Templates are no code execution and cannot hang or exhaust a machine; a directory repo does
not read through symlinks that leave it; YAML bombs and deep nesting are errors with file:line;
commands that only look run no facts.d executable (issue 8 items 1, 2 and 8)."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from gitpuppet.compile import DirTree, compile_catalog, lookup_value
from gitpuppet.errors import GitpuppetError
from gitpuppet.facts import gather_facts

FACTS = {"fqdn": "test.example.com", "hostname": "test", "os": {"family": "Debian"}}
NODE = "test.example.com: {classes: [a]}\n"

# Each payload is the content of a file resource at classes/a.yaml:3.
PAYLOADS = {
    "cycler globals": "{{ cycler.__init__.__globals__.os.popen('touch MARK').read() }}",
    "joiner globals": "x {{ joiner.__init__.__globals__.os.system('touch MARK') }}",
    "str mro": "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "lipsum globals": "{{ lipsum.__globals__['os'].system('touch MARK') }}",
    "template reference": "{{ self._TemplateReference__context }}",
    "namespace init": "{{ namespace.__init__.__globals__ }}",
    "format attribute": "{{ '{0.__class__.__mro__}'.format('') }}",
    "huge range": "{{ range(10**10)|list }}",
    "string repetition": "{{ 'a' * 10**10 }}",
    "list repetition": "{{ [1] * 10**10 }}",
    "huge power": "{{ 7 ** (10**9) }}",
    "printf width": "{{ '%999999999s' % 'a' }}",
    "printf fields": "{{ ('%s' * 10000) % (('x' * 100000,) * 10000) }}",
    "format width": "{{ '{:>999999999}'.format(1) }}",
    "center filter": '{{ "x"|center(10**9) }}',
    "ljust method": "{{ 'x'.ljust(10**9) }}",
    "indent filter": "{{ ('a\n' * 1000000)|indent(1000) }}",
    "replace blowup": "{{ ('x' * 1000000)|replace('x', 'y' * 1000) }}",
    "join blowup": "{{ (['x' * 1000000] * 1000)|join }}",
    "nested loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
    "nested loops printing": "{% for i in range(99999) %}{% for j in range(99999) %}"
    "{{ 'x' * 1000 }}{% endfor %}{% endfor %}",
    "set block of gigabytes": "{% set s %}{% for i in range(99999) %}{% for j in range(99999) %}"
    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx{% endfor %}{% endfor %}{% endset %}",
    "doubling concat": "{% set ns = namespace(s='ab') %}{% for i in range(60) %}"
    "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "macro recursion": "{% macro m() %}{{ m() }}{% endmacro %}{{ m() }}",
    "lipsum size": "{{ lipsum(100000, min=1000, max=1000) }}",
}


def _repo(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _class_with(content: str) -> str:
    quoted = content.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'resources:\n  - file: /a\n    content: "{quoted}"\n'


@pytest.mark.parametrize("payload", list(PAYLOADS.values()), ids=list(PAYLOADS))
def test_payload_is_a_fast_error_at_its_line(
    payload: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = _repo(tmp_path / "repo", {"nodes.yaml": NODE, "classes/a.yaml": _class_with(payload)})
    monkeypatch.chdir(tmp_path)
    start, cpu = time.monotonic(), time.process_time()
    with pytest.raises(GitpuppetError) as info:
        compile_catalog(DirTree(repo), "test.example.com", FACTS)
    # CPU time (what the payload costs, however loaded the machine is); the wall clock loosely.
    assert time.process_time() - cpu < 1.0
    assert time.monotonic() - start < 10.0
    message = str(info.value)
    assert message.startswith("classes/a.yaml:3: "), message
    assert "template" in message
    assert not (tmp_path / "MARK").exists()


def test_ordinary_templates_still_render_with_their_types(tmp_path: Path) -> None:
    body = (
        "resources:\n"
        "  - file: '/f/{{ item }}'\n"
        "    content: \"{{ '%s-%d' % (item, 2) }} {{ 'ab' * 3 }} {{ [1, 2] ~ 'x' }}\"\n"
        "    for_each: '{{ range(3)|list }}'\n"
    )
    repo = _repo(tmp_path, {"nodes.yaml": NODE, "classes/a.yaml": body})
    cat = compile_catalog(DirTree(repo), "test.example.com", FACTS)
    assert [str(r.ref) for r in cat.resources] == ["file:/f/0", "file:/f/1", "file:/f/2"]
    assert cat.resources[1].params.data == b"1-2 ababab [1, 2]x"  # type: ignore[attr-defined]


TEMPLATE_FILES = {
    "include outside": ("{% include '../../etc/passwd' %}", "leaves templates/"),
    "extends outside": ("{% extends '../../../etc/passwd' %}", "leaves templates/"),
    "import outside": ("{% import '/etc/passwd' as p %}", "must be relative"),
    "includes itself": ("x{% include 't.j2' %}", "nested too deeply"),
    "include in a loop": (
        "{% for i in range(99999) %}{% for j in range(9999) %}{% include 'big.j2' %}"
        "{% endfor %}{% endfor %}",
        "over",
    ),
}


@pytest.mark.parametrize("text,said", list(TEMPLATE_FILES.values()), ids=list(TEMPLATE_FILES))
def test_template_file_payloads(text: str, said: str, tmp_path: Path) -> None:
    files = {
        "nodes.yaml": NODE,
        "classes/a.yaml": "resources:\n  - file: /a\n    template: t.j2\n",
        "templates/t.j2": text,
        "templates/big.j2": "y" * 100000,
    }
    start = time.monotonic()
    with pytest.raises(GitpuppetError) as info:
        compile_catalog(DirTree(_repo(tmp_path, files)), "test.example.com", FACTS)
    assert time.monotonic() - start < 2.0
    assert said in str(info.value)
    assert "root:" not in str(info.value)  # nothing of /etc/passwd
    assert "templates/t.j2" in str(info.value) or "classes/a.yaml:3" in str(info.value)


# -- symlinks of a directory repo --------------------------------------------------------


@pytest.mark.parametrize(
    "link,target,files",
    [
        (
            "templates/leak",
            "/etc/shadow",
            {"classes/a.yaml": "resources:\n  - file: /a\n    template: leak\n"},
        ),
        ("classes/a.yaml", "/etc/passwd", {}),
        ("classes", "/etc", {}),
        (
            "data/common.yaml",
            "/etc/passwd",
            {"classes/a.yaml": "resources:\n  - file: \"/{{ lookup('x') }}\"\n"},
        ),
        ("files/f", "/etc/shadow", {"classes/a.yaml": "resources:\n  - file: /a\n    source: f\n"}),
        ("nodes.yaml", "/etc/hosts", {}),
    ],
    ids=["template", "class", "class folder", "data", "source file", "nodes.yaml"],
)
def test_symlink_leaving_the_repo_is_an_error_naming_it(
    link: str, target: str, files: dict[str, str], tmp_path: Path
) -> None:
    repo = _repo(tmp_path, {"nodes.yaml": NODE, **files})
    path = repo / link
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        path.unlink()
    path.symlink_to(target)
    with pytest.raises(GitpuppetError) as info:
        compile_catalog(DirTree(repo), "test.example.com", FACTS)
    message = str(info.value)
    assert link.split("/")[0] in message and "leaves the repository" in message
    secret = Path(target).read_text() if Path(target).is_file() else ""
    assert not any(line and line in message for line in secret.splitlines()[:3])


def test_symlink_inside_the_repo_is_followed(tmp_path: Path) -> None:
    repo = _repo(
        tmp_path,
        {
            "nodes.yaml": NODE,
            "classes/a.yaml": "resources:\n  - file: /a\n    template: link.j2\n",
            "templates/real.j2": "inside {{ 1 + 1 }}",
        },
    )
    (repo / "templates/link.j2").symlink_to("real.j2")
    cat = compile_catalog(DirTree(repo), "test.example.com", FACTS)
    assert cat.resources[0].params.data == b"inside 2"  # type: ignore[attr-defined]


# -- YAML -----------------------------------------------------------------------------------

BOMB = "a: &a [lol,lol,lol,lol,lol,lol,lol,lol,lol]\n" + "".join(
    f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_billion_laughs_is_a_fast_error_at_its_line(tmp_path: Path) -> None:
    assert len(BOMB) < 400
    files = {
        "nodes.yaml": NODE,
        "classes/a.yaml": "resources:\n  - file: \"/{{ lookup('i')|length }}\"\n",
        "data/common.yaml": BOMB,
    }
    start, cpu = time.monotonic(), time.process_time()
    with pytest.raises(GitpuppetError) as info:
        compile_catalog(DirTree(_repo(tmp_path, files)), "test.example.com", FACTS)
    assert time.process_time() - cpu < 1.0 and time.monotonic() - start < 10.0
    assert str(info.value).startswith("data/common.yaml:")
    assert "aliases" in str(info.value)


@pytest.mark.parametrize("text", ["[" * 500 + "]" * 500, "x: " + "{a: " * 500 + "1" + "}" * 500])
def test_deep_nesting_is_an_error_not_a_recursion_error(text: str, tmp_path: Path) -> None:
    files = {"nodes.yaml": NODE, "classes/a.yaml": "resources: []\n", "data/common.yaml": text}
    with pytest.raises(GitpuppetError) as info:
        lookup_value(DirTree(_repo(tmp_path, files)), "test.example.com", FACTS, "x")
    assert str(info.value).startswith("data/common.yaml:1: YAML nested more than")


def test_self_referring_alias_is_an_error(tmp_path: Path) -> None:
    files = {"nodes.yaml": NODE + "x: &x [*x]\n", "classes/a.yaml": "resources: []\n"}
    with pytest.raises(GitpuppetError, match="nodes.yaml:2: a YAML alias refers to itself"):
        compile_catalog(DirTree(_repo(tmp_path, files)), "test.example.com", FACTS)


def test_recursion_in_the_compiler_is_a_compile_error_with_a_place(tmp_path: Path) -> None:
    files = {"nodes.yaml": "test.example.com: {classes: [c0]}\n"}
    for i in range(1500):
        files[f"classes/c{i}.yaml"] = f"include: [c{i + 1}]\n"
    with pytest.raises(GitpuppetError) as info:
        compile_catalog(DirTree(_repo(tmp_path, files)), "test.example.com", FACTS)
    message = str(info.value)
    assert "nested too deeply" in message and message.startswith("classes/c")
    assert not isinstance(info.value, RecursionError)


# -- facts -----------------------------------------------------------------------------------


def test_looking_runs_no_facts_d_executable(tmp_path: Path) -> None:
    facts_d = tmp_path / "facts.d"
    facts_d.mkdir()
    marker = tmp_path / "ran"
    script = facts_d / "evil"
    script.write_text(f"#!/bin/sh\ntouch {marker}\necho '{{\"evil\": 1}}'\n")
    script.chmod(0o755)
    (facts_d / "static.yaml").write_text("role: web\n")
    looked = gather_facts(facts_d=facts_d, run_executables=False)
    assert looked["role"] == "web" and "evil" not in looked
    assert not marker.exists()
    ran = gather_facts(facts_d=facts_d)  # a run still uses executable facts
    assert ran["evil"] == 1 and marker.exists()
    os.unlink(marker)
