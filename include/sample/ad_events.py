"""Ad platform events: impressions, clicks, video views and lead forms.

LinkedIn reports the company (by a spelling of its name, or its domain) rather than a cookie, and
its lead forms carry an email; the other platforms report a cookie and an IP. Ads are also served
to companies that are not CRM accounts.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from include.sample.draws import event_times, noisy_email, pick
from include.sample.population import Population

#: impressions a day per account scale with AD_BASE + intent: ads reach target accounts whatever their
#: interest, but an account that is not researching sees few (a high base gave every account enough ad
#: engagement and breadth to be Warm, and the Cold band thinned out)
AD_BASE = 0.2


def ad_events(
    pop: Population, day: date, mult: np.ndarray, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The day's ad events, their truth, and per event the cookie a lead form links (`person * 2`, or -1)."""
    tier = pop.world.accounts["abm_tier"].fillna(0).to_numpy().astype(int)
    boost = np.where(tier == 1, 2.0, np.where(tier == 2, 1.5, 1.0))
    counts = rng.poisson(3.0 * (AD_BASE + pop.intent) * mult * boost)
    accts = np.repeat(np.arange(len(counts)), counts)
    persons = pop.account_people(accts, rng)
    n = len(persons)
    platform = pick(np.array(["linkedin", "google", "meta", "other"], dtype=object), n, rng, p=[0.5, 0.3, 0.15, 0.05])
    u = rng.random(n)
    lead = (platform == "linkedin") & (u < 0.001 + 0.01 * pop.intent[accts])
    # Engagement rates scale with intent; impressions (0 points) are the bulk of ad volume.
    engage = 0.003 + 0.03 * pop.intent[accts]
    etype = np.where(
        lead,
        "lead_form_submit",
        np.where(
            u < engage,
            "click",
            np.where(u < 2 * engage, "video_view", np.where(u < 2.5 * engage, "social_engagement", "impression")),
        ),
    )
    li = platform == "linkedin"
    c = rng.random(n)
    by_name = li & (c < 0.7)
    by_domain = li & (c >= 0.7) & (c < 0.9)
    variants = pop.name_variants[accts, rng.integers(0, pop.name_variants.shape[1], n)]
    company_name = np.where(by_name | lead, variants, None)
    company_domain = np.where(by_domain, pop.world.accounts["true_domain"].to_numpy()[accts], None)
    has_cookie = ~li
    slot = np.where(has_cookie, 0, -1)
    office = has_cookie & pop.office_ip[persons]
    frame = pd.DataFrame(
        {
            "event_time": event_times(day, n, rng, 14, 4),
            "platform": platform,
            "campaign_id": np.where(li, "li-abm-q4", np.where(platform == "google", "g-search-brand", "meta-retarget")),
            "ad_id": np.array([f"ad-{k}" for k in range(12)], dtype=object)[rng.integers(0, 12, n)],
            "event_type": etype,
            "company_domain": company_domain,
            "company_name": company_name,
            "anonymous_id": np.where(has_cookie, pop.cookie[persons, 0], None),
            "email": np.where(lead, noisy_email(pop.email[persons], rng), None),
            "ip": np.where(has_cookie, pop.ip[persons], None),
            "cost": np.round(np.where(etype == "impression", 0.004, 1.8) * rng.uniform(0.5, 1.5, n), 4),
        }
    )
    truth = pop.truth("ad", persons, "human", slot, office, email_used=lead, company_known=by_name | by_domain | lead)
    # Ads served to companies that are not CRM accounts.
    no = rng.poisson(0.1 * n + 1)
    outsider_rows = rng.integers(0, len(pop.world.outsider_companies), no)
    out = pd.DataFrame(
        {
            "event_time": event_times(day, no, rng, 14, 4),
            "platform": "linkedin",
            "campaign_id": "li-abm-q4",
            "ad_id": "ad-0",
            "event_type": "impression",
            "company_domain": None,
            "company_name": pop.world.outsider_companies["company_name"].to_numpy()[outsider_rows],
            "anonymous_id": None,
            "email": None,
            "ip": None,
            "cost": 0.004,
        }
    )
    out_truth = pop.truth(
        "ad", np.full(no, -1), "human", np.full(no, -1), np.zeros(no, bool), email_used=np.zeros(no, bool)
    )
    links = np.r_[
        np.where(lead & has_cookie & pop.email_resolvable[persons], persons * 2, -1), np.full(no, -1, np.int64)
    ]
    return pd.concat([frame, out], ignore_index=True), pd.concat([truth, out_truth], ignore_index=True), links
