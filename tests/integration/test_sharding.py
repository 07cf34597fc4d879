"""Sharded resolve and score give exactly the results of one shard."""

from __future__ import annotations

import shutil
from datetime import date

import pandas as pd
import pytest

from include.sample import generate
from include.scoring.context import RunContext
from include.scoring.core.config import load_config, parse_config
from include.scoring.core.settings import Settings
from include.scoring.lake import catalog
from include.scoring.lake.store import Lake, days_between
from include.scoring.runner import STAGES, run_range

pytestmark = pytest.mark.integration
END = date(2026, 8, 20)


def with_shards(n: int):
    raw = load_config().model_dump(mode="json")
    raw["scale"]["shards"] = n
    return parse_config(raw)


def sorted_frame(lake: Lake, dataset: str, day: date, key: list[str]) -> pd.DataFrame:
    return lake.read_df(catalog.CATALOG[dataset], day).sort_values(key, kind="stable").reset_index(drop=True)


def test_three_shards_equal_one(tmp_path):
    summary = generate(tmp_path / "sample", accounts=80, days=6, end_date=END, seed=9, bad_rows=0.01, volume=2.0)
    base = Settings(
        landing=str(tmp_path / "sample" / "landing"),
        crm_url=summary.crm_url,
        lake=str(tmp_path / "lake1"),
        warehouse_url="sqlite://",
        config_path=None,
    )
    run_range(
        RunContext(base),
        summary.start,
        END,
        stages=[s for s in STAGES if s.name in ("extract", "validate")],
        echo=lambda _: None,
    )
    shutil.copytree(tmp_path / "lake1", tmp_path / "lake3")
    one = RunContext(base)
    three = RunContext(base.with_(lake=str(tmp_path / "lake3")))
    one.__dict__["config"] = with_shards(1)
    three.__dict__["config"] = with_shards(3)
    stages = [s for s in STAGES if s.name in ("resolve", "score")]
    run_range(one, summary.start, END, stages=stages, echo=lambda _: None)
    run_range(three, summary.start, END, stages=stages, echo=lambda _: None)
    a, b = Lake(str(tmp_path / "lake1")), Lake(str(tmp_path / "lake3"))
    assert sorted(p.name for p in (tmp_path / "lake3" / "scores" / f"dt={END}").iterdir()) == [
        f"part-0000{k}-of-00003.parquet" for k in range(3)
    ]
    for day in days_between(summary.start, END):
        for dataset, key in (
            ("resolved", ["event_id"]),
            ("unresolved", ["event_id"]),
            ("filtered", ["event_id"]),
            ("contributions", ["event_id"]),
            ("scores", ["account_id"]),
            ("changes", ["account_id", "kind", "rule"]),
            ("daily_points", ["account_id"]),
        ):
            pd.testing.assert_frame_equal(
                sorted_frame(a, dataset, day, key), sorted_frame(b, dataset, day, key), obj=f"{dataset} {day}"
            )
        pd.testing.assert_series_equal(
            a.read_df(catalog.RESOLUTION, day).groupby(["source", "outcome", "key"])["events"].sum().sort_index(),
            b.read_df(catalog.RESOLUTION, day).groupby(["source", "outcome", "key"])["events"].sum().sort_index(),
        )
    for dataset, key in (
        ("state", ["account_id"]),
        ("state_ledger", ["account_id", "signal"]),
        ("state_persons", ["account_id", "person_key"]),
    ):
        pd.testing.assert_frame_equal(
            sorted_frame(a, dataset, END, key), sorted_frame(b, dataset, END, key), obj=dataset
        )
    assert a.row_count(catalog.RESOLVED, END) > 100 and a.row_count(catalog.SCORES, END) == 80
