"""Signals (SPEC 5): each event is exactly one signal, the most specific rule first; the
combination bonus and its memory."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from include.scoring.core.config import load_config
from include.scoring.score.signals import (
    BONUS_SIGNAL,
    BONUS_STATE_COLUMNS,
    bonus_memory,
    classify,
    combination_bonus,
    group_keys,
    signal_names,
)

CFG = load_config()
NAMES = signal_names(CFG)
T0 = pd.Timestamp("2026-07-01 12:00", tz="UTC")
NO_MEMORY = pd.DataFrame(columns=BONUS_STATE_COLUMNS)


def _classify(rows: list[dict]) -> list[str]:
    defaults = {"source": None, "event_type": None, "form_type": None, "role": None, "url": None}
    frame = pd.DataFrame([{**defaults, **r} for r in rows])
    return [NAMES[i] for i in classify(frame, CFG)]


def test_spec_points_per_signal():
    # SPEC 5 table: tier 1 = 10, tier 2 = 5, tier 3 = 1, 0 for non-engagement; the bonus is tier 1
    expected = {
        "pricing_page_visit": 10,
        "demo_request": 10,
        "rfp_issued": 10,
        "proposal_sent": 10,
        "pricing_discussion": 10,
        "legal_review": 10,
        "decision_maker_conversation": 10,
        "demo_completed": 10,
        "email_click": 5,
        "email_reply": 5,
        "product_page_visit": 5,
        "webinar_attended": 5,
        "case_study_request": 5,
        "content_download": 5,
        "linkedin_message_response": 5,
        "email_open_decision_maker": 5,
        "sales_conversation": 5,
        "ad_lead_form_submit": 5,
        "email_open": 1,
        "page_view": 1,
        "ad_click": 1,
        "ad_video_view": 1,
        "ad_social_engagement": 1,
        "linkedin_connection_accepted": 1,
        "ad_impression": 0,
        "email_delivery": 0,
        "not_interested": 0,
        "unclassified": 0,
        BONUS_SIGNAL: 10,
    }
    points = CFG.signal_points()
    assert {name: points[name] for name in expected} == expected
    assert CFG.reset_signals() == {"not_interested"}


@pytest.mark.parametrize(
    ("url", "signal"),
    [
        ("https://x.io/pricing", "pricing_page_visit"),
        ("https://x.io/en/Pricing/?plan=pro", "pricing_page_visit"),  # case and query ignored
        ("https://x.io/products/pricing", "pricing_page_visit"),  # pricing is the more specific rule
        ("https://x.io/pricing-faq", "page_view"),  # "pricing" must be a whole path segment
        ("https://x.io/product/a", "product_page_visit"),
        ("https://x.io/platform", "product_page_visit"),
        ("https://x.io/blog/product", "page_view"),  # product pages start at the root
        ("https://x.io/", "page_view"),
    ],
)
def test_page_views_by_url_path(url, signal):
    assert _classify([{"source": "web", "event_type": "page_view", "url": url}]) == [signal]


def test_web_forms_and_downloads():
    rows = [
        {"source": "web", "event_type": "form_submit", "form_type": "demo_request"},
        {"source": "web", "event_type": "form_submit", "form_type": "contact_sales"},
        {"source": "web", "event_type": "form_submit", "form_type": "webinar_attended"},
        {"source": "web", "event_type": "form_submit", "form_type": "webinar_registration"},
        {"source": "web", "event_type": "form_submit", "form_type": "case_study_request"},
        {"source": "web", "event_type": "form_submit", "form_type": None},  # a form of no known type
        {"source": "web", "event_type": "download", "url": "https://x.io/pricing"},  # a download, not a page view
    ]
    assert _classify(rows) == [
        "demo_request",
        "contact_sales_request",
        "webinar_attended",
        "webinar_registration",
        "case_study_request",
        "other_form_submit",
        "content_download",
    ]


def test_email_events_and_the_decision_maker_open():
    rows = [
        {"source": "email", "event_type": "open", "role": "decision_maker"},
        {"source": "email", "event_type": "open", "role": "champion"},
        {"source": "email", "event_type": "open"},
        {"source": "email", "event_type": "click", "role": "decision_maker"},  # a click is a click
        {"source": "email", "event_type": "reply"},
        {"source": "email", "event_type": "delivered"},
        {"source": "email", "event_type": "bounce"},
        {"source": "email", "event_type": "unsubscribe"},
    ]
    assert _classify(rows) == [
        "email_open_decision_maker",
        "email_open",
        "email_open",
        "email_click",
        "email_reply",
        "email_delivery",
        "email_delivery",
        "email_delivery",
    ]


def test_crm_activities_and_the_decision_maker_conversation():
    rows = [
        {"source": "crm", "event_type": "call_completed", "role": "decision_maker"},
        {"source": "crm", "event_type": "meeting_completed", "role": "decision_maker"},
        {"source": "crm", "event_type": "call_completed", "role": "user"},
        {"source": "crm", "event_type": "meeting_completed"},
        {"source": "crm", "event_type": "demo_scheduled"},  # the CRM's demo request
        {"source": "crm", "event_type": "demo_completed"},
        {"source": "crm", "event_type": "not_interested"},
        {"source": "crm", "event_type": "something_new"},
    ]
    assert _classify(rows) == [
        "decision_maker_conversation",
        "decision_maker_conversation",
        "sales_conversation",
        "sales_conversation",
        "demo_request",
        "demo_completed",
        "not_interested",
        "unclassified",
    ]


def test_ad_events_and_a_source_mismatch():
    rows = [
        {"source": "ad", "event_type": "lead_form_submit"},
        {"source": "ad", "event_type": "click"},
        {"source": "ad", "event_type": "impression"},
        {"source": "ad", "event_type": "page_view", "url": "https://x.io/pricing"},  # web rules need source web
    ]
    assert _classify(rows) == ["ad_lead_form_submit", "ad_click", "ad_impression", "unclassified"]


def test_repeated_combinations_get_the_same_answer_in_place():
    # classify works per distinct combination and spreads the answer back: row order must survive
    rows = [{"source": "email", "event_type": "click"}, {"source": "email", "event_type": "open"}] * 3
    assert _classify(rows) == ["email_click", "email_open"] * 3


# Combination bonus --------------------------------------------------------------------------------------
def _pair_events(rows: list[tuple[str, str, float]], role=None) -> pd.DataFrame:
    """(person, signal, days after T0) rows, as contributions hands them over (a RangeIndex)."""
    return pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(len(rows))],
            "day": [int(d) for _, _, d in rows],
            "event_time": [T0 + pd.Timedelta(days=d) for _, _, d in rows],
            "source": "web",
            "account_id": "A1",
            "person_key": [p for p, _, _ in rows],
            "signal": [s for _, s, _ in rows],
            "role": role,
        }
    )


def test_bonus_when_one_person_has_both_signals_within_the_window():
    ev = _pair_events([("p1", "webinar_attended", 0), ("p2", "content_download", 1), ("p1", "content_download", 29)])
    bonus = combination_bonus(ev, CFG, NO_MEMORY)
    assert bonus["person_key"].tolist() == ["p1"]  # p2 has one of the two only
    assert bonus["winner"].tolist() == [2]  # the event that completed the pair
    assert bonus["signal"].tolist() == [BONUS_SIGNAL]
    assert bonus["event_id"].tolist() == ["bonus:A1:p1:e2"]


def test_no_bonus_when_the_pair_is_more_than_30_days_apart_and_only_once():
    apart = _pair_events([("p1", "webinar_attended", 0), ("p1", "content_download", 31)])
    assert combination_bonus(apart, CFG, NO_MEMORY).empty
    twice = _pair_events([("p1", "webinar_attended", 0), ("p1", "content_download", 1), ("p1", "webinar_attended", 2)])
    assert combination_bonus(twice, CFG, NO_MEMORY)["winner"].tolist() == [1]  # one-off


def test_bonus_memory_carries_the_first_signal_and_the_award_across_days():
    day1 = _pair_events([("p1", "webinar_attended", 0)])
    assert combination_bonus(day1, CFG, NO_MEMORY).empty
    memory = bonus_memory(day1[["account_id", "person_key", "signal", "event_time"]], NO_MEMORY, CFG)
    assert memory[["account_id", "person_key", "awarded"]].values.tolist() == [["A1", "p1", False]]
    assert memory["first_time"].tolist() == [T0]
    day10 = _pair_events([("p1", "content_download", 10)])
    bonus = combination_bonus(day10, CFG, memory)
    assert bonus["person_key"].tolist() == ["p1"]
    awarded = bonus_memory(pd.concat([day10, bonus])[["account_id", "person_key", "signal", "event_time"]], memory, CFG)
    assert awarded["awarded"].tolist() == [True]
    later = _pair_events([("p1", "webinar_attended", 12), ("p1", "content_download", 13)])
    assert combination_bonus(later, CFG, awarded).empty  # already awarded: never again


def test_group_keys_one_key_per_distinct_combination():
    a = np.array([0, 1, 0, 1, 0])
    b = np.array([2, 2, 2, 3, 3])
    keys = group_keys(a, b)
    # rows 0 and 2 are the same combination (0, 2); every other pair differs
    assert keys[0] == keys[2]
    assert len({keys[0], keys[1], keys[3], keys[4]}) == 4
    wide = group_keys(*(np.array([0, 2**20, 0]) for _ in range(4)))  # 4 x 21 bits > 62: the fallback
    assert wide[0] == wide[2] != wide[1]
