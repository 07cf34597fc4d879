"""The dashboard's reads: SQLAlchemy Core, bound parameters only.

Everything a user sends (band, owner, lifecycle, search text, sort column, page) arrives here as a
validated `AccountFilter`: the sort column and direction are looked up in a whitelist, filter and
search values only ever travel as bound parameters (LIKE wildcards in the search are escaped).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from typing import Any

import sqlalchemy as sa

from include.scoring.publish.tables import (
    account_explanations,
    account_score_history,
    account_scores,
    score_alerts,
    score_resets,
)

PAGE_SIZE = 50
SPARK_DAYS = 28
HISTORY_DAYS = 90
RECENT_EVENTS = 25
MAX_SEARCH_CHARS = 200
LIFECYCLES = ("prospect", "customer", "churned")

#: sort key in the URL -> column; nothing else can reach ORDER BY.
SORTS: dict[str, Any] = {
    "score": account_scores.c.score,
    "account": account_scores.c.account_name,
    "tier": account_scores.c.abm_tier,
    "trend": account_scores.c.change_28d,
    "last_touch": account_scores.c.last_touch_at,
    "idle": account_scores.c.days_since_engagement,
}
DIRECTIONS = ("desc", "asc")

LIST_COLUMNS = [
    account_scores.c[name]
    for name in (
        "account_id",
        "account_name",
        "abm_tier",
        "owner_email",
        "lifecycle",
        "score",
        "band",
        "trend",
        "change_7d",
        "change_28d",
        "surge",
        "last_touch_at",
        "last_touch_signal",
        "days_since_engagement",
        "next_action",
        "as_of",
    )
]


class BadRequest(ValueError):
    """A query parameter the dashboard cannot use; the message says what is allowed."""


@dataclass(frozen=True)
class AccountFilter:
    band: str = ""
    owner: str = ""
    lifecycle: str = ""  # "" = every lifecycle, prospects listed first
    q: str = ""
    sort: str = "score"
    direction: str = "desc"
    page: int = 1

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> AccountFilter:
        """Validate URL query parameters; unknown sort, direction, lifecycle or page raise BadRequest."""
        sort = params.get("sort") or "score"
        if sort not in SORTS:
            raise BadRequest(f"cannot sort by {sort!r}; sort by one of: {', '.join(SORTS)}")
        direction = params.get("dir") or "desc"
        if direction not in DIRECTIONS:
            raise BadRequest(f"sort direction {direction!r} is not one of: asc, desc")
        lifecycle = params.get("lifecycle") or ""
        if lifecycle and lifecycle not in LIFECYCLES:
            raise BadRequest(f"lifecycle {lifecycle!r} is not one of: {', '.join(LIFECYCLES)} (or empty for all)")
        raw_page = params.get("page") or "1"
        if not raw_page.isdigit() or int(raw_page) < 1 or len(raw_page) > 6:
            raise BadRequest(f"page {raw_page!r} is not a page number (1, 2, ...)")
        q = (params.get("q") or "").strip()
        if len(q) > MAX_SEARCH_CHARS:
            raise BadRequest(f"the search text is longer than {MAX_SEARCH_CHARS} characters")
        return cls(
            band=(params.get("band") or "").strip(),
            owner=(params.get("owner") or "").strip(),
            lifecycle=lifecycle,
            q=q,
            sort=sort,
            direction=direction,
            page=int(raw_page),
        )

    def params(self, **changes: Any) -> dict[str, str]:
        """The non-default parameters of this filter with `changes` applied (for links)."""
        changed = replace(self, **changes)
        defaults = AccountFilter()
        names = {
            "band": "band",
            "owner": "owner",
            "lifecycle": "lifecycle",
            "q": "q",
            "sort": "sort",
            "direction": "dir",
            "page": "page",
        }
        return {
            key: str(getattr(changed, attr))
            for attr, key in names.items()
            if getattr(changed, attr) != getattr(defaults, attr)
        }

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        c = account_scores.c
        where = []
        if self.band:
            where.append(c.band == self.band)
        if self.owner:
            where.append(c.owner_email == self.owner)
        if self.lifecycle:
            where.append(c.lifecycle == self.lifecycle)
        if self.q:
            where.append(
                sa.or_(
                    c.account_id.icontains(self.q, autoescape=True), c.account_name.icontains(self.q, autoescape=True)
                )
            )
        return where

    def order_by(self) -> list[sa.ColumnElement]:
        column = SORTS[self.sort]
        ordered = column.desc() if self.direction == "desc" else column.asc()
        prospects_first = sa.case((account_scores.c.lifecycle == "prospect", 0), else_=1)
        return [prospects_first, ordered.nulls_last(), account_scores.c.account_id]


@dataclass
class AccountPage:
    rows: list[Any]
    total: int
    page: int
    pages: int
    latest: date | None
    sparks: dict[str, list[tuple[date, float]]] = field(default_factory=dict)


def latest_day(conn: sa.Connection) -> date | None:
    return conn.execute(sa.select(sa.func.max(account_scores.c.as_of))).scalar()


def list_accounts(conn: sa.Connection, flt: AccountFilter, page_size: int = PAGE_SIZE) -> AccountPage:
    where = flt.conditions()
    total = conn.execute(sa.select(sa.func.count()).select_from(account_scores).where(*where)).scalar_one()
    pages = max(1, -(-total // page_size))
    page = min(flt.page, pages)
    query = (
        sa.select(*LIST_COLUMNS).where(*where).order_by(*flt.order_by()).limit(page_size).offset((page - 1) * page_size)
    )
    rows = conn.execute(query).all()
    latest = latest_day(conn)
    sparks = score_series(conn, [r.account_id for r in rows], latest, SPARK_DAYS) if rows and latest else {}
    return AccountPage(rows=rows, total=total, page=page, pages=pages, latest=latest, sparks=sparks)


EXPORT_LIMIT = 100_000


def export_accounts(conn: sa.Connection, flt: AccountFilter, limit: int = EXPORT_LIMIT) -> list[Any]:
    """Every account matching the filter (not only one page), in the table's order: the CSV download."""
    query = sa.select(*LIST_COLUMNS).where(*flt.conditions()).order_by(*flt.order_by()).limit(limit)
    return conn.execute(query).all()


def score_series(
    conn: sa.Connection, account_ids: list[str], end: date, days: int
) -> dict[str, list[tuple[date, float]]]:
    """(day, score) of each account over the `days` days ending on `end`, oldest first."""
    h = account_score_history.c
    query = (
        sa.select(h.account_id, h.as_of, h.score)
        .where(h.account_id.in_(account_ids), h.as_of > end - timedelta(days=days), h.as_of <= end)
        .order_by(h.account_id, h.as_of)
    )
    out: dict[str, list[tuple[date, float]]] = {}
    for row in conn.execute(query):
        out.setdefault(row.account_id, []).append((row.as_of, float(row.score)))
    return out


def owners(conn: sa.Connection) -> list[str]:
    c = account_scores.c
    return list(
        conn.execute(
            sa.select(c.owner_email).where(c.owner_email.is_not(None)).distinct().order_by(c.owner_email)
        ).scalars()
    )


def band_counts(conn: sa.Connection, flt: AccountFilter) -> dict[str, int]:
    """Accounts per band under every filter but the band itself (for the band chips), lowest band first."""
    c = account_scores.c
    where = replace(flt, band="").conditions()
    query = sa.select(c.band, sa.func.count()).where(*where).group_by(c.band).order_by(sa.func.min(c.score))
    return {band: count for band, count in conn.execute(query)}


@dataclass
class AccountDetail:
    score: Any
    explanation: dict[str, list[Any]]
    resets: list[Any]
    alerts: list[Any]
    history: list[tuple[date, float]]


def account_detail(conn: sa.Connection, account_id: str, history_days: int = HISTORY_DAYS) -> AccountDetail | None:
    """Everything the account page shows, or None when the warehouse has no such account."""
    score = conn.execute(sa.select(account_scores).where(account_scores.c.account_id == account_id)).first()
    if score is None:
        return None
    e = account_explanations.c
    explanation: dict[str, list[Any]] = {"signal": [], "person": [], "breadth": []}
    query = (
        sa.select(e.kind, e.key, e.label, e.points, e.as_of)
        .where(e.account_id == account_id)
        .order_by(e.kind, e.points.desc(), e.key)
    )
    for row in conn.execute(query):
        explanation.setdefault(row.kind, []).append(row)
    r, a = score_resets.c, score_alerts.c
    resets = conn.execute(
        sa.select(r.as_of, r.rule, r.score_before, r.score_after)
        .where(r.account_id == account_id)
        .order_by(r.as_of.desc(), r.rule)
        .limit(RECENT_EVENTS)
    ).all()
    alerts = conn.execute(
        sa.select(
            a.crossing_day,
            a.threshold,
            a.audience,
            a.recipient,
            a.score_before,
            a.score_after,
            a.band,
            a.status,
            a.sent_at,
        )
        .where(a.account_id == account_id)
        .order_by(a.crossing_day.desc(), a.threshold.desc())
        .limit(RECENT_EVENTS)
    ).all()
    history = score_series(conn, [account_id], score.as_of, history_days).get(account_id, [])
    return AccountDetail(score=score, explanation=explanation, resets=resets, alerts=alerts, history=history)
