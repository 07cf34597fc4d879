"""Project code shared by the DAGs: the scoring engine, expectations and Airflow glue."""
