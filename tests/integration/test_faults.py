"""Faults injected into the real stages: crashes mid-write, a failing or vanishing warehouse,
corrupt Parquet, a day run before its previous day's state exists, events later than the tolerance.

Crashes are real: the real CLI runs in a subprocess (tests/integration/crash_runner.py) that dies
with os._exit(137) at one write, like a worker killed by SIGKILL or the OOM killer. Afterwards
no half-written file is visible, and the retry rebuilds exactly what an uninterrupted run wrote.
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
from contextlib import ExitStack
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from include.scoring.context import RunContext
from include.scoring.core.errors import StateError, WarehouseError
from include.scoring.core.settings import Settings
from include.scoring.lake import catalog
from include.scoring.lake.store import days_between
from include.scoring.publish.warehouse import TABLES
from include.scoring.runner import STAGES, run_range
from include.scoring.validate.stage import validate_stage
from tests.conftest import ROOT, pg_database
from tests.integration.throwaway_pg import ThrowawayPostgres

pytestmark = pytest.mark.integration
LAKE_STAGES = STAGES[:4]  # extract, validate, resolve, score: publish writes the warehouse only
STAGE = {s.name: s for s in STAGES}
NEXT = {"extract": "validate", "validate": "resolve", "resolve": "score", "score": "done"}
STATE_SETS = ("state", "state_ledger", "state_persons", "state_bonus")
SCORE_SETS = ("scores", "contributions", "changes", "daily_points")


# Helpers -------------------------------------------------------------------------------------------
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


def remove_partitions(lake: Path, days: list[date], keep: tuple[str, ...] = ()) -> None:
    """Delete the dt=D folders of `days` in every dataset whose path does not start with `keep`."""
    names = {f"dt={d.isoformat()}" for d in days}
    for folder in sorted(lake.rglob("dt=*")):
        rel = folder.relative_to(lake).as_posix()
        if folder.name in names and not rel.startswith(keep):
            shutil.rmtree(folder)


def dump(url: str) -> dict[str, list]:
    engine = sa.create_engine(url)
    out = {}
    with engine.connect() as conn:
        for table in TABLES:
            rows = conn.execute(sa.text(f'SELECT * FROM "{table}"')).fetchall()  # our own table names
            out[table] = sorted(tuple(None if isinstance(v, float) and v != v else v for v in r) for r in rows)
    engine.dispose()
    return out


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


@pytest.fixture(scope="module")
def staged(small_sample, tmp_path_factory) -> Staged:
    root = tmp_path_factory.mktemp("faults")
    st = Staged(small_sample, root)
    work = root / "work"
    ctx = RunContext(settings_for(small_sample, work))
    run_range(ctx, st.first, st.day - timedelta(days=1), stages=LAKE_STAGES, echo=lambda _: None)
    for stage in LAKE_STAGES:
        st.snap[stage.name] = copy_lake(work, root / f"before-{stage.name}")
        stage.run(ctx, st.day)
    st.snap["done"] = copy_lake(work, root / "done")
    return st


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


# 4. Corrupt Parquet in the lake -------------------------------------------------------------------------
def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble_pages(path: Path) -> None:
    data = bytearray(path.read_bytes())
    middle = len(data) // 3
    data[middle : middle + 200] = bytes(b ^ 0xFF for b in data[middle : middle + 200])
    path.write_bytes(bytes(data))


def _garble_footer(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:-300] + b"\x17" * 292 + data[-8:])


CORRUPTIONS = [
    pytest.param(
        "resolved", 0, "part-00000-of-00001.parquet", _truncate, ["score"], id="resolved-truncated-read-by-score"
    ),
    pytest.param(
        "raw/web",
        0,
        "part-00000.parquet",
        _garble_pages,
        ["validate", "--source", "web"],
        id="raw-garbled-read-by-validate",
    ),
    pytest.param(
        "raw/web",
        1,
        "part-00000.parquet",
        _truncate,
        ["validate", "--source", "web"],
        id="previous-raw-truncated-read-by-volume-check",
    ),
    pytest.param(
        "state",
        1,
        "part-00000-of-00001.parquet",
        _garble_footer,
        ["score"],
        id="previous-state-footer-garbled-read-by-score",
    ),
    pytest.param(
        "scores", 0, "part-00000-of-00001.parquet", _truncate, ["publish"], id="scores-truncated-read-by-publish"
    ),
]


@pytest.mark.parametrize(("dataset", "days_back", "name", "corrupt", "command"), CORRUPTIONS)
def test_corrupt_parquet_is_an_error_naming_the_file(staged, tmp_path, dataset, days_back, name, corrupt, command):
    lake = copy_lake(staged.lake_after("score"), tmp_path / "lake")
    day = staged.day - timedelta(days=days_back)
    path = lake / dataset / f"dt={day.isoformat()}" / name
    corrupt(path)
    out = run_cli(
        settings_for(staged.sample, lake, f"sqlite:///{tmp_path / 'wh.sqlite'}"),
        command[0],
        "--date",
        staged.day.isoformat(),
        *command[1:],
    )
    assert out.returncode == 1, out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    assert f"error: lake file {path} is unreadable or corrupt" in out.stderr, out.stderr[-3000:]
    assert f"Re-run the stage that writes '{dataset}' for {day}" in out.stderr


# 5. A day run before its previous day's state exists -----------------------------------------------------
def _score_outputs(lake: Path, days: list[date], datasets=SCORE_SETS) -> dict:
    return {
        k: v
        for k, v in tree(lake).items()
        if any(k.startswith(f"{d}/dt={day.isoformat()}/") for d in datasets for day in days)
    }


@pytest.mark.parametrize("lost", ["previous-day", "all"])
def test_lost_state_is_replayed_from_the_last_checkpoint_and_equals_the_in_order_run(staged, tmp_path, lost, caplog):
    lake = copy_lake(staged.lake_before("score"), tmp_path / "lake")
    day, prev = staged.day, staged.day - timedelta(days=1)
    lost_days = [prev] if lost == "previous-day" else days_between(staged.first, prev)
    for dataset in STATE_SETS:
        for d in lost_days:
            shutil.rmtree(lake / dataset / f"dt={d.isoformat()}")
    ctx = RunContext(settings_for(staged.sample, lake))
    with caplog.at_level("WARNING"):
        (result,) = STAGE["score"].run(ctx, day)
    replayed_from = prev if lost == "previous-day" else staged.first
    assert result.details["mode"].startswith(
        f"replayed {(day - replayed_from).days} day(s) from {replayed_from} (state of {prev} missing)"
    ), result.details["mode"]
    assert f"state of {prev} is missing: replaying" in caplog.text
    days = days_between(replayed_from, day)
    assert_same_tree(_score_outputs(lake, days), _score_outputs(staged.lake_after("score"), days))
    assert_same_tree(
        _score_outputs(lake, [day], STATE_SETS), _score_outputs(staged.lake_after("score"), [day], STATE_SETS)
    )


@pytest.mark.parametrize("never_ran", ["previous-day", "every-earlier-day"])
def test_a_day_whose_earlier_days_never_ran_is_refused_and_the_advised_run_matches(staged, tmp_path, never_ran):
    """Earlier days were extracted and validated, never resolved or scored: scoring D would start
    from nothing (or skip a day). The stage refuses, names the days and the command to run."""
    lake = copy_lake(staged.lake_before("score"), tmp_path / "lake")
    day, prev = staged.day, staged.day - timedelta(days=1)
    missing = [prev] if never_ran == "previous-day" else days_between(staged.first, prev)
    remove_partitions(lake, missing, keep=("raw/", "valid/", "quarantine/", "validation/", "event_ids/", "reference/"))
    settings = settings_for(staged.sample, lake, f"sqlite:///{tmp_path / 'wh.sqlite'}")
    ctx = RunContext(settings)
    with pytest.raises(StateError) as refused:
        STAGE["score"].run(ctx, day)
    advice = f"python -m include.scoring run --start {missing[0]} --end {day}"
    assert advice in str(refused.value) and str(missing[0]) in str(refused.value)
    assert not (lake / "scores" / f"dt={day.isoformat()}").exists(), "nothing of D may be written when refused"

    out = run_cli(settings, "score", "--date", day.isoformat())
    assert out.returncode == 1 and "Traceback" not in out.stderr and advice in out.stderr, out.stderr[-3000:]

    run_range(ctx, missing[0], day, stages=LAKE_STAGES, echo=lambda _: None)  # what the message says to do
    days = days_between(staged.first, day)
    assert_same_tree(_score_outputs(lake, days), _score_outputs(staged.lake_after("score"), days))


# 6. Events later than the tolerance ------------------------------------------------------------------------
def test_events_outside_the_lateness_window_are_quarantined_with_their_reason(small_sample, tmp_path):
    landing = tmp_path / "landing"
    shutil.copytree(small_sample.out / "landing", landing)
    day = small_sample.start + timedelta(days=3)
    ctx = RunContext(
        Settings(
            landing=str(landing),
            crm_url=small_sample.crm_url,
            lake=str(tmp_path / "lake"),
            warehouse_url="sqlite://",
            config_path=None,
        )
    )
    late = ctx.config.validation.late_arrival_days
    folder = landing / "web" / day.isoformat()
    template = pd.read_csv(sorted(folder.glob("*.csv"))[0], dtype=str).iloc[0]
    window_start = pd.Timestamp(day, tz="UTC") - pd.Timedelta(days=late)
    times = {
        "late-by-a-day": window_start - pd.Timedelta(days=1),
        "late-by-a-microsecond": window_start - pd.Timedelta(microseconds=1),
        "first-instant-in-window": window_start,
        "last-instant-of-the-day": pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1) - pd.Timedelta(microseconds=1),
        "after-the-interval": pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=1),
        "a-week-ahead": pd.Timestamp(day, tz="UTC") + pd.Timedelta(days=8),
    }
    rows = pd.DataFrame([template] * len(times))
    rows["event_id"] = [f"w-lateness-{name}" for name in times]
    rows["event_time"] = [t.strftime("%Y-%m-%dT%H:%M:%S.%fZ") for t in times.values()]
    rows.to_csv(folder / "web-lateness.csv", index=False)

    STAGE["extract"].run(ctx, day)
    (result,) = validate_stage(ctx, day, ["web"])
    assert not result.failed
    valid = ctx.lake.read_df(catalog.valid("web"), day)
    quarantine = ctx.lake.read_df(catalog.quarantine("web"), day).set_index("event_id")
    outside = {
        f"w-lateness-{n}" for n in ("late-by-a-day", "late-by-a-microsecond", "after-the-interval", "a-week-ahead")
    }
    inside = {f"w-lateness-{n}" for n in ("first-instant-in-window", "last-instant-of-the-day")}
    assert outside <= set(quarantine.index) and not outside & set(valid["event_id"])
    for event_id in outside:
        assert quarantine.loc[event_id, "failed_checks"] == "event_time_in_window", (
            event_id,
            quarantine.loc[event_id, "failed_checks"],
        )
        assert quarantine.loc[event_id, "source_file"].endswith("web-lateness.csv")
    assert inside <= set(valid["event_id"]) and not inside & set(quarantine.index)
    assert len(valid) + len(quarantine) == ctx.lake.row_count(catalog.raw("web"), day)  # nothing lost
