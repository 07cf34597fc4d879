"""The monthly calibration report (SPEC section 6): is the score predicting what it should?

data.py      the month's account-days, point-in-time outcomes and signal counts (no leakage)
metrics.py   bands, migration, conversion by band, signal lift, ROC AUC, alert thresholds
suggest.py   suggested point values (logistic fit), YAML diff, hold-out backtest
quality.py   data-quality section (quarantined, unresolved, filtered, rule firings, task runs)
charts.py    matplotlib charts; render.py HTML and email; pdf.py the PDF
report.py    build_report (compute, render, write the month folder) and email_report

No Airflow imports here: the DAG engagement_monthly_calibration gathers task runs itself and
passes them in as plain data.
"""
