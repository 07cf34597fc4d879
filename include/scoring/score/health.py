"""Buying-group coverage and customer health (SPEC section 5), worked out per account from the
engine's arrays: pure functions, vectorised across accounts.

Buying group: which of `buying_group.roles` engaged (a positive signal of a person with that CRM
role) in the last `buying_group.window_days` days, as a bit mask per account; anonymous visitors
have no role and count for breadth only.

Customer health, for customers only (others get NO_HEALTH), first that applies:
  dormant    no person engaged with a positive signal for `dormant_days` days;
  at_risk    the recent days' points below `at_risk_ratio` of the baseline (the mean weekly points
             of the whole weeks before the recent days, scaled to their length), when there is a
             baseline: some points in at least MIN_BASELINE_WEEKS observed weeks;
  expanding  at least `expanding_new_people` people first engaged in the recent days, or a surge;
  healthy    otherwise.
"""

from __future__ import annotations

import numpy as np

from include.scoring.core.config import CustomerHealth

HEALTH = ("healthy", "at_risk", "expanding", "dormant")
HEALTHY, AT_RISK, EXPANDING, DORMANT = range(4)
NO_HEALTH = -1
#: transitions into these alert the account owner
ALERTING = (AT_RISK, DORMANT)
#: fewer observed whole weeks before the recent days than this: no baseline yet
MIN_BASELINE_WEEKS = 4


def role_masks(pair_acc: np.ndarray, pair_role: np.ndarray, engaged: np.ndarray, accounts: int) -> np.ndarray:
    """Per account, a bit per buying-group role engaged (bit i: roles[i]); `engaged` marks the
    (account, person) pairs that count (a positive signal in the window, after any reset)."""
    counted = engaged & (pair_role >= 0)
    masks = np.zeros(accounts, np.int64)
    np.bitwise_or.at(masks, pair_acc[counted], np.left_shift(1, pair_role[counted].astype(np.int64)))
    return masks


def coverage(masks: np.ndarray, roles: int) -> np.ndarray:
    """Share of the required roles engaged (0-1)."""
    bits = np.zeros(len(masks), np.int64)
    for i in range(roles):
        bits += (masks >> i) & 1
    return bits / roles


def missing_role_labels(roles: list[str]) -> list[str]:
    """Text of the roles missing, for every mask 0 .. 2**len(roles) - 1 (index = mask)."""
    return [", ".join(r for i, r in enumerate(roles) if not mask >> i & 1) for mask in range(2 ** len(roles))]


def baseline_weeks(today: int, recent_days: int, weeks: int, first_week: int) -> tuple[np.ndarray, int]:
    """The calendar weeks (ordinal // 7) of the baseline: the last `weeks` whole weeks ending
    before the recent days start, and how many of them the pipeline observed (after its first,
    partial, week)."""
    first_recent = today - recent_days + 1
    last = first_recent // 7 - 1
    chosen = np.arange(last - weeks + 1, last + 1)
    return chosen, int((chosen > first_week).sum())


def health_codes(
    customer: np.ndarray,
    days_idle: np.ndarray,
    recent_points: np.ndarray,
    baseline_points: np.ndarray,
    observed_weeks: int,
    new_people: np.ndarray,
    surge: np.ndarray,
    cfg: CustomerHealth,
) -> np.ndarray:
    """Health code per account (NO_HEALTH for prospects); `days_idle`: days since the last
    positive signal (a huge number when there was none); `baseline_points`: points over the
    baseline weeks."""
    codes = np.full(len(customer), NO_HEALTH, np.int64)
    if not customer.any():
        return codes
    weekly = baseline_points / max(observed_weeks, 1)
    expected = weekly * cfg.recent_days / 7
    has_baseline = (observed_weeks >= MIN_BASELINE_WEEKS) & (baseline_points > 0)
    at_risk = has_baseline & (recent_points < cfg.at_risk_ratio * expected)
    expanding = (new_people >= cfg.expanding_new_people) | surge
    dormant = days_idle >= cfg.dormant_days
    state = np.where(dormant, DORMANT, np.where(at_risk, AT_RISK, np.where(expanding, EXPANDING, HEALTHY)))
    codes[customer] = state[customer]
    return codes
