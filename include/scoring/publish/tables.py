"""The warehouse's tables (SPEC sections 6 and 7), declared once with SQLAlchemy Core.

Only SQLAlchemy is imported here: the publish stage writes these tables (warehouse.py) and the
dashboard reads them in the Airflow api-server, which should not load pandas to draw a page.
"""

from __future__ import annotations

import sqlalchemy as sa

#: 2: percentile, buying-group coverage, missing roles and health on the score tables; score_alerts
#: gained claim_id and claimed_at (atomic claims) and rule (health alerts). Older warehouses gain the
#: columns in place.
SCHEMA_VERSION = 2

metadata = sa.MetaData()


def _score_columns() -> list[sa.Column]:
    return [
        sa.Column("score", sa.Float, nullable=False),
        sa.Column("band", sa.String(32), nullable=False),
        sa.Column("engagement_percentile", sa.Float),  # prospects only
        sa.Column("accumulated", sa.Float, nullable=False),
        sa.Column("breadth", sa.Float, nullable=False),
        sa.Column("engaged_people", sa.Integer, nullable=False),
        sa.Column("new_people_14d", sa.Integer, nullable=False),
        sa.Column("buying_group_coverage", sa.Float),
        sa.Column("missing_roles", sa.Text),
        sa.Column("health", sa.String(16)),  # customers only
        sa.Column("points_today", sa.Float, nullable=False),
        sa.Column("trend", sa.String(8), nullable=False),
        sa.Column("change_7d", sa.Float, nullable=False),
        sa.Column("change_28d", sa.Float, nullable=False),
        sa.Column("surge", sa.Boolean, nullable=False),
        sa.Column("last_touch_at", sa.DateTime(timezone=True)),
        sa.Column("last_touch_signal", sa.String(64)),
        sa.Column("days_since_engagement", sa.Integer),
        sa.Column("next_action", sa.Text, nullable=False),
        sa.Column("lifecycle", sa.String(16), nullable=False),
        sa.Column("account_name", sa.Text),
        sa.Column("abm_tier", sa.Integer),
        sa.Column("owner_email", sa.Text),
        sa.Column("sdr_email", sa.Text),
        sa.Column("config_version", sa.String(64), nullable=False),
    ]


schema_info = sa.Table(
    "schema_info",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)
account_scores = sa.Table(
    "account_scores",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    *_score_columns(),
)
account_score_history = sa.Table(
    "account_score_history",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    *_score_columns(),
    sa.Index("ix_history_as_of", "as_of"),
)
score_resets = sa.Table(
    "score_resets",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("as_of", sa.Date, primary_key=True),
    sa.Column("rule", sa.String(64), primary_key=True),
    sa.Column("score_before", sa.Float, nullable=False),
    sa.Column("score_after", sa.Float, nullable=False),
)
#: score_alerts.threshold of a customer-health alert (its `rule` says which): no score threshold
HEALTH_ALERT_THRESHOLDS = {"health_at_risk": -1.0, "health_dormant": -2.0}

score_alerts = sa.Table(
    "score_alerts",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    # the score threshold crossed; a customer-health alert has a negative code (HEALTH_ALERT_THRESHOLDS)
    sa.Column("threshold", sa.Float, primary_key=True),
    sa.Column("crossing_day", sa.Date, primary_key=True),
    sa.Column("audience", sa.String(16), nullable=False),
    sa.Column("recipient", sa.Text),
    sa.Column("account_name", sa.Text),
    sa.Column("score_before", sa.Float, nullable=False),
    sa.Column("score_after", sa.Float, nullable=False),
    sa.Column("band", sa.String(32), nullable=False),
    sa.Column("next_action", sa.Text, nullable=False),
    sa.Column("top_signals", sa.Text, nullable=False),
    # pending until delivered exactly once: sent (SMTP) or outbox (the outbox folder); expired when
    # not sent within alerts.max_age_days; no_recipient when nobody is named to get it
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", sa.Text),
    sa.Column("sent_at", sa.DateTime(timezone=True)),
    # status `sending`: the sender that claimed the alert and when (include/scoring/publish/alerts.py)
    sa.Column("claim_id", sa.String(36)),
    sa.Column("claimed_at", sa.DateTime(timezone=True)),
    # what fired: threshold_<n> (a score crossing) or health_at_risk / health_dormant (a customer's health)
    sa.Column("rule", sa.String(32)),
    sa.Index("ix_alerts_status", "status"),
)
account_explanations = sa.Table(
    "account_explanations",
    metadata,
    sa.Column("account_id", sa.String(64), primary_key=True),
    sa.Column("kind", sa.String(16), primary_key=True),
    sa.Column("key", sa.String(128), primary_key=True),
    sa.Column("as_of", sa.Date, nullable=False),
    sa.Column("label", sa.Text),
    sa.Column("points", sa.Float, nullable=False),
)
pipeline_runs = sa.Table(
    "pipeline_runs",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("config_version", sa.String(64), nullable=False),
    sa.Column("raw_events", sa.Integer, nullable=False),
    sa.Column("quarantined", sa.Integer, nullable=False),
    sa.Column("filtered", sa.Integer, nullable=False),
    sa.Column("unresolved", sa.Integer, nullable=False),
    sa.Column("zero_point", sa.Integer, nullable=False),
    sa.Column("scored", sa.Integer, nullable=False),
    sa.Column("reconciled", sa.Boolean, nullable=False),
    sa.Column("resolution_rate", sa.Float, nullable=False),
    sa.Column("accounts", sa.Integer, nullable=False),
    sa.Column("band_changes", sa.Integer, nullable=False),
    sa.Column("alerts", sa.Integer, nullable=False),
    sa.Column("resets", sa.Integer, nullable=False),
    sa.Column("gate_status", sa.String(16), nullable=False),
    sa.Column("gate_reasons", sa.Text, nullable=False),
    sa.Column("crm_pushed", sa.Integer),
    sa.Column("counts_json", sa.Text, nullable=False),
)
#: the audit of right-to-erasure requests (`forget`): never the address, only its salted hash
privacy_erasures = sa.Table(
    "privacy_erasures",
    metadata,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("identifier_hash", sa.String(64), nullable=False),
    sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("requested_by", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("lake_rows_removed", sa.Integer, nullable=False),
    sa.Column("warehouse_rows_removed", sa.Integer, nullable=False),
    sa.Column("accounts_affected", sa.Integer, nullable=False),
    sa.Column("first_day", sa.Date),
    sa.Column("last_day", sa.Date),
    sa.Column("days_recomputed", sa.Integer, nullable=False),
    sa.Column("counts_json", sa.Text, nullable=False),
    sa.Column("accounts_json", sa.Text, nullable=False),
    sa.Column("notes", sa.Text),
    sa.Index("ix_erasures_identifier", "identifier_hash"),
)
TABLES = [t.name for t in metadata.sorted_tables]
