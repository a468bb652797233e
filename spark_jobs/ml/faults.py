"""Cell-fault forecast: for each cell and hour, the probability that an outage starts in the
next 1-6 hours, from gold.fct_cell_kpi_hourly (is_fault marks the outage hours).

Features are what the cell showed up to the end of the hour: load and utilisation, their climb
over the last hours and against the same hour the day before, minor alarms. The held-out period
is the latest share of the hours; training ends six hours before it so no label looks into it.
The alert threshold is the one that catches most faults at the target precision on a validation
slice of the training period.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import GBTClassifier
from pyspark.ml.feature import VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from core.settings import get_settings
from spark_jobs.ml import metrics, registry

MODEL = "cell_faults"
HORIZON = (1, 6)  # hours ahead
TARGET_PRECISION = 0.5
LATE_HOURS = 48  # how late an hour's file may land and still be forecast
FEATURES = [
    "avg_load_pct",
    "max_load_pct",
    "max_bandwidth_util_pct",
    "max_drop_rate_pct",
    "alarm_count",
    "alarms_3h",
    "alarms_6h",
    "load_climb_1h",
    "load_climb_3h",
    "load_vs_yesterday",
    "hours_hot_3h",
    "hour_of_day",
    "is_5g",
]


def hourly_table() -> str:
    return f"{get_settings().schema_prefix}gold.fct_cell_kpi_hourly"


def forecast_table() -> str:
    return f"{get_settings().schema_prefix}gold.cell_fault_forecast"


def examples(hourly: DataFrame) -> DataFrame:
    """Every cell-hour with FEATURES, whether an outage starts in it (onset), the label (one
    starts 1-6 h later) and whether the data reaches far enough ahead to know (complete)."""
    h = hourly.select(
        "cell_id",
        "local_hour",
        (F.unix_seconds("local_hour") / 3600).cast("long").alias("hour"),
        "avg_load_pct",
        "max_load_pct",
        "max_bandwidth_util_pct",
        "max_drop_rate_pct",
        F.col("alarm_count").cast("double").alias("alarm_count"),
        "is_fault",
        "is_fault_risk",
        F.hour("local_hour").cast("double").alias("hour_of_day"),
        (F.col("rat") == "5G").cast("double").alias("is_5g"),
    )
    w = Window.partitionBy("cell_id").orderBy("hour")

    def over(col: Column | str, lo: int, hi: int, agg=F.max) -> Column:
        return agg(col).over(w.rangeBetween(lo, hi))

    fault = F.col("is_fault").cast("int")
    h = h.withColumn("onset", F.col("is_fault") & (F.coalesce(over(fault, -1, -1), F.lit(0)) == 0))
    load = F.col("avg_load_pct")
    return h.select(
        "*",
        F.coalesce(over("alarm_count", -2, 0, F.sum), F.lit(0.0)).alias("alarms_3h"),
        F.coalesce(over("alarm_count", -5, 0, F.sum), F.lit(0.0)).alias("alarms_6h"),
        F.coalesce(load - over(load, -1, -1), F.lit(0.0)).alias("load_climb_1h"),
        F.coalesce(load - over(load, -3, -3), F.lit(0.0)).alias("load_climb_3h"),
        F.coalesce(load - over(load, -24, -24), F.lit(0.0)).alias("load_vs_yesterday"),
        over((load >= 85).cast("double"), -2, 0, F.sum).alias("hours_hot_3h"),
        F.coalesce(over(F.col("onset").cast("int"), HORIZON[0], HORIZON[1]), F.lit(0)).cast("double").alias("label"),
        (F.max("hour").over(Window.partitionBy("cell_id")) >= F.col("hour") + HORIZON[1]).alias("complete"),
    )


def pipeline(max_iter: int = 40, max_depth: int = 5) -> Pipeline:
    return Pipeline(
        stages=[
            VectorAssembler(inputCols=FEATURES, outputCol="features"),
            GBTClassifier(featuresCol="features", labelCol="label", maxIter=max_iter, maxDepth=max_depth, seed=7),
        ]
    )


def probabilities(model: PipelineModel, df: DataFrame) -> DataFrame:
    return (
        model.transform(df)
        .withColumn("probability_fault", vector_to_array(F.col("probability"))[1])
        .drop("features", "rawPrediction", "probability", "prediction")
    )


def _frame(scored: DataFrame) -> pd.DataFrame:
    return scored.select(
        "cell_id", "hour", "onset", "is_fault", "is_fault_risk", "label", "probability_fault"
    ).toPandas()


def judge(pdf: pd.DataFrame, threshold: float) -> tuple[dict, dict]:
    """The model's alerts (probability >= threshold) and today's flag (is_fault_risk), judged per
    fault and per alert; alerts during an outage are not counted."""
    pdf = pdf.assign(
        model_alert=(pdf.probability_fault >= threshold) & ~pdf.is_fault,
        flag_alert=pdf.is_fault_risk.astype(bool) & ~pdf.is_fault,
    )
    model = metrics.fault_alert_metrics(pdf, "model_alert", *HORIZON)
    model["threshold"] = threshold
    model["row_auc"] = metrics.roc_auc(pdf.label.to_numpy() > 0.5, pdf.probability_fault.to_numpy())
    return model, metrics.fault_alert_metrics(pdf, "flag_alert", *HORIZON)


def pick_threshold(pdf: pd.DataFrame, precision: float = TARGET_PRECISION + 0.1) -> float:
    """The threshold with the best fault recall whose alert precision reaches ``precision``
    (a margin over the target) on the validation slice; 0.5 when none does."""
    best = (-1.0, 0.5)
    for t in np.linspace(0.05, 0.95, 19):
        m, _ = judge(pdf, float(t))
        if m["precision"] >= precision and m["recall"] > best[0]:
            best = (m["recall"], float(t))
    return best[1]


def train(spark: SparkSession, test_share: float = 0.3, progress=print) -> registry.Run:
    t0 = time.monotonic()
    table = hourly_table()
    versions = registry.input_versions(spark, [table])
    data = examples(registry.read_at(spark, table, versions)).cache()
    lo, hi = registry.first(data.agg(F.min("hour"), F.max("hour")))
    test_from = int(hi - (hi - lo) * test_share)
    valid_from = int(lo + (test_from - lo) * 0.75)
    usable = data.where("complete and not is_fault")
    fit_df = usable.where(F.col("hour") < valid_from - HORIZON[1])
    valid_df = data.where((F.col("hour") >= valid_from) & (F.col("hour") < test_from - HORIZON[1]))
    test_df = data.where((F.col("hour") >= test_from) & F.col("complete"))
    held_out = f"hours from {_ts(test_from)} to {_ts(hi - HORIZON[1])}; trained before {_ts(valid_from)}"
    progress(f"cell faults: {held_out}")
    max_iter, max_depth = 40, 5
    model = pipeline(max_iter, max_depth).fit(fit_df)
    threshold = pick_threshold(_frame(probabilities(model, valid_df)))
    params = {
        "max_iter": max_iter,
        "max_depth": max_depth,
        "horizon_hours": list(HORIZON),
        "features": FEATURES,
        "threshold": threshold,
    }
    test = _frame(probabilities(model, test_df))
    run = registry.Run(MODEL, versions, params, held_out)
    run.metrics, run.baseline_metrics = judge(test, threshold)
    run.test_scores = metrics.reference_sample(test["probability_fault"].to_numpy())
    current = registry.champion(spark, MODEL)
    beats = None
    if current is not None:
        champion_test = _frame(probabilities(current.load(), test_df))
        run.champion_metrics, _ = judge(champion_test, current.params["threshold"])
        beats = _f1(run.metrics) > _f1(run.champion_metrics)
    data.unpersist()
    promoted = registry.record(spark, run, model, time.monotonic() - t0, beats)
    m, b = run.metrics, run.baseline_metrics
    progress(
        f"cell faults {run.version}: recall {m['recall']:.2f} at precision {m['precision']:.2f} "
        f"(median lead {m['median_lead_hours']:.0f} h, threshold {threshold:.2f}) vs the threshold flag's "
        f"recall {b['recall']:.2f} at precision {b['precision']:.2f}, {int(m['faults'])} held-out faults; "
        f"{'promoted' if promoted else 'not promoted'} in {time.monotonic() - t0:.0f}s"
    )
    return run


def _f1(m: dict) -> float:
    p, r = m["precision"], m["recall"]
    return 0.0 if not p or not r or np.isnan(p) or np.isnan(r) else 2 * p * r / (p + r)


def _ts(hour: int) -> str:
    return pd.Timestamp(int(hour) * 3600, unit="s").strftime("%Y-%m-%d %H:00")


def score_hours(spark: SparkSession, progress=print) -> int:
    """Score the cell-hours the forecast lacks: every one the first time, then those of the
    last LATE_HOURS before the newest forecast hour and after it. Returns the rows written."""
    current = registry.champion(spark, MODEL)
    if current is None:
        progress("cell faults: no model trained yet; nothing scored")
        return 0
    table = forecast_table()
    hourly = spark.table(hourly_table())
    since = None
    if spark.catalog.tableExists(table):
        since = registry.first(spark.table(table).agg(F.max("local_hour")))[0]
    if since is None:
        feats = examples(hourly)
    else:
        # the cell-hours of the last LATE_HOURS the forecast lacks (a late file's among them),
        # with a day of history before them for the lagged features
        recent = F.col("local_hour") >= F.lit(since) - F.expr(f"interval {LATE_HOURS} hours")
        history = F.col("local_hour") >= F.lit(since) - F.expr(f"interval {LATE_HOURS + 25} hours")
        done = spark.table(table).where(recent).select("cell_id", "local_hour")
        feats = examples(hourly.where(history)).where(recent).join(done, ["cell_id", "local_hour"], "left_anti")
    scored = (
        probabilities(current.load(), feats)
        .select(
            "cell_id",
            "local_hour",
            F.col("probability_fault"),
            (F.col("probability_fault") >= F.lit(current.params["threshold"])).alias("is_alert"),
            "is_fault_risk",
            F.lit(current.version).alias("model_version"),
            F.current_timestamp().alias("scored_at"),
            F.to_date("local_hour").alias("local_date"),
        )
        # materialised: the rows were picked against the forecast the merge is about to change
        .localCheckpoint()
    )
    probs = np.array([r[0] for r in scored.select("probability_fault").collect()])
    n = len(probs)
    if n:
        hours = registry.first(scored.agg(F.min("local_hour"), F.max("local_hour")))
        if since is None:
            scored.write.format("delta").partitionBy("local_date").saveAsTable(table)
        else:
            scored.createOrReplaceTempView("new_forecast")
            spark.sql(
                f"merge into {table} t using new_forecast s "
                "on t.cell_id = s.cell_id and t.local_hour = s.local_hour "
                "when matched then update set * when not matched then insert *"
            )
        registry.record_scoring(
            spark,
            MODEL,
            current.version,
            f"{hours[0]} to {hours[1]}",
            n,
            float(probs.mean()),
            metrics.psi(np.array(current.test_scores), probs),
        )
    progress(f"cell faults: scored {n:,} cell-hours into {table} (model {current.version})")
    return n
