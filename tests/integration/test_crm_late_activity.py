"""Every valid CRM activity ends in exactly one outcome, and the CRM ledger counts quarantine for
real (issue 22, item 7).

An activity logged ten days late (first seen in today's snapshot, occurred before the late-arrival
window) used to sit in valid/crm/activities in no outcome while the ledger still balanced: its raw
side was the sum of its outcomes and `quarantined` was 0. Now it is filtered as `late_arrival`, and
the raw side is counted from the lake, with the day's quarantined activities.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from include.scoring.context import RunContext
from include.scoring.core.settings import Settings
from include.scoring.lake import catalog
from include.scoring.publish.reconcile import build_ledger
from include.scoring.runner import run_range

pytestmark = pytest.mark.integration


def test_a_late_activity_is_filtered_once_and_quarantine_counts_in_the_crm_ledger(small_sample, tmp_path):
    crm = tmp_path / "crm.sqlite"
    shutil.copyfile(Path(small_sample.out) / "crm.sqlite", crm)
    settings = Settings(
        landing=str(Path(small_sample.out) / "landing"),
        crm_url=f"sqlite:///{crm}",
        lake=str(tmp_path / "lake"),
        warehouse_url=f"sqlite:///{tmp_path / 'wh.sqlite'}",
        config_path=None,
    )
    ctx = RunContext(settings)
    last = small_sample.end
    run_range(ctx, last - timedelta(days=1), last - timedelta(days=1), echo=lambda _: None)
    late_day = last - timedelta(days=10)
    with sqlite3.connect(crm) as conn:
        row = list(conn.execute("SELECT * FROM activities ORDER BY activity_id LIMIT 1").fetchone())
        columns = [r[1] for r in conn.execute("PRAGMA table_info(activities)")]
        late = dict(zip(columns, row), activity_id="ACT-LATE-1", occurred_at=f"{late_day} 10:00:00.000000")
        broken = dict(zip(columns, row), activity_id="ACT-BROKEN-1", activity_type="carrier_pigeon",
                      occurred_at=f"{last} 09:00:00.000000")  # fmt: skip
        for record in (late, broken):
            conn.execute(
                f"INSERT INTO activities ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})",
                [record[c] for c in columns],
            )
    run_range(ctx, last, last, echo=lambda _: None)
    lake = ctx.lake
    assert "ACT-LATE-1" in set(lake.read_df(catalog.valid("crm/activities"), last)["activity_id"])
    filtered = lake.read_df(catalog.FILTERED, last)
    assert filtered.loc[filtered["event_id"] == "ACT-LATE-1", "reason"].tolist() == ["late_arrival"]
    resolved = lake.read_df(catalog.RESOLVED, last)
    unresolved = lake.read_df(catalog.UNRESOLVED, last)
    assert "ACT-LATE-1" not in set(resolved["event_id"]) | set(unresolved["event_id"])
    ledger = build_ledger(lake, last, ctx.config)
    crm_counts = ledger.by_source["crm"]
    assert crm_counts["quarantined"] == 1, crm_counts
    assert crm_counts["filtered"] >= 1 and ledger.balanced, crm_counts
    assert crm_counts["raw"] == sum(
        crm_counts[k] for k in ("quarantined", "filtered", "unresolved", "zero_point", "scored")
    )
