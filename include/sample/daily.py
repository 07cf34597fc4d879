"""One day of synthetic activity: web, email, ad events and CRM activities, with ground truth.

Everything is drawn with numpy arrays (no loop over events), so a day of a million events takes
seconds. Ground truth records, per event, the true account and person, whether it is human, and
whether the SPEC's identity rules can resolve it given what has been revealed so far (a cookie
becomes resolvable the day its person fills a form or clicks a tracked email link).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from include.sample.defects import inject_defects
from include.sample.world import (
    KIND_BOT,
    KIND_CONTACT,
    KIND_EMPLOYEE,
    KIND_FREEMAIL,
    KIND_VISITOR,
    VENDOR_DOMAIN,
    World,
    day_start,
)
from include.scoring.core.sources import SHIPPED_FREE_MAIL

SITE = f"https://www.{VENDOR_DOMAIN}"
PRICING = np.array(["/pricing", "/pricing/enterprise", "/pricing/compare"], dtype=object)
PRODUCT = np.array(
    ["/product/analytics", "/product/integrations", "/platform/security", "/features/reporting", "/solutions/retail"],
    dtype=object,
)
OTHER = np.array(
    [
        "/",
        "/blog/intent-data-101",
        "/blog/abm-playbook",
        "/careers",
        "/about",
        "/docs/getting-started",
        "/customers",
        "/events",
    ],
    dtype=object,
)
FORMS = np.array(
    [
        "demo_request",
        "contact_sales",
        "webinar_registration",
        "webinar_attended",
        "content_download",
        "case_study_request",
    ],
    dtype=object,
)
BROWSERS = np.array(
    [
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    ],
    dtype=object,
)
BOTS = np.array(
    [
        "Googlebot/2.1 (+http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0)",
        "python-requests/2.32",
        "Mozilla/5.0 HeadlessChrome/120.0",
        "AhrefsBot/7.0 crawler",
    ],
    dtype=object,
)
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
NEVER = np.iinfo(np.int32).max


LATE_SHARE = 0.02  # web events that land in the next day's folder


@dataclass
class DayOutput:
    web: pd.DataFrame
    email: pd.DataFrame
    ad: pd.DataFrame
    activities: pd.DataFrame
    truth: pd.DataFrame
    defects: dict


def _times(day: date, n: int, rng: np.random.Generator, mean_h: float = 13.0, sd_h: float = 3.5) -> np.ndarray:
    secs = np.clip(rng.normal(mean_h * 3600, sd_h * 3600, n), 0, 86_399.0)
    return day_start(day) + (secs * 1e6).astype("timedelta64[us]")


def _pick(arr: np.ndarray, n: int, rng: np.random.Generator, p=None) -> np.ndarray:
    return arr[rng.choice(len(arr), n, p=p)]


def _serials(prefix: str, n: int, width: int = 7) -> np.ndarray:
    return (prefix + pd.Series(np.arange(n)).astype(str).str.zfill(width)).to_numpy(dtype=object)


def _isp_ips(n: int, rng: np.random.Generator) -> np.ndarray:
    """Home broadband addresses (the reference data's 70.0.0.0/8 ISP range)."""
    parts = pd.DataFrame(rng.integers(1, 250, (n, 3))).astype(str)
    return ("70." + parts[0] + "." + parts[1] + "." + parts[2]).to_numpy(dtype=object)


def _noisy_email(emails: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What people type: upper case, stray spaces, +tags; the identity stage must undo it."""
    out = emails.astype(object).copy()
    u = rng.random(len(out))
    for mask, fn in (
        (u < 0.06, lambda e: e.upper()),
        ((u >= 0.06) & (u < 0.1), lambda e: f"  {e} "),
        ((u >= 0.1) & (u < 0.14), lambda e: e.replace("@", "+webinar@", 1)),
    ):
        idx = np.flatnonzero(mask & pd.notna(out))
        out[idx] = [fn(e) for e in out[idx]]
    return out


class DailyGenerator:
    """Draws days one after another, remembering which cookies have been identified."""

    def __init__(self, world: World, start: date, seed: int, volume: float = 1.0, bad_rows: float = 0.0):
        self.w = world
        self.start = start
        self.seed = seed
        self.volume = volume
        self.bad_rows = bad_rows
        self._carry = pd.DataFrame()
        self._pending_links = np.zeros(0, np.int64)
        p = world.persons
        self.n_persons = len(p)
        #: day index on which each person's cookie (slot 0 / slot 1) was first linked to its email
        self.ident_day = np.full((self.n_persons, 2), NEVER, dtype=np.int32)
        kind = p["kind"].to_numpy()
        self.kind = kind
        self.account = p["account"].to_numpy()
        self.email = p["email"].to_numpy()
        self.cookie = np.stack([p["cookie"].to_numpy(), p["cookie2"].fillna(p["cookie"]).to_numpy()], axis=1)
        self.ip = p["ip"].to_numpy()
        self.role = p["role"].to_numpy()
        self.proxy = p["privacy_proxy"].to_numpy()
        #: an email that the SPEC rules resolve: a CRM contact's, or a work email at an account
        #: domain that is not itself on the free-mail list (facebook.com is, for one)
        free = set(SHIPPED_FREE_MAIL.read_text(encoding="utf-8").split())
        domain_is_free = world.accounts["true_domain"].isin(free).to_numpy()
        acct = np.maximum(p["account"].to_numpy(), 0)
        self.email_resolvable = (kind == KIND_CONTACT) | ((kind == KIND_EMPLOYEE) & ~domain_is_free[acct])
        self.office_ip = np.array([not str(x).startswith(("70.", "80.", "100.")) for x in self.ip])
        acc = world.accounts
        self.acc_ids = acc["account_id"].to_numpy()
        self.intent = acc["intent"].to_numpy()
        self.n_people = np.diff(world.account_person_offsets)
        self.contacts_idx = np.flatnonzero(kind == KIND_CONTACT)
        self.free_idx = np.flatnonzero(kind == KIND_FREEMAIL)
        self.visitor_idx = np.flatnonzero(kind == KIND_VISITOR)
        self.bot_idx = np.flatnonzero(kind == KIND_BOT)
        self.employee_idx = np.flatnonzero((kind == KIND_CONTACT) | (kind == KIND_EMPLOYEE))
        contact_rows = world.persons.index[kind == KIND_CONTACT]
        self.contact_of_account_offsets = np.searchsorted(self.account[contact_rows], np.arange(len(acc) + 1))
        self.contact_rows = contact_rows.to_numpy()
        self.name_variants = _name_variants(acc["name"].to_numpy())

    # ------------------------------------------------------------------------------------------
    def day(self, day: date, last_day: bool = False) -> DayOutput:
        """One day of events. Late web events land in the next day's output; defects (when on) are
        injected before ground truth is judged, so a link carried by a broken row never counts."""
        d = (day - self.start).days
        rng = np.random.default_rng([self.seed, d, 7])
        acc = self.w.accounts
        in_window = (
            acc["has_window"].to_numpy()
            & (d >= acc["window_start"].to_numpy())
            & (d < acc["window_start"].to_numpy() + acc["window_len"].to_numpy())
        )
        weekend = day.weekday() >= 5
        wk = 0.35 if weekend else 1.0
        mult = (1.0 + (2.0 + 4.0 * self.intent) * in_window) * wk * self.volume

        web, web_truth, web_links = self._web(day, d, mult, rng)
        email, email_truth, tracked = self._email(day, d, weekend, rng)
        web = pd.concat([web, tracked[0]], ignore_index=True)
        web_truth = pd.concat([web_truth, tracked[1]], ignore_index=True)
        web_links = np.concatenate([web_links, tracked[2]])
        ad, ad_truth, ad_links = self._ad(day, d, mult, rng)
        acts, acts_truth = self._activities(day, d, in_window, rng)
        web = self._with_ids(web, "w", day)
        email = self._with_ids(email, "e", day)
        ad = self._with_ids(ad, "a", day)
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

    @staticmethod
    def _with_ids(df: pd.DataFrame, prefix: str, day: date) -> pd.DataFrame:
        df.insert(0, "event_id", _serials(f"{prefix}-{day:%Y%m%d}-", len(df)))
        return df

    def _account_people(self, accts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        offs = self.w.account_person_offsets
        pos = offs[accts] + (rng.random(len(accts)) * self.n_people[accts]).astype(np.int64)
        return self.w.account_person_index[pos]

    def _truth(
        self,
        source: str,
        persons: np.ndarray,
        kind: str | np.ndarray,
        slot: np.ndarray,
        office: np.ndarray,
        *,
        email_used: np.ndarray,
        company_known: np.ndarray | None = None,
    ) -> pd.DataFrame:
        acct = np.where(persons >= 0, self.account[np.maximum(persons, 0)], -1)
        return pd.DataFrame(
            {
                "source": source,
                "true_account_id": np.where(acct >= 0, self.acc_ids[np.maximum(acct, 0)], None),
                "true_person_id": persons,
                "kind": kind,
                "_email_used": email_used,
                "_cookie_slot": slot,
                "_office": office,
                "_company_known": company_known if company_known is not None else np.zeros(len(persons), bool),
            }
        )

    def _judge_resolvable(self, truth: pd.DataFrame, d: int) -> pd.DataFrame:
        person = truth["true_person_id"].to_numpy()
        p = np.maximum(person, 0)
        has_person = person >= 0
        email_ok = truth["_email_used"].to_numpy() & self.email_resolvable[p] & has_person
        slot = truth["_cookie_slot"].to_numpy()
        cookie_ok = has_person & (slot >= 0) & (self.ident_day[p, np.maximum(slot, 0)] <= d)
        ip_ok = truth["_office"].to_numpy() & has_person & (self.account[p] >= 0)
        crm = truth["source"].to_numpy() == "crm"
        human = truth["kind"].to_numpy() == "human"
        truth["resolvable"] = human & (crm | email_ok | cookie_ok | ip_ok | truth["_company_known"].to_numpy())
        return truth.drop(columns=["_email_used", "_company_known"])

    # Web --------------------------------------------------------------------------------------
    def _web(self, day: date, d: int, mult: np.ndarray, rng: np.random.Generator):
        # Most target accounts rarely visit; buying intent drives visits steeply.
        counts = rng.poisson((0.02 + 2.0 * self.intent**2) * mult)
        accts = np.repeat(np.arange(len(counts)), counts)
        persons = self._account_people(accts, rng)
        n = len(persons)
        intent = self.intent[accts]
        u = rng.random(n)
        p_form = 0.03 + 0.06 * intent
        etype = np.where(u < p_form, "form_submit", np.where(u < p_form + 0.02, "download", "page_view"))
        v = rng.random(n)
        p_price = 0.02 + 0.14 * intent
        p_prod = 0.08 + 0.2 * intent
        path = np.where(
            v < p_price,
            _pick(PRICING, n, rng),
            np.where(v < p_price + p_prod, _pick(PRODUCT, n, rng), _pick(OTHER, n, rng)),
        )
        path = np.where(etype == "download", "/resources/whitepaper.pdf", path)
        fw = np.stack(
            [
                0.05 + 0.35 * intent,
                0.02 + 0.1 * intent,
                np.full(n, 0.2),
                np.full(n, 0.15),
                np.full(n, 0.3),
                0.05 + 0.1 * intent,
            ],
            axis=1,
        )
        cum = np.cumsum(fw / fw.sum(axis=1, keepdims=True), axis=1)
        form_idx = (rng.random(n)[:, None] > cum).sum(axis=1)
        form = np.where(etype == "form_submit", FORMS[np.minimum(form_idx, len(FORMS) - 1)], None)
        path = np.where(etype == "form_submit", "/forms/" + np.where(form == None, "x", form).astype(str), path)  # noqa: E711
        slot = (rng.random(n) < 0.3).astype(np.int64) * (self.cookie[persons, 1] != self.cookie[persons, 0])
        office = self.office_ip[persons] & (rng.random(n) >= 0.2)
        ip = np.where(office, self.ip[persons], _isp_ips(n, rng))
        email_used = etype == "form_submit"
        email = np.where(email_used, _noisy_email(self.email[persons], rng), None)
        frame = pd.DataFrame(
            {
                "event_time": _times(day, n, rng),
                "anonymous_id": self.cookie[persons, slot],
                "email": email,
                "ip": ip,
                "url": SITE + path,
                "event_type": etype,
                "form_type": form,
                "duration_seconds": np.where(etype == "page_view", np.round(rng.exponential(60, n), 1), np.nan),
                "user_agent": _pick(BROWSERS, n, rng),
                "referrer": np.where(
                    rng.random(n) < 0.4,
                    _pick(
                        np.array(
                            ["https://www.google.com/", "https://www.linkedin.com/", "https://news.ycombinator.com/"],
                            dtype=object,
                        ),
                        n,
                        rng,
                    ),
                    None,
                ),
            }
        )
        truth = self._truth("web", persons, "human", slot, office, email_used=email_used)
        links = np.where(email_used & self.email_resolvable[persons], persons * 2 + slot, -1)
        others = [self._web_outsiders(day, n, rng)]
        if d % 30 == 10:
            others.append(self._kiosk(day, rng))
        frames = [frame] + [o[0] for o in others]
        truths = [truth] + [o[1] for o in others]
        links = np.concatenate([links, np.full(sum(len(o[0]) for o in others), -1, np.int64)])
        return pd.concat(frames, ignore_index=True), pd.concat(truths, ignore_index=True), links

    def _web_outsiders(self, day: date, n_account_events: int, rng: np.random.Generator):
        """Anonymous internet visitors, free-mail strangers, bots and broken trackers."""
        nv = rng.poisson(0.3 * n_account_events + 1)
        nf = rng.poisson(0.04 * n_account_events + 1)
        nb = rng.poisson(0.05 * n_account_events + 1)
        vis = self.visitor_idx[rng.integers(0, len(self.visitor_idx), nv)]
        fre = self.free_idx[rng.integers(0, len(self.free_idx), nf)]
        bot = self.bot_idx[rng.integers(0, len(self.bot_idx), nb)]
        persons = np.concatenate([vis, fre, bot])
        n = len(persons)
        fre_form = np.zeros(n, bool)
        fre_form[nv : nv + nf] = rng.random(nf) < 0.5
        etype = np.where(fre_form, "form_submit", "page_view")
        form = np.where(
            fre_form, _pick(np.array(["content_download", "webinar_registration"], dtype=object), n, rng), None
        )
        ua = np.concatenate([_pick(BROWSERS, nv + nf, rng), _pick(BOTS, nb, rng)])
        kind = np.array(["human"] * (nv + nf) + ["bot"] * nb, dtype=object)
        anon = self.cookie[persons, 0].copy()
        broken = rng.random(n) < 0.01
        anon[broken] = "undefined"  # a broken tracker: a blocked placeholder id
        frame = pd.DataFrame(
            {
                "event_time": _times(day, n, rng, 12, 5),
                "anonymous_id": anon,
                "email": np.where(fre_form, _noisy_email(self.email[persons], rng), None),
                "ip": self.ip[persons],
                "url": SITE
                + np.where(fre_form, "/forms/" + np.where(form == None, "x", form).astype(str), _pick(OTHER, n, rng)),  # noqa: E711
                "event_type": etype,
                "form_type": form,
                "duration_seconds": np.round(rng.exponential(30, n), 1),
                "user_agent": ua,
                "referrer": None,
            }
        )
        truth = self._truth("web", persons, kind, np.full(n, -1), np.zeros(n, bool), email_used=fre_form)
        return frame, truth

    def _kiosk(self, day: date, rng: np.random.Generator):
        """A conference: shared kiosk laptops where six or more people each fill a form."""
        rows, truths = [], []
        for kiosk in self.w.kiosk_cookies:
            people = self.employee_idx[rng.integers(0, len(self.employee_idx), 6)]
            n_anon = 4
            persons = np.concatenate([people, np.full(n_anon, -1)])
            n = len(persons)
            email = np.concatenate([self.email[people], np.full(n_anon, None)])
            rows.append(
                pd.DataFrame(
                    {
                        "event_time": _times(day, n, rng, 11, 1),
                        "anonymous_id": kiosk,
                        "email": email,
                        "ip": "185.10.200.7",
                        "url": SITE + np.where(pd.notna(email), "/forms/webinar_registration", "/events"),
                        "event_type": np.where(pd.notna(email), "form_submit", "page_view"),
                        "form_type": np.where(pd.notna(email), "webinar_registration", None),
                        "duration_seconds": np.nan,
                        "user_agent": BROWSERS[0],
                        "referrer": None,
                    }
                )
            )
            truths.append(
                self._truth("web", persons, "human", np.full(n, -1), np.zeros(n, bool), email_used=pd.notna(email))
            )
        return pd.concat(rows, ignore_index=True), pd.concat(truths, ignore_index=True)

    # Email ------------------------------------------------------------------------------------
    def _email(self, day: date, d: int, weekend: bool, rng: np.random.Generator):
        empty_web = (pd.DataFrame(), pd.DataFrame(), np.zeros(0, np.int64))  # no tracked clicks
        # Campaigns go out on Tuesdays, and on some Thursdays.
        if weekend or not (day.weekday() == 1 or (day.weekday() == 3 and rng.random() < 0.5)):
            return (
                pd.DataFrame(columns=["event_time", "email", "campaign_id", "event_type", "url", "user_agent", "ip"]),
                pd.DataFrame(),
                empty_web,
            )
        campaign = f"cmp-{day:%Y%m%d}"
        share = min(1.0, 0.15 * self.volume)
        rec = np.concatenate(
            [
                self.contacts_idx[rng.random(len(self.contacts_idx)) < share],
                self.free_idx[rng.random(len(self.free_idx)) < 0.2],
            ]
        )
        n = len(rec)
        acct = self.account[rec]
        intent = np.where(acct >= 0, self.intent[np.maximum(acct, 0)], 0.1)
        t0 = day_start(day) + (rng.integers(8 * 3600, 15 * 3600, n) * 1_000_000).astype("timedelta64[us]")
        bounce = rng.random(n) < 0.02
        parts = []
        ev = lambda m, t, et, url=None, ua=None, ip=None, kind="human": parts.append(  # noqa: E731
            (
                rec[m],
                t[m] if t.ndim else t,
                et,
                url if url is None or np.ndim(url) == 0 else url[m],
                ua if ua is None or np.ndim(ua) == 0 else ua[m],
                ip if ip is None or np.ndim(ip) == 0 else ip[m],
                kind,
            )
        )  # noqa: E731
        ev(~bounce, t0, "delivered")
        ev(bounce, t0, "bounce")
        ok = ~bounce
        acct_scanner = np.where(acct >= 0, self.w.accounts["has_scanner"].to_numpy()[np.maximum(acct, 0)], False)
        machine = ok & self.proxy[rec]
        ev(
            machine,
            t0 + (rng.integers(1, 40, n) * 1_000_000).astype("timedelta64[us]"),
            "open",
            ua="Mozilla/5.0",
            ip=self.w.hosting_ips[rng.integers(0, len(self.w.hosting_ips), n)],
            kind="machine_open",
        )
        opened = ok & (rng.random(n) < 0.2)
        t_open = t0 + (np.minimum(rng.exponential(2 * 3600, n), 6 * 3600) * 1e6).astype("timedelta64[us]")
        ua = _pick(BROWSERS, n, rng)
        ev(opened, t_open, "open", ua=ua, ip=self.ip[rec])
        clicked = opened & (rng.random(n) < 0.04 + 0.25 * intent)
        t_click = t_open + (rng.integers(15, 600, n) * 1_000_000).astype("timedelta64[us]")
        links = SITE + _pick(PRODUCT, n, rng) + f"?utm_campaign={campaign}"
        ev(clicked, t_click, "click", url=links, ua=ua, ip=self.ip[rec])
        replied = opened & (rng.random(n) < 0.005 + 0.05 * intent)
        ev(replied, t_open + np.timedelta64(1800, "s"), "reply", ua=ua)
        unsub = opened & (rng.random(n) < 0.004)
        ev(unsub, t_open + np.timedelta64(60, "s"), "unsubscribe", ua=ua)
        scanned = ok & acct_scanner
        for k, page in enumerate(PRODUCT[:3]):
            ts = t0 + ((rng.integers(2, 6, n) * 1_000_000) + k * 200_000).astype("timedelta64[us]")
            ev(
                scanned,
                ts,
                "click",
                url=f"{SITE}{page}?utm_campaign={campaign}",
                ua=BROWSERS[0],
                ip="185.10.99.9",
                kind="scanner_click",
            )
        persons = np.concatenate([p[0] for p in parts])
        m = len(persons)
        times = np.concatenate([np.broadcast_to(p[1], len(p[0])) for p in parts])
        col = lambda i: np.concatenate(  # noqa: E731
            [
                np.full(len(p[0]), p[i], dtype=object) if (p[i] is None or np.ndim(p[i]) == 0) else p[i].astype(object)
                for p in parts
            ]
        )  # noqa: E731
        frame = pd.DataFrame(
            {
                "event_time": times,
                "email": _noisy_email(self.email[persons], rng),
                "campaign_id": campaign,
                "event_type": np.concatenate([np.full(len(p[0]), p[2], dtype=object) for p in parts]),
                "url": col(3),
                "user_agent": col(4),
                "ip": col(5),
            }
        )
        kinds = col(6)
        truth = self._truth("email", persons, kinds, np.full(m, -1), np.zeros(m, bool), email_used=np.ones(m, bool))
        # A human click lands on the site with the email in the tracked link: cookie meets email.
        human_click = (frame["event_type"].to_numpy() == "click") & (kinds == "human")
        cp = persons[human_click]
        nc = len(cp)
        slot = np.zeros(nc, np.int64)
        office = self.office_ip[cp]
        web = pd.DataFrame(
            {
                "event_time": times[human_click] + np.timedelta64(3, "s"),
                "anonymous_id": self.cookie[cp, 0],
                "email": self.email[cp],
                "ip": self.ip[cp],
                "url": frame["url"].to_numpy()[human_click],
                "event_type": "page_view",
                "form_type": None,
                "duration_seconds": np.round(rng.exponential(45, nc), 1),
                "user_agent": frame["user_agent"].to_numpy()[human_click],
                "referrer": None,
            }
        )
        web_truth = self._truth("web", cp, "human", slot, office, email_used=np.ones(nc, bool))
        link_slots = np.where(self.email_resolvable[cp], cp * 2, -1)
        return frame, truth, (web, web_truth, link_slots)

    # Ads --------------------------------------------------------------------------------------
    def _ad(self, day: date, d: int, mult: np.ndarray, rng: np.random.Generator):
        tier = self.w.accounts["abm_tier"].fillna(0).to_numpy().astype(int)
        boost = np.where(tier == 1, 2.0, np.where(tier == 2, 1.5, 1.0))
        counts = rng.poisson(3.0 * (0.5 + self.intent) * mult * boost)
        accts = np.repeat(np.arange(len(counts)), counts)
        persons = self._account_people(accts, rng)
        n = len(persons)
        platform = _pick(
            np.array(["linkedin", "google", "meta", "other"], dtype=object), n, rng, p=[0.5, 0.3, 0.15, 0.05]
        )
        u = rng.random(n)
        lead = (platform == "linkedin") & (u < 0.001 + 0.01 * self.intent[accts])
        # Engagement rates scale with intent; impressions (0 points) are the bulk of ad volume.
        engage = 0.003 + 0.03 * self.intent[accts]
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
        variants = self.name_variants[accts, rng.integers(0, self.name_variants.shape[1], n)]
        company_name = np.where(by_name | lead, variants, None)
        company_domain = np.where(by_domain, self.w.accounts["true_domain"].to_numpy()[accts], None)
        has_cookie = ~li
        slot = np.where(has_cookie, 0, -1)
        office = has_cookie & self.office_ip[persons]
        frame = pd.DataFrame(
            {
                "event_time": _times(day, n, rng, 14, 4),
                "platform": platform,
                "campaign_id": np.where(
                    li, "li-abm-q4", np.where(platform == "google", "g-search-brand", "meta-retarget")
                ),
                "ad_id": np.array([f"ad-{k}" for k in range(12)], dtype=object)[rng.integers(0, 12, n)],
                "event_type": etype,
                "company_domain": company_domain,
                "company_name": company_name,
                "anonymous_id": np.where(has_cookie, self.cookie[persons, 0], None),
                "email": np.where(lead, _noisy_email(self.email[persons], rng), None),
                "ip": np.where(has_cookie, self.ip[persons], None),
                "cost": np.round(np.where(etype == "impression", 0.004, 1.8) * rng.uniform(0.5, 1.5, n), 4),
            }
        )
        truth = self._truth(
            "ad", persons, "human", slot, office, email_used=lead, company_known=by_name | by_domain | lead
        )
        # Ads served to companies that are not CRM accounts.
        no = rng.poisson(0.1 * n + 1)
        pick = rng.integers(0, len(self.w.outsider_companies), no)
        out = pd.DataFrame(
            {
                "event_time": _times(day, no, rng, 14, 4),
                "platform": "linkedin",
                "campaign_id": "li-abm-q4",
                "ad_id": "ad-0",
                "event_type": "impression",
                "company_domain": None,
                "company_name": self.w.outsider_companies["company_name"].to_numpy()[pick],
                "anonymous_id": None,
                "email": None,
                "ip": None,
                "cost": 0.004,
            }
        )
        out_truth = self._truth(
            "ad", np.full(no, -1), "human", np.full(no, -1), np.zeros(no, bool), email_used=np.zeros(no, bool)
        )
        links = np.r_[
            np.where(lead & has_cookie & self.email_resolvable[persons], persons * 2, -1), np.full(no, -1, np.int64)
        ]
        return pd.concat([frame, out], ignore_index=True), pd.concat([truth, out_truth], ignore_index=True), links

    # CRM --------------------------------------------------------------------------------------
    def _activities(self, day: date, d: int, in_window: np.ndarray, rng: np.random.Generator):
        lam = (0.004 + 0.12 * self.intent**2) * (1 + 6 * in_window) * (0.2 if day.weekday() >= 5 else 1.0)
        counts = rng.poisson(lam)
        accts = np.repeat(np.arange(len(counts)), counts)
        n = len(accts)
        win = in_window[accts]
        t_in = np.array(ACT_IN[0], dtype=object)[rng.choice(len(ACT_IN[0]), n, p=ACT_IN[1])]
        t_out = np.array(ACT_OUT[0], dtype=object)[rng.choice(len(ACT_OUT[0]), n, p=ACT_OUT[1])]
        atype = np.where(win, t_in, t_out)
        ni_counts = rng.poisson(0.003 * (1 - self.intent) * ~in_window)
        ni_accts = np.repeat(np.arange(len(ni_counts)), ni_counts)
        accts = np.concatenate([accts, ni_accts])
        atype = np.concatenate([atype, np.full(len(ni_accts), "not_interested", dtype=object)])
        n = len(accts)
        offs = self.contact_of_account_offsets
        nc = offs[accts + 1] - offs[accts]
        pos = offs[accts] + (rng.random(n) * np.maximum(nc, 1)).astype(np.int64)
        has_contact = (nc > 0) & (rng.random(n) < 0.9)
        person = np.where(has_contact, self.contact_rows[np.minimum(pos, len(self.contact_rows) - 1)], -1)
        contact_id = np.where(has_contact, self.w.persons["contact_id"].to_numpy()[np.maximum(person, 0)], None)
        frame = pd.DataFrame(
            {
                "activity_id": _serials(f"ACT-{day:%Y%m%d}-", n, 5),
                "account_id": self.acc_ids[accts],
                "contact_id": contact_id,
                "activity_type": atype,
                "occurred_at": _times(day, n, rng, 13, 2.5),
                "notes": np.where(rng.random(n) < 0.3, 'Discussed next steps; they asked about "pricing" & SSO', None),
            }
        )
        truth = pd.DataFrame(
            {
                "source": "crm",
                "true_account_id": self.acc_ids[accts],
                "true_person_id": person,
                "kind": "human",
                "_email_used": False,
                "_cookie_slot": -1,
                "_office": False,
                "_company_known": False,
            }
        )
        return frame, truth


def _name_variants(names: np.ndarray) -> np.ndarray:
    """How ad platforms spell a company: 'Acme, Inc.', 'ACME INCORPORATED', 'Acme Corp', ..."""
    from include.sample.world import NAME_SUFFIX_VARIANTS

    out = np.empty((len(names), len(NAME_SUFFIX_VARIANTS)), dtype=object)
    for i, raw in enumerate(names):
        base = raw.strip()
        for j, pattern in enumerate(NAME_SUFFIX_VARIANTS):
            out[i, j] = pattern.format(n=base, N=base.upper())
    return out
