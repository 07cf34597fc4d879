"""Faults in what the stages read: corrupt Parquet, a day run before its previous day's state
exists, events later than the tolerance (crashes and a failing warehouse: test_faults.py).

Each ends in a clear error (through the real CLI: one line naming the file or the command to run,
no traceback) or is handled: lost state is replayed, late events are quarantined with their reason.
"""

from __future__ import annotations

import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from include.scoring.context import RunContext
from include.scoring.core.errors import StateError
from include.scoring.core.settings import Settings
from include.scoring.lake import catalog
from include.scoring.lake.store import days_between
from include.scoring.runner import run_range
from include.scoring.validate.stage import validate_stage
from tests.integration.faults import (
    LAKE_STAGES,
    STAGE,
    Staged,
    assert_same_tree,
    build_staged,
    copy_lake,
    run_cli,
    settings_for,
    tree,
)

pytestmark = pytest.mark.integration
STATE_SETS = ("state", "state_ledger", "state_persons", "state_bonus")
SCORE_SETS = ("scores", "contributions", "changes", "daily_points")


def remove_partitions(lake: Path, days: list[date], keep: tuple[str, ...] = ()) -> None:
    """Delete the dt=D folders of `days` in every dataset whose path does not start with `keep`."""
    names = {f"dt={d.isoformat()}" for d in days}
    for folder in sorted(lake.rglob("dt=*")):
        rel = folder.relative_to(lake).as_posix()
        if folder.name in names and not rel.startswith(keep):
            shutil.rmtree(folder)


@pytest.fixture(scope="module")
def staged(small_sample, tmp_path_factory) -> Staged:
    """Built once per module; tests copy the snapshots before changing anything."""
    return build_staged(small_sample, tmp_path_factory.mktemp("faults"))


# 1. Corrupt Parquet in the lake -------------------------------------------------------------------------
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


# 2. A day run before its previous day's state exists -----------------------------------------------------
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


# 3. Events later than the tolerance ------------------------------------------------------------------------
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
    (result,) = validate_stage(ctx, day, ["web"])  # a failed batch raises: the day validates
    valid = ctx.lake.read_df(catalog.valid("web"), day)
    quarantine = ctx.lake.read_df(catalog.quarantine("web"), day).set_index("event_id")
    outside = {
        f"w-lateness-{n}" for n in ("late-by-a-day", "late-by-a-microsecond", "after-the-interval", "a-week-ahead")
    }
    inside = {f"w-lateness-{n}" for n in ("first-instant-in-window", "last-instant-of-the-day")}
    assert result.breakdowns["quarantined_by_check"]["event_time_in_window"] >= len(outside)
    assert outside <= set(quarantine.index) and not outside & set(valid["event_id"])
    for event_id in outside:
        assert quarantine.loc[event_id, "failed_checks"] == "event_time_in_window", (
            event_id,
            quarantine.loc[event_id, "failed_checks"],
        )
        assert quarantine.loc[event_id, "source_file"].endswith("web-lateness.csv")
    assert inside <= set(valid["event_id"]) and not inside & set(quarantine.index)
    assert len(valid) + len(quarantine) == ctx.lake.row_count(catalog.raw("web"), day)  # nothing lost
