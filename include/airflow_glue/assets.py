"""Airflow Assets of the project, defined once.

`ENGAGEMENT_SCORES` is updated by `engagement_daily.publish_warehouse` each time a day's scores
land in the warehouse (the event's extra carries the day and counts). Downstream DAGs schedule
on it: `@dag(schedule=[ENGAGEMENT_SCORES], ...)`.
"""

from __future__ import annotations

from airflow.sdk import Asset

ENGAGEMENT_SCORES = Asset(
    name="engagement_account_scores", uri="engagement://warehouse/account_scores", group="engagement"
)
