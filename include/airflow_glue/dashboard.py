"""What the dashboard needs from Airflow when the api-server mounts it: login and the warehouse
connection. Airflow is imported inside the functions, at request time, never at import time.

* `require_airflow_view` guards every page with Airflow's own login: the JWT of the UI session
  cookie (what the page sees inside the Airflow UI) or an `Authorization: Bearer` token, checked
  by the configured auth manager, which must also allow the user the read-only website view.
  A browser without a session is sent to the Airflow login page and back.
* `airflow_warehouse_url` reads the `engagement_warehouse` connection (the same translation to a
  SQLAlchemy URL the DAG tasks use, include/airflow_glue/dag_support.py), else ENGAGEMENT_WAREHOUSE_URL, else
  the project default.
"""

from __future__ import annotations

from fastapi import HTTPException, Request


def airflow_warehouse_url() -> str:
    from include.airflow_glue.dag_support import WAREHOUSE_CONN_ID, connection_url
    from include.dashboard.source import env_warehouse_url

    return connection_url(WAREHOUSE_CONN_ID) or env_warehouse_url()


def _wants_html(request: Request) -> bool:
    return request.method == "GET" and "text/html" in request.headers.get("accept", "")


async def require_airflow_view(request: Request) -> None:
    """FastAPI dependency: an Airflow user allowed the website view, else 401/403 (or, for a
    browser, a redirect to the Airflow login page)."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
    from airflow.api_fastapi.core_api.security import get_user
    from fastapi.security import HTTPBearer

    credentials = await HTTPBearer(auto_error=False)(request)
    try:
        user = await get_user(request, None, credentials)
    except HTTPException as exc:
        if exc.status_code == 401 and _wants_html(request):
            login = get_auth_manager().get_url_login(next_url=str(request.url))
            raise HTTPException(status_code=303, headers={"Location": login}) from None
        raise HTTPException(
            exc.status_code, f"{exc.detail}: sign in to Airflow, or send an Airflow API token (POST /auth/token)."
        ) from None
    if not get_auth_manager().is_authorized_view(access_view=AccessView.WEBSITE, user=user):
        raise HTTPException(403, f"Airflow user {user.get_name()!r} may not view this Airflow installation.")
