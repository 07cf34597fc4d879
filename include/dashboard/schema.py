"""The warehouse columns the dashboard reads, declared lightly (no pandas, no DDL).

The warehouse's tables are defined in include/scoring/publish/warehouse.py, which imports pandas; the
api-server should not load pandas to draw a table, so the dashboard declares the subset it reads
as lightweight table clauses. tests/unit/test_dashboard_schema.py checks every column here against
the warehouse's own definition, so a rename there fails a test instead of a page.
"""

from __future__ import annotations

import sqlalchemy as sa

_TZ = sa.DateTime(timezone=True)

account_scores = sa.table(
    "account_scores",
    sa.column("account_id", sa.String),
    sa.column("as_of", sa.Date),
    sa.column("account_name", sa.Text),
    sa.column("abm_tier", sa.Integer),
    sa.column("owner_email", sa.Text),
    sa.column("sdr_email", sa.Text),
    sa.column("lifecycle", sa.String),
    sa.column("score", sa.Float),
    sa.column("band", sa.String),
    sa.column("accumulated", sa.Float),
    sa.column("breadth", sa.Float),
    sa.column("engaged_people", sa.Integer),
    sa.column("new_people_14d", sa.Integer),
    sa.column("points_today", sa.Float),
    sa.column("trend", sa.String),
    sa.column("change_7d", sa.Float),
    sa.column("change_28d", sa.Float),
    sa.column("surge", sa.Boolean),
    sa.column("last_touch_at", _TZ),
    sa.column("last_touch_signal", sa.String),
    sa.column("days_since_engagement", sa.Integer),
    sa.column("next_action", sa.Text),
    sa.column("config_version", sa.String),
)

account_score_history = sa.table(
    "account_score_history",
    sa.column("account_id", sa.String),
    sa.column("as_of", sa.Date),
    sa.column("score", sa.Float),
    sa.column("band", sa.String),
)

account_explanations = sa.table(
    "account_explanations",
    sa.column("account_id", sa.String),
    sa.column("kind", sa.String),
    sa.column("key", sa.String),
    sa.column("as_of", sa.Date),
    sa.column("label", sa.Text),
    sa.column("points", sa.Float),
)

score_resets = sa.table(
    "score_resets",
    sa.column("account_id", sa.String),
    sa.column("as_of", sa.Date),
    sa.column("rule", sa.String),
    sa.column("score_before", sa.Float),
    sa.column("score_after", sa.Float),
)

score_alerts = sa.table(
    "score_alerts",
    sa.column("account_id", sa.String),
    sa.column("threshold", sa.Float),
    sa.column("crossing_day", sa.Date),
    sa.column("audience", sa.String),
    sa.column("recipient", sa.Text),
    sa.column("score_before", sa.Float),
    sa.column("score_after", sa.Float),
    sa.column("band", sa.String),
    sa.column("status", sa.String),
    sa.column("sent_at", _TZ),
)

TABLES = (account_scores, account_score_history, account_explanations, score_resets, score_alerts)
