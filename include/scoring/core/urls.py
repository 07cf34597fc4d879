"""URLs safe to show: the one masker every log line, error message and repr uses.

Database, SMTP, CRM and object-storage URLs may carry credentials: a password in the user part
(`scheme://user:PASSWORD@host`), a token as the user (`hubspot+https://TOKEN@host`), or a secret
in the query (`?password=...`, `?token=...`). `mask_url` replaces each with `***` and leaves
everything else (scheme, host, port, path) readable; a value that is not a URL (a folder) is
returned as it is, and one that looks like a URL but cannot be parsed is hidden whole.
"""

from __future__ import annotations

from urllib.parse import SplitResult, parse_qsl, urlencode, urlsplit

MASK = "***"


def _split(value: str) -> SplitResult | None:
    """`value` split into its parts, or None when they cannot be read (a malformed port)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        return None
    return parts


#: URL schemes whose user part is itself the secret (an access token)
TOKEN_AS_USER = ("salesforce", "hubspot")
SECRET_QUERY_KEYS = ("password", "passwd", "pwd", "pass", "secret", "token", "access_token", "api_key", "apikey", "key")


def mask_url(value: str | None) -> str | None:
    """`value` with any credentials replaced by `***` (see the module doc)."""
    if not value or "://" not in value:
        return value
    parts = _split(value)
    if parts is None:
        return "<URL hidden>"
    masked = value
    if "@" in parts.netloc:
        userinfo, _, hostport = parts.netloc.rpartition("@")
        user = parts.username or ""
        if parts.password is not None:
            user = f"{userinfo.split(':', 1)[0]}:{MASK}"
        elif any(name in parts.scheme for name in TOKEN_AS_USER):
            user = MASK
        else:
            user = userinfo
        masked = masked.replace(f"//{parts.netloc}", f"//{user}@{hostport}", 1)
    if parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        if any(k.lower() in SECRET_QUERY_KEYS for k, _ in pairs):
            query = urlencode([(k, MASK if k.lower() in SECRET_QUERY_KEYS else v) for k, v in pairs], safe="*@")
            masked = masked.replace(f"?{parts.query}", f"?{query}", 1)
    return masked


#: query parameters the database drivers take as whole numbers (libpq, psycopg, SQLite's timeout)
INTEGER_QUERY_KEYS = (
    "port",
    "connect_timeout",
    "timeout",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
)


def url_problem(value: str) -> str | None:
    """What is wrong with a database or CRM URL's syntax (None when nothing): an unreadable port or a
    query parameter that must be a number. Checked before any work, so a typo is a usage error and
    not a traceback after half the writes. Never quotes a secret."""
    if not value or "://" not in value:
        return None
    parts = _split(value)
    if parts is None:
        return "its host:port part cannot be read (the port must be a number)"
    for key, item in parse_qsl(parts.query, keep_blank_values=True):
        if key.lower() in INTEGER_QUERY_KEYS and not item.strip().lstrip("-").isdigit():
            shown = MASK if key.lower() in SECRET_QUERY_KEYS else item
            return f"query parameter {key}={shown!r} must be a whole number"
    return None
