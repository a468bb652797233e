"""How a model is judged on its held-out period: pure numpy, no Spark (unit-tested).

Churn: ROC AUC, and the precision of the top score decile beside that of the plan's 3-day rule.
Cell faults: per fault and per alert, not per row: a fault is caught when an alert fires 1-6
hours before it starts; an alert is right when a fault starts 1-6 hours after it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def roc_auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """The probability that a random positive scores above a random negative (ties count half)."""
    labels = np.asarray(labels, dtype=bool)
    pos, neg = int(labels.sum()), int((~labels).sum())
    if not pos or not neg:
        return float("nan")
    ranks = pd.Series(np.asarray(scores, dtype=float)).rank(method="average").to_numpy()
    return float((ranks[labels].sum() - pos * (pos + 1) / 2) / (pos * neg))


def top_share_precision(labels: np.ndarray, scores: np.ndarray, share: float = 0.1) -> float:
    """The share of positives among the highest-scored ``share`` of rows."""
    labels = np.asarray(labels, dtype=bool)
    k = max(1, int(round(len(labels) * share)))
    top = np.argsort(-np.asarray(scores, dtype=float), kind="stable")[:k]
    return float(labels[top].mean())


def flag_precision(labels: np.ndarray, flags: np.ndarray) -> float:
    """The share of positives among the flagged rows (nan when nothing is flagged)."""
    flags = np.asarray(flags, dtype=bool)
    return float(np.asarray(labels, dtype=bool)[flags].mean()) if flags.any() else float("nan")


def lift(precision: float, baseline: float) -> float:
    """How many times the baseline's precision; nan where the baseline caught nothing (or
    flagged nothing): a held-out period too small to compare on, not a failure to train."""
    return precision / baseline if baseline > 0 else float("nan")


def fault_alert_metrics(hours: pd.DataFrame, alert: str, min_lead: int = 1, max_lead: int = 6) -> dict[str, float]:
    """Recall over faults, precision over alerts and lead times, for one alert column.

    ``hours``: one row per cell and hour (columns cell_id, hour as an integer hour number,
    onset: a fault starts in that hour, and the boolean ``alert``). Alerts fired during a fault
    are not counted (the fault is already known)."""
    h = hours[["cell_id", "hour", "onset", alert]].rename(columns={alert: "alert"})
    onsets = h.loc[h.onset, ["cell_id", "hour"]]
    alerts = h.loc[h.alert, ["cell_id", "hour"]]
    pairs = alerts.merge(onsets, on="cell_id", suffixes=("_alert", "_fault"))
    lead = pairs.hour_fault - pairs.hour_alert
    pairs = pairs[(lead >= min_lead) & (lead <= max_lead)].assign(lead=lead)
    caught = pairs.groupby(["cell_id", "hour_fault"]).lead.max()  # the earliest warning
    right = pairs[["cell_id", "hour_alert"]].drop_duplicates()
    return {
        "faults": float(len(onsets)),
        "alerts": float(len(alerts)),
        "recall": len(caught) / len(onsets) if len(onsets) else float("nan"),
        "precision": len(right) / len(alerts) if len(alerts) else float("nan"),
        "median_lead_hours": float(caught.median()) if len(caught) else float("nan"),
    }


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of ``actual`` scores against ``expected`` ones, over the
    expected scores' deciles: under 0.1 stable, 0.1-0.25 shifting, over 0.25 drifted."""
    expected, actual = np.asarray(expected, dtype=float), np.asarray(actual, dtype=float)
    if not len(expected) or not len(actual):
        return float("nan")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)[1:-1]))
    e = np.bincount(np.searchsorted(edges, expected, side="right"), minlength=len(edges) + 1) / len(expected)
    a = np.bincount(np.searchsorted(edges, actual, side="right"), minlength=len(edges) + 1) / len(actual)
    e, a = np.clip(e, 1e-4, None), np.clip(a, 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def reference_sample(scores: np.ndarray, n: int = 2000) -> list[float]:
    """Evenly spaced quantiles of held-out scores: the reference a model's later scores' drift
    (psi) is measured against."""
    return np.quantile(scores, np.linspace(0, 1, n)).tolist() if len(scores) else []
