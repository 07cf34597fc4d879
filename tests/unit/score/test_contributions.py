"""Contributions (SPEC 5) from an in-memory frame of resolved events: tier points x role multiplier,
de-duplication of the same (person, signal, url or campaign, day), duplicate event ids, the daily
cap per signal and account, the combination bonus row."""

from __future__ import annotations

from itertools import count

import pandas as pd
import pytest

from include.scoring.core.config import load_config
from include.scoring.score.contributions import contributions
from include.scoring.score.signals import BONUS_STATE_COLUMNS

CFG = load_config()  # tiers 10/5/1, decision_maker x1.2, daily_cap 20
T0 = pd.Timestamp("2026-07-01", tz="UTC")
_ids = count()

WEB = {
    "pricing": ("page_view", "https://x.io/pricing", None),
    "product": ("page_view", "https://x.io/product/a", None),
    "webinar": ("form_submit", "https://x.io/forms/w", "webinar_attended"),
    "download": ("form_submit", "https://x.io/forms/d", "content_download"),
}


def ev(kind: str, person="p1", account="A1", role=None, hour=12, day=0, **extra) -> dict:
    row = {
        "event_id": extra.pop("event_id", f"e{next(_ids):04d}"),
        "event_time": T0 + pd.Timedelta(days=day, hours=hour),
        "account_id": account,
        "person_key": person,
        "role": role,
        "url": None,
        "form_type": None,
        "campaign_id": None,
        "day": day,
    }
    if kind in WEB:
        etype, url, form = WEB[kind]
        row.update(source="web", event_type=etype, url=url, form_type=form)
    elif kind in ("open", "click", "delivered"):
        row.update(source="email", event_type=kind, campaign_id="cmp-1")
    elif kind == "impression":
        row.update(source="ad", event_type="impression", campaign_id="li-1")
    else:  # a CRM activity type
        row.update(source="crm", event_type=kind)
    row.update(extra)
    return row


def score(rows: list[dict], memory: pd.DataFrame | None = None) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    out = contributions(frame, CFG, pd.DataFrame(columns=BONUS_STATE_COLUMNS) if memory is None else memory)
    table = out.table.to_pandas()
    table["positive"] = out.positive
    return table


def points_of(table: pd.DataFrame) -> dict[str, float]:
    return dict(zip(table["event_id"], table["points"], strict=True))


def test_tier_points_and_the_decision_maker_multiplier():
    rows = [
        ev("pricing", person="p1", role="decision_maker", event_id="dm-pricing"),  # 10 x 1.2
        ev("pricing", person="p2", role="user", account="A2", event_id="user-pricing"),  # 10 x 1.0 (own cap)
        ev("open", person="p1", role="decision_maker", event_id="dm-open"),  # tier 2 (5) x 1.2
        ev("open", person="p3", event_id="open"),  # tier 3
        ev("product", person="p2", role="champion", event_id="product"),  # tier 2
    ]
    t = score(rows)
    assert points_of(t) == pytest.approx(
        {"dm-pricing": 12.0, "user-pricing": 10.0, "dm-open": 6.0, "open": 1.0, "product": 5.0}
    )
    assert t.set_index("event_id").loc["dm-open", "multiplier"] == pytest.approx(1.2)
    assert t.set_index("event_id").loc["dm-open", "base_points"] == 5.0


def test_same_person_signal_page_and_day_counts_once():
    rows = [
        ev("pricing", hour=9, event_id="first"),
        ev("pricing", hour=10, url="https://x.io/pricing?utm=x", event_id="same-page"),  # query ignored
        ev("pricing", hour=11, person="p2", event_id="other-person"),
        ev("product", hour=12, event_id="product-a"),
        ev("product", hour=13, url="https://x.io/product/b", event_id="product-b"),  # another page
        ev("pricing", day=1, hour=9, event_id="next-day"),
    ]
    t = score(rows).set_index("event_id")
    assert t["points"].to_dict() == {
        "first": 10.0,
        "same-page": 0.0,
        "other-person": 10.0,
        "product-a": 5.0,
        "product-b": 5.0,
        "next-day": 10.0,
    }
    assert t.loc["same-page", "adjustment"] == "duplicate"
    assert pd.isna(t.loc["first", "adjustment"])


def test_email_opens_count_once_per_campaign_and_day():
    rows = [
        ev("open", hour=9, event_id="c1-a"),
        ev("open", hour=10, event_id="c1-b"),
        ev("open", hour=11, campaign_id="cmp-2", event_id="c2"),
    ]
    assert points_of(score(rows)) == {"c1-a": 1.0, "c1-b": 0.0, "c2": 1.0}


def test_a_repeated_event_id_counts_once():
    rows = [ev("pricing", event_id="dup"), ev("pricing", person="p2", event_id="dup")]
    t = score(rows)
    assert t["event_id"].tolist() == ["dup"]  # the first row of the id is kept, the repeat dropped
    assert t["points"].tolist() == [10.0]


def test_daily_cap_per_signal_and_account():
    # three people's pricing visits: 10 + 10 reach the cap of 20, the third earns 0
    rows = [ev("pricing", person=f"p{i}", hour=9 + i, event_id=f"pricing-{i}") for i in range(3)]
    rows += [ev("product", person="p0", hour=15, event_id="product")]  # another signal: its own cap
    rows += [ev("pricing", account="A2", person="q", hour=15, event_id="other-account")]
    t = score(rows).set_index("event_id")
    assert t["points"].to_dict() == {
        "pricing-0": 10.0,
        "pricing-1": 10.0,
        "pricing-2": 0.0,
        "product": 5.0,
        "other-account": 10.0,
    }
    assert t.loc["pricing-2", "adjustment"] == "daily_cap"
    assert bool(t.loc["pricing-2", "positive"])  # still a positive-point signal (it engages its person)


def test_daily_cap_applies_after_the_multiplier():
    # 12 + 12 would be 24: the second is cut to 20 - 12 = 8
    rows = [ev("pricing", person=f"d{i}", role="decision_maker", hour=9 + i, event_id=f"dm-{i}") for i in range(2)]
    t = score(rows).set_index("event_id")
    assert t["points"].to_dict() == pytest.approx({"dm-0": 12.0, "dm-1": 8.0})
    assert t.loc["dm-1", "adjustment"] == "daily_cap"


def test_zero_point_events_are_kept_with_their_signal():
    t = score([ev("impression", event_id="imp"), ev("delivered", event_id="dlv")]).set_index("event_id")
    assert t["signal"].to_dict() == {"imp": "ad_impression", "dlv": "email_delivery"}
    assert t["points"].tolist() == [0.0, 0.0]
    assert not t["positive"].any()


def test_combination_bonus_row_is_tier_one_and_takes_the_multiplier():
    rows = [
        ev("webinar", person="p1", hour=9, event_id="w1"),
        ev("download", person="p1", hour=10, event_id="d1"),
        # on another account: 10 + 12 would hit the daily cap of 20 for the bonus signal
        ev("webinar", person="dm", account="A2", role="decision_maker", hour=9, event_id="w2"),
        ev("download", person="dm", account="A2", role="decision_maker", hour=10, event_id="d2"),
    ]
    t = score(rows)
    bonus = t[t["signal"] == "combination_bonus"].set_index("person_key")
    assert bonus["points"].to_dict() == pytest.approx({"p1": 10.0, "dm": 12.0})
    assert sorted(bonus["event_id"]) == ["bonus:A1:p1:d1", "bonus:A2:dm:d2"]


def test_a_reset_voids_the_days_earlier_events_which_neither_claim_the_count_nor_the_cap():
    rows = [
        ev("pricing", hour=9, event_id="before"),
        ev("not_interested", person=None, hour=10, event_id="reset"),
        ev("pricing", hour=11, event_id="after"),  # same person, page and day as "before"
    ]
    t = score(rows).set_index("event_id")
    assert t.loc["after", "points"] == 10.0  # not a duplicate of the voided event
    assert pd.isna(t.loc["after", "adjustment"])
    assert bool(t.loc["reset", "reset"]) and t.loc["reset", "points"] == 0.0
