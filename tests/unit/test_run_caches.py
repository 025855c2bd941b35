"""What a run reads once and forgets after a change: the applier tells every RunCache which
resource it applied or refreshed (never in noop, never for one it only read), each type is told
its resources before the walk, and the package providers forget what the sources offered after
a change that may have changed the sources."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from gitpuppet.apply.engine import apply_catalog
from gitpuppet.contract import ApplyContext, Caches, ResourceType, RunCache
from gitpuppet.errors import SourcePos
from gitpuppet.model import Catalog, Change, Edge, EdgeKind, Ref, Resource
from gitpuppet.resources.schema import Params
from gitpuppet.types.apt_source.spec import AptSourceParams
from gitpuppet.types.exec.spec import ExecParams
from gitpuppet.types.file.spec import FileParams
from gitpuppet.types.package.apt import AptCache
from gitpuppet.types.package.dnf import DnfCache
from gitpuppet.types.package.provider import Available, changes_sources
from gitpuppet.types.package.spec import PackageParams


@dataclass(slots=True)
class Seen(RunCache):
    """Records every resource the applier says it changed."""

    refs: list[str] = field(default_factory=list)

    def after_change(self, res: Resource) -> None:
        self.refs.append(str(res.ref))


@dataclass
class MemParams(Params):
    value: str = "v"


class MemType(ResourceType):
    """A dict as the machine; remembers what `plan` was told; touches the Seen cache so that
    it exists from the first read."""

    name = "mem"
    refreshable = True

    def __init__(self) -> None:
        self.store: dict[str, str] = {}
        self.planned: list[list[str]] = []

    def plan(self, resources: list[Resource], ctx: ApplyContext) -> None:
        self.planned.append([r.title for r in resources])

    def current(self, res: Resource, ctx: ApplyContext) -> Any:
        ctx.caches.get(Seen)
        return self.store.get(res.title)

    def diff(self, cur: Any, res: Resource, ctx: ApplyContext) -> list[Change]:
        return [] if cur == res.params.value else [Change("value", cur, res.params.value)]

    def apply(self, res: Resource, cur: Any, changes: list[Change], ctx: ApplyContext) -> None:
        self.store[res.title] = res.params.value

    def refresh(self, res: Resource, ctx: ApplyContext) -> str | None:
        return "restarted"


def mem(title: str, value: str = "v") -> Resource:
    return Resource("mem", title, MemParams(value=value), SourcePos("classes/m.yaml", 1), "m")


def run(mtype: MemType, resources: list[Resource], edges: list[Edge] = (), **kw: Any) -> list[str]:  # type: ignore[assignment]
    ctx = ApplyContext(state_dir=None)  # type: ignore[arg-type]
    apply_catalog(
        Catalog("n1", None, resources, list(edges), ["m"]), ctx, types={"mem": mtype}.get, **kw
    )
    return ctx.caches.get(Seen).refs


def test_changed_resources_and_refreshes_reach_the_run_caches() -> None:
    mtype = MemType()
    mtype.store = {"same": "v"}
    notify = Edge(Ref("mem", "changes"), Ref("mem", "same"), EdgeKind.REFRESH)
    seen = run(mtype, [mem("changes"), mem("same")], [notify])
    assert seen == ["mem:changes", "mem:same"]  # applied; then refreshed
    assert mtype.planned == [["changes", "same"]]


def test_noop_and_unchanged_resources_change_nothing() -> None:
    mtype = MemType()
    mtype.store = {"same": "v"}
    assert run(mtype, [mem("changes"), mem("same")], noop=True) == []
    assert run(mtype, [mem("same")]) == []


def test_only_run_caches_are_told() -> None:
    caches = Caches()
    seen = caches.get(Seen)
    caches.get(dict)  # not a RunCache: left alone
    caches.changed(mem("x"))
    assert seen.refs == ["mem:x"]


def _res(type_name: str, params: Params) -> Resource:
    return Resource(type_name, "t", params, SourcePos("classes/m.yaml", 1), "m")


@pytest.mark.parametrize(
    ("res", "apt", "dnf"),
    [
        (_res("apt_source", AptSourceParams(name="x")), True, True),
        (_res("exec", ExecParams(command="/usr/bin/apt-get update")), True, True),
        (_res("package", PackageParams(name="nginx")), True, True),
        (_res("file", FileParams(path="/etc/apt/preferences.d/pin")), True, False),
        (_res("file", FileParams(path="/etc/apt")), True, False),
        (_res("file", FileParams(path="/etc/yum.repos.d/epel.repo")), False, True),
        (_res("file", FileParams(path="/etc/aptitude")), False, False),
        (_res("file", FileParams(path="/etc/motd")), False, False),
    ],
)
def test_what_makes_the_sources_answers_stale(res: Resource, apt: bool, dnf: bool) -> None:
    assert changes_sources(res, AptCache.config_paths) is apt
    assert changes_sources(res, DnfCache.config_paths) is dnf
    cache = AptCache()
    cache.available["nginx"] = Available("1.0")
    cache.status = ((1, 2, 3), {})
    cache.after_change(res)
    assert (cache.available == {}) is apt
    assert cache.status is not None  # the installed set has its own key (the file's identity)


class BrokenPlan(MemType):
    def plan(self, resources: list[Resource], ctx: ApplyContext) -> None:
        raise RuntimeError("bug in plan")


def test_a_bug_in_plan_fails_nothing() -> None:
    mtype = BrokenPlan()
    ctx = ApplyContext(state_dir=None)  # type: ignore[arg-type]
    catalog = Catalog("n1", None, [mem("a")], [], ["m"])
    out = apply_catalog(catalog, ctx, types={"mem": mtype}.get)
    assert [r.status.value for r in out.results] == ["changed"] and out.errors == {}
