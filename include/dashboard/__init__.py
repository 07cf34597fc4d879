"""The score dashboard: accounts table and account pages over the warehouse, server-rendered.

A FastAPI app (include/dashboard/app.py) that the Airflow plugin plugins/engagement_dashboard.py
mounts in the api-server under /engagement and links from the UI menu; it also runs on its own
(`uvicorn --factory include.dashboard.app:create_app`). It only reads the warehouse (SQLAlchemy
Core, bound parameters, read-only connections) and imports neither pandas nor Airflow at import
time; the Airflow-specific parts (login, the engagement_warehouse connection) live in
include/airflow_glue/dashboard.py and are imported when a request needs them.
"""
