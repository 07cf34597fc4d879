"""Account engagement scoring engine: a plain Python package with no Airflow imports.

One module per stage (extract, validate, identity, signals, engine, publish, calibration, report),
plus config, lake I/O, a synthetic data generator and a CLI (`python -m include.scoring`).
"""
