"""Shared by the fault-injection tests (test_faults.py, test_faults_inputs.py): the staged lake of
day D, the real CLI in a subprocess (optionally killed at one write by tests/integration/crash_runner.py)
and lake comparisons.

Lakes are compared file by file, byte for byte, except two things that are not data: the Data
Docs HTML (Great Expectations stamps its render time and random ids into it) and the `data_docs`
path in a validation summary (it names the lake's own folder).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from include.scoring.context import RunContext
from include.scoring.core.settings import Settings
from include.scoring.runner import STAGES, run_range
from tests.conftest import ROOT

LAKE_STAGES = STAGES[:4]  # extract, validate, resolve, score: publish writes the warehouse only
STAGE = {s.name: s for s in STAGES}
NEXT = {"extract": "validate", "validate": "resolve", "resolve": "score", "score": "done"}


def settings_for(sample, lake: Path, warehouse_url: str = "sqlite://") -> Settings:
    return Settings(
        landing=str(sample.out / "landing"),
        crm_url=sample.crm_url,
        lake=str(lake),
        warehouse_url=warehouse_url,
        config_path=None,
    )


def tree(root: Path) -> dict[str, object]:
    """Every file under a lake, by relative path (see the module docstring for the two exceptions)."""
    out: dict[str, object] = {}
    for path in sorted(root.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(root).as_posix()
        if path.name == "data_docs.html":
            out[rel] = "<rendered html>"
        elif path.name == "summary.json":
            summary = json.loads(path.read_text())
            summary.pop("data_docs", None)
            out[rel] = summary
        else:
            out[rel] = path.read_bytes()
    return out


def hidden(rel: str) -> bool:
    """A temporary or set-aside name: no reader looks at it."""
    return any(part.startswith("_") for part in rel.split("/"))


def assert_same_tree(actual: dict, expected: dict) -> None:
    missing, extra = sorted(expected.keys() - actual.keys()), sorted(actual.keys() - expected.keys())
    differ = sorted(k for k in expected.keys() & actual.keys() if actual[k] != expected[k])
    assert not (missing or extra or differ), f"missing {missing[:10]}, unexpected {extra[:10]}, different {differ[:10]}"


def copy_lake(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def cli_env(settings: Settings) -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        PYTHONPATH=str(ROOT),
        ENGAGEMENT_LANDING=settings.landing,
        ENGAGEMENT_CRM_URL=settings.crm_url,
        ENGAGEMENT_LAKE=settings.lake,
        ENGAGEMENT_WAREHOUSE_URL=settings.warehouse_url,
    )
    env.pop("ENGAGEMENT_SMTP_URL", None)
    return env


def run_cli(settings: Settings, *args: str, crash: tuple[str, int] | None = None) -> subprocess.CompletedProcess:
    prefix = (
        ["-m", "tests.integration.crash_runner", crash[0], str(crash[1]), "--"] if crash else ["-m", "include.scoring"]
    )
    return subprocess.run(
        [sys.executable, *prefix, *args], capture_output=True, text=True, cwd=ROOT, env=cli_env(settings), timeout=300
    )


# The staged lake: snapshots of day D before each stage --------------------------------------------
class Staged:
    def __init__(self, sample, root: Path):
        self.sample, self.root = sample, root
        self.first = sample.start
        self.day = sample.start + timedelta(days=3)  # a day with history: incremental scoring, volume baseline
        self.snap: dict[str, Path] = {}

    def lake_before(self, stage: str) -> Path:
        return self.snap[stage]

    def lake_after(self, stage: str) -> Path:
        return self.snap[NEXT[stage]]


def build_staged(sample, root: Path) -> Staged:
    """Run the days before D, then D stage by stage, copying the lake before each stage and at the end."""
    st = Staged(sample, root)
    work = root / "work"
    ctx = RunContext(settings_for(sample, work))
    run_range(ctx, st.first, st.day - timedelta(days=1), stages=LAKE_STAGES, echo=lambda _: None)
    for stage in LAKE_STAGES:
        st.snap[stage.name] = copy_lake(work, root / f"before-{stage.name}")
        stage.run(ctx, st.day)
    st.snap["done"] = copy_lake(work, root / "done")
    return st
