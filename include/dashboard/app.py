"""The dashboard's FastAPI app: the accounts table (/), its CSV download (/accounts.csv) and one
page per account (/accounts/ID).

Pages are rendered on the server with Jinja2 (autoescape on for every template, StrictUndefined),
send no JavaScript, and carry a Content-Security-Policy without script sources as a second line
of defence: account names from the CRM are data, never markup. A bad query parameter gets a 400
page that says what is allowed, an unknown account a 404 page, an unreachable or empty warehouse a
503 page with what to do; never a traceback. The CSV download guards text cells against
spreadsheet formulas (include/scoring/publish/csv_export.py).

    create_app()                                   # warehouse from ENGAGEMENT_WAREHOUSE_URL or the default
    create_app(Warehouse(resolver), auth=require)  # what the Airflow plugin mounts
    uvicorn --factory include.dashboard.app:create_app --port 8090   # standalone, no login
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import asynccontextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from starlette.exceptions import HTTPException as StarletteHTTPException

from include.dashboard import docs_pages, queries
from include.dashboard.source import Warehouse, WarehouseUnavailable
from include.dashboard.svg import history_chart, sparkline
from include.scoring.publish.csv_export import to_csv_text

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).parent / "templates"
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action "
    "'self'; frame-ancestors 'self'; base-uri 'none'; script-src 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
ICON = (
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" fill="none" stroke="#017cee" stroke-width="2" '
    'stroke-linecap="round">'
    '<path d="M3 20h18"/><path d="M5 16l4-5 4 3 6-8"/><circle cx="19" cy="6" r="1.5" fill="#017cee"/></svg>'
)


def band_label(band: Any) -> str:
    return str(band or "").replace("_", " ").title()


def signal_label(name: Any) -> str:
    """`pricing_page_visit` -> `Pricing page visit` (the config names signals in snake case)."""
    text = str(name or "").replace("_", " ").strip()
    return text[:1].upper() + text[1:] if text else "\u2014"


def num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "\u2014"
    return f"{float(value):.{digits}f}".rstrip("0").rstrip(".") if digits else f"{float(value):.0f}"


def signed(value: Any) -> str:
    return "\u2014" if value is None else f"{float(value):+.2f}"


def day(value: Any) -> str:
    if value is None:
        return "\u2014"
    return value.date().isoformat() if hasattr(value, "date") and callable(value.date) else str(value)[:10]


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(band=band_label, num=num, signed=signed, day=day, signal=signal_label)
    env.globals["arrows"] = {"up": "\u2191", "down": "\u2193", "flat": "\u2192"}
    return env


def configured_bands() -> list[tuple[str, float | None]]:
    """(band, max score) in order from the scoring config; [] when it cannot be loaded."""
    from include.scoring.core.config import DEFAULT_CONFIG_PATH
    from include.scoring.core.settings import Settings

    path = Path(Settings.from_env().config_path or DEFAULT_CONFIG_PATH)
    try:
        return _bands(str(path), path.stat().st_mtime)
    except Exception as exc:  # noqa: BLE001 - the dashboard still works, without band order and lines
        log.warning(
            "dashboard: scoring config not loaded (%s); bands ordered by score",
            str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
        )
        return []


@lru_cache(maxsize=4)
def _bands(path: str, mtime: float) -> list[tuple[str, float | None]]:
    from include.scoring.core.config import load_config

    return [(b.name, b.max_score) for b in load_config(path).bands]


class Pages:
    """Rendering helpers bound to one request: links under the path the app is mounted at."""

    def __init__(self, request: Request, warehouse: Warehouse):
        self.warehouse = warehouse
        self.base = request.scope.get("root_path", "").rstrip("/")

    def account_url(self, account_id: str) -> str:
        return f"{self.base}/accounts/{quote(str(account_id), safe='')}"

    def list_url(self, params: dict[str, str] | None = None) -> str:
        return f"{self.base}/" + (f"?{urlencode(params)}" if params else "")

    def csv_url(self, params: dict[str, str] | None = None) -> str:
        return f"{self.base}/accounts.csv" + (f"?{urlencode(params)}" if params else "")

    def render(
        self, template: str, status_code: int = 200, show_warehouse: bool = True, **context: Any
    ) -> HTMLResponse:
        html = (
            environment()
            .get_template(template)
            .render(
                account_url=self.account_url,
                list_url=self.list_url,
                csv_url=self.csv_url,
                static_url=f"{self.base}/static",
                warehouse=self._describe() if show_warehouse else "",
                **context,
            )
        )
        return HTMLResponse(html, status_code=status_code, headers=SECURITY_HEADERS)

    def _describe(self) -> str:
        try:
            return self.warehouse.describe()
        except Exception:  # noqa: BLE001 - a broken resolver is reported by the page itself
            return "(unknown)"


def _band_options(bands: list[tuple[str, float | None]], counts: dict[str, int]) -> list[tuple[str, int]]:
    configured = [name for name, _ in bands]
    order = configured + [name for name in counts if name not in configured]
    return [(name, counts.get(name, 0)) for name in order]


def default_lake():
    """The lake the pipeline writes (ENGAGEMENT_LAKE, else the project default), for Data Docs."""
    from include.scoring.core.settings import Settings
    from include.scoring.lake.store import Lake

    return Lake(Settings.from_env().lake)


def who(lake_factory: Callable[[], Any], account_id: str, detail: queries.AccountDetail) -> Any:
    """The account's persons and recent contributions from the lake (people.py); without a
    readable lake the page still shows the warehouse's view and says why names are missing."""
    from include.dashboard.people import ACTIVITY_DAYS, AccountPeople, account_people

    keys = [str(row.key) for row in detail.explanation.get("person", [])]
    as_of = detail.score.as_of
    as_of = as_of.date() if hasattr(as_of, "date") and callable(as_of.date) else as_of
    try:
        return account_people(lake_factory(), account_id, as_of, keys)
    except Exception as exc:  # noqa: BLE001 - the lake is optional for this page
        log.warning("dashboard: no names or activity for %s from the lake: %s", account_id, exc)
        return AccountPeople({}, [], ACTIVITY_DAYS, note=f"names and recent activity unavailable: {exc}")


def add_docs_routes(router: APIRouter, warehouse: Warehouse, lake_factory: Callable[[], Any]) -> None:
    """Data Docs (a page per source and day, and the day's list) and the runbook (docs_pages.py)."""
    from include.scoring.lake import catalog

    def the_day(text: str):
        day_ = docs_pages.parse_day(text)
        if day_ is None:
            raise StarletteHTTPException(404, f"{text!r} is not a day; Data Docs are at /data-docs/YYYY-MM-DD.")
        return day_

    @router.get("/data-docs/{day_text}", response_class=HTMLResponse, name="data_docs_day")
    def data_docs_day(request: Request, day_text: str) -> HTMLResponse:
        pages, day_ = Pages(request, warehouse), the_day(day_text)
        lake = lake_factory()
        rows = [
            (source, docs_pages.source_summary(lake.read_side_file(catalog.validation(source), day_, "summary.json")))
            for source in docs_pages.ALL_SOURCES
            if lake.read_side_file(catalog.validation(source), day_, "data_docs.html") is not None
        ]
        return pages.render("data_docs_day.html.j2", day=day_, rows=rows, base=pages.base, show_warehouse=False)

    @router.get("/data-docs/{day_text}/{source:path}", response_class=HTMLResponse, name="data_docs")
    def data_docs(request: Request, day_text: str, source: str) -> HTMLResponse:
        base, day_ = Pages(request, warehouse).base, the_day(day_text)
        if not docs_pages.known_source(source):
            raise StarletteHTTPException(
                404, f"No source {source!r}; validated sources are {', '.join(docs_pages.ALL_SOURCES)}."
            )
        page = lake_factory().read_side_file(catalog.validation(source), day_, "data_docs.html")
        if page is None:
            raise StarletteHTTPException(
                404, f"No Data Docs for {source} on {day_}: validate_{source.split('/')[0]} has not run for that day."
            )
        body = docs_pages.offline_data_docs(
            page.decode("utf-8", "replace"),
            static_url=f"{base}/static",
            index_url=f"{base}/data-docs/{day_}",
            title=f"Data Docs: {source}, {day_}",
        )
        return HTMLResponse(body, headers=docs_pages.DOCS_HEADERS)

    @router.get("/runbook", response_class=HTMLResponse, name="runbook")
    def runbook(request: Request) -> HTMLResponse:
        return Pages(request, warehouse).render(
            "runbook.html.j2", body=docs_pages.runbook_html(docs_pages.runbook_text()), show_warehouse=False
        )


def create_app(
    warehouse: Warehouse | None = None,
    auth: Callable[..., Any] | None = None,
    lake_factory: Callable[[], Any] = default_lake,
) -> FastAPI:
    """The dashboard app; `auth` is a FastAPI dependency guarding every page (the plugin passes
    Airflow's login check), `warehouse` where to read (default: environment, then project default),
    `lake_factory` the lake whose Data Docs it serves."""
    warehouse = warehouse or Warehouse()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        warehouse.dispose()

    app = FastAPI(title="Engagement scores", docs_url=None, redoc_url=None, openapi_url=None, lifespan=lifespan)
    router = APIRouter(dependencies=[Depends(auth)] if auth else [])

    @router.get("/", response_class=HTMLResponse, name="accounts")
    def accounts(request: Request) -> HTMLResponse:
        pages = Pages(request, warehouse)
        flt = queries.AccountFilter.from_params(request.query_params)
        with warehouse.connect() as conn:
            result = queries.list_accounts(conn, flt)
            owners = queries.owners(conn)
            counts = queries.band_counts(conn, flt)
        sparks = (
            {account: sparkline(series, result.latest, queries.SPARK_DAYS) for account, series in result.sparks.items()}
            if result.latest
            else {}
        )
        return pages.render(
            "accounts.html.j2",
            flt=flt,
            result=result,
            owners=owners,
            sparks=sparks,
            bands=_band_options(configured_bands(), counts),
            lifecycles=queries.LIFECYCLES,
            spark_days=queries.SPARK_DAYS,
        )

    @router.get("/accounts.csv", name="accounts_csv")
    def accounts_csv(request: Request) -> Response:
        """The filtered accounts table as CSV; text cells guarded against spreadsheet formulas."""
        flt = queries.AccountFilter.from_params(request.query_params)
        with warehouse.connect() as conn:
            rows = queries.export_accounts(conn, flt)
        columns = [c.name for c in queries.LIST_COLUMNS]
        body = to_csv_text(columns, [dict(r._mapping) for r in rows])
        headers = {**SECURITY_HEADERS, "Content-Disposition": 'attachment; filename="accounts.csv"'}
        return Response(body, media_type="text/csv; charset=utf-8", headers=headers)

    @router.get("/accounts/{account_id:path}", response_class=HTMLResponse, name="account")
    def account(request: Request, account_id: str) -> HTMLResponse:
        pages = Pages(request, warehouse)
        with warehouse.connect() as conn:
            detail = queries.account_detail(conn, account_id)
        if detail is None:
            raise StarletteHTTPException(
                404, f"The warehouse has no account {account_id!r}. Search the accounts table by name or id."
            )
        bands = configured_bands()
        chart = history_chart(detail.history, bands)
        people = who(lake_factory, account_id, detail)
        return pages.render(
            "account.html.j2",
            d=detail,
            s=detail.score,
            chart=chart,
            people=people,
            history_days=queries.HISTORY_DAYS,
        )

    add_docs_routes(router, warehouse, lake_factory)
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=docs_pages.STATIC), name="static")

    @app.get("/icon.svg", include_in_schema=False)
    def icon() -> Response:
        return Response(ICON, media_type="image/svg+xml", headers={"Cache-Control": "max-age=86400"})

    @app.exception_handler(queries.BadRequest)
    def bad_request(request: Request, exc: queries.BadRequest) -> HTMLResponse:
        return Pages(request, warehouse).render(
            "error.html.j2", status_code=400, title="That filter cannot be used", detail=str(exc)
        )

    @app.exception_handler(WarehouseUnavailable)
    def unavailable(request: Request, exc: WarehouseUnavailable) -> HTMLResponse:
        return Pages(request, warehouse).render(
            "error.html.j2", status_code=exc.status_code, title=exc.title, detail=exc.detail
        )

    @app.exception_handler(StarletteHTTPException)
    def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if 300 <= exc.status_code < 400:  # e.g. the login redirect of the auth dependency
            return Response(status_code=exc.status_code, headers=exc.headers)
        titles = {401: "Sign in to Airflow first", 403: "Not allowed", 404: "Not found"}
        page = Pages(request, warehouse).render(
            "error.html.j2",
            status_code=exc.status_code,
            show_warehouse=exc.status_code not in (401, 403),
            title=titles.get(exc.status_code, "Error"),
            detail=str(exc.detail),
        )
        page.headers.update(exc.headers or {})
        return page

    return app
