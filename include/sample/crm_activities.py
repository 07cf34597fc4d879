"""CRM activities: the sales team's calls, meetings and demos, logged against accounts.

Activities follow buying intent and cluster in an account's buying window, where they shift from
outreach to late-stage work (demos, pricing, proposals); a few accounts say they are not interested,
and so does every account whose deal closed lost.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from include.sample.draws import event_times, serials
from include.sample.population import Population

#: activity types and weights outside an account's buying window: outreach
ACT_OUT = (
    [
        "linkedin_connection_accepted",
        "call_completed",
        "meeting_scheduled",
        "linkedin_message_response",
        "meeting_completed",
    ],
    [0.3, 0.3, 0.12, 0.16, 0.12],
)
#: activity types and weights inside the window: late-stage sales work
ACT_IN = (
    [
        "call_completed",
        "meeting_scheduled",
        "meeting_completed",
        "demo_scheduled",
        "demo_completed",
        "pricing_discussion",
        "proposal_sent",
        "rfp_issued",
        "legal_review",
        "linkedin_message_response",
        "linkedin_connection_accepted",
    ],
    [0.12, 0.1, 0.12, 0.12, 0.1, 0.1, 0.08, 0.05, 0.05, 0.08, 0.08],
)


def crm_activities(
    pop: Population,
    day: date,
    window: np.ndarray,
    activity: np.ndarray,
    rng: np.random.Generator,
    lost_today: np.ndarray,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The day's CRM activities and their truth (always resolvable: the CRM names the account).
    `window`: per account 0 outside its buying window, inside it the window's depth (0-1], which scales
    the extra sales work. An account whose deal closed lost today (`lost_today`) is logged as not
    interested."""
    in_window = window > 0
    lam = (0.004 + 0.12 * pop.intent**2) * (1 + 6 * window) * (0.2 if day.weekday() >= 5 else 1.0) * activity
    counts = rng.poisson(lam)
    accts = np.repeat(np.arange(len(counts)), counts)
    n = len(accts)
    win = in_window[accts]
    t_in = np.array(ACT_IN[0], dtype=object)[rng.choice(len(ACT_IN[0]), n, p=ACT_IN[1])]
    t_out = np.array(ACT_OUT[0], dtype=object)[rng.choice(len(ACT_OUT[0]), n, p=ACT_OUT[1])]
    atype = np.where(win, t_in, t_out)
    ni_counts = rng.poisson(0.003 * (1 - pop.intent) * ~in_window)
    ni_counts = ni_counts + lost_today
    ni_accts = np.repeat(np.arange(len(ni_counts)), ni_counts)
    accts = np.concatenate([accts, ni_accts])
    atype = np.concatenate([atype, np.full(len(ni_accts), "not_interested", dtype=object)])
    n = len(accts)
    offs = pop.contact_of_account_offsets
    nc = offs[accts + 1] - offs[accts]
    pos = offs[accts] + (rng.random(n) * np.maximum(nc, 1)).astype(np.int64)
    has_contact = (nc > 0) & (rng.random(n) < 0.9)
    person = np.where(has_contact, pop.contact_rows[np.minimum(pos, len(pop.contact_rows) - 1)], -1)
    contact_id = np.where(has_contact, pop.world.persons["contact_id"].to_numpy()[np.maximum(person, 0)], None)
    frame = pd.DataFrame(
        {
            "activity_id": serials(f"ACT-{day:%Y%m%d}-", n, 5),
            "account_id": pop.acc_ids[accts],
            "contact_id": contact_id,
            "activity_type": atype,
            "occurred_at": event_times(day, n, rng, 13, 2.5),
            "notes": np.where(rng.random(n) < 0.3, 'Discussed next steps; they asked about "pricing" & SSO', None),
        }
    )
    truth = pd.DataFrame(
        {
            "source": "crm",
            "true_account_id": pop.acc_ids[accts],
            "true_person_id": person,
            "kind": "human",
            "_email_used": False,
            "_cookie_slot": -1,
            "_office": False,
            "_company_known": False,
        }
    )
    return frame, truth
