"""The HTTP side of the CRM connectors: one client for Salesforce and HubSpot.

- The URL is `<crm>+https://TOKEN@HOST`; the token travels only in the Authorization header, never
  in a URL, a log line or an error (URLs are shown through `mask_url`). `<crm>+http://` is accepted
  for loopback hosts only (tests against local servers): a token is never sent in clear text
  over a network, and a paging link pointing at another host is refused.
- Rate limits (429, Salesforce's 403 REQUEST_LIMIT_EXCEEDED), server errors (5xx) and network
  failures are retried with exponential backoff (`Retry-After` wins when the API sends one), as
  long as the waits of one request stay within `crm.http.retry_budget_seconds` (tenacity).
- 401 is not retried: the token has expired or was revoked, and the error says what to do.
- An optional client-side budget (HubSpot: requests per rolling 10 seconds) keeps the pipeline
  under the API's own limit instead of running into it.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin, urlsplit

import httpx
from tenacity import RetryCallState, Retrying, retry_if_exception_type

from include.scoring.core.errors import CrmError
from include.scoring.core.source_config import Http
from include.scoring.core.urls import mask_url

log = logging.getLogger(__name__)
LOOPBACK_NAMES = {"localhost", "localhost.localdomain"}


class CrmApiError(CrmError):
    """The CRM's API refused a request (or kept failing within the retry budget)."""


class CrmAuthError(CrmApiError):
    """The CRM refused the token (HTTP 401): expired or revoked; retrying cannot help."""


class CrmUnavailable(CrmApiError):
    """The CRM kept failing or rate-limiting one request until the retry budget was spent."""

    transient = True


class Retryable(Exception):
    """A response worth retrying: rate limited, a server error, a network failure."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class Endpoint:
    """Where a `<crm>+http(s)://TOKEN@HOST[:PORT]` URL points, and its token."""

    crm: str
    base_url: str
    host: str
    token: str = field(repr=False)
    shown: str = ""


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def parse_endpoint(url: str, crm: str) -> Endpoint:
    """The endpoint of a CRM URL; refuses plain http to anything but loopback."""
    shown = mask_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise CrmApiError(f"the {crm} URL {shown} cannot be parsed; expected {crm}+https://TOKEN@HOST") from None
    transport = parts.scheme.split("+", 1)[1] if "+" in parts.scheme else ""
    host = parts.hostname or ""
    token = unquote(parts.password if parts.password is not None else (parts.username or ""))
    if transport not in ("https", "http") or not host:
        raise CrmApiError(f"the {crm} URL {shown} is not {crm}+https://TOKEN@HOST")
    if not token:
        raise CrmApiError(
            f"the {crm} URL {shown} carries no access token; expected {crm}+https://TOKEN@HOST "
            "(the token as the URL's user part)"
        )
    if transport == "http" and not is_loopback(host):
        raise CrmApiError(
            f"the {crm} URL {shown} uses plain http to {host}, which would send the access token unencrypted; "
            f"use {crm}+https:// (plain http is accepted for loopback test servers only). Nothing was sent."
        )
    netloc = f"[{host}]" if ":" in host else host
    base = f"{transport}://{netloc}" + (f":{port}" if port else "")
    return Endpoint(crm, base, host, token, shown)


class RequestBudget:
    """At most `limit` requests in any rolling `window` seconds (waits when the next would exceed it)."""

    def __init__(self, limit: int, window: float, clock=time.monotonic, sleep=time.sleep):
        self.limit, self.window = limit, window
        self.clock, self.sleep = clock, sleep
        self.sent: deque[float] = deque()
        self.lock = threading.Lock()
        self.waited = 0.0

    def acquire(self) -> None:
        with self.lock:
            now = self.clock()
            while self.sent and now - self.sent[0] >= self.window:
                self.sent.popleft()
            if len(self.sent) >= self.limit:
                pause = self.window - (now - self.sent[0])
                if pause > 0:
                    self.waited += pause
                    self.sleep(pause)
                self.sent.popleft()
                now = self.clock()
            self.sent.append(now)


def retry_after_seconds(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date: the exponential backoff applies instead


class ApiClient:
    """JSON requests to one CRM API with retries, a request budget and a call counter."""

    def __init__(
        self,
        endpoint: Endpoint,
        http: Http,
        describe_error,
        is_rate_limited=None,
        budget: RequestBudget | None = None,
        auth_hint: str = "",
    ):
        self.endpoint = endpoint
        self.http = http
        self.describe_error = describe_error  # (response) -> short text from the API's error body
        self.is_rate_limited = is_rate_limited or (lambda response: response.status_code == 429)
        self.budget = budget
        self.auth_hint = auth_hint
        self.calls = 0
        self.retries = 0
        self.client = httpx.Client(
            base_url=endpoint.base_url,
            headers={"Authorization": f"Bearer {endpoint.token}", "Accept": "application/json"},
            timeout=http.timeout_seconds,
            follow_redirects=False,
            trust_env=False,  # never route the token through a proxy from the environment
        )

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def same_host_path(self, link: str) -> str:
        """A paging link as a path on this API's host; a link to another host is refused."""
        target = urlsplit(urljoin(self.endpoint.base_url + "/", link))
        base = urlsplit(self.endpoint.base_url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc):
            raise CrmApiError(
                f"{self.endpoint.crm} at {self.endpoint.shown} returned a paging link to {target.netloc}; "
                "the access token is sent to the configured host only. Nothing more was requested."
            )
        return target.path + (f"?{target.query}" if target.query else "")

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        backoff = min(self.http.backoff_seconds * 2 ** (state.attempt_number - 1), self.http.max_backoff_seconds)
        after = getattr(exc, "retry_after", None)
        return after if after is not None else backoff

    def _stop(self, state: RetryCallState) -> bool:
        return state.idle_for + (state.upcoming_sleep or 0) > self.http.retry_budget_seconds

    def _log_retry(self, state: RetryCallState) -> None:
        self.retries += 1
        log.warning(
            "%s: %s; retrying in %.1f s (attempt %s)",
            self.endpoint.crm,
            state.outcome.exception(),
            state.upcoming_sleep,
            state.attempt_number + 1,
        )

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The parsed JSON body of a successful request (None when empty)."""
        retrying = Retrying(
            retry=retry_if_exception_type(Retryable),
            wait=self._wait,
            stop=self._stop,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            return retrying(self._once, method, path, **kwargs)
        except Retryable as exc:
            raise CrmUnavailable(
                f"{self.endpoint.crm} at {self.endpoint.shown}: {method} {path.split('?')[0]} kept failing "
                f"({exc}) after {self.retries} retries within the {self.http.retry_budget_seconds:g} s retry budget "
                "(crm.http.retry_budget_seconds). Nothing more was sent; run the task again later."
            ) from None

    def _once(self, method: str, path: str, **kwargs: Any) -> Any:
        if self.budget is not None:
            self.budget.acquire()
        self.calls += 1
        try:
            response = self.client.request(method, path, **kwargs)
        except httpx.TimeoutException:
            raise Retryable(f"no answer within {self.http.timeout_seconds:g} s") from None
        except httpx.TransportError as exc:
            raise Retryable(f"cannot connect ({type(exc).__name__}: {exc})") from None
        status = response.status_code
        if status == 401:
            raise CrmAuthError(
                f"{self.endpoint.crm} at {self.endpoint.shown} refused the access token "
                f"(401 {self.describe_error(response)}): it has expired or been revoked. {self.auth_hint}"
            )
        if self.is_rate_limited(response):
            raise Retryable(f"rate limited ({status} {self.describe_error(response)})", retry_after_seconds(response))
        if status >= 500:
            raise Retryable(f"server error {status} {self.describe_error(response)}", retry_after_seconds(response))
        if status >= 400 or status < 200 or 300 <= status < 400:
            raise CrmApiError(
                f"{self.endpoint.crm} at {self.endpoint.shown}: {method} {path.split('?')[0]} failed with "
                f"{status} {self.describe_error(response)}"
            )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise CrmApiError(
                f"{self.endpoint.crm} at {self.endpoint.shown}: {method} {path.split('?')[0]} answered {status} "
                f"with a body that is not JSON: {response.text[:200]!r}"
            ) from None
