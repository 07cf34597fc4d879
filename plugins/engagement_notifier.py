"""The on-call failure notifier, importable from the plugins folder (`import engagement_notifier`).

Airflow puts the plugins folder on sys.path, so deployments and DAG files outside this repository
can use `from engagement_notifier import EngagementFailureNotifier`. The logic lives in
include/airflow_glue/notifier.py (needs the project root on PYTHONPATH, as every component here has).
No AirflowPlugin is registered: a notifier needs none.
"""

from include.airflow_glue.notifier import EngagementFailureNotifier, build_notice, deliver

__all__ = ["EngagementFailureNotifier", "build_notice", "deliver"]
