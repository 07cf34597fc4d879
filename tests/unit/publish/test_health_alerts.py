"""Customer-health alerts share the alert outbox with score crossings: their key and their wording."""

from __future__ import annotations

from datetime import date

import pandas as pd

from include.scoring.publish.alerts import render_alert_email
from include.scoring.publish.stage import alert_threshold
from include.scoring.publish.tables import HEALTH_ALERT_THRESHOLDS

DAY = date(2026, 3, 2)


def test_each_alert_rule_has_its_own_key_in_the_outbox():
    assert alert_threshold("threshold_25") == 25.0 and alert_threshold("threshold_40") == 40.0
    assert alert_threshold("health_at_risk") == HEALTH_ALERT_THRESHOLDS["health_at_risk"] < 0
    assert alert_threshold("health_dormant") == HEALTH_ALERT_THRESHOLDS["health_dormant"] < 0
    assert len({alert_threshold(r) for r in ("threshold_25", "health_at_risk", "health_dormant")}) == 3


def test_an_owner_email_says_which_customer_turned_at_risk_and_which_crossed_a_threshold():
    base = {
        "audience": "owner",
        "account_name": "Acme",
        "band": "warm",
        "next_action": "account management (owner)",
        "top_signals": "",
        "score_before": 20.0,
        "score_after": 20.0,
        "crossing_day": DAY,
    }
    alerts = pd.DataFrame(
        [
            {**base, "account_id": "A1", "threshold": -1.0, "rule": "health_at_risk"},
            {**base, "account_id": "A2", "threshold": 40.0, "rule": "threshold_40", "score_after": 41.0},
        ]
    )
    subject, text, html = render_alert_email("owner@x.io", alerts.to_dict("records"), DAY)
    assert "2 accounts need attention" in subject
    assert f"customer health at risk on {DAY}" in text and f"above 40 on {DAY}" in text
    assert f"customer health at risk on {DAY}" in html and "-1" not in text
