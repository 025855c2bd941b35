"""Prometheus textfile metrics after every kind of run: good, failed, fallback, not compiled,
disabled; read back with a parser that checks the text format's rules as node_exporter does."""

from __future__ import annotations

import math
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from gitpuppet.metrics import RunMetrics, render
from tests.integration.test_run_agent import Setup

_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(?P<labels>.*)\})? (?P<value>\S+)$")
_LABEL = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"\s*(,|$)')


def _unescape(value: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n"}.get(m[1], m[1]), value)


def parse(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Samples of a text-format file, keyed by (name, labels); asserts the format's rules:
    HELP and TYPE once per metric and before its samples, valid names and label syntax, no
    series twice, numeric values, a final newline."""
    assert text.endswith("\n")
    helps: dict[str, str] = {}
    types: dict[str, str] = {}
    samples: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for line in text.splitlines():
        assert line.strip(), "no blank lines"
        if line.startswith("# HELP "):
            name, _, doc = line[7:].partition(" ")
            assert _NAME.fullmatch(name) and name not in helps and doc
            helps[name] = doc
        elif line.startswith("# TYPE "):
            name, _, kind = line[7:].partition(" ")
            assert name not in types and kind in ("gauge", "counter", "untyped")
            types[name] = kind
        else:
            match = _SAMPLE.match(line)
            assert match, line
            name = match["name"]
            assert name in helps and name in types, f"{name}: HELP and TYPE come first"
            labels: list[tuple[str, str]] = []
            rest = match["labels"] or ""
            while rest:
                label = _LABEL.match(rest)
                assert label, f"bad labels in {line!r}"
                labels.append((label[1], _unescape(label[2])))
                rest = rest[label.end() :]
            key = (name, frozenset(labels))
            assert key not in samples, f"{line}: series twice"
            samples[key] = float(match["value"])
            assert not math.isnan(samples[key])
    return samples


def value(samples: dict, name: str, **labels: str) -> float:  # type: ignore[type-arg]
    return samples[(f"gitpuppet_{name}", frozenset(labels.items()))]


def info_labels(samples: dict) -> dict[str, str]:  # type: ignore[type-arg]
    [(_, labels)] = [k for k in samples if k[0] == "gitpuppet_applied_commit_info"]
    return dict(labels)


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    s = Setup(tmp_path)
    (tmp_path / "textfile").mkdir()
    s.write_config(metrics_file=str(tmp_path / "textfile" / "gitpuppet.prom"))
    return s


def read_metrics(setup: Setup) -> dict:  # type: ignore[type-arg]
    path = setup.tmp / "textfile" / "gitpuppet.prom"
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in path.parent.iterdir()) == ["gitpuppet.prom"]  # no temp left
    return parse(path.read_text())


def test_good_run(setup: Setup) -> None:
    commit = setup.push("one")
    before = time.time()
    assert setup.run("run", "--now").returncode == 2
    m = read_metrics(setup)
    assert value(m, "last_run_exit_code") == 2
    assert value(m, "last_run_resources", status="changed") == 1
    assert value(m, "last_run_resources", status="failed") == 0
    assert {k[1] for k in m if k[0] == "gitpuppet_last_run_resources"} == {
        frozenset({("status", s)})
        for s in ("unchanged", "changed", "would_change", "failed", "skipped")
    }
    started = value(m, "last_run_timestamp_seconds")
    assert before - 1 < started <= time.time()
    assert value(m, "last_success_timestamp_seconds") == started
    assert 0 < value(m, "last_run_duration_seconds") < 30
    assert info_labels(m) == {
        "commit": commit,
        "node": "t.example.com",
        "environment": "production",
    }
    assert value(m, "last_run_fell_back") == 0 and value(m, "disabled") == 0
    assert value(m, "last_run_noop") == 0
    assert setup.run("run", "--now").returncode == 0
    m = read_metrics(setup)
    assert value(m, "last_run_exit_code") == 0
    assert value(m, "last_run_resources", status="unchanged") == 1
    assert value(m, "last_success_timestamp_seconds") > started


def test_failed_resources_and_noop(setup: Setup) -> None:
    commit = setup.push("one")
    assert setup.run("run", "--now").returncode == 2
    success = value(read_metrics(setup), "last_success_timestamp_seconds")
    failing = (
        f'resources:\n  - file: {setup.target}/motd\n    content: "two\\n"\n  - exec: /bin/false\n'
    )
    broken = setup.push("two", classes=failing)
    assert setup.run("run", "--now").returncode == 6
    m = read_metrics(setup)
    assert value(m, "last_run_exit_code") == 6
    assert value(m, "last_run_resources", status="failed") == 1
    assert value(m, "last_run_resources", status="changed") == 1
    assert value(m, "last_success_timestamp_seconds") == success  # a failed run is no success
    assert info_labels(m)["commit"] == broken != commit
    (setup.target / "motd").write_text("drifted\n")
    assert setup.run("run", "--now", "--noop").returncode == 2  # the exec would run again
    m = read_metrics(setup)
    assert value(m, "last_run_noop") == 1
    assert value(m, "last_run_resources", status="would_change") == 2
    assert value(m, "last_success_timestamp_seconds") == success  # noop is no success either


def test_fallback_when_the_server_is_gone(setup: Setup) -> None:
    good = setup.push("one")
    assert setup.run("run", "--now").returncode == 2
    success = value(read_metrics(setup), "last_success_timestamp_seconds")
    shutil.rmtree(setup.bare)
    r = setup.run("run", "--now")
    assert r.returncode == 4, r.stderr
    m = read_metrics(setup)
    assert value(m, "last_run_exit_code") == 4
    assert value(m, "last_run_fell_back") == 1
    assert value(m, "last_run_resources", status="unchanged") == 1
    assert info_labels(m)["commit"] == good
    assert value(m, "last_success_timestamp_seconds") == success
    assert value(m, "last_run_timestamp_seconds") > success


def test_compile_error_with_and_without_a_fallback(setup: Setup) -> None:
    bad = "resources:\n  - file: /tmp/x\n    mdoe: '0644'\n"
    setup.push("x", classes=bad)
    r = setup.run("run", "--now")
    assert r.returncode == 1, r.stderr
    m = read_metrics(setup)
    assert value(m, "last_run_exit_code") == 1
    assert value(m, "last_success_timestamp_seconds") == 0  # never: an age alert fires
    assert info_labels(m)["commit"] == ""
    assert all(v == 0 for k, v in m.items() if k[0] == "gitpuppet_last_run_resources")
    status = setup.run("status", "--json")
    assert '"exit_code": 1' in status.stdout and '"result": "failed"' in status.stdout
    good = setup.push("good")
    assert setup.run("run", "--now").returncode == 2
    setup.push("y", classes=bad)
    assert setup.run("run", "--now").returncode == 4
    m = read_metrics(setup)
    assert value(m, "last_run_exit_code") == 4 and value(m, "last_run_fell_back") == 1
    assert info_labels(m)["commit"] == good


def test_disabled_run(setup: Setup) -> None:
    commit = setup.push("one")
    assert setup.run("run", "--now").returncode == 2
    setup.run("disable", "maintenance")
    assert setup.run("run", "--now").returncode == 3
    m = read_metrics(setup)
    assert value(m, "disabled") == 1 and value(m, "last_run_exit_code") == 3
    assert info_labels(m)["commit"] == commit
    setup.run("enable")
    assert setup.run("run", "--now").returncode == 0
    assert value(read_metrics(setup), "disabled") == 0


def test_missing_folder_is_a_warning_not_a_failure(setup: Setup) -> None:
    setup.push("one")
    shutil.rmtree(setup.tmp / "textfile")
    r = setup.run("run", "--now")
    assert r.returncode == 2, r.stderr
    assert f"metrics not written: the folder {setup.tmp / 'textfile'} does not exist" in r.stderr


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder another user can reach (pytest's tmp_path parents are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="gitpuppet-metrics-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to the user nobody (needs root)")
def test_unwritable_folder_is_a_config_error(shared_dir: Path) -> None:
    """Loaded as user nobody: a folder owned by root, mode 0755, is not writable for it."""
    textfile = shared_dir / "textfile"
    textfile.mkdir(mode=0o755)
    config = shared_dir / "config.yaml"
    config.write_text(f"repo: file:///srv/c.git\nmetrics_file: {textfile}/gitpuppet.prom\n")
    config.chmod(0o644)
    done = subprocess.run(
        ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", sys.executable]
        + ["-c", f"from gitpuppet.config import load_config; load_config({str(config)!r})"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert f"{config}:2: metrics_file: folder {textfile} is not writable by this user" in (
        done.stderr
    )


def test_label_values_are_escaped() -> None:
    text = render(
        RunMetrics(
            timestamp=1.5,
            duration=0.25,
            exit_code=0,
            commit='a"b\\c\nd',
            node="n",
            environment="e",
        )
    )
    assert 'commit="a\\"b\\\\c\\nd"' in text
    m = parse(text)
    assert info_labels(m)["commit"] == 'a"b\\c\nd'
    assert value(m, "last_run_timestamp_seconds") == 1.5
