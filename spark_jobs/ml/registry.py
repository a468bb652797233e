"""Model runs and the current model of each kind, in Delta (quality.model_runs) beside the saved
Spark ML pipelines (settings.models_dir/<model>/<version>).

MLflow 2.x/3.x does not resolve beside the project's pins (pyarrow, cryptography; see the
README's Predictions); a Delta table gives the same record (inputs' Delta versions, parameters,
metrics, artifact), queryable by the governance report and over the serving endpoint. A run is
promoted only when it beats the current model on the same held-out period; scoring always loads
the promoted one.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.ml import PipelineModel
from pyspark.sql import DataFrame, Row, SparkSession
from pyspark.sql import types as T

from core.settings import get_settings

RUN_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("model", T.StringType(), False),
        T.StructField("version", T.StringType(), False),
        T.StructField("trained_at", T.TimestampType(), False),
        T.StructField("train_seconds", T.DoubleType(), False),
        T.StructField("inputs", T.MapType(T.StringType(), T.LongType()), False),  # table -> Delta version read
        T.StructField("params", T.StringType(), False),  # JSON
        T.StructField("metrics", T.MapType(T.StringType(), T.DoubleType()), False),  # held-out period
        T.StructField("baseline_metrics", T.MapType(T.StringType(), T.DoubleType()), False),  # the rule/flag
        T.StructField("champion_metrics", T.MapType(T.StringType(), T.DoubleType()), True),  # current model
        T.StructField("held_out", T.StringType(), False),  # the period judged on
        T.StructField("artifact", T.StringType(), False),
        T.StructField("promoted", T.BooleanType(), False),
        T.StructField("decision", T.StringType(), False),
        T.StructField("test_scores", T.ArrayType(T.DoubleType()), False),  # the drift reference
    ]
)


def runs_table() -> str:
    return f"{get_settings().schema_prefix}quality.model_runs"


def ensure_runs_table(spark: SparkSession) -> str:
    table = runs_table()
    spark.sql(f"create database if not exists {table.split('.')[0]}")
    if not spark.catalog.tableExists(table):
        spark.createDataFrame([], RUN_SCHEMA).write.format("delta").saveAsTable(table)
    return table


def first(df: DataFrame) -> Row:
    """The first row of an aggregate, which always has one."""
    row = df.first()
    if row is None:
        raise ValueError("expected a row")
    return row


def input_versions(spark: SparkSession, tables: list[str]) -> dict[str, int]:
    """The current Delta version of each table: what a run reads, pinned (read_at)."""
    return {t: int(first(spark.sql(f"describe history {t} limit 1"))["version"]) for t in tables}


def read_at(spark: SparkSession, table: str, versions: dict[str, int]):
    """``table`` as of the version recorded for the run (a rerun reads the same rows)."""
    return spark.sql(f"select * from {table} version as of {versions[table]}")


@dataclass
class Run:
    model: str
    inputs: dict[str, int]
    params: dict
    held_out: str
    metrics: dict[str, float] = field(default_factory=dict)
    baseline_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] | None = None
    test_scores: list[float] = field(default_factory=list)
    version: str = field(default_factory=lambda: datetime.now(UTC).strftime("%Y%m%dT%H%M%S"))
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex)

    @property
    def artifact(self) -> str:
        return f"{str(get_settings().models_dir).rstrip('/')}/{self.model}/{self.version}"

    def summary(self) -> dict:
        """The version and held-out figures as JSON takes them (an undefined figure as null)."""
        return {"version": self.version, **{k: v if math.isfinite(v) else None for k, v in self.metrics.items()}}


@dataclass(frozen=True)
class Champion:
    version: str
    artifact: str
    params: dict
    test_scores: list[float]

    def load(self) -> PipelineModel:
        return PipelineModel.load(self.artifact)


def champion(spark: SparkSession, model: str) -> Champion | None:
    """The promoted run of ``model`` (the newest), or None before the first."""
    table = ensure_runs_table(spark)
    row = spark.sql(
        f"select version, artifact, params, test_scores from {table} "
        f"where model = '{model}' and promoted order by trained_at desc limit 1"
    ).first()
    if row is None:
        return None
    return Champion(row["version"], row["artifact"], json.loads(row["params"]), list(row["test_scores"]))


def record(spark: SparkSession, run: Run, pipeline: PipelineModel, seconds: float, beats: bool | None) -> bool:
    """Save the pipeline, append the run; promoted when there is no current model or it beats
    it (``beats``) on the held-out period. Returns whether it was promoted."""
    pipeline.write().overwrite().save(run.artifact)
    promoted = beats is None or beats
    decision = (
        "first model"
        if beats is None
        else "beats the current model on the held-out period"
        if beats
        else "kept the current model: it scores as well or better on the held-out period"
    )
    row = (
        run.run_id,
        run.model,
        run.version,
        datetime.now(UTC).replace(tzinfo=None),
        float(seconds),
        run.inputs,
        json.dumps(run.params, sort_keys=True),
        {k: float(v) for k, v in run.metrics.items()},
        {k: float(v) for k, v in run.baseline_metrics.items()},
        None if run.champion_metrics is None else {k: float(v) for k, v in run.champion_metrics.items()},
        run.held_out,
        run.artifact,
        promoted,
        decision,
        [float(s) for s in run.test_scores],
    )
    spark.createDataFrame([row], RUN_SCHEMA).write.format("delta").mode("append").saveAsTable(ensure_runs_table(spark))
    return promoted


SCORING_SCHEMA = T.StructType(
    [
        T.StructField("model", T.StringType(), False),
        T.StructField("version", T.StringType(), False),
        T.StructField("scored_for", T.StringType(), False),  # the day or the hours scored
        T.StructField("scored_at", T.TimestampType(), False),
        T.StructField("rows", T.LongType(), False),
        T.StructField("mean_score", T.DoubleType(), False),
        T.StructField("psi", T.DoubleType(), True),  # against the held-out scores of the model's run
    ]
)


def scoring_table() -> str:
    return f"{get_settings().schema_prefix}quality.model_scoring"


def record_scoring(
    spark: SparkSession, model: str, version: str, scored_for, rows: int, mean: float, psi: float
) -> None:
    """A row per scoring run: what the governance report's drift chart reads."""
    table = scoring_table()
    row = (model, version, str(scored_for), datetime.now(UTC).replace(tzinfo=None), int(rows), float(mean), psi)
    spark.createDataFrame([row], SCORING_SCHEMA).write.format("delta").mode("append").saveAsTable(table)
