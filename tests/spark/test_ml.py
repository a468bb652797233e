"""The models' examples, training, promotion and scoring (spark_jobs/ml) on gold-shaped tables
made here, whose answers are known: features see nothing after the cutoff, labels are the
terminations and outage onsets that follow, a retrained model that is no better is not promoted.
Their figures on generated data at scale: benchmarks/bench_ml.py."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
import pytest
from pyspark.sql import functions as F

from spark_jobs.ml import churn, faults, registry

CUTOFF = date(2026, 10, 20)


def _ts(d: date, hour: int = 12) -> datetime:
    return datetime(d.year, d.month, d.day, hour)


@pytest.fixture()
def gold_tables(spark):
    """Six subscribers around CUTOFF: a, b (terminates 3 days after), c (closed before),
    d (opened after), e (terminates 20 days after), f (CRM only)."""
    day = timedelta(days=1)
    users = spark.createDataFrame(
        [
            ("a", 1, _ts(date(2025, 1, 1)), None, 5, True),
            ("b", 2, _ts(date(2026, 1, 1)), _ts(CUTOFF + 3 * day), 1, False),
            ("c", 3, _ts(date(2025, 1, 1)), _ts(CUTOFF - 2 * day), 1, False),
            ("d", 4, _ts(CUTOFF + day), None, 1, False),
            ("e", 5, _ts(date(2025, 1, 1)), _ts(CUTOFF + 20 * day), 1, False),
            ("f", None, None, None, None, False),
        ],
        "user_key string, subscriber_id long, subscriber_activated_at timestamp, terminated_at timestamp, "
        "plan_product_id long, is_5g_plan boolean",
    )
    rows = [("a", CUTOFF - k * day, 1, 100.0, 10.0) for k in range(-2, 30)]  # every day, after the cutoff too
    rows += [("b", CUTOFF - k * day, 1, 50.0, 0.0) for k in range(5, 30)]  # silent for the last 5 days
    rows += [("b", CUTOFF + day, 1, 999.0, 0.0)]  # after the cutoff: must not count
    rows += [("e", CUTOFF - 1 * day, 0, 10.0, 0.0)]  # events but no login
    activity = spark.createDataFrame(
        rows, "user_key string, activity_date date, logins long, data_mb double, video_minutes double"
    )
    tickets = spark.createDataFrame(
        [
            ("b", _ts(CUTOFF - 2 * day), False),
            ("b", _ts(CUTOFF - 6 * day), True),
            ("b", _ts(CUTOFF - 20 * day), True),
            ("b", _ts(CUTOFF + day), False),  # after the cutoff
        ],
        "user_key string, opened_at timestamp, is_answer_within_sla boolean",
    )
    products = spark.createDataFrame([(1, 39.0), (5, 129.0)], "product_id long, price double")
    return {
        "dim_user": users,
        "fct_app_activity_daily": activity,
        "fct_service_tickets": tickets,
        "dim_product": products,
    }


def test_churn_examples_see_nothing_after_the_cutoff_and_label_the_horizon(spark, gold_tables):
    got = {r.user_key: r for r in churn.examples(spark, gold_tables, [CUTOFF], 14).collect()}
    assert set(got) == {"a", "b", "e"}  # c closed before, d opened after, f has no account
    a, b, e = got["a"], got["b"], got["e"]
    assert (a.label, b.label, e.label) == (0.0, 1.0, 0.0)  # e leaves after the 14 days
    assert a.days_since_login == 0 and a.active_days_7d == 7 and a.active_days_28d == 28
    assert b.days_since_login == 5 and b.active_days_7d == 2 and b.active_days_28d == 23
    assert b.rule_flag and not a.rule_flag and not e.rule_flag  # e never logged in: not flagged, as dim_user
    assert e.days_since_login == churn.LOOKBACK_DAYS * 2
    assert b.data_mb_7d_log == pytest.approx(np.log1p(100.0))  # 2 days x 50, not the 999 after
    assert b.complaints_7d == 2 and b.complaints_28d == 3 and b.slow_answers_28d == 1
    assert a.complaints_28d == 0 and a.plan_price == 129.0 and a.is_5g_plan == 1.0
    assert a.login_trend == pytest.approx(0.0) and b.login_trend == pytest.approx(2 / 7 - 21 / 21)


def test_fault_examples_label_the_1_to_6_hours_before_an_outage_starts(spark):
    start = datetime(2026, 10, 1)
    rows = []
    for h in range(30):
        load = 95.0 if 17 <= h < 20 else 50.0
        fault = h in (20, 21)
        rows.append(
            (
                "c1",
                start + timedelta(hours=h),
                load,
                load,
                load,
                30.0 if fault else 1.0,
                1 if h == 19 else 0,
                fault,
                load >= 85,
                "5G",
            )
        )
    hourly = spark.createDataFrame(
        rows,
        "cell_id string, local_hour timestamp, avg_load_pct double, max_load_pct double, "
        "max_bandwidth_util_pct double, max_drop_rate_pct double, alarm_count long, is_fault boolean, "
        "is_fault_risk boolean, rat string",
    )
    got = {
        r.local_hour.hour if r.local_hour.day == 1 else 24 + r.local_hour.hour: r
        for r in faults.examples(hourly).collect()
    }
    assert [h for h, r in got.items() if r.onset] == [20]  # 21 continues the outage
    assert sorted(h for h, r in got.items() if r.label == 1.0) == [14, 15, 16, 17, 18, 19]
    assert sorted(h for h, r in got.items() if not r.complete) == list(range(24, 30))
    assert got[17].load_climb_1h == 45.0 and got[19].load_climb_3h == 45.0 and got[18].hours_hot_3h == 2
    assert got[19].alarms_3h == 1 and got[22].alarms_6h == 1 and got[23].alarms_3h == 0
    assert got[25].load_vs_yesterday == 0.0 and got[0].load_climb_1h == 0.0  # no hour before: 0


@pytest.fixture()
def learnable_gold(spark, monkeypatch, tmp_path):
    """gold tables in a prefix of the test's own, where leaving follows going silent."""
    monkeypatch.setenv("LAKEHOUSE_SCHEMA_PREFIX", "mlt_")
    monkeypatch.setenv("LAKEHOUSE_MODELS", str(tmp_path / "models"))
    rng = np.random.default_rng(3)
    first = date(2026, 9, 1)
    users, activity = [], []
    for u in range(600):
        leaves = rng.random() < 0.15
        end = first + timedelta(days=int(rng.integers(30, 60))) if leaves else None
        users.append((f"u{u}", u, _ts(date(2025, 1, 1)), _ts(end) if end else None, 1, False))
        for k in range(60):
            d = first + timedelta(days=k)
            quiet = end is not None and d >= end - timedelta(days=20)
            if (end is None or d < end) and rng.random() < (0.1 if quiet else 0.8):
                activity.append((f"u{u}", d, 1, float(rng.gamma(2, 50)), 0.0))
    spark.sql("create database if not exists mlt_gold")
    tables = {
        "dim_user": spark.createDataFrame(
            users,
            "user_key string, subscriber_id long, subscriber_activated_at timestamp, terminated_at timestamp, "
            "plan_product_id long, is_5g_plan boolean",
        ),
        "fct_app_activity_daily": spark.createDataFrame(
            activity, "user_key string, activity_date date, logins long, data_mb double, video_minutes double"
        ),
        "fct_service_tickets": spark.createDataFrame(
            [], "user_key string, opened_at timestamp, is_answer_within_sla boolean"
        ),
        "dim_product": spark.createDataFrame([(1, 39.0)], "product_id long, price double"),
    }
    for name, df in tables.items():
        df.write.format("delta").mode("overwrite").saveAsTable(f"mlt_gold.{name}")
    yield
    for db in ("mlt_gold", "mlt_quality"):
        spark.sql(f"drop database if exists {db} cascade")


def test_a_model_is_recorded_promoted_once_and_scores_every_open_subscriber(spark, learnable_gold):
    first = churn.train(spark, progress=lambda _: None)
    runs = spark.table(registry.runs_table())
    row = runs.where(F.col("version") == first.version).first()
    assert row.promoted and row.decision == "first model"
    assert set(row.inputs) == set(churn.inputs()) and all(v >= 0 for v in row.inputs.values())
    assert row.metrics["roc_auc"] > 0.9 and row.metrics["top_decile_lift_over_rule"] > 1
    assert row.metrics["positives"] > 0 and len(row.test_scores) == 2000

    again = churn.train(spark, progress=lambda _: None)  # the same data: no better, not promoted
    row2 = runs.where(F.col("version") == again.version).first()
    assert again.version != first.version and not row2.promoted and row2.champion_metrics is not None
    assert registry.champion(spark, churn.MODEL).version == first.version

    as_of = date(2026, 10, 25)
    n = churn.score_day(spark, as_of, progress=lambda _: None)
    scores = spark.table(churn.scores_table()).where(F.col("as_of_date") == as_of)
    open_then = spark.table("mlt_gold.dim_user").where(
        F.col("terminated_at").isNull() | (F.to_date("terminated_at") > F.lit(as_of))
    )
    assert n == scores.count() == open_then.count()
    assert {r.decile for r in scores.select("decile").distinct().collect()} == set(range(1, 11))
    assert scores.where(F.col("model_version") != first.version).count() == 0
    top = scores.orderBy(F.desc("churn_score")).first()
    assert top.decile == 1 and {"days_since_login", "active_days_7d", "active_days_28d"} & set(top.top_features)
    assert set(scores.columns) == {
        "user_key",
        "churn_score",
        "decile",
        "top_features",
        "rule_flag",
        "model_version",
        "scored_at",
        "as_of_date",
    }
    drift = spark.table(registry.scoring_table()).where(F.col("model") == churn.MODEL).first()
    assert drift.rows == n and drift.psi is not None
    assert churn.score_day(spark, as_of, progress=lambda _: None) == n  # the day's partition is replaced
    assert spark.table(churn.scores_table()).where(F.col("as_of_date") == as_of).count() == n


def _cell_hours(cells: int, days: int, seed: int = 5) -> list[tuple]:
    """Cells whose outages (two hours dropping 30 % of calls) follow three hours of load at 95 %
    and an alarm; the rest of the time load is 40-70 %."""
    rng = np.random.default_rng(seed)
    start, rows = datetime(2026, 10, 1), []
    for c in range(cells):
        onsets = set(rng.choice(np.arange(12, days * 24 - 4), size=days // 2, replace=False).tolist())
        for h in range(days * 24):
            fault = h in onsets or h - 1 in onsets
            hot = any(0 < o - h <= 3 for o in onsets)
            load = 95.0 if hot else float(rng.uniform(40, 70))
            rows.append(
                (
                    f"c{c}",
                    start + timedelta(hours=h),
                    load,
                    load + 2,
                    load,
                    30.0 if fault else 1.0,
                    int(hot and rng.random() < 0.5),
                    fault,
                    load >= 85,
                    "4G",
                )
            )
    return rows


HOURLY_SCHEMA = (
    "cell_id string, local_hour timestamp, avg_load_pct double, max_load_pct double, "
    "max_bandwidth_util_pct double, max_drop_rate_pct double, alarm_count long, is_fault boolean, "
    "is_fault_risk boolean, rat string"
)


def test_the_forecast_scores_each_cell_hour_once_a_late_files_hours_too(spark, monkeypatch, tmp_path):
    monkeypatch.setenv("LAKEHOUSE_SCHEMA_PREFIX", "mlf_")
    monkeypatch.setenv("LAKEHOUSE_MODELS", str(tmp_path / "models"))
    rows = _cell_hours(cells=6, days=8)
    last = max(r[1] for r in rows)
    # held back: the newest 3 hours of every cell, and c5's 10 hours before them (a late file)
    newest = [r for r in rows if r[1] > last - timedelta(hours=3)]
    late = [r for r in rows if r[0] == "c5" and last - timedelta(hours=13) < r[1] <= last - timedelta(hours=3)]
    held = {(r[0], r[1]) for r in newest + late}
    spark.sql("create database if not exists mlf_gold")
    hourly = faults.hourly_table()
    try:
        first = [r for r in rows if (r[0], r[1]) not in held]
        spark.createDataFrame(first, HOURLY_SCHEMA).write.format("delta").saveAsTable(hourly)
        run = faults.train(spark, progress=lambda _: None)
        assert run.metrics["faults"] > 0 and 0 < run.params["threshold"] < 1
        assert faults.score_hours(spark, progress=lambda _: None) == len(first)

        spark.createDataFrame(late + newest, HOURLY_SCHEMA).write.format("delta").mode("append").saveAsTable(hourly)
        assert faults.score_hours(spark, progress=lambda _: None) == len(late) + len(newest)
        forecast = spark.table(faults.forecast_table())
        assert forecast.count() == forecast.select("cell_id", "local_hour").distinct().count() == len(rows)
        assert faults.score_hours(spark, progress=lambda _: None) == 0  # nothing new
        drift = spark.table(registry.scoring_table()).orderBy("scored_at").collect()
        assert [d.rows for d in drift] == [len(first), len(late) + len(newest)]
        assert all(0 <= d.mean_score <= 1 and d.psi == d.psi for d in drift)  # psi not NaN
        threshold = run.params["threshold"]
        assert forecast.where(F.col("is_alert") != (F.col("probability_fault") >= threshold)).count() == 0
        # warned of: most planted outages have an alert 1-6 hours before their onset
        alerts = {(r.cell_id, r.local_hour) for r in forecast.where("is_alert").collect()}
        onsets = [
            (r[0], r[1]) for i, r in enumerate(rows) if r[7] and not (i and rows[i - 1][7] and rows[i - 1][0] == r[0])
        ]
        warned = [any((c, t - timedelta(hours=k)) in alerts for k in range(1, 7)) for c, t in onsets]
        assert sum(warned) >= 0.7 * len(onsets)
    finally:
        for db in ("mlf_gold", "mlf_quality"):
            spark.sql(f"drop database if exists {db} cascade")
