"""Several days at once: parallel processes against one lake and one warehouse, compared with a
serial run.

What may run concurrently (see the engagement_daily doc_md): extract of different days is
stateless; validate of day D reads earlier days' raw counts (volume baseline) and event ids
(duplicates across days), so it runs after those days' extract and validate; publish of D reads
earlier days' pipeline_runs for the quality-gate baseline. Resolve and score build on D-1
(person graph, scoring state): never concurrently across days. The shards of one day are written
concurrently by mapped tasks.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from include.scoring.context import RunContext
from include.scoring.core.settings import Settings
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake, days_between
from include.scoring.publish.tables import TABLES
from include.scoring.runner import STAGES, run_range
from include.scoring.validate.report import REUSED_WARNING
from tests.conftest import ROOT, pg_database

pytestmark = pytest.mark.integration
GATE_COLUMNS = {"gate_status", "gate_reasons"}
PUBLISH = """
import sys
from datetime import date
from include.scoring.core.errors import PipelineError
from include.scoring.context import RunContext
from include.scoring.publish.stage import publish_warehouse
from include.scoring.core.settings import Settings
ctx = RunContext(Settings.from_env())
try:
    print(publish_warehouse(ctx.lake, ctx.config, ctx.settings.warehouse_url, date.fromisoformat(sys.argv[1])).line())
except PipelineError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(1)
"""


def env_for(sample, lake: Path, warehouse_url: str = "sqlite://") -> dict[str, str]:
    env = os.environ.copy()
    env.update(
        PYTHONPATH=str(ROOT),
        ENGAGEMENT_LANDING=str(sample.out / "landing"),
        ENGAGEMENT_CRM_URL=sample.crm_url,
        ENGAGEMENT_LAKE=str(lake),
        ENGAGEMENT_WAREHOUSE_URL=warehouse_url,
    )
    return env


def parallel(commands: list[list[str]], env: dict[str, str]) -> list[subprocess.CompletedProcess]:
    procs = [
        subprocess.Popen(
            [sys.executable, *c], cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for c in commands
    ]
    out = []
    for cmd, proc in zip(commands, procs):
        stdout, stderr = proc.communicate(timeout=600)
        out.append(subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr))
    return out


def lake_files(root: Path) -> dict[str, object]:
    """Parquet bytes and side files; order-dependent notes of the CRM reuse are left out (a
    validation reused from the day before records that it was: a run without it validates afresh)."""
    out = {}
    for path in sorted(root.rglob("*")):
        if path.is_dir():
            continue
        rel = path.relative_to(root).as_posix()
        if path.name == "data_docs.html":
            out[rel] = "<rendered html>"  # GX stamps its render time and random ids
        elif path.name == "summary.json":
            summary = json.loads(path.read_text())
            for key in ("data_docs", "reused_from"):
                summary.pop(key, None)
            summary["warnings"] = [w for w in summary["warnings"] if not w.startswith(REUSED_WARNING)]
            out[rel] = summary
        else:
            out[rel] = path.read_bytes()
    return out


def assert_same(actual: dict, expected: dict) -> None:
    missing, extra = sorted(expected.keys() - actual.keys()), sorted(actual.keys() - expected.keys())
    differ = sorted(k for k in expected.keys() & actual.keys() if actual[k] != expected[k])
    assert not (missing or extra or differ), f"missing {missing[:10]}, unexpected {extra[:10]}, different {differ[:10]}"


@pytest.fixture(scope="module")
def serial(small_sample, tmp_path_factory):
    """The first four days through every lake stage, one after the other."""
    root = tmp_path_factory.mktemp("serial")
    days = days_between(small_sample.start, small_sample.start + timedelta(days=3))
    ctx = RunContext(
        Settings(
            landing=str(small_sample.out / "landing"),
            crm_url=small_sample.crm_url,
            lake=str(root / "lake"),
            warehouse_url="sqlite://",
            config_path=None,
        )
    )
    run_range(ctx, days[0], days[-1], stages=STAGES[:2], echo=lambda _: None)
    validated = lake_files(root / "lake")
    run_range(ctx, days[0], days[-1], stages=STAGES[2:4], echo=lambda _: None)
    return days, root / "lake", validated


def test_extract_and_validate_of_several_days_at_once_match_the_serial_run(small_sample, serial, tmp_path):
    days, _, expected = serial
    env = env_for(small_sample, tmp_path / "lake")
    for stage in ("extract", "validate"):  # every day's extract at once, then every day's validate
        results = parallel([["-m", "include.scoring", stage, "--date", d.isoformat()] for d in days], env)
        for r in results:
            assert r.returncode == 0, f"{r.args}: {r.stderr[-3000:]}"
    assert_same(lake_files(tmp_path / "lake"), expected)
    assert not [p for p in (tmp_path / "lake").rglob("_*")], "temporary files left behind"


def test_a_reused_crm_validation_notes_its_source_once(serial):
    days, lake, _ = serial
    summary = json.loads(Lake(str(lake)).read_side_file(catalog.validation("crm/accounts"), days[-1], "summary.json"))
    assert summary["reused_from"] == days[-2].isoformat()
    assert [w for w in summary["warnings"] if w.startswith(REUSED_WARNING)] == [
        f"{REUSED_WARNING}{days[-2]}: that day's validation reused"
    ]


def test_shards_of_one_partition_written_at_once_never_break_each_other(tmp_path):
    """Mapped resolve/score tasks write the parts of one partition concurrently, again and again."""
    script = (
        "import sys, pyarrow as pa\nfrom datetime import date\nfrom include.scoring.lake.store import Lake\nfrom "
        "include.scoring.lake.catalog import RESOLVED\n"
        "lake, shard = Lake(sys.argv[1]), int(sys.argv[2])\n"
        "table = pa.table({'shard': [shard] * 200_000, 'x': list(range(200_000))})\n"
        "for i in range(25):\n    lake.write_part(RESOLVED, date(2026, 11, 18), shard, 3, table)\n"
    )
    results = parallel([["-c", script, str(tmp_path), str(shard)] for shard in range(3)], env_for_lake_only())
    for r in results:
        assert r.returncode == 0, r.stderr[-3000:]
    table = Lake(str(tmp_path)).read(catalog.RESOLVED, date(2026, 11, 18))
    assert table.num_rows == 600_000 and sorted(set(table.column("shard").to_pylist())) == [0, 1, 2]
    assert not list((tmp_path / "resolved").rglob("_*"))


def env_for_lake_only() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": str(ROOT)}


def dump(url: str) -> dict[str, list]:
    engine = sa.create_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in TABLES:
            result = conn.execute(sa.text(f'SELECT * FROM "{table}"'))  # our own table names
            keep = [i for i, c in enumerate(result.keys()) if c not in GATE_COLUMNS]
            out[table] = sorted(
                tuple(None if isinstance(r[i], float) and r[i] != r[i] else r[i] for i in keep)
                for r in result.fetchall()
            )
    engine.dispose()
    return out


def test_publish_of_several_days_at_once_to_postgresql_matches_the_serial_run(small_sample, serial, pg_url, request):
    """A fresh warehouse, four days published at once (schema creation races included). The quality
    gate of D compares D with the days published before it, so its verdict depends on the order
    (`only N earlier published day(s)`); everything else must equal the serial result."""
    days, lake, _ = serial
    reference = _second_database(request)
    ctx = RunContext(
        Settings(
            landing=str(small_sample.out / "landing"),
            crm_url=small_sample.crm_url,
            lake=str(lake),
            warehouse_url=reference,
            config_path=None,
        )
    )
    from include.scoring.publish.stage import publish_warehouse

    for day in days:
        publish_warehouse(ctx.lake, ctx.config, reference, day)
    results = parallel([["-c", PUBLISH, d.isoformat()] for d in days], env_for(small_sample, lake, pg_url))
    for r in results:
        assert r.returncode == 0, f"{r.args[-1]}: {r.stderr[-3000:]}"
    assert dump(pg_url) == dump(reference)


def test_sqlite_is_single_writer_concurrent_publishes_fail_clearly_and_a_retry_completes(
    small_sample, serial, tmp_path
):
    """SQLite (the local default) takes one writer at a time: a publish that meets another one
    mid-transaction may fail with `database is locked` (or a schema race on a fresh file). It must
    fail as a WarehouseError-style message, commit nothing, and succeed when retried."""
    days, lake, _ = serial
    url, reference = f"sqlite:///{tmp_path / 'wh.sqlite'}", f"sqlite:///{tmp_path / 'reference.sqlite'}"
    env = env_for(small_sample, lake, url)
    results = parallel([["-c", PUBLISH, d.isoformat()] for d in days], env)
    failed = [r.args[-1] for r in results if r.returncode != 0]
    for r in results:
        assert "Traceback" not in r.stderr, r.stderr[-3000:]
        assert r.returncode == 0 or r.stderr.startswith("error: warehouse sqlite:///"), r.stderr[-3000:]
    for day in sorted(failed):
        retry = subprocess.run(
            [sys.executable, "-c", PUBLISH, day], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
        )
        assert retry.returncode == 0, retry.stderr[-3000:]
    ref_env = env_for(small_sample, lake, reference)
    for day in days:
        subprocess.run(
            [sys.executable, "-c", PUBLISH, day.isoformat()],
            cwd=ROOT,
            env=ref_env,
            check=True,
            capture_output=True,
            timeout=300,
        )
    assert dump(url) == dump(reference)


def _second_database(request) -> str:
    stack = ExitStack()
    request.addfinalizer(stack.close)
    url = stack.enter_context(pg_database("engagement_ref"))
    return url
