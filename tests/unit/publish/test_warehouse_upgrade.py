"""A warehouse written by the previous schema version is upgraded in place, its rows kept."""

from __future__ import annotations

import sqlalchemy as sa

from include.scoring.publish.tables import SCHEMA_VERSION, account_scores, schema_info
from include.scoring.publish.warehouse import ensure_schema, transaction

NEW_COLUMNS = ("engagement_percentile", "buying_group_coverage", "missing_roles", "health")


def test_a_version_1_warehouse_gains_the_new_columns_and_keeps_its_rows(tmp_path):
    url = f"sqlite:///{tmp_path / 'wh.sqlite'}"
    with transaction(url) as conn:
        ensure_schema(conn)
        for table in ("account_scores", "account_score_history"):
            for column in NEW_COLUMNS:
                conn.execute(sa.text(f'ALTER TABLE {table} DROP COLUMN "{column}"'))
        conn.execute(schema_info.update().values(value="1"))
        conn.execute(
            sa.text(
                "INSERT INTO account_scores (account_id, as_of, score, band, accumulated, breadth, engaged_people, "
                "new_people_14d, points_today, trend, change_7d, change_28d, surge, next_action, lifecycle, "
                "config_version) VALUES ('A1', '2026-03-01', 12.5, 'warm', 2.5, 10, 1, 1, 0, 'flat', 0, 0, 0, "
                "'SDR light outreach', 'prospect', 'old')"
            )
        )
    with transaction(url) as conn:
        ensure_schema(conn)
        columns = {c["name"] for c in sa.inspect(conn).get_columns("account_scores")}
        version = conn.execute(sa.select(schema_info.c.value)).scalar()
        row = conn.execute(sa.select(account_scores)).mappings().one()
    assert set(NEW_COLUMNS) <= columns and version == str(SCHEMA_VERSION)
    assert (row["account_id"], row["score"], row["health"], row["engagement_percentile"]) == ("A1", 12.5, None, None)
