"""The cluster benchmark reads each task's peak memory from the line the task's log ends with."""

from __future__ import annotations

import json
import logging

from benchmarks.cluster_day import peak_memory_of_tasks
from include.airflow_glue.dag_support import log_peak_memory


def test_the_peak_memory_each_task_logged_is_read_per_task_shard_and_try(tmp_path, caplog):
    with caplog.at_level(logging.INFO, logger="include.airflow_glue.dag_support"):
        log_peak_memory({})
    [message] = caplog.messages
    run = tmp_path / "logs" / "dag_id=engagement_daily" / "run_id=manual__2026-10-14T02:00:00+00:00"
    logged = {
        "task_id=resolve_identities/map_index=2/attempt=1.log": message,
        "task_id=resolve_identities/map_index=2/attempt=2.log": message.replace(message.split()[-2], "1,234"),
        "task_id=publish_warehouse/attempt=1.log": message.replace(message.split()[-2], "987"),
        "task_id=send_alerts/attempt=1.log": "sent 3 alerts",  # failed before its last line: no figure
    }
    for name, event in logged.items():
        path = run / name
        path.parent.mkdir(parents=True, exist_ok=True)
        lines = [{"event": "resolve 2026-10-13 processes day"}, {"event": event, "logger": "dag_support"}]
        path.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    peaks = peak_memory_of_tasks(tmp_path)
    figure = int(message.split()[-2].replace(",", ""))
    assert peaks == {
        ("resolve_identities", 2, 1): figure,
        ("resolve_identities", 2, 2): 1234,
        ("publish_warehouse", -1, 1): 987,
    }
    assert figure > 50  # this test process's own high-water mark, in MB
