"""Validation sharded by event_id gives exactly the day a whole-day validation gives: the same
valid, quarantined and event-id rows, the same check table, summary and Data Docs."""

from __future__ import annotations

import json
import shutil
from datetime import date, timedelta

import pandas as pd
import pytest

from include.sample import generate
from include.scoring.context import RunContext
from include.scoring.core.config import load_config, parse_config
from include.scoring.core.contracts import EVENT_SOURCES, raw_schema
from include.scoring.core.errors import BatchValidationError
from include.scoring.core.settings import Settings
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake
from include.scoring.runner import STAGES, run_range
from include.scoring.validate.sharded import combine_event_shards
from include.scoring.validate.stage import validate_stage_sources

pytestmark = pytest.mark.integration
END = date(2026, 8, 20)
DAYS = (END - timedelta(days=1), END)  # the second day reads the first one's event ids (duplicates lookback)


def with_config(shards: int, **validation):
    raw = load_config().model_dump(mode="json")
    raw["scale"]["shards"] = shards
    raw["validation"].update(validation)
    return parse_config(raw)


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    """Four days of the sample with its defects (duplicates, bad values, stale times), extracted and
    validated whole: the earlier days' event ids and row counts are the same for every test."""
    tmp = tmp_path_factory.mktemp("validate_shards")
    summary = generate(tmp / "sample", accounts=40, days=4, end_date=END, seed=5, bad_rows=0.01, volume=2.0)
    settings = Settings(
        landing=str(tmp / "sample" / "landing"),
        crm_url=summary.crm_url,
        lake=str(tmp / "lake"),
        warehouse_url="sqlite://",
        config_path=None,
    )
    run_range(
        RunContext(settings),
        summary.start,
        END,
        stages=[s for s in STAGES if s.name in ("extract", "validate")],
        echo=lambda _: None,
    )
    lake = Lake(str(tmp / "lake"))
    for source in EVENT_SOURCES:  # re-sent events: copies within the last day and from the day before
        today = lake.read_df(catalog.raw(source), END)
        copies = pd.concat([today.iloc[::100], lake.read_df(catalog.raw(source), DAYS[0]).iloc[::100]])
        copies = copies.assign(source_line=copies["source_line"] + 100_000)
        lake.write_partition(catalog.raw(source), END, pd.concat([today, copies]), schema=raw_schema(source))
    return tmp / "lake"


def validate_days(lake_dir, config) -> dict:
    lake = Lake(str(lake_dir))
    out = {}
    for day in DAYS:
        for source in EVENT_SOURCES:
            try:
                (result,) = validate_stage_sources(lake, config, source, day)
                out[source, day] = (result.rows, result.valid, result.quarantined, result.warnings)
            except BatchValidationError as exc:
                out[source, day] = str(exc).replace(str(lake_dir), "ROOT")
    return out


def test_three_shards_equal_one(extracted, tmp_path):
    one, three = tmp_path / "one", tmp_path / "three"
    shutil.copytree(extracted, one)
    shutil.copytree(extracted, three)
    results_one = validate_days(one, with_config(1))
    results_three = validate_days(three, with_config(3))
    assert results_three == results_one
    a, b = Lake(str(one)), Lake(str(three))
    quarantined = 0
    for day in DAYS:
        for source in EVENT_SOURCES:
            assert sorted(p.name for p in (three / "valid" / source / f"dt={day}").iterdir()) == [
                f"part-0000{k}-of-00003.parquet" for k in range(3)
            ]
            for dataset in (catalog.valid(source), catalog.quarantine(source)):
                left, right = a.read_df(dataset, day), b.read_df(dataset, day)
                key = ["source_file", "source_line"]
                pd.testing.assert_frame_equal(
                    left.sort_values(key).reset_index(drop=True), right.sort_values(key).reset_index(drop=True)
                )
            quarantined += len(b.read_df(catalog.quarantine(source), day))
            ids = [sorted(lake.read_df(catalog.event_ids(source), day)["h"]) for lake in (a, b)]
            assert ids[0] == ids[1]
            pd.testing.assert_frame_equal(
                a.read_df(catalog.validation(source), day), b.read_df(catalog.validation(source), day)
            )
            for name in ("summary.json", "data_docs.html"):  # the Data Docs link names each lake's root
                left = a.read_side_file(catalog.validation(source), day, name).replace(str(one).encode(), b"ROOT")
                right = b.read_side_file(catalog.validation(source), day, name).replace(str(three).encode(), b"ROOT")
                assert right == left, f"{source} {day} {name}"
    assert quarantined > 0  # the sample's defects reached the quarantine (duplicates among them)
    summaries = [json.loads(b.read_side_file(catalog.validation(s), END, "summary.json")) for s in EVENT_SOURCES]
    sent = [s for s in EVENT_SOURCES if b.row_count(catalog.raw(s), END)]
    assert {"web", "ad"} <= set(sent)  # email goes out on some days only
    assert [s["source"] for s in summaries if s["rows"]] == sent
    for summary in summaries:
        if not summary["rows"]:
            continue
        counts = {c["check"]: c["unexpected_count"] for c in summary["checks"]}
        assert counts["event_id_unique_in_partition"] > 0, summary["source"]
        if b.row_count(catalog.valid(summary["source"]), DAYS[0]):  # copies of yesterday's valid events
            assert counts["event_id_not_seen_before"] > 0, summary["source"]


def test_failed_batch_sharded_like_whole(extracted, tmp_path):
    """A day with more bad rows than allowed fails the same way, and leaves no valid rows."""
    one, three = tmp_path / "one", tmp_path / "three"
    shutil.copytree(extracted, one)
    shutil.copytree(extracted, three)
    strict = {"max_bad_row_share": 0.0, "bad_rows_floor": 0}
    results_one = validate_days(one, with_config(1, **strict))
    results_three = validate_days(three, with_config(3, **strict))
    assert results_three == results_one
    failed = {key for key, r in results_one.items() if isinstance(r, str)}
    assert {("web", END), ("ad", END)} <= failed
    assert all("bad_row_share" in results_one[key] for key in failed)
    lake = Lake(str(three))
    for source, day in results_one:
        for dataset in (catalog.valid(source), catalog.event_ids(source)):
            assert lake.exists(dataset, day) == ((source, day) not in failed), (dataset, day)

    # the config loosened, the combine alone re-run (as clearing validate_web does): the day passes
    # with every row accounted for, as if validated so from the start
    loose = with_config(3)
    result = combine_event_shards(lake, loose, "web", END, 3)
    assert lake.exists(catalog.valid("web"), END) and lake.exists(catalog.event_ids("web"), END)
    assert result.valid == lake.row_count(catalog.valid("web"), END) > 0
    assert result.valid + result.quarantined == lake.row_count(catalog.raw("web"), END)
