"""Account engagement scoring engine: a plain Python package with no Airflow imports.

One package per SPEC stage (extract, validate, resolve, score, publish, report), each with a
`stage.py` (the stage function the DAG tasks and the CLI call, and its lake I/O) and pure modules
beside it; `core/` (config, contracts, errors, settings), `lake/` (store, atomic writes, the catalog
of datasets), `privacy/` (right to erasure) and `cli/` (`python -m include.scoring`). See the
README's "Layout" for which module does what.
"""
