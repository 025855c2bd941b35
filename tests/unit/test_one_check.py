"""Each check has one source: what the compiler refuses, the type refuses again with the same
rule (and the same words) when its params were built some other way; cron's user name is an
account name as useradd takes it (with '@')."""

from __future__ import annotations

from pathlib import Path

import pytest

from gitpuppet.contract import ApplyContext
from gitpuppet.errors import ApplyError, SourceError
from gitpuppet.types.cron.spec import job_problems
from gitpuppet.types.user.type import check_params
from tests.unit.typecases import make, rtype

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("attr", "value"),
    [
        ("uid", -3),
        ("home", "relative/home"),
        ("authorized_keys", ["ssh-ed25519 AAAA a\rb"]),  # a CR: the old apply-time copy let it by
        ("authorized_keys", ["ssh-ed25519 AAAA a\n"]),  # a trailing newline: likewise
        ("password", "plain text"),
    ],
)
def test_the_user_type_refuses_what_the_spec_refuses_in_the_same_words(
    attr: str, value: object
) -> None:
    with pytest.raises(SourceError) as compiled:
        make("user", "gptok", **{attr: value})
    res = make("user", "gptok")
    setattr(res.params, attr, value)
    with pytest.raises(ApplyError) as applied:
        check_params(res.params)
    problem = applied.value.message.removeprefix("user gptok: ")
    assert problem != applied.value.message and problem in compiled.value.message


def test_the_service_type_refuses_mask_and_running_with_the_specs_words(tmp_path: Path) -> None:
    with pytest.raises(SourceError) as compiled:
        make("service", "s", ensure="running", enable="mask", provider="systemd")
    res = make("service", "s", ensure="running", provider="systemd")
    res.params.enable = "mask"
    with pytest.raises(ApplyError) as applied:
        rtype("service").apply(res, None, [], ApplyContext(tmp_path))
    assert applied.value.message in compiled.value.message


@pytest.mark.parametrize("user", ["deploy@corp", "www-data", "svc.ci", "machine$"])
def test_cron_takes_every_account_name_useradd_takes(user: str) -> None:
    res = make("cron", "job", command="true", user=user)
    assert job_problems(res.params) == []


@pytest.mark.parametrize("user", ["two words", "-o", "a:b", "x" * 33])
def test_cron_refuses_what_useradd_refuses(user: str) -> None:
    with pytest.raises(SourceError, match="is not a user name"):
        make("cron", "job", command="true", user=user)
