"""The score dashboard inside the Airflow UI (Airflow 3 plugin).

Registers the dashboard's FastAPI app (include/dashboard/app.py) under /engagement on the
api-server and an "Engagement scores" entry in the UI's navigation that shows it inside the UI
(at /plugin/engagement-scores). Pages need an Airflow login (the UI session or an API token);
the warehouse is the `engagement_warehouse` connection, else ENGAGEMENT_WAREHOUSE_URL, else the
project default. Also registers the listener that writes the day a daily run processes as the
run's note (include/airflow_glue/run_note.py). Light at import (FastAPI and Jinja2, no pandas,
no database): every component that loads plugins imports this file, and only the api-server
serves it.
"""

from __future__ import annotations

from airflow.plugins_manager import AirflowPlugin

from include.airflow_glue.dashboard import airflow_warehouse_url, require_airflow_view
from include.airflow_glue.run_note import RunDayNote
from include.dashboard.app import create_app
from include.dashboard.source import Warehouse

URL_PREFIX = "/engagement"

dashboard_app = create_app(Warehouse(airflow_warehouse_url), auth=require_airflow_view)


class EngagementDashboardPlugin(AirflowPlugin):
    name = "engagement_dashboard"
    listeners = [RunDayNote()]
    fastapi_apps = [{"app": dashboard_app, "url_prefix": URL_PREFIX, "name": "Engagement scores"}]
    external_views = [
        {
            "name": "Engagement scores",
            "href": f"{URL_PREFIX}/",
            "destination": "nav",
            "url_route": "engagement-scores",
            "icon": f"{URL_PREFIX}/icon.svg",
        }
    ]
