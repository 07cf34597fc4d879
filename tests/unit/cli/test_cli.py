"""The command line: --help everywhere, exit status 0 / 1 / 2, no traceback for user mistakes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from include.scoring.cli.parser import build_parser

ROOT = Path(__file__).resolve().parents[3]


def cli(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "include.scoring", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        timeout=300,
    )


def commands() -> list[str]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    return sorted(sub.choices)


def test_every_command_has_help():
    names = commands()
    assert {"generate", "extract", "run", "demo"} <= set(names)
    for name in names:
        out = cli(name, "--help")
        assert out.returncode == 0, (name, out.stderr)
        assert "usage:" in out.stdout and "--" in out.stdout


def test_usage_error_exits_2():
    out = cli("extract", "--date", "2026-02-30")
    assert out.returncode == 2 and "is not a date" in out.stderr
    out = cli("nonsense")
    assert out.returncode == 2
    out = cli("run", "--start", "2026-05-06", "--end", "2026-05-05")  # was 1 (SystemExit with a message)
    assert out.returncode == 2 and "--end 2026-05-05 is before --start 2026-05-06" in out.stderr
    assert "Traceback" not in out.stderr


def test_extract_without_source_attempts_every_source_and_reports_every_failure(tmp_path):
    """It stopped at the first broken source and never extracted the others."""
    for source, header in (("web", "event_id,event_time\nw1,2026-05-06T10:00:00Z\n"), ("email", "event_id\ne1\n")):
        folder = tmp_path / "landing" / source / "2026-05-06"
        folder.mkdir(parents=True)
        (folder / "x.csv").write_text(header)
    out = cli(
        "extract",
        "--date",
        "2026-05-06",
        "--landing",
        str(tmp_path / "landing"),
        "--lake",
        str(tmp_path / "lake"),
        "--crm-url",
        f"sqlite:///{tmp_path / 'no-crm.sqlite'}",
    )
    assert out.returncode == 1 and "Traceback" not in out.stderr
    # the landing root has no reference folder either: an error too (reverse-IP resolution would be off)
    assert "error: extract failed for 4 of 5 source(s) on 2026-05-06 (the others were extracted)" in out.stderr
    for source in ("web", "email", "crm", "reference"):
        assert f"\n  - {source}: " in out.stderr, out.stderr
    assert "extract ad" in out.stdout
    assert (tmp_path / "lake" / "raw" / "ad" / "dt=2026-05-06").is_dir()


def test_data_error_exits_1_with_a_message_not_a_traceback(tmp_path):
    landing = tmp_path / "landing" / "web" / "2026-05-06"
    landing.mkdir(parents=True)
    (landing / "x.csv").write_text("event_id,event_time\nw1,2026-05-06T10:00:00Z\n")
    out = cli(
        "extract",
        "--date",
        "2026-05-06",
        "--source",
        "web",
        "--landing",
        str(tmp_path / "landing"),
        "--lake",
        str(tmp_path / "lake"),
    )
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.startswith("error: web landing file") and "lacks contract column(s)" in out.stderr


def test_bad_config_is_a_usage_error(tmp_path):
    bad = tmp_path / "c.yaml"
    bad.write_text("version: x\nsignalz: []\n")
    out = cli(
        "run", "--start", "2026-05-06", "--end", "2026-05-06", "--config", str(bad), "--lake", str(tmp_path / "lake")
    )
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "signalz: unknown key; allowed keys here:" in out.stderr and "signals" in out.stderr
    assert not (tmp_path / "lake").exists()


@pytest.mark.parametrize("var,value", [("ENGAGEMENT_LAKE", "/tmp/from-env-lake")])
def test_options_default_from_the_environment(var, value, monkeypatch):
    monkeypatch.setenv(var, value)
    from include.scoring.core.settings import Settings

    assert Settings.from_env().lake == value
    assert Settings.from_env(lake="/explicit").lake == "/explicit"


def test_generate_and_extract_through_the_cli(tmp_path):
    out = cli(
        "generate",
        "--out",
        str(tmp_path / "s"),
        "--accounts",
        "15",
        "--days",
        "2",
        "--end-date",
        "2026-04-02",
        "--seed",
        "5",
    )
    assert out.returncode == 0, out.stderr
    assert "Generated 15 accounts" in out.stdout
    out = cli(
        "extract",
        "--date",
        "2026-04-02",
        "--landing",
        str(tmp_path / "s" / "landing"),
        "--crm-url",
        f"sqlite:///{tmp_path / 's' / 'crm.sqlite'}",
        "--lake",
        str(tmp_path / "lake"),
    )
    assert out.returncode == 0, out.stderr
    assert "extract web" in out.stdout and "extract crm/opportunities" in out.stdout
    assert (tmp_path / "lake" / "raw" / "crm" / "contacts" / "dt=2026-04-02" / "part-00000.parquet").exists()
