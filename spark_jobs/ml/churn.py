"""Churn propensity: who will terminate in the next ``horizon`` days, from gold only.

Each example is a subscriber open at a cutoff day, described by what gold knew up to that day
(app logins and use, complaints and how fast they were answered, tenure, plan) and labelled by
whether BSS recorded the termination within the horizon after it. Training cutoffs end their
label windows before the held-out cutoff, whose window is the latest the data covers: nothing
the model learns from comes from the period it is judged on.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
from pyspark.ml import Pipeline, PipelineModel
from pyspark.ml.classification import LogisticRegression
from pyspark.ml.feature import StandardScaler, VectorAssembler
from pyspark.ml.functions import vector_to_array
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from core.settings import get_settings
from spark_jobs.ml import metrics, registry

MODEL = "churn"
LOOKBACK_DAYS = 28
RULE_DAYS = 3  # the plan's churn signal: no app login for 3 consecutive days (dbt var at_risk_days_without_login)
FEATURES = [
    "days_since_login",
    "active_days_7d",
    "active_days_28d",
    "login_trend",
    "data_mb_7d_log",
    "usage_trend",
    "video_minutes_28d_log",
    "complaints_7d",
    "complaints_28d",
    "slow_answers_28d",
    "tenure_days_log",
    "is_5g_plan",
    "plan_price",
]


def gold(name: str) -> str:
    return f"{get_settings().schema_prefix}gold.{name}"


def inputs() -> list[str]:
    return [gold("dim_user"), gold("fct_app_activity_daily"), gold("fct_service_tickets"), gold("dim_product")]


@dataclass(frozen=True)
class Split:
    train_cutoffs: list[date]
    test_cutoff: date
    horizon_days: int

    def describe(self) -> str:
        train = ", ".join(str(c) for c in self.train_cutoffs)
        return (
            f"trained on cutoffs {train}; held out: cutoff {self.test_cutoff}, "
            f"terminations in the {self.horizon_days} days after"
        )


def plan_split(first: date, last: date, horizon_days: int = 14, step_days: int = 3, min_lookback: int = 10) -> Split:
    """The held-out cutoff is the last whose label window the data covers; training cutoffs go
    back from one horizon before it, every ``step_days``, while ``min_lookback`` days of history
    remain. Short spans shorten the horizon (to 7 days) before giving up."""
    for horizon in (horizon_days, 7):
        test = last - timedelta(days=horizon)
        train: list[date] = []
        c = test - timedelta(days=horizon)
        while c >= first + timedelta(days=min_lookback) and len(train) < 6:
            train.append(c)
            c -= timedelta(days=step_days)
        if train:
            return Split(sorted(train), test, horizon)
    raise ValueError(f"{(last - first).days + 1} days of app activity are too few to train a churn model")


def examples(spark: SparkSession, tables: dict[str, DataFrame], cutoffs: list[date], horizon_days: int) -> DataFrame:
    """One row per subscriber open at each cutoff: FEATURES, the 3-day rule's flag and the label."""
    cut = spark.createDataFrame([(c,) for c in cutoffs], "cutoff date")
    users = tables["dim_user"].where("subscriber_id is not null")
    price = tables["dim_product"].select("product_id", F.col("price").cast("double").alias("plan_price"))
    population = (
        users.crossJoin(cut)
        .where(F.to_date("subscriber_activated_at") <= F.col("cutoff"))
        .where(F.col("terminated_at").isNull() | (F.to_date("terminated_at") > F.col("cutoff")))
        .join(price, users.plan_product_id == price.product_id, "left")
        .select(
            "user_key",
            "cutoff",
            F.log1p(F.datediff("cutoff", F.to_date("subscriber_activated_at"))).alias("tenure_days_log"),
            F.col("is_5g_plan").cast("double").alias("is_5g_plan"),
            F.coalesce("plan_price", F.lit(0.0)).alias("plan_price"),
            (
                F.col("terminated_at").isNotNull() & (F.to_date("terminated_at") <= F.date_add("cutoff", horizon_days))
            ).alias("label"),
        )
    )
    act = tables["fct_app_activity_daily"].join(cut, F.col("activity_date") <= F.col("cutoff"))
    recent = F.col("activity_date") > F.date_sub("cutoff", 7)
    window = F.col("activity_date") > F.date_sub("cutoff", LOOKBACK_DAYS)
    activity = act.groupBy("user_key", "cutoff").agg(
        F.max(F.when(F.col("logins") > 0, F.col("activity_date"))).alias("last_login"),
        F.count(F.when(recent & (F.col("logins") > 0), 1)).alias("active_days_7d"),
        F.count(F.when(window & (F.col("logins") > 0), 1)).alias("active_days_28d"),
        F.sum(F.when(recent, F.col("data_mb")).otherwise(0)).alias("data_mb_7d"),
        F.sum(F.when(window, F.col("data_mb")).otherwise(0)).alias("data_mb_28d"),
        F.sum(F.when(window, F.col("video_minutes")).otherwise(0)).alias("video_minutes_28d"),
    )
    opened = F.to_date("opened_at")
    tickets = (
        tables["fct_service_tickets"]
        .join(cut, (opened <= F.col("cutoff")) & (opened > F.date_sub("cutoff", LOOKBACK_DAYS)))
        .groupBy("user_key", "cutoff")
        .agg(
            F.count(F.when(opened > F.date_sub("cutoff", 7), 1)).alias("complaints_7d"),
            F.count("*").alias("complaints_28d"),
            F.count(F.when(~F.coalesce("is_answer_within_sla", F.lit(False)), 1)).alias("slow_answers_28d"),
        )
    )
    df = population.join(activity, ["user_key", "cutoff"], "left").join(tickets, ["user_key", "cutoff"], "left")
    days_since = F.datediff("cutoff", "last_login")
    earlier = (F.col("active_days_28d") - F.col("active_days_7d")) / 21.0
    return df.select(
        "user_key",
        "cutoff",
        F.coalesce(days_since, F.lit(LOOKBACK_DAYS * 2)).cast("double").alias("days_since_login"),
        F.coalesce("active_days_7d", F.lit(0)).cast("double").alias("active_days_7d"),
        F.coalesce("active_days_28d", F.lit(0)).cast("double").alias("active_days_28d"),
        F.coalesce(F.col("active_days_7d") / 7.0 - earlier, F.lit(0.0)).alias("login_trend"),
        F.log1p(F.coalesce("data_mb_7d", F.lit(0.0))).alias("data_mb_7d_log"),
        F.coalesce(
            F.log1p(F.col("data_mb_7d") / 7.0) - F.log1p((F.col("data_mb_28d") - F.col("data_mb_7d")) / 21.0),
            F.lit(0.0),
        ).alias("usage_trend"),
        F.log1p(F.coalesce("video_minutes_28d", F.lit(0.0))).alias("video_minutes_28d_log"),
        F.coalesce("complaints_7d", F.lit(0)).cast("double").alias("complaints_7d"),
        F.coalesce("complaints_28d", F.lit(0)).cast("double").alias("complaints_28d"),
        F.coalesce("slow_answers_28d", F.lit(0)).cast("double").alias("slow_answers_28d"),
        "tenure_days_log",
        "is_5g_plan",
        "plan_price",
        # as dim_user.is_at_risk: a last login at least RULE_DAYS before the day
        F.coalesce(days_since >= RULE_DAYS, F.lit(False)).alias("rule_flag"),
        F.col("label").cast("double").alias("label"),
    )


def pipeline(reg_param: float = 0.01) -> Pipeline:
    return Pipeline(
        stages=[
            VectorAssembler(inputCols=FEATURES, outputCol="raw_features"),
            StandardScaler(inputCol="raw_features", outputCol="features", withMean=True, withStd=True),
            LogisticRegression(featuresCol="features", labelCol="label", regParam=reg_param, maxIter=100),
        ]
    )


def score(model: PipelineModel, df: DataFrame) -> DataFrame:
    """The churn probability and the three features that raise it most for each row: a
    logistic model's contribution of a feature is its coefficient times the scaled value."""
    coef = model.stages[-1].coefficients.toArray().tolist()  # type: ignore[attr-defined]
    scored = model.transform(df).withColumn("score", vector_to_array(F.col("probability"))[1])
    scaled = vector_to_array(F.col("features"))
    contributions = F.array(
        *[
            F.struct((scaled[i] * F.lit(c)).alias("weight"), F.lit(n).alias("feature"))
            for i, (n, c) in enumerate(zip(FEATURES, coef, strict=True))
        ]
    )
    top = F.slice(F.sort_array(contributions, asc=False), 1, 3)
    return scored.withColumn(
        "top_features", F.transform(F.filter(top, lambda s: s["weight"] > 0), lambda s: s["feature"])
    ).drop("raw_features", "features", "rawPrediction", "probability", "prediction")


def judge(labels: np.ndarray, scores: np.ndarray, rule: np.ndarray) -> tuple[dict, dict]:
    """The model's held-out figures, and the 3-day rule's on the same rows."""
    base_rate = float(labels.mean()) if len(labels) else float("nan")
    model = {
        "roc_auc": metrics.roc_auc(labels, scores),
        "top_decile_precision": metrics.top_share_precision(labels, scores, 0.1),
        "base_rate": base_rate,
        "examples": float(len(labels)),
        "positives": float(labels.sum()),
    }
    baseline = {
        "roc_auc": metrics.roc_auc(labels, rule.astype(float)),
        "precision": metrics.flag_precision(labels, rule),
        "flagged_share": float(rule.mean()) if len(rule) else float("nan"),
    }
    model["top_decile_lift_over_rule"] = metrics.lift(model["top_decile_precision"], baseline["precision"])
    return model, baseline


def _held_out(scored: DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows = scored.select("label", "score", "rule_flag").collect()
    labels = np.array([r["label"] > 0.5 for r in rows], dtype=bool)
    return (
        labels,
        np.array([r["score"] for r in rows], dtype=float),
        np.array([r["rule_flag"] for r in rows], dtype=bool),
    )


def train(spark: SparkSession, horizon_days: int = 14, progress=print) -> registry.Run:
    """Train on the earlier cutoffs, judge on the held-out one beside the 3-day rule and the
    current model, record the run; promote it when it beats the current model."""
    t0 = time.monotonic()
    versions = registry.input_versions(spark, inputs())
    tables = {t.rsplit(".", 1)[1]: registry.read_at(spark, t, versions) for t in versions}
    span = registry.first(tables["fct_app_activity_daily"].agg(F.min("activity_date"), F.max("activity_date")))
    split = plan_split(span[0], span[1], horizon_days)
    progress(f"churn: {split.describe()}")
    data = examples(spark, tables, [*split.train_cutoffs, split.test_cutoff], split.horizon_days).cache()
    train_df = data.where(F.col("cutoff") < F.lit(split.test_cutoff))
    test_df = data.where(F.col("cutoff") == F.lit(split.test_cutoff))
    reg_param = 0.01
    params = {"horizon_days": split.horizon_days, "reg_param": reg_param, "features": FEATURES}
    model = pipeline(reg_param).fit(train_df)
    labels, scores, rule = _held_out(score(model, test_df))
    run = registry.Run(MODEL, versions, params, split.describe())
    run.metrics, run.baseline_metrics = judge(labels, scores, rule)
    run.test_scores = metrics.reference_sample(scores)
    current = registry.champion(spark, MODEL)
    beats = None
    if current is not None:
        _, champion_scores, _ = _held_out(score(current.load(), test_df))
        run.champion_metrics, _ = judge(labels, champion_scores, rule)
        beats = run.metrics["roc_auc"] > run.champion_metrics["roc_auc"]
    data.unpersist()
    promoted = registry.record(spark, run, model, time.monotonic() - t0, beats)
    m, b = run.metrics, run.baseline_metrics
    progress(
        f"churn {run.version}: ROC AUC {m['roc_auc']:.3f} (rule {b['roc_auc']:.3f}), top-decile precision "
        f"{m['top_decile_precision']:.3f} vs the 3-day rule's {b['precision']:.3f} "
        f"({m['top_decile_lift_over_rule']:.1f}x), {int(m['positives'])} terminations among "
        f"{int(m['examples']):,} held-out subscribers; {'promoted' if promoted else 'not promoted'} "
        f"in {time.monotonic() - t0:.0f}s"
    )
    return run


def scores_table() -> str:
    return gold("user_churn_scores")


def score_day(spark: SparkSession, as_of: date | None = None, progress=print) -> int:
    """Score every subscriber open on ``as_of`` (default: the newest day of app activity) with
    the current model into gold.user_churn_scores (that day's partition, replaced) and record
    the score distribution's drift. Returns the rows written (0 before any model)."""
    current = registry.champion(spark, MODEL)
    if current is None:
        progress("churn: no model trained yet; nothing scored")
        return 0
    tables = {t.rsplit(".", 1)[1]: spark.table(t) for t in inputs()}
    if as_of is None:
        as_of = registry.first(tables["fct_app_activity_daily"].agg(F.max("activity_date")))[0]
    df = examples(spark, tables, [as_of], current.params["horizon_days"])
    scored = score(current.load(), df)
    rank = Window.orderBy(F.desc("score"), "user_key")
    out = scored.select(
        "user_key",
        F.col("score").alias("churn_score"),
        F.ntile(10).over(rank).alias("decile"),  # 1: the tenth most likely to leave
        "top_features",
        "rule_flag",
        F.lit(current.version).alias("model_version"),
        F.current_timestamp().alias("scored_at"),
        F.col("cutoff").alias("as_of_date"),
    ).cache()
    n = out.count()
    table = scores_table()
    (
        out.write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", f"as_of_date = '{as_of}'")
        .partitionBy("as_of_date")
        .saveAsTable(table)
    )
    todays = np.array([r[0] for r in out.select("churn_score").collect()])
    out.unpersist()
    drift = metrics.psi(np.array(current.test_scores), todays)
    registry.record_scoring(spark, MODEL, current.version, as_of, n, float(todays.mean()) if n else 0.0, drift)
    progress(f"churn: scored {n:,} subscribers as of {as_of} into {table} (model {current.version}, PSI {drift:.3f})")
    return n
