"""`--tags` selection (issue 9 item 8): class and define prefixes, unknown tags, parsing."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitpuppet.apply.tags import parse_tags, resource_tags, select_tagged, unknown_tag_warnings
from gitpuppet.compile import DirTree, compile_catalog
from gitpuppet.model import Resource

pytestmark = pytest.mark.unit


def _catalog(tmp_path: Path) -> list[Resource]:
    files = {
        "nodes.yaml": "n.example.com: {classes: [base, base.ntp, basement, web]}\n",
        "classes/base/init.yaml": "resources: [{file: /b, content: x}]\n",
        "classes/base/ntp.yaml": "resources: [{file: /ntp, content: x}]\n",
        "classes/basement.yaml": "resources: [{file: /basement, content: x}]\n",
        "classes/web.yaml": "resources: [{nginx.vhost: shop}]\n",
        "defines/nginx/vhost.yaml": "resources: [{file: '/v/{{ title }}', content: x}]\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return compile_catalog(DirTree(tmp_path), "n.example.com", {}).resources


def _titles(resources: list[Resource]) -> list[str]:
    return [r.title for r in resources]


@pytest.mark.parametrize(
    ("tags", "expected"),
    [
        ({"base"}, ["/b", "/ntp"]),  # a class prefix, as Puppet: not `basement`
        ({"base.ntp"}, ["/ntp"]),
        ({"nginx"}, ["/v/shop"]),  # a define's prefix too
        ({"nginx.vhost"}, ["/v/shop"]),
        ({"web"}, ["/v/shop"]),  # the class the define use is in
        ({"ntp"}, []),  # an inner segment alone is not a tag (`nginx.service` is no service)
        (None, ["/b", "/ntp", "/basement", "/v/shop"]),
    ],
)
def test_class_and_define_prefixes_select(
    tmp_path: Path, tags: set[str], expected: list[str]
) -> None:
    assert _titles(select_tagged(_catalog(tmp_path), tags)) == expected


def test_catalog_tags_carry_the_prefixes(tmp_path: Path) -> None:
    by_title = {r.title: r for r in _catalog(tmp_path)}
    assert {"base", "base.ntp", "file"} <= set(by_title["/ntp"].tags)
    assert resource_tags(by_title["/v/shop"]) >= {"nginx", "nginx.vhost", "web", "file"}


def test_a_tag_no_resource_has_is_a_warning(tmp_path: Path) -> None:
    resources = _catalog(tmp_path)
    warnings = unknown_tag_warnings(resources, {"base", "bse", "nothing_like_it"})
    assert warnings == [
        "tag 'bse' is on no resource of this catalog (did you mean 'base'?)",
        "tag 'nothing_like_it' is on no resource of this catalog",
    ]
    assert unknown_tag_warnings(resources, {"base", "file"}) == []
    assert unknown_tag_warnings(resources, None) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [("base", {"base"}), ("a, b,,c ", {"a", "b", "c"}), (",", None), ("", None), (None, None)],
)
def test_parse_tags(text: str | None, expected: set[str] | None) -> None:
    assert parse_tags(text) == expected
