"""Sending mail (standard library only): over SMTP when a server is configured, else into the
local outbox folder.

Used by the alert emails and the monthly report (include/scoring) and by the on-call notices
(include/airflow_glue/channels.py). With no SMTP server configured, every message is written as
an `.eml` file (RFC 5322, open it with any mail client) to `<ENGAGEMENT_HOME>/outbox/`, the way the
embedded SQLite warehouse stands in for PostgreSQL: the embedded default never fails for want of a
mail server. SMTP: host, port, credentials, STARTTLS or TLS. Passwords are never part of any
message or log line.
"""

from __future__ import annotations

import os
import re
import smtplib
import ssl
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from include.scoring.core.settings import local_home

DEFAULT_SENDER = "engagement-alerts@localhost"
SMTP_TIMEOUT_SECONDS = 15
_TRUE = {"1", "true", "yes", "on"}


def flag(value: object) -> bool:
    return value is True or str(value).strip().lower() in _TRUE


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int = 25
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    starttls: bool = False
    use_ssl: bool = False
    sender: str = DEFAULT_SENDER

    def describe(self) -> str:
        """Where mail goes, for logs: never the password."""
        who = f"{self.login}@" if self.login else ""
        return f"{'smtps' if self.use_ssl else 'smtp'}://{who}{self.host}:{self.port}"


def smtp_from_url(url: str) -> SmtpSettings:
    """Parse ENGAGEMENT_SMTP_URL; raise ValueError (without the password) when malformed."""
    parts = urlsplit(url)
    if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
        raise ValueError(
            "ENGAGEMENT_SMTP_URL must look like smtp://user:pass@host:port?starttls=true&from=a@b (scheme "
            f"{parts.scheme!r})"
        )
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    use_ssl = parts.scheme == "smtps"
    return SmtpSettings(
        host=parts.hostname,
        port=parts.port or (465 if use_ssl else 25),
        login=unquote(parts.username) if parts.username else None,
        password=unquote(parts.password) if parts.password else None,
        starttls=flag(query.get("starttls", "false")),
        use_ssl=use_ssl,
        sender=query.get("from") or DEFAULT_SENDER,
    )


@dataclass(frozen=True)
class Outbox:
    """A folder that takes the messages an SMTP server would: one `.eml` file each, written to a
    temporary name and renamed, so a reader never sees half a message."""

    folder: Path
    sender: str = DEFAULT_SENDER

    def describe(self) -> str:
        return f"the outbox {self.folder}"

    def deliver(self, msg: EmailMessage) -> Path:
        self.folder.mkdir(parents=True, exist_ok=True)
        topic = re.sub(r"[^a-z0-9]+", "-", str(msg["Subject"] or "message").lower()).strip("-")[:60]
        name = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{topic}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.folder / f".{name}.tmp"
        tmp.write_bytes(msg.as_bytes(policy=policy.SMTP))
        os.replace(tmp, self.folder / name)
        return self.folder / name


def default_outbox() -> Outbox:
    """`<ENGAGEMENT_HOME>/outbox` (default `.local/outbox`)."""
    return Outbox(local_home() / "outbox")


#: where a message goes: an SMTP server, or the outbox folder when none is configured
Transport = SmtpSettings | Outbox


def transport_or_outbox(smtp: Transport | None) -> Transport:
    """The configured SMTP server, else the default outbox folder."""
    return smtp if smtp is not None else default_outbox()


Attachment = tuple[str, str, bytes]  # file name, MIME type "maintype/subtype", content
#: the To header of a message without recipients (a notice nobody was configured to receive)
NO_RECIPIENTS = "undisclosed-recipients:;"


def build_message(
    sender: str,
    recipients: tuple[str, ...] | list[str],
    subject: str,
    text: str,
    html: str,
    attachments: list[Attachment] | None = None,
) -> EmailMessage:
    """One multipart message: text + HTML, optional attachments."""
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())  # one line: no header injection
    msg["From"] = sender
    msg["To"] = ", ".join(recipients) or NO_RECIPIENTS
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for name, mime, content in attachments or []:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    return msg


def send_email(
    transport: Transport,
    recipients: tuple[str, ...] | list[str],
    subject: str,
    text: str,
    html: str,
    attachments: list[Attachment] | None = None,
) -> str:
    """Send one message through `transport`; returns where it went (the server, or the outbox
    file). Raises on any SMTP or network error, or when the outbox folder cannot be written."""
    msg = build_message(transport.sender, recipients, subject, text, html, attachments)
    if isinstance(transport, Outbox):
        msg["X-Engagement-Outbox"] = "not sent: no SMTP server configured"
        return str(transport.deliver(msg))
    smtp = transport
    if not recipients:
        raise ValueError("an email needs at least one recipient")
    tls = ssl.create_default_context()
    client_cls = smtplib.SMTP_SSL if smtp.use_ssl else smtplib.SMTP
    kwargs = {"context": tls} if smtp.use_ssl else {}
    with client_cls(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_SECONDS, **kwargs) as client:
        if smtp.starttls and not smtp.use_ssl:
            client.starttls(context=tls)
        if smtp.login:
            client.login(smtp.login, smtp.password or "")
        client.send_message(msg, from_addr=smtp.sender, to_addrs=list(recipients))
    return smtp.describe()
