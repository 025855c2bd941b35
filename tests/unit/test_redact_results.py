"""Results are redacted once, where the applier settles them: what apply_catalog hands back (to
the run output, the report, failures.json) holds no secret, whatever the type put in it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from gitpuppet.apply.engine import apply_catalog
from gitpuppet.contract import ApplyContext, ResourceType
from gitpuppet.errors import ApplyError, SourcePos
from gitpuppet.model import REDACTED, Catalog, Change, Resource, Result, Status
from gitpuppet.report import build_report
from gitpuppet.resources.schema import Params

pytestmark = pytest.mark.unit

TOKEN = "glpat-Zx81kQ0aa9LmN3pQr7sT"
URL = f"https://{TOKEN}@git.example.com/app.git"


@dataclass
class LeakyParams(Params):  # a real schema's base: the applier asks it for its hooks
    value: str = "SECRETVALUE"
    fail: bool = False


class LeakyType(ResourceType):
    """A careless type: it puts its values, a URL with a token and a diff in every change,
    and quotes them in a failure's message and output."""

    name = "leaky"
    verify_after_apply = False  # "the machine" keeps nothing

    def current(self, res: Resource, ctx: ApplyContext) -> Any:
        return None

    def diff(self, cur: Any, res: Resource, ctx: ApplyContext) -> list[Change]:
        value = res.params.value
        return [
            Change("value", URL, value, diff=f"-{URL}\n+{value}\n"),
            Change("source", f"{URL}?x=1", [URL]),
        ]

    def apply(self, res: Resource, cur: Any, changes: list[Change], ctx: ApplyContext) -> None:
        # The type sees the real values: redaction comes after apply.
        assert changes[0].new == res.params.value and changes[0].old == URL
        if res.params.fail:
            raise ApplyError(f"cannot push {res.params.value} to {URL}", output=f"{URL}\nfatal")


def _run(tmp_path: Path, *resources: Resource) -> list[Result]:
    catalog = Catalog("n1", None, list(resources), [], ["main"])
    types = {"leaky": LeakyType()}
    outcome = apply_catalog(catalog, ApplyContext(tmp_path), types=types.get)
    return outcome.results


def _res(title: str, sensitive: bool, **params: Any) -> Resource:
    pos = SourcePos("classes/main.yaml", 3)
    return Resource("leaky", title, LeakyParams(**params), pos, sensitive=sensitive)


def test_a_sensitive_result_hides_every_value_output_and_diff(tmp_path: Path) -> None:
    ok, failed = _run(tmp_path, _res("TITLESECRET-1", True), _res("TITLESECRET-2", True, fail=True))
    assert ok.status == Status.CHANGED and failed.status == Status.FAILED
    for r in (ok, failed):
        assert [(c.attr, c.old, c.new, c.diff, c.redacted) for c in r.changes] == [
            ("value", REDACTED, REDACTED, None, True),
            ("source", REDACTED, REDACTED, None, True),
        ]
        assert r.output is None
    assert "SECRETVALUE" not in failed.message and TOKEN not in failed.message


def test_a_plain_result_keeps_its_values_with_url_credentials_blanked(tmp_path: Path) -> None:
    (r,) = _run(tmp_path, _res("plain", False, value="shown", fail=True))
    value, source = r.changes
    assert (value.old, value.new) == ("https://***@git.example.com/app.git", "shown")
    assert value.diff == "-https://***@git.example.com/app.git\n+shown\n"
    assert source.old == "https://***@git.example.com/app.git?x=1"
    assert source.new == ["https://***@git.example.com/app.git"]
    assert r.output == "https://***@git.example.com/app.git\nfatal"
    assert TOKEN not in r.message and "shown" in r.message


def test_the_report_takes_the_settled_results_as_they_are(tmp_path: Path) -> None:
    catalog = Catalog("n1", None, [_res("TITLESECRET", True, fail=True)], [], ["main"])
    outcome = apply_catalog(catalog, ApplyContext(tmp_path), types={"leaky": LeakyType()}.get)
    report = build_report(
        outcome, node="n1", environment=None, commit=None, start=0.0, exit_code=4, noop=False
    )
    text = repr(report)
    for secret in ("SECRETVALUE", "TITLESECRET", TOKEN):
        assert secret not in text
    assert report["resources"][0]["changes"][0]["redacted"] is True
