"""Sending mail over SMTP (standard library only): host, port, credentials, STARTTLS or TLS.

Used by the alert emails and the monthly report (include/scoring) and by the on-call notices
(include/airflow_glue/channels.py). Passwords are never part of any message or log line.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from urllib.parse import parse_qs, unquote, urlsplit

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


Attachment = tuple[str, str, bytes]  # file name, MIME type "maintype/subtype", content


def send_email(
    smtp: SmtpSettings,
    recipients: tuple[str, ...] | list[str],
    subject: str,
    text: str,
    html: str,
    attachments: list[Attachment] | None = None,
) -> None:
    """Send one multipart (text + HTML, optional attachments) message; raises on any SMTP or network error."""
    msg = EmailMessage()
    msg["Subject"] = " ".join(subject.split())  # one line: no header injection
    msg["From"] = smtp.sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=False)
    msg["Message-ID"] = make_msgid(domain=smtp.sender.rpartition("@")[2] or None)
    msg.set_content(text)
    msg.add_alternative(html, subtype="html")
    for name, mime, content in attachments or []:
        maintype, _, subtype = mime.partition("/")
        msg.add_attachment(content, maintype=maintype, subtype=subtype, filename=name)
    tls = ssl.create_default_context()
    client_cls = smtplib.SMTP_SSL if smtp.use_ssl else smtplib.SMTP
    kwargs = {"context": tls} if smtp.use_ssl else {}
    with client_cls(smtp.host, smtp.port, timeout=SMTP_TIMEOUT_SECONDS, **kwargs) as client:
        if smtp.starttls and not smtp.use_ssl:
            client.starttls(context=tls)
        if smtp.login:
            client.login(smtp.login, smtp.password or "")
        client.send_message(msg, from_addr=smtp.sender, to_addrs=list(recipients))
