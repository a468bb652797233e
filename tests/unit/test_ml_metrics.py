"""How the models are judged (spark_jobs/ml/metrics.py), on hand-made answers."""

from __future__ import annotations

import json
import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from spark_jobs.ml import metrics, registry
from spark_jobs.ml.churn import plan_split


def test_roc_auc_counts_pairs_ranked_right_and_ties_as_half():
    assert metrics.roc_auc([1, 1, 0, 0], [0.9, 0.8, 0.2, 0.1]) == 1.0
    assert metrics.roc_auc([1, 1, 0, 0], [0.1, 0.2, 0.8, 0.9]) == 0.0
    # positives 0.9 and 0.3; negatives 0.5 and 0.3: pairs won 1 + 0 + 1 + 0.5 (the tie) of 4
    assert metrics.roc_auc([1, 1, 0, 0], [0.9, 0.3, 0.5, 0.3]) == pytest.approx(0.625)
    assert math.isnan(metrics.roc_auc([0, 0], [0.1, 0.2]))


def test_top_decile_precision_and_a_rules_precision():
    labels = np.array([1] * 5 + [0] * 95)
    scores = np.linspace(1, 0, 100)  # the five positives score highest
    assert metrics.top_share_precision(labels, scores, 0.1) == 0.5
    flags = np.zeros(100, bool)
    flags[[0, 50, 60, 70]] = True
    assert metrics.flag_precision(labels, flags) == 0.25
    assert math.isnan(metrics.flag_precision(labels, np.zeros(100, bool)))
    assert metrics.lift(0.5, 0.25) == 2.0
    # a rule whose flags caught no churner (or that flagged nobody): no ratio, and no crash
    assert math.isnan(metrics.lift(0.5, 0.0)) and math.isnan(metrics.lift(0.5, float("nan")))


def test_a_fault_is_caught_by_an_alert_1_to_6_hours_before_it():
    hours = pd.DataFrame(
        {
            "cell_id": ["a"] * 12 + ["b"] * 12,
            "hour": list(range(12)) * 2,
            "onset": [False] * 10 + [True, False] + [False] * 11 + [True],
            "alert": [False] * 24,
        }
    )
    hours.loc[(hours.cell_id == "a") & hours.hour.isin([5, 7]), "alert"] = True  # 5 h and 3 h before a's fault
    hours.loc[(hours.cell_id == "b") & (hours.hour == 11), "alert"] = True  # in the fault's own hour: no lead
    hours.loc[(hours.cell_id == "b") & (hours.hour == 1), "alert"] = True  # 10 h before: too early
    m = metrics.fault_alert_metrics(hours, "alert")
    assert m["faults"] == 2 and m["alerts"] == 4
    assert m["recall"] == 0.5  # a's only
    assert m["precision"] == 0.5  # a's two alerts of four
    assert m["median_lead_hours"] == 5  # the earliest warning counts


def test_psi_is_zero_for_the_same_scores_and_grows_with_a_shift():
    rng = np.random.default_rng(1)
    ref = rng.beta(2, 8, 5000)
    assert metrics.psi(ref, ref) == pytest.approx(0, abs=1e-9)
    assert metrics.psi(ref, rng.beta(2, 8, 5000)) < 0.05
    assert metrics.psi(ref, rng.beta(4, 6, 5000)) > 0.25


def test_the_held_out_cutoffs_label_window_is_after_every_training_window():
    s = plan_split(date(2026, 10, 1), date(2026, 11, 29), horizon_days=14)
    assert s.test_cutoff == date(2026, 11, 15) and s.horizon_days == 14
    assert all(c + pd.Timedelta(days=14) <= s.test_cutoff for c in s.train_cutoffs)
    assert min(s.train_cutoffs) >= date(2026, 10, 11)
    short = plan_split(date(2026, 10, 1), date(2026, 10, 30), horizon_days=14)
    assert short.horizon_days == 7 and short.test_cutoff == date(2026, 10, 23)
    with pytest.raises(ValueError, match="too few"):
        plan_split(date(2026, 10, 1), date(2026, 10, 10))


def test_a_runs_summary_is_json_with_an_undefined_figure_as_null():
    """What the training task hands Airflow (strict JSON): a held-out period with no churner
    has no ROC AUC."""
    run = registry.Run("churn", {}, {}, "", metrics={"roc_auc": float("nan"), "base_rate": 0.0})
    summary = json.loads(json.dumps(run.summary(), allow_nan=False))
    assert summary == {"version": run.version, "roc_auc": None, "base_rate": 0.0}
