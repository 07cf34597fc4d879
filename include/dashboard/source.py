"""Where the dashboard reads from: the warehouse URL, read-only engines, errors people can act on.

The URL comes from a resolver called at most every `ttl` seconds, so an edited Airflow connection
is picked up without restarting the api-server. Connections are read-only: SQLite opens the file
with mode=ro (a missing file is an error, never a new empty database), PostgreSQL sessions run with
default_transaction_read_only. Database errors become `WarehouseUnavailable` with the masked URL
and what to do, rendered as a page instead of a traceback.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from sqlalchemy.engine import URL, make_url

from include.scoring.core.urls import mask_url

log = logging.getLogger(__name__)

DEFAULT_TTL_SECONDS = 60.0


class WarehouseUnavailable(Exception):
    """The warehouse cannot be read (unreachable, no file, not a URL, no tables yet)."""

    status_code = 503

    def __init__(self, title: str, detail: str):
        super().__init__(f"{title}: {detail}")
        self.title, self.detail = title, detail


def env_warehouse_url() -> str:
    """ENGAGEMENT_WAREHOUSE_URL, else the project default (include/scoring/core/settings.py)."""
    from include.scoring.core.settings import Settings

    return Settings.from_env().warehouse_url


def read_only(url: str) -> tuple[URL, dict]:
    """The URL and connect arguments of a read-only connection to `url`."""
    try:
        parsed = make_url(url)
    except Exception as exc:  # noqa: BLE001 - sqlalchemy raises ArgumentError and others
        raise WarehouseUnavailable(
            "The warehouse URL is not valid",
            f"{exc}. Set the engagement_warehouse connection or ENGAGEMENT_WAREHOUSE_URL to a SQLAlchemy URL.",
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            raise WarehouseUnavailable(
                "The warehouse URL names no database file",
                f"{mask_url(url)} is an in-memory SQLite database, which holds no scores.",
            )
        if not database.startswith("file:"):
            parsed = parsed.set(database=f"file:{database}", query={**parsed.query, "mode": "ro", "uri": "true"})
        return parsed, {}
    if backend == "postgresql" and parsed.get_driver_name() in ("psycopg", "psycopg2"):
        return parsed, {"options": "-c default_transaction_read_only=on"}
    return parsed, {}


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip().splitlines()
    return (text[0] if text else type(orig).__name__)[:300]


class Warehouse:
    """Engines for the current warehouse URL; `connect()` yields a connection or raises
    WarehouseUnavailable."""

    def __init__(self, resolver: Callable[[], str] | None = None, ttl: float = DEFAULT_TTL_SECONDS):
        self.resolver = resolver or env_warehouse_url
        self.ttl = ttl
        self._lock = threading.Lock()
        self._url: str | None = None
        self._resolved_at = 0.0
        self._engine: sa.Engine | None = None

    def url(self) -> str:
        with self._lock:
            if self._url is None or time.monotonic() - self._resolved_at > self.ttl:
                url = self.resolver()
                if url != self._url and self._engine is not None:
                    self._engine.dispose()
                    self._engine = None
                self._url, self._resolved_at = url, time.monotonic()
            return self._url

    def engine(self) -> sa.Engine:
        url = self.url()
        with self._lock:
            if self._engine is None:
                parsed, connect_args = read_only(url)
                try:
                    self._engine = sa.create_engine(parsed, connect_args=connect_args, pool_pre_ping=True)
                except Exception as exc:  # noqa: BLE001 - unknown dialect or driver, bad options
                    raise WarehouseUnavailable(
                        "The warehouse URL is not usable",
                        f"{mask_url(url)}: {exc}. Give the engagement_warehouse connection a SQLAlchemy URL "
                        "(a postgres connection, a URI such as sqlite://%2Fpath%2Fwarehouse.sqlite, or extra "
                        '{"sqlalchemy_url": "..."}).',
                    ) from None
            return self._engine

    def dispose(self) -> None:
        """Close the pooled connections (at shutdown; the next request opens new ones)."""
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def describe(self) -> str:
        return mask_url(self.url())

    @contextmanager
    def connect(self) -> Iterator[sa.Connection]:
        engine = self.engine()
        try:
            with engine.connect() as conn:
                yield conn
        except (sa.exc.OperationalError, sa.exc.ProgrammingError, sa.exc.InterfaceError) as exc:
            raise self._explain(engine, exc) from None

    def _explain(self, engine: sa.Engine, exc: sa.exc.DBAPIError) -> WarehouseUnavailable:
        where = self.describe()
        try:
            with engine.connect() as conn:
                has_scores = sa.inspect(conn).has_table("account_scores")
        except Exception:  # noqa: BLE001 - the database itself is the problem
            log.warning("dashboard: warehouse %s unreadable: %s", where, _first_line(exc))
            return WarehouseUnavailable(
                "The warehouse cannot be reached",
                f"{where}: {_first_line(exc)}. Check that the database is up and the engagement_warehouse connection "
                "(or ENGAGEMENT_WAREHOUSE_URL) points at it; see docs/runbook.md#warehouse-down.",
            )
        if not has_scores:
            return WarehouseUnavailable(
                "No scores yet",
                f"{where} has no account_scores table: no day has been published to this warehouse. "
                "Run engagement_daily (or python -m include.scoring run --start D --end D) first.",
            )
        log.warning("dashboard: query on %s failed: %s", where, _first_line(exc))
        return WarehouseUnavailable(
            "The warehouse could not be read",
            f"{where}: {_first_line(exc)}. The warehouse may have been written by another version of the pipeline.",
        )
