"""Web events: visits from the accounts' people, from strangers and bots, and conference kiosks.

Visits scale steeply with an account's buying intent. A form fill carries the visitor's email, which
is what links a cookie to a person; outsiders, bots and broken trackers give the identity and
filtering stages something to reject.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from include.sample.draws import event_times, isp_ips, noisy_email, pick
from include.sample.population import Population
from include.sample.website import BOTS, BROWSERS, FORMS, OTHER, PRICING, PRODUCT, SITE


def web_events(
    pop: Population, day: date, d: int, mult: np.ndarray, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame, np.ndarray]:
    """The day's web events, their truth, and per event the cookie slot it links to its person's
    email (`person * 2 + slot`, or -1)."""
    # Most target accounts rarely visit; buying intent drives visits steeply.
    counts = rng.poisson((0.005 + 1.0 * pop.intent**2) * mult)
    accts = np.repeat(np.arange(len(counts)), counts)
    persons = pop.account_people(accts, rng)
    n = len(persons)
    intent = pop.intent[accts]
    u = rng.random(n)
    p_form = 0.03 + 0.06 * intent
    etype = np.where(u < p_form, "form_submit", np.where(u < p_form + 0.02, "download", "page_view"))
    v = rng.random(n)
    p_price = 0.02 + 0.14 * intent
    p_prod = 0.08 + 0.2 * intent
    path = np.where(
        v < p_price,
        pick(PRICING, n, rng),
        np.where(v < p_price + p_prod, pick(PRODUCT, n, rng), pick(OTHER, n, rng)),
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
    path = np.where(etype == "form_submit", _form_paths(form), path)
    slot = (rng.random(n) < 0.3).astype(np.int64) * (pop.cookie[persons, 1] != pop.cookie[persons, 0])
    office = pop.office_ip[persons] & (rng.random(n) >= 0.2)
    ip = np.where(office, pop.ip[persons], isp_ips(n, rng))
    email_used = etype == "form_submit"
    email = np.where(email_used, noisy_email(pop.email[persons], rng), None)
    frame = pd.DataFrame(
        {
            "event_time": event_times(day, n, rng),
            "anonymous_id": pop.cookie[persons, slot],
            "email": email,
            "ip": ip,
            "url": SITE + path,
            "event_type": etype,
            "form_type": form,
            "duration_seconds": np.where(etype == "page_view", np.round(rng.exponential(60, n), 1), np.nan),
            "user_agent": pick(BROWSERS, n, rng),
            "referrer": np.where(
                rng.random(n) < 0.4,
                pick(
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
    truth = pop.truth("web", persons, "human", slot, office, email_used=email_used)
    links = np.where(email_used & pop.email_resolvable[persons], persons * 2 + slot, -1)
    others = [_outsider_visits(pop, day, n, rng)]
    if d % 30 == 10:
        others.append(_kiosk_visits(pop, day, rng))
    frames = [frame] + [o[0] for o in others]
    truths = [truth] + [o[1] for o in others]
    links = np.concatenate([links, np.full(sum(len(o[0]) for o in others), -1, np.int64)])
    return pd.concat(frames, ignore_index=True), pd.concat(truths, ignore_index=True), links


def _outsider_visits(
    pop: Population, day: date, n_account_events: int, rng: np.random.Generator
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Anonymous internet visitors, free-mail strangers, bots and broken trackers."""
    nv = rng.poisson(0.3 * n_account_events + 1)
    nf = rng.poisson(0.04 * n_account_events + 1)
    nb = rng.poisson(0.05 * n_account_events + 1)
    vis = pop.visitor_idx[rng.integers(0, len(pop.visitor_idx), nv)]
    fre = pop.free_idx[rng.integers(0, len(pop.free_idx), nf)]
    bot = pop.bot_idx[rng.integers(0, len(pop.bot_idx), nb)]
    persons = np.concatenate([vis, fre, bot])
    n = len(persons)
    fre_form = np.zeros(n, bool)
    fre_form[nv : nv + nf] = rng.random(nf) < 0.5
    etype = np.where(fre_form, "form_submit", "page_view")
    form = np.where(fre_form, pick(np.array(["content_download", "webinar_registration"], dtype=object), n, rng), None)
    ua = np.concatenate([pick(BROWSERS, nv + nf, rng), pick(BOTS, nb, rng)])
    kind = np.array(["human"] * (nv + nf) + ["bot"] * nb, dtype=object)
    anon = pop.cookie[persons, 0].copy()
    broken = rng.random(n) < 0.01
    anon[broken] = "undefined"  # a broken tracker: a blocked placeholder id
    frame = pd.DataFrame(
        {
            "event_time": event_times(day, n, rng, 12, 5),
            "anonymous_id": anon,
            "email": np.where(fre_form, noisy_email(pop.email[persons], rng), None),
            "ip": pop.ip[persons],
            "url": SITE + np.where(fre_form, _form_paths(form), pick(OTHER, n, rng)),
            "event_type": etype,
            "form_type": form,
            "duration_seconds": np.round(rng.exponential(30, n), 1),
            "user_agent": ua,
            "referrer": None,
        }
    )
    truth = pop.truth("web", persons, kind, np.full(n, -1), np.zeros(n, bool), email_used=fre_form)
    return frame, truth


def _kiosk_visits(pop: Population, day: date, rng: np.random.Generator) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A conference: shared kiosk laptops where six or more people each fill a form."""
    rows, truths = [], []
    for kiosk in pop.world.kiosk_cookies:
        people = pop.employee_idx[rng.integers(0, len(pop.employee_idx), 6)]
        n_anon = 4
        persons = np.concatenate([people, np.full(n_anon, -1)])
        n = len(persons)
        email = np.concatenate([pop.email[people], np.full(n_anon, None)])
        rows.append(
            pd.DataFrame(
                {
                    "event_time": event_times(day, n, rng, 11, 1),
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
        truths.append(pop.truth("web", persons, "human", np.full(n, -1), np.zeros(n, bool), email_used=pd.notna(email)))
    return pd.concat(rows, ignore_index=True), pd.concat(truths, ignore_index=True)


def _form_paths(form: np.ndarray) -> np.ndarray:
    """`/forms/<form type>` per event (`/forms/x` where there is no form)."""
    return "/forms/" + np.where(form == None, "x", form).astype(str)  # noqa: E711 (elementwise, on an array)
