"""The vendor's website and the browsers that visit it: the vocabulary web, email and ad events use."""

from __future__ import annotations

import numpy as np

from include.sample.world import VENDOR_DOMAIN

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
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15",
        "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    ],
    dtype=object,
)
#: crawler and script user agents: the filtering stage must drop these
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
