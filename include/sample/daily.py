"""One day of synthetic activity: web, email, ad events and CRM activities, with ground truth.

Each source has its own module (`web_events`, `email_events`, `ad_events`, `crm_activities`); this
one draws them in a fixed order, numbers the events, injects defects, and judges the ground truth.
Ground truth records, per event, the true account and person, whether it is human, and whether the
SPEC's identity rules can resolve it given what has been revealed so far (a cookie becomes
resolvable the day its person fills a form or clicks a tracked email link). That memory of
identified cookies, and the late web events carried into the next day, are why days are drawn
one after another by one `DailyGenerator`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from include.sample.ad_events import ad_events
from include.sample.crm_activities import crm_activities
from include.sample.defects import inject_defects
from include.sample.draws import serials
from include.sample.email_events import email_events
from include.sample.population import Population
from include.sample.web_events import web_events
from include.sample.world import RESEARCH_DAYS, RESEARCH_PEAK, World, activity_factor

NEVER = np.iinfo(np.int32).max  # `ident_day` of a cookie not (yet) identified
#: during its buying window sales works an account at least as much as one of this intent, however
#: little it engaged before (demos, pricing talks, proposals); its web, email and ad activity keep its own
WINDOW_SALES_INTENT = 0.35
LATE_SHARE = 0.02  # web events that land in the next day's folder


@dataclass
class DayOutput:
    web: pd.DataFrame
    email: pd.DataFrame
    ad: pd.DataFrame
    activities: pd.DataFrame
    truth: pd.DataFrame
    defects: dict


class DailyGenerator:
    """Draws days one after another, remembering which cookies have been identified."""

    def __init__(self, world: World, start: date, seed: int, volume: float = 1.0, bad_rows: float = 0.0):
        self.world = world
        self.start = start
        self.seed = seed
        self.volume = volume
        self.bad_rows = bad_rows
        self._carry = pd.DataFrame()
        self._pending_links = np.zeros(0, np.int64)
        self.population = Population(world)
        self.base_intent = self.population.intent.copy()
        #: day index on which each person's cookie (slot 0 / slot 1) was first linked to its email
        self.ident_day = np.full((self.population.n_persons, 2), NEVER, dtype=np.int32)

    def day(self, day: date, last_day: bool = False) -> DayOutput:
        """One day of events. Late web events land in the next day's output; defects (when on) are
        injected before ground truth is judged, so a link carried by a broken row never counts."""
        d = (day - self.start).days
        rng = np.random.default_rng([self.seed, d, 7])
        acc = self.world.accounts
        has_window, start = acc["has_window"].to_numpy(), acc["window_start"].to_numpy()
        in_window = has_window & (d >= start) & (d < start + acc["window_len"].to_numpy())
        ahead = start - d  # days until the window opens
        research = np.where(
            has_window & (ahead > 0) & (ahead <= RESEARCH_DAYS), RESEARCH_PEAK * (1 - ahead / (RESEARCH_DAYS + 1)), 0.0
        )
        weekend = day.weekday() >= 5
        wk = 0.35 if weekend else 1.0
        activity = activity_factor(acc, d)
        depth = acc["window_depth"].to_numpy()
        boost = (2.0 + 4.0 * self.population.intent) * (in_window + research) * depth
        mult = (1.0 + boost) * wk * self.volume * activity

        web, web_truth, web_links = web_events(self.population, day, d, mult, rng)
        email, email_truth, tracked = email_events(self.population, day, weekend, self.volume, activity, rng)
        web = pd.concat([web, tracked[0]], ignore_index=True)
        web_truth = pd.concat([web_truth, tracked[1]], ignore_index=True)
        web_links = np.concatenate([web_links, tracked[2]])
        ad, ad_truth, ad_links = ad_events(self.population, day, mult, rng)
        sales_intent = np.maximum(self.base_intent, WINDOW_SALES_INTENT)
        self.population.intent = np.where(in_window, sales_intent, self.base_intent)
        lost_today = acc["lost_day"].to_numpy() == d  # world.deals() recorded it
        acts, acts_truth = crm_activities(self.population, day, in_window * depth, activity, rng, lost_today)
        self.population.intent = self.base_intent
        web = _with_event_ids(web, "w", day)
        email = _with_event_ids(email, "e", day)
        ad = _with_event_ids(ad, "a", day)
        truth = pd.concat([web_truth, email_truth, ad_truth, acts_truth], ignore_index=True)
        truth.insert(
            0, "event_id", np.concatenate([web["event_id"], email["event_id"], ad["event_id"], acts["activity_id"]])
        )

        n_web, n_ad = len(web), len(ad)
        frames, defects, broken = {"web": web, "email": email, "ad": ad}, {}, {}
        if self.bad_rows > 0:
            frames, defects, broken = inject_defects(
                frames, day, self.bad_rows, np.random.default_rng([self.seed, d, 13])
            )
        broken_web = broken.get("web", np.zeros(n_web, bool))
        broken_ad = broken.get("ad", np.zeros(n_ad, bool))
        late_rng = np.random.default_rng([self.seed, d, 99])
        late = (late_rng.random(n_web) < LATE_SHARE) if not last_day else np.zeros(n_web, bool)
        # Cookies get identified by the day's links, as the identity stage builds the person graph
        # from the whole day first; a late link counts the day it lands.
        links = np.concatenate([web_links[~late & ~broken_web], ad_links[~broken_ad], self._pending_links])
        self._pending_links = web_links[late & ~broken_web]
        links = links[links >= 0]
        if len(links):
            np.minimum.at(self.ident_day, (links // 2, links % 2), d)
        truth = self._judge_resolvable(truth, d).drop(columns=["_cookie_slot", "_office"])

        web_all = frames["web"]
        keep = np.r_[~late, np.ones(len(web_all) - n_web, bool)]  # appended duplicates stay today
        web_out = pd.concat([self._carry, web_all[keep]], ignore_index=True)
        self._carry = web_all[np.r_[late, np.zeros(len(web_all) - n_web, bool)]]
        return DayOutput(web_out, frames["email"], frames["ad"], acts, truth, defects)

    def _judge_resolvable(self, truth: pd.DataFrame, d: int) -> pd.DataFrame:
        """Whether the SPEC's rules can resolve each event on day `d`, from what it reveals."""
        person = truth["true_person_id"].to_numpy()
        p = np.maximum(person, 0)
        has_person = person >= 0
        email_ok = truth["_email_used"].to_numpy() & self.population.email_resolvable[p] & has_person
        slot = truth["_cookie_slot"].to_numpy()
        cookie_ok = has_person & (slot >= 0) & (self.ident_day[p, np.maximum(slot, 0)] <= d)
        ip_ok = truth["_office"].to_numpy() & has_person & (self.population.account[p] >= 0)
        crm = truth["source"].to_numpy() == "crm"
        human = truth["kind"].to_numpy() == "human"
        truth["resolvable"] = human & (crm | email_ok | cookie_ok | ip_ok | truth["_company_known"].to_numpy())
        return truth.drop(columns=["_email_used", "_company_known"])


def _with_event_ids(df: pd.DataFrame, prefix: str, day: date) -> pd.DataFrame:
    df.insert(0, "event_id", serials(f"{prefix}-{day:%Y%m%d}-", len(df)))
    return df
