"""Markup in the data never runs: the calibration report, its email, the alert emails, the on-call
notices and the dashboard, each loaded in headless Chromium (Debian's, driven by playwright).

A month of generated data (October 2026) carries `<script>` and `<img onerror>` in account names,
a contact's title and the config version; the pipeline runs for real, the report is built, the
alert emails and the report email go through a real SMTP server (aiosmtpd) and the failure
notice of an exception quoting the markup too. Each HTML output is opened in Chromium (emails and
report from file://, where no Content-Security-Policy helps) and must keep its title, have no
injected element, and show the markup as text. The report and its email are also rendered with
every string of the real metrics replaced by the markup, so no field is left out.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import quote

import pytest
import sqlalchemy as sa

from include.sample import generate
from include.scoring.context import RunContext
from include.scoring.core.errors import PipelineError
from include.scoring.core.mailer import SmtpSettings
from include.scoring.core.settings import Settings
from include.scoring.publish.alerts import send_alerts
from include.scoring.report.render import SECTIONS, render_email, render_html
from include.scoring.report.stage import build_report, email_report
from include.scoring.runner import run_range
from tests.integration.catchers import smtp_catcher
from tests.integration.dashboard_helpers import browser_page, serve
from tests.integration.hostile import XSS, plant

pytestmark = pytest.mark.integration
MONTH_END = date(2026, 10, 31)
MONTH = "2026-10"
#: the config version is a VARCHAR(64): the image half of the markup
XSS_VERSION = "<img src=x onerror=\"document.title='PWNED'\">"
RECIPIENTS = ["cmo@northwind.io"]


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """20 accounts over October 2026, every other one named with markup, through every stage."""
    out = tmp_path_factory.mktemp("html-escaping")
    summary = generate(out / "sample", accounts=20, days=31, end_date=MONTH_END, seed=5)
    planted = plant(
        summary.crm_url,
        out / "sample" / "landing",
        [XSS, f"Plain {XSS} Ltd"] * 8,
        out / "config",
        version=XSS_VERSION,
        config_changes={"calibration.recipients": RECIPIENTS, "calibration.min_closed_won": 1},
    )
    settings = Settings(
        landing=str(out / "sample" / "landing"),
        crm_url=summary.crm_url,
        lake=str(out / "lake"),
        warehouse_url=f"sqlite:///{out / 'warehouse.sqlite'}",
        config_path=str(planted.config_path),
    )
    ctx = RunContext(settings)
    run_range(ctx, summary.start, MONTH_END, echo=lambda _: None)
    return ctx, planted, out


def inert(page, url: str, title: str | None = None) -> str:
    """Open `url`; assert nothing injected ran or became an element; return the visible text."""
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(url)
    page.wait_for_load_state("load")
    page.wait_for_timeout(200)  # an onerror handler would have fired by now
    assert page.evaluate("document.title") != "PWNED"
    if title is not None:
        assert page.evaluate("document.title") == title
    assert page.locator("img[src='x']").count() == 0, "an injected <img> became an element"
    # the only script allowed is the dashboard's own theme follower (static/theme.js, same origin)
    assert page.locator("script:not([src$='/static/theme.js'])").count() == 0, "an injected <script> became an element"
    assert dialogs == []
    return page.locator("body").inner_text()


def as_file(tmp_path: Path, name: str, html: str) -> str:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return path.as_uri()


def hostile_copy(value):
    """The same structure with every string value (not the keys) replaced by the markup."""
    if isinstance(value, dict):
        return {k: hostile_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [hostile_copy(v) for v in value]
    return XSS if isinstance(value, str) else value


def test_calibration_report_and_its_email_show_markup_as_text(month, tmp_path):
    ctx, _, _ = month
    with smtp_catcher() as caught:
        result = build_report(
            ctx.lake, ctx.config, ctx.settings.warehouse_url, MONTH, out_root=str(tmp_path / "reports")
        )
        sent = email_report(
            result, ctx.config, SmtpSettings(host="127.0.0.1", port=caught.port, sender="reports@northwind.io")
        )
        [message] = caught.wait(1)
    assert sent.sent
    report_file = Path(result.files["report.html"])
    with browser_page() as page:
        text = inert(page, report_file.as_uri(), title=f"Engagement scoring calibration report {MONTH}")
        assert f"(config {XSS_VERSION})" in text  # the version, shown literally
        assert page.locator("h2#summary").inner_text() == SECTIONS["summary"]
        text = inert(page, as_file(tmp_path, "report-email.html", message.get_body(("html",)).get_content()))
        assert "Closed-won outcomes" in text  # known, or pending until the windows close


def test_every_string_of_the_report_and_its_email_is_escaped(month, tmp_path):
    ctx, _, _ = month
    result = build_report(ctx.lake, ctx.config, ctx.settings.warehouse_url, MONTH, out_root=str(tmp_path / "reports"))
    metrics = hostile_copy(result.metrics)
    charts = {
        name: b"\x89PNG\r\n\x1a\n"
        for name in ("band_distribution", "conversion_by_band", "signal_lift", "roc_curve", "score_distribution")
    }
    html = render_html(metrics, charts, diff=XSS)
    assert html.count("&lt;script&gt;") >= 20, "the hostile metrics should reach many places of the report"
    with browser_page() as page:
        text = inert(page, as_file(tmp_path, "hostile-report.html", html))
        assert text.count("<script>document.title='PWNED'</script>") >= 20
    with smtp_catcher() as caught:
        email_report(replace(result, metrics=metrics), ctx.config, SmtpSettings(host="127.0.0.1", port=caught.port))
        [message] = caught.wait(1)
    subject, _, _ = render_email(metrics)
    assert message["Subject"] == " ".join(subject.split())
    with browser_page() as page:
        text = inert(page, as_file(tmp_path, "hostile-report-email.html", message.get_body(("html",)).get_content()))
        assert XSS in text


def test_alert_emails_show_markup_names_as_text(month, tmp_path):
    ctx, planted, _ = month
    engine = sa.create_engine(ctx.settings.warehouse_url)
    with engine.begin() as conn:  # the run wrote them to the outbox folder (no SMTP): send them again, for real
        conn.execute(sa.text("UPDATE score_alerts SET status = 'pending', sent_at = NULL WHERE status = 'outbox'"))
    engine.dispose()
    with smtp_catcher() as caught:
        result = send_alerts(
            ctx.settings.warehouse_url,
            SmtpSettings(host="127.0.0.1", port=caught.port, sender="alerts@northwind.io"),
            MONTH_END,
            max_age_days=10_000,
        )
        messages = caught.wait(result.count("emails"))
    assert result.count("sent") > 0 and len(messages) == result.count("emails")
    shown = 0
    with browser_page() as page:
        for i, message in enumerate(messages):
            html = message.get_body(("html",)).get_content()
            text = inert(page, as_file(tmp_path, f"alert-{i}.html", html), title=message["Subject"])
            shown += text.count(XSS)
            assert XSS in message.get_body(("plain",)).get_content() or XSS not in html
    assert shown > 0, "the markup-named accounts should be among the alerts"


def test_failure_notice_email_shows_markup_as_text(tmp_path):
    from include.airflow_glue.channels import Channels
    from include.airflow_glue.notifier import build_notice, deliver

    ti = SimpleNamespace(
        task_id="publish_warehouse",
        dag_id="engagement_daily",
        try_number=1,
        max_tries=2,
        log_url="http://localhost:8080/log?x=\"><script>document.title='PWNED'</script>",
    )
    context = {
        "task_instance": ti,
        "exception": PipelineError(f"account {XSS} could not be published"),
        "run_id": XSS,
        "data_interval_start": datetime(2026, 11, 20, 2, tzinfo=UTC),
    }
    notice = build_notice(context)
    with smtp_catcher() as caught:
        sent = deliver(
            notice, Channels(emails=("oncall@northwind.io",), smtp=SmtpSettings(host="127.0.0.1", port=caught.port))
        )
        [message] = caught.wait(1)
    assert sent == {"email": True}
    with browser_page() as page:
        text = inert(page, as_file(tmp_path, "notice.html", message.get_body(("html",)).get_content()))
        assert f"account {XSS} could not be published" in text and XSS in text
        hrefs = page.locator("a").evaluate_all("links => links.map(a => a.href)")
        logs = [h for h in hrefs if h.startswith("http://localhost:8080/log?x=")]  # the quote did not end the attribute
        assert logs and all(h in logs or h.startswith("http://localhost:8080/engagement/runbook#") for h in hrefs)


def test_dashboard_pages_show_markup_from_the_pipeline_as_text(month):
    from include.dashboard.app import create_app
    from include.dashboard.source import Warehouse

    ctx, planted, _ = month
    hostile = sorted(a for a, n in planted.names.items() if n == XSS)
    with serve(create_app(Warehouse(lambda: ctx.settings.warehouse_url))) as url, browser_page() as page:
        inert(page, f"{url}/")
        names = page.locator("#accounts tbody tr td.name a").all_inner_texts()
        assert names.count(XSS) == len(hostile) and sum(XSS in n for n in names) == sum(
            XSS in n for n in planted.names.values()
        )
        inert(page, f"{url}/?q={quote(XSS)}")
        assert page.locator("input[name=q]").input_value() == XSS
        text = inert(page, f"{url}/accounts/{quote(hostile[0], safe='')}")
        assert page.locator("#account-name").inner_text() == XSS
        assert XSS_VERSION in text
