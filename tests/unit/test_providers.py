"""The one provider choice (gitpuppet/types/provider.py) and the run's typed caches
(contract.Caches): a table of choices with providers made for the test, then the real package
and service providers as they declare themselves."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import pytest

from gitpuppet.contract import ApplyContext, Caches
from gitpuppet.errors import ApplyError
from gitpuppet.types import provider as base
from gitpuppet.types.provider import ProviderChecks, Providers, fact_value

pytestmark = pytest.mark.unit


class Fake(base.Provider):
    """A provider whose usability is a class attribute; counts how often it was asked."""

    why: ClassVar[str | None] = None
    asked: ClassVar[int] = 0

    def confine(self) -> str | None:
        type(self).asked += 1
        return self.why


class Deb(Fake):
    name = "deb"
    default_for: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "os.family": ("Debian",),
        "package_manager": ("apt",),
    }


class Rpm(Fake):
    name = "rpm"
    default_for: ClassVar[Mapping[str, tuple[str, ...]]] = {
        "os.family": ("RedHat",),
        "package_manager": ("dnf", "yum"),
    }


class Extra(Fake):
    name = "extra"  # no defaults: only where a resource names it


@pytest.fixture
def fakes() -> Providers[Fake]:
    for cls in (Deb, Rpm, Extra):
        cls.why, cls.asked = None, 0
    return Providers("thing", (Deb(), Rpm(), Extra()), facts=("os.family", "package_manager"))


@pytest.mark.parametrize(
    ("wanted", "facts", "chosen"),
    [
        ("extra", {"os": {"family": "Debian"}}, "extra"),  # named wins over the facts
        (None, {"os": {"family": "Debian"}}, "deb"),
        (None, {"os": {"family": "RedHat"}, "package_manager": "apt"}, "rpm"),  # family first
        (None, {"os": {"family": "Amazon"}, "package_manager": "yum"}, "rpm"),  # then manager
        (None, {"package_manager": "apt"}, "deb"),
        (None, {}, "deb"),  # no facts: the first with defaults that works
        (None, {"hostname": "x"}, "deb"),  # none of the deciding facts either
    ],
)
def test_choice_table(
    fakes: Providers[Fake], wanted: str | None, facts: dict[str, Any], chosen: str
) -> None:
    assert fakes.choose(wanted, facts, Caches()).name == chosen


def test_no_facts_probes_only_providers_with_defaults(fakes: Providers[Fake]) -> None:
    Deb.why = "deb-tool is not installed"
    assert fakes.choose(None, {}, Caches()).name == "rpm"
    Rpm.why = "rpm-tool is not installed"
    with pytest.raises(ApplyError) as caught:
        fakes.choose(None, {}, Caches())
    assert caught.value.message == (
        "no thing provider works on this system "
        "(deb: deb-tool is not installed; rpm: rpm-tool is not installed)"
    )
    assert Extra.asked == 0  # never a default, so never probed


def test_facts_pointing_nowhere_say_so(fakes: Providers[Fake]) -> None:
    with pytest.raises(ApplyError) as caught:
        fakes.choose(None, {"os": {"family": "Gentoo"}, "package_manager": "portage"}, None)
    assert caught.value.message == "no thing provider for this system (os family Gentoo)"
    assert caught.value.hint == "set provider: deb or provider: rpm or provider: extra"


def test_unusable_provider_says_why_and_where_the_facts_point(fakes: Providers[Fake]) -> None:
    Deb.why = "deb-tool is not installed"
    redhat = {"os": {"family": "RedHat"}}
    with pytest.raises(ApplyError) as caught:
        fakes.choose("deb", redhat, None)
    assert (
        caught.value.message
        == "provider deb is not usable on this system: deb-tool is not installed"
    )
    assert caught.value.hint == "this system's facts point to provider rpm"
    with pytest.raises(ApplyError) as caught:
        fakes.choose(None, {"os": {"family": "Debian"}}, None)
    assert caught.value.hint is None  # the facts point to this very one
    with pytest.raises(ApplyError, match="no thing provider named 'nope'"):
        fakes.choose("nope", redhat, None)


def test_the_answer_is_kept_for_the_run_and_unusable_ones_are_asked_again(
    fakes: Providers[Fake],
) -> None:
    caches = Caches()
    Deb.why = "deb-tool is not installed"
    debian = {"os": {"family": "Debian"}}
    for _ in range(3):
        with pytest.raises(ApplyError):
            fakes.choose(None, debian, caches)
    assert Deb.asked == 1
    Deb.why = None  # a package brought the tool...
    caches.get(ProviderChecks).forget_unusable()  # ...and said so
    assert fakes.choose(None, debian, caches).name == "deb"
    assert fakes.choose(None, debian, caches).name == "deb"
    assert Deb.asked == 2
    caches.get(ProviderChecks).forget_unusable()  # a usable answer stays
    fakes.choose(None, debian, caches)
    assert Deb.asked == 2


def test_fact_value() -> None:
    facts = {"os": {"family": "Debian", "release": None}, "init": "systemd", "n": 3}
    assert fact_value(facts, "os.family") == "Debian"
    assert fact_value(facts, "init") == "systemd" and fact_value(facts, "n") == "3"
    assert fact_value(facts, "os") is None and fact_value(facts, "os.release") is None
    assert fact_value(facts, "os.family.x") is None and fact_value(facts, "nope") is None


def test_commands_are_looked_up_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    class Tooled(base.Provider):
        name = "tooled"
        commands = ("gp-tool-a", "gp-tool-b")

    for tool in ("gp-tool-a", "gp-tool-b"):
        (tmp_path / tool).write_text("#!/bin/sh\n")
        (tmp_path / tool).chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert Tooled().unusable() is None
    (tmp_path / "gp-tool-b").unlink()
    assert Tooled().unusable() == "gp-tool-b is not installed"


# -- the typed caches -------------------------------------------------------------------------


def test_caches_hand_out_one_typed_object_until_dropped() -> None:
    caches = Caches()
    assert ProviderChecks not in caches
    first = caches.get(ProviderChecks)
    assert isinstance(first, ProviderChecks) and caches.get(ProviderChecks) is first
    first.answers[("k", "p")] = None
    caches.drop(ProviderChecks)
    assert ProviderChecks not in caches and caches.get(ProviderChecks).answers == {}
    caches.drop(ProviderChecks)
    caches.drop(ProviderChecks)  # dropping twice is fine
    ctx = ApplyContext(state_dir=Path("/nonexistent"))
    assert not hasattr(ctx, "cache")  # no untyped dict of conventional keys any more
    assert isinstance(ctx.caches, Caches) and ApplyContext(Path("/")).caches is not ctx.caches


# -- the real providers -----------------------------------------------------------------------


def test_package_and_service_providers_use_the_one_mechanism() -> None:
    from gitpuppet.types.package.type import PROVIDERS as PACKAGES
    from gitpuppet.types.package.type import apt, default_provider_name
    from gitpuppet.types.service.type import PROVIDERS as SERVICES

    assert apt.PROVIDER in PACKAGES.members  # the module the system test reaches through
    for provider in (*PACKAGES.members, *SERVICES.members):
        assert isinstance(provider, base.Provider)
    assert [p.name for p in PACKAGES.members if p.default_for] == ["apt", "dnf"]  # pip: never
    assert default_provider_name({"os": {"family": "Debian"}}) == "apt"
    assert default_provider_name({"os": {"family": "RedHat"}}) == "dnf"
    assert default_provider_name({"os": {"family": "Amazon"}, "package_manager": "yum"}) == "dnf"
    assert default_provider_name({"os": {"family": "Alpine"}, "package_manager": "apk"}) is None
    assert SERVICES.default({"init": "sysvinit"}) == (
        SERVICES.named("sysvinit"),
        "init",
        "sysvinit",
    )


def test_service_provider_for_unknown_init() -> None:
    from gitpuppet.types.service.spec import ServiceParams
    from gitpuppet.types.service.type import choose_provider

    with pytest.raises(ApplyError) as caught:
        choose_provider(ServiceParams(name="x"), {"init": "openrc"})
    assert caught.value.message == (
        "no service provider for init system 'openrc' (from the init fact)"
    )
    assert caught.value.hint == "set provider: systemd or provider: sysvinit"


@pytest.mark.skipif(
    os.path.isdir("/run/systemd/system"), reason="needs a machine that does not run systemd"
)
def test_named_systemd_where_it_does_not_run_says_why() -> None:
    from gitpuppet.types.service.spec import ServiceParams
    from gitpuppet.types.service.type import choose_provider

    with pytest.raises(ApplyError) as caught:
        choose_provider(ServiceParams(name="x", provider="systemd"), {"init": "sysvinit"})
    assert caught.value.message == (
        "provider systemd (from provider) cannot work here: systemd is not running on this "
        "machine (there is no /run/systemd/system)"
    )
    assert caught.value.hint == "remove provider: systemd to use this machine's init system"


def test_package_provider_with_no_tools_says_why(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from gitpuppet.types.package.spec import PackageParams
    from gitpuppet.types.package.type import choose_provider

    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    ctx = ApplyContext(state_dir=tmp_path, facts={"os": {"family": "Debian"}})
    with pytest.raises(ApplyError) as caught:
        choose_provider(PackageParams(name="curl"), ctx)
    assert (
        caught.value.message
        == "provider apt is not usable on this system: apt-get is not installed"
    )
    with pytest.raises(ApplyError) as caught:
        choose_provider(PackageParams(name="curl"), ApplyContext(state_dir=tmp_path))
    assert caught.value.message == (
        "no package provider works on this system "
        "(apt: apt-get is not installed; dnf: rpm is not installed)"
    )


def test_a_package_change_drops_the_installed_set_and_the_unusable_answers() -> None:
    from gitpuppet.types.package.apt import PROVIDER as APT
    from gitpuppet.types.package.apt import AptCache
    from gitpuppet.types.package.pip import PipCache

    ctx = ApplyContext(state_dir=Path("/nonexistent"))
    apt_cache = ctx.caches.get(AptCache)
    apt_cache.status, apt_cache.arch = ((1, 2, 3), {}), "amd64"
    apt_cache.available["curl"] = None
    ctx.caches.get(PipCache).installed = {"requests": "2.0"}
    checks = ctx.caches.get(ProviderChecks)
    checks.answers = {("package", "pip"): "pip is not installed", ("package", "apt"): None}
    APT.forget(ctx)
    assert apt_cache.status is None  # read again: the change is seen
    assert apt_cache.arch == "amd64" and apt_cache.available == {"curl": None}
    assert ctx.caches.get(PipCache).installed == {"requests": "2.0"}  # another provider's
    assert checks.answers == {("package", "apt"): None}  # pip may have come with the change
