"""Predictions on gold: churn propensity per subscriber (churn.py) and the cell-fault forecast
per cell and hour (faults.py), trained on Spark MLlib, judged on a later held-out period
(metrics.py) and recorded with their inputs' Delta versions (registry.py)."""
