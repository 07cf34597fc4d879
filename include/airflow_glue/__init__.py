"""Everything that imports Airflow: task context, notifier, channels, assets, Celery preload, dashboard login."""
