"""Faults injected into the real stages: crashes mid-write, a failing or vanishing warehouse
(corrupt files, missing state and late events: test_faults_inputs.py).

Crashes are real: the real CLI runs in a subprocess (tests/integration/crash_runner.py) that dies
with os._exit(137) at one write, like a worker killed by SIGKILL or the OOM killer. Afterwards
no half-written file is visible, and the retry rebuilds exactly what an uninterrupted run wrote
(lakes compared as tests/integration/faults.py says).
"""

from __future__ import annotations

from contextlib import ExitStack
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from include.scoring.context import RunContext
from include.scoring.core.errors import WarehouseError
from include.scoring.lake import catalog
from include.scoring.lake.store import days_between
from include.scoring.publish.tables import TABLES
from tests.conftest import pg_database
from tests.integration.faults import (
    STAGE,
    Staged,
    assert_same_tree,
    build_staged,
    copy_lake,
    hidden,
    run_cli,
    settings_for,
    tree,
)
from tests.integration.throwaway_pg import ThrowawayPostgres

pytestmark = pytest.mark.integration


def dump(url: str) -> dict[str, list]:
    engine = sa.create_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in TABLES:
            rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).fetchall()  # our own table names
            out[table] = sorted(tuple(None if isinstance(v, float) and v != v else v for v in r) for r in rows)
    engine.dispose()
    return out


@pytest.fixture(scope="module")
def staged(small_sample, tmp_path_factory) -> Staged:
    """Built once per module; tests copy the snapshots before changing anything."""
    return build_staged(small_sample, tmp_path_factory.mktemp("faults"))


# 1. A crash in the middle of each stage's writes ----------------------------------------------------
CRASHES = [
    # stage, the partitions of D exist already (a re-run is replacing them), where, which occurrence
    pytest.param("extract", False, "mid-file", 5, id="extract-first-run-mid-file"),
    pytest.param("extract", True, "swap", 2, id="extract-rerun-mid-swap"),
    pytest.param("validate", False, "mid-file", 6, id="validate-first-run-mid-file"),
    pytest.param("validate", True, "swap", 2, id="validate-rerun-mid-swap-with-side-files"),
    pytest.param("resolve", False, "mid-file", 5, id="resolve-first-run-mid-shard-part"),
    pytest.param("resolve", True, "swap", 1, id="resolve-rerun-mid-swap"),
    pytest.param("score", False, "mid-file", 3, id="score-first-run-mid-outputs"),
    pytest.param("score", False, "mid-file", 7, id="score-first-run-mid-state"),
    pytest.param("score", True, "mid-file", 4, id="score-rerun-mid-part"),
]


@pytest.mark.parametrize(("stage", "rerun", "mode", "n"), CRASHES)
def test_crash_mid_write_leaves_no_partial_partition_and_the_retry_is_identical(
    staged, tmp_path, stage, rerun, mode, n
):
    day = staged.day
    start = staged.lake_after(stage) if rerun else staged.lake_before(stage)
    expected = tree(staged.lake_after(stage))
    before = tree(start)
    lake = copy_lake(start, tmp_path / "lake")
    settings = settings_for(staged.sample, lake)

    crashed = run_cli(settings, stage, "--date", day.isoformat(), crash=(mode, n))
    assert crashed.returncode == 137, (
        f"the injected crash did not happen (status {crashed.returncode}):\n{crashed.stderr[-3000:]}"
    )

    after = tree(lake)
    leftovers = sorted(rel for rel in after if hidden(rel))
    assert leftovers, "a crash mid-write should leave its temporary file behind (else nothing was interrupted)"
    for rel, content in after.items():
        if hidden(rel):
            continue
        # every visible file is a complete version: the one before the crash or the one of a clean run
        assert content in (before.get(rel), expected.get(rel)), f"{rel} is visible in a state no clean run produces"
    for rel in before:
        if f"dt={day.isoformat()}" not in rel:
            assert after.get(rel) == before[rel], f"{rel} of another day was changed by the crash"

    ctx = RunContext(settings)
    for partition in {r.split("/dt=")[0] for r in after if not hidden(r) and f"dt={day.isoformat()}" in r}:
        dataset = catalog.CATALOG[partition]
        if ctx.lake.exists(dataset, day):  # a visible partition reads whole (or reads as missing)
            ctx.lake.read(dataset, day)

    STAGE[stage].run(ctx, day)  # the retry (Airflow clears the task; here the same stage function)
    assert_same_tree(tree(lake), expected)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_crash_mid_publish_commits_nothing_and_the_retry_matches_a_clean_run(staged, tmp_path, request, kind):
    target, reference = _two_warehouses(request, tmp_path, kind)
    lake = staged.lake_after("score")
    days = days_between(staged.first, staged.day)
    ctx = RunContext(settings_for(staged.sample, lake, target))
    _publish(ctx, reference, days)
    _publish(ctx, target, days[:-1])
    before = dump(target)

    crashed = run_cli(ctx.settings, "publish", "--date", staged.day.isoformat(), crash=("warehouse", 2))
    assert crashed.returncode == 137, crashed.stderr[-3000:]
    assert dump(target) == before  # the killed transaction left nothing behind

    _publish(ctx, target, days[-1:])
    assert dump(target) == dump(reference)


# 2. The warehouse transaction rolls back --------------------------------------------------------------
def _publish(ctx: RunContext, url: str, days: list[date]) -> None:
    from include.scoring.publish.stage import publish_warehouse

    for day in days:
        publish_warehouse(ctx.lake, ctx.config, url, day)


def _two_warehouses(request, tmp_path: Path, kind: str) -> tuple[str, str]:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'target.sqlite'}", f"sqlite:///{tmp_path / 'reference.sqlite'}"
    target = request.getfixturevalue("pg_url")
    stack = ExitStack()
    request.addfinalizer(stack.close)
    reference = stack.enter_context(pg_database("engagement_ref"))
    return target, reference


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_failure_after_some_writes_rolls_the_whole_day_back(staged, tmp_path, request, monkeypatch, kind):
    import include.scoring.publish.stage as publish

    target, reference = _two_warehouses(request, tmp_path, kind)
    days = days_between(staged.first, staged.day)
    ctx = RunContext(settings_for(staged.sample, staged.lake_after("score"), target))
    _publish(ctx, reference, days)
    _publish(ctx, target, days[:-1])
    before = dump(target)

    real_upsert, calls = publish.upsert, []

    def upsert(conn, table, *args, **kwargs):
        calls.append(table.name)
        if table.name == "pipeline_runs":  # the day's last write: history, scores, resets, alerts, explanations done
            raise RuntimeError("injected failure in the last write")
        return real_upsert(conn, table, *args, **kwargs)

    monkeypatch.setattr(publish, "upsert", upsert)
    with pytest.raises(RuntimeError, match="injected failure"):
        publish.publish_warehouse(ctx.lake, ctx.config, target, staged.day)
    assert calls == ["account_scores", "score_resets", "pipeline_runs"]
    assert dump(target) == before

    monkeypatch.setattr(publish, "upsert", real_upsert)
    _publish(ctx, target, days[-1:])
    assert dump(target) == dump(reference)


# 3. PostgreSQL stopped during publish ------------------------------------------------------------------
@pytest.fixture
def throwaway_pg():
    server = ThrowawayPostgres()
    try:
        server.start()
        yield server
    finally:
        server.destroy()


def test_postgres_stopped_mid_publish_is_a_clear_failure_and_the_retry_after_restart_succeeds(
    staged, throwaway_pg, monkeypatch
):
    import include.scoring.publish.stage as publish

    pg = throwaway_pg
    pg.create_database("warehouse")
    pg.create_database("reference")
    password = "pw-never-shown-7f3a"
    target, reference = pg.url("warehouse", password=password), pg.url("reference")
    days = days_between(staged.first, staged.day)
    ctx = RunContext(settings_for(staged.sample, staged.lake_after("score"), target))
    _publish(ctx, reference, days)
    _publish(ctx, target, days[:-1])
    before = dump(target)

    real_insert_missing = publish.insert_missing

    def stop_then_insert(*args, **kwargs):  # the server goes down after the day's first writes
        pg.stop("fast")
        return real_insert_missing(*args, **kwargs)

    monkeypatch.setattr(publish, "insert_missing", stop_then_insert)
    with pytest.raises(WarehouseError) as failure:
        publish.publish_warehouse(ctx.lake, ctx.config, target, staged.day)
    message = str(failure.value)
    assert password not in message
    assert f"postgres:***@127.0.0.1:{pg.port}/warehouse" in message
    assert "Nothing of this write was committed" in message and "clear the task to retry" in message
    monkeypatch.setattr(publish, "insert_missing", real_insert_missing)

    down = run_cli(ctx.settings, "publish", "--date", staged.day.isoformat())  # what the task sees while it is down
    assert down.returncode == 1 and "Traceback" not in down.stderr, down.stderr[-3000:]
    assert (
        f"error: warehouse postgresql+psycopg://postgres:***@127.0.0.1:{pg.port}/warehouse is unreachable"
        in down.stderr
    )
    assert password not in down.stderr + down.stdout

    pg.start()
    assert dump(target) == before
    _publish(ctx, target, days[-1:])  # the retry
    assert dump(target) == dump(reference)
