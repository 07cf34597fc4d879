"""`forget` writes its audit row first and completes it after (issue 22, item 12).

A forget killed midway (here: the machine goes away while the days are being resolved again)
used to leave no audit row, and the re-run, finding the rows already gone, recorded 0 rows
removed: the removals were on record nowhere. Now the row is written `in_progress` before
anything changes, with the rows the scan found, and the run that completes the request marks it.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from include.scoring.context import RunContext
from include.scoring.core.settings import Settings
from include.scoring.lake import catalog
from include.scoring.privacy import forget as forget_module
from include.scoring.privacy.forget import forget
from include.scoring.runner import run_range

pytestmark = pytest.mark.integration


class Crash(BaseException):
    """The process dying (not an error anything catches)."""


def audit(url: str) -> pd.DataFrame:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return pd.read_sql(sa.text("SELECT * FROM privacy_erasures ORDER BY requested_at"), conn)
    finally:
        engine.dispose()


def test_an_interrupted_forget_is_on_record_and_completed_by_the_rerun(small_sample, tmp_path, monkeypatch):
    settings = Settings(
        landing=str(Path(small_sample.out) / "landing"),
        crm_url=small_sample.crm_url,
        lake=str(tmp_path / "lake"),
        warehouse_url=f"sqlite:///{tmp_path / 'wh.sqlite'}",
        config_path=None,
    )
    ctx = RunContext(settings)
    run_range(ctx, small_sample.end - timedelta(days=1), small_sample.end, echo=lambda _: None)
    emails = ctx.lake.read_df(catalog.valid("web"), small_sample.end)["email"].dropna()
    email = emails.value_counts().index[0]

    def crash(*_args, **_kwargs):
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(forget_module, "resolve_identities", crash)
        with pytest.raises(Crash):
            forget(ctx, email, requested_by="dpo@example.com")
    rows = audit(settings.warehouse_url)
    assert len(rows) == 1 and rows.loc[0, "status"] == "in_progress"
    removed = int(rows.loc[0, "lake_rows_removed"])
    assert removed > 0  # what the interrupted request removed is on record

    again = forget(ctx, email, requested_by="dpo@example.com")
    rows = audit(settings.warehouse_url).set_index("request_id")
    assert len(rows) == 2 and set(rows["status"]) == {"completed"}
    first = rows.drop(index=again.request_id).iloc[0]
    assert first["lake_rows_removed"] == removed and again.request_id in first["notes"]
    assert rows.loc[again.request_id, "lake_rows_removed"] == again.lake_rows
