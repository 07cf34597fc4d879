# The project's Airflow image: the official image of the pinned Airflow version (requirements.txt)
# on the project's Python (3.11), plus the pinned dependencies and the project code.
# Built by docker-compose.yaml; the compose file also mounts dags/, include/ and plugins/ over the
# copies below so edits show up without a rebuild.
FROM apache/airflow:3.3.2-python3.11

COPY --chown=airflow:0 requirements.txt constraints.txt /opt/airflow/deps/
RUN pip install --no-cache-dir -r /opt/airflow/deps/requirements.txt -c /opt/airflow/deps/constraints.txt

COPY --chown=airflow:0 dags/ /opt/airflow/dags/
COPY --chown=airflow:0 include/ /opt/airflow/include/
COPY --chown=airflow:0 plugins/ /opt/airflow/plugins/
COPY --chown=airflow:0 docs/runbook.md /opt/airflow/docs/runbook.md

# The lake and the sample (named volumes in docker-compose.yaml) start out writable by the
# container user: any uid (AIRFLOW_UID, the host's) with group 0.
RUN mkdir -p /opt/airflow/engagement/lake /opt/airflow/sample \
    && chmod -R g+rwX /opt/airflow/engagement /opt/airflow/sample

# `include` is imported by the DAG files, the tasks and the notifier.
ENV PYTHONPATH=/opt/airflow
