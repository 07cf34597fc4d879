"""Where on-call notices go and how: recipients, an SMTP server (else the outbox folder), a
Slack-compatible webhook.

Standard library only at import time (DAG files import this through include.airflow_glue.dag_support).
Channels come from the project config (`notifications.email_to`, `notifications.webhook_url`),
overridden by the environment: ENGAGEMENT_ALERT_EMAILS (comma-separated; set but empty means no
email) and ENGAGEMENT_WEBHOOK_URL. The SMTP server is the Airflow connection `engagement_smtp`
(host, port, login, password, extra {"starttls": true, "ssl": false, "from": "..."}), else
ENGAGEMENT_SMTP_URL (`smtp://user:pass@host:port?starttls=true&from=a@b`, `smtps://` for TLS).
With neither, every notice is written to the outbox folder `<ENGAGEMENT_HOME>/outbox` as an
`.eml` file (include/scoring/core/mailer.py), recipients or not: a notice is never lost for want
of a mail server. Passwords are never logged: only host, port and login are.
"""

from __future__ import annotations

import json
import logging
import os
import urllib.request
from dataclasses import dataclass
from urllib.parse import urlsplit

from include.scoring.core.mailer import (  # noqa: F401 - re-exported
    DEFAULT_SENDER,
    Outbox,
    SmtpSettings,
    Transport,
    default_outbox,
    send_email,
    smtp_from_url,
)
from include.scoring.core.mailer import flag as _flag

log = logging.getLogger(__name__)

SMTP_CONN_ID = "engagement_smtp"
WEBHOOK_TIMEOUT_SECONDS = 10
#: Slack rejects very long messages; the full text is in the email and the task log.
WEBHOOK_MAX_CHARS = 3500


@dataclass(frozen=True)
class Channels:
    emails: tuple[str, ...] = ()
    webhook_url: str | None = None
    #: the SMTP server, or the outbox folder when none is configured
    smtp: Transport | None = None


def smtp_from_connection(conn_id: str = SMTP_CONN_ID) -> SmtpSettings | None:
    """The SMTP server of an Airflow connection, or None when it is not defined."""
    try:
        from airflow.sdk import Connection

        conn = Connection.get(conn_id)
    except Exception:  # noqa: BLE001 - not defined, or no Airflow API reachable here
        return None
    extra = conn.extra_dejson or {}
    use_ssl = _flag(extra.get("ssl", False))
    return SmtpSettings(
        host=conn.host or "localhost",
        port=int(conn.port or (465 if use_ssl else 25)),
        login=conn.login or None,
        password=conn.password or None,
        starttls=_flag(extra.get("starttls", False)),
        use_ssl=use_ssl,
        sender=extra.get("from") or extra.get("from_email") or DEFAULT_SENDER,
    )


def resolve_smtp() -> SmtpSettings | None:
    settings = smtp_from_connection()
    if settings is not None:
        return settings
    url = os.environ.get("ENGAGEMENT_SMTP_URL")
    return smtp_from_url(url) if url else None


def _configured() -> tuple[list[str], str | None]:
    """Recipients and webhook of the project config; nothing when the config cannot be loaded
    (a broken config is itself a failure to report, through the environment's channels)."""
    try:
        from include.scoring.core.config import load_config
        from include.scoring.core.settings import Settings

        notifications = load_config(Settings.from_env().config_path).notifications
        return list(notifications.email_to), notifications.webhook_url
    except Exception as exc:  # noqa: BLE001 - report through the environment's channels instead
        log.warning(
            "notifications: project config not loaded (%s); using environment channels only", str(exc).splitlines()[0]
        )
        return [], None


def resolve_channels() -> Channels:
    emails, webhook = _configured()
    if "ENGAGEMENT_ALERT_EMAILS" in os.environ:
        emails = [e.strip() for e in os.environ["ENGAGEMENT_ALERT_EMAILS"].split(",") if e.strip()]
    if "ENGAGEMENT_WEBHOOK_URL" in os.environ:
        webhook = os.environ["ENGAGEMENT_WEBHOOK_URL"].strip() or None
    smtp: Transport | None = None
    try:
        smtp = resolve_smtp()
    except ValueError as exc:
        log.warning("notifications: %s", exc)
    if smtp is None:
        smtp = default_outbox()
        log.info(
            "notifications: no SMTP server (connection %r or ENGAGEMENT_SMTP_URL): notices go to %s",
            SMTP_CONN_ID,
            smtp.describe(),
        )
    elif not emails:
        smtp = None  # a server but nobody to send to
    return Channels(emails=tuple(emails), webhook_url=webhook, smtp=smtp)


def webhook_target(url: str) -> str:
    """Scheme and host of a webhook, for logs (Slack puts the secret in the path)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname}"


def post_webhook(url: str, text: str) -> None:
    """POST Slack-compatible JSON {"text": ...}; raises on a non-2xx answer or network error."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise ValueError(f"webhook URL must be http(s), got scheme {urlsplit(url).scheme!r}")
    if len(text) > WEBHOOK_MAX_CHARS:
        text = text[: WEBHOOK_MAX_CHARS - 40] + "\n... (truncated; see the email or task log)"
    body = json.dumps({"text": text}).encode("utf-8")
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json; charset=utf-8"}
    )
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:  # noqa: S310 - scheme checked above
        if not 200 <= response.status < 300:
            raise OSError(f"webhook answered HTTP {response.status}")
