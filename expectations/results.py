"""What a validation leaves behind: one row per check per run in ``<prefix>quality.validation_results``
(queryable through the Thrift server), and the rows held back by quarantine rules in
``<prefix>quality.quarantine`` (silver's staging models leave them out)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from core.settings import get_settings
from expectations.rules import Check
from schemas.spark import properties_sql, set_properties, stats_without

RESULTS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("layer", T.StringType(), False),
        T.StructField("source", T.StringType(), False),
        T.StructField("table_name", T.StringType(), False),
        T.StructField("physical_table", T.StringType(), False),
        T.StructField("rule", T.StringType(), False),
        T.StructField("check_name", T.StringType(), False),
        T.StructField("columns", T.StringType(), False),
        T.StructField("dimension", T.StringType(), False),
        T.StructField("severity", T.StringType(), False),
        T.StructField("action", T.StringType(), False),
        T.StructField("threshold", T.DoubleType(), False),
        T.StructField("rows_checked", T.LongType(), False),
        T.StructField("rows_failed", T.LongType(), False),
        T.StructField("pass_rate", T.DoubleType(), False),
        T.StructField("passed", T.BooleanType(), False),
        T.StructField("outcome", T.StringType(), False),  # passed | warned | stopped | quarantined
        T.StructField("validated_at", T.TimestampType(), False),
    ]
)

QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("table_name", T.StringType(), False),  # the contract's name, e.g. bss.orders
        T.StructField("rule", T.StringType(), False),
        T.StructField("key_value", T.StringType(), False),  # the primary key (columns joined by '|')
        T.StructField("reason", T.StringType(), False),
        T.StructField("row_json", T.StringType(), True),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("quarantined_at", T.TimestampType(), False),
    ]
)


def quality_db() -> str:
    """Beside the layers it checks: LAKEHOUSE_SCHEMA_PREFIX moves it with them (tests, benchmarks)."""
    return get_settings().schema_prefix + "quality"


def results_table() -> str:
    return f"{quality_db()}.validation_results"


def alerts_table() -> str:
    """The alerts a run's gate has raised, so that a retried task does not raise them again."""
    return f"{quality_db()}.alerts_sent"


ALERTS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("layer", T.StringType(), False),
        T.StructField("check_name", T.StringType(), False),
        T.StructField("delivered", T.BooleanType(), False),  # false: no channel, logged only
        T.StructField("sent_at", T.TimestampType(), False),
    ]
)


def quarantine_table() -> str:
    return f"{quality_db()}.quarantine"


def validated_until_table() -> str:
    """Per table, how far (by landing time) the scoped validations have validated."""
    return f"{quality_db()}.validated_until"


VALIDATED_UNTIL_SCHEMA = T.StructType(
    [
        T.StructField("layer", T.StringType(), False),
        T.StructField("table_name", T.StringType(), False),
        T.StructField("until", T.TimestampType(), False),
        T.StructField("run_id", T.StringType(), False),
        T.StructField("validated_at", T.TimestampType(), False),
    ]
)

# The fewest rows a scoped validation judges a rule's pass rate on.
SCOPE_MIN_ROWS = 1_000


@dataclass(frozen=True)
class CheckResult:
    check: Check
    physical_table: str
    rows_checked: int
    rows_failed: int
    quarantined: int = 0
    scoped: bool = False  # only the rows that changed since the last scoped validation

    @property
    def pass_rate(self) -> float:
        return 1.0 if self.rows_checked == 0 else 1.0 - self.rows_failed / self.rows_checked

    @property
    def passed(self) -> bool:
        """At or above the threshold. A scoped validation of fewer than SCOPE_MIN_ROWS rows
        judges no rate (three rows with one bad is no measure of a table's completeness): its
        counts are recorded, its quarantine acts, and the full validation judges the table."""
        if self.scoped and self.rows_checked < SCOPE_MIN_ROWS:
            return True
        return self.pass_rate >= self.check.threshold

    @property
    def outcome(self) -> str:
        if self.check.action == "quarantine" and self.rows_failed:
            return "quarantined"
        if self.passed:
            return "passed"
        return "stopped" if self.check.action == "stop" else "warned"

    def describe(self) -> str:
        c = self.check
        return (
            f"{c.layer} {c.table} {c.rule} ({'+'.join(c.columns)}): {self.rows_failed:,} of "
            f"{self.rows_checked:,} rows fail, pass rate {self.pass_rate:.2%} vs {c.threshold:.0%} [{c.severity}]"
        )

    def as_row(self, run_id: str, at: datetime) -> dict:
        c = self.check
        return {
            "run_id": run_id,
            "layer": c.layer,
            "source": c.source,
            "table_name": c.table,
            "physical_table": self.physical_table,
            "rule": c.rule,
            "check_name": c.name,
            "columns": ",".join(c.columns),
            "dimension": c.dimension,
            "severity": c.severity,
            "action": c.action,
            "threshold": c.threshold,
            "rows_checked": self.rows_checked,
            "rows_failed": self.rows_failed,
            "pass_rate": self.pass_rate,
            "passed": self.passed,
            "outcome": self.outcome,
            "validated_at": at,
        }


def _ddl(schema: T.StructType) -> str:
    return ", ".join(f"`{f.name}` {f.dataType.simpleString()}{'' if f.nullable else ' not null'}" for f in schema)


def ensure_tables(spark: SparkSession) -> None:
    if not spark.catalog.databaseExists(quality_db()):
        spark.sql(f"create database if not exists {quality_db()}")
    for name, schema in (
        (results_table(), RESULTS_SCHEMA),
        (quarantine_table(), QUARANTINE_SCHEMA),
        (alerts_table(), ALERTS_SCHEMA),
        (validated_until_table(), VALIDATED_UNTIL_SCHEMA),
    ):
        # the quarantine's raw rows (a subscriber's key is its phone) get no file statistics
        props = stats_without(schema.fields, ["key_value", "row_json"]) if schema is QUARANTINE_SCHEMA else {}
        if not spark.catalog.tableExists(name):
            # DDL, not an empty frame written: no Spark job (a cold server: 7.4 s -> 4.9 s)
            tblproperties = f" tblproperties ({properties_sql(props)})" if props else ""
            spark.sql(f"create table if not exists {name} ({_ddl(schema)}) using delta{tblproperties}")
        elif props:
            set_properties(spark, name, props)


def _in(values) -> str:
    return ", ".join("'" + str(v).replace("'", "''") + "'" for v in sorted(values))


def record_results(spark: SparkSession, results: list[CheckResult], run_id: str, at: datetime) -> None:
    """One Delta commit per validated layer that replaces what an earlier attempt of the same run
    recorded for these tables: a retried task writes its results once."""
    if not results:
        return
    layers = {r.check.layer for r in results}
    tables = {r.check.table for r in results}
    rows = [r.as_row(run_id, at) for r in results]
    (
        spark.createDataFrame(rows, RESULTS_SCHEMA)
        .write.format("delta")
        .mode("overwrite")
        .option(
            "replaceWhere", f"run_id = {_in([run_id])} and layer in ({_in(layers)}) and table_name in ({_in(tables)})"
        )
        .saveAsTable(results_table())
    )


def alerts_already_sent(spark: SparkSession, run_id: str, layer: str) -> set[str]:
    """The checks whose alerts an earlier attempt of this run's gate raised."""
    rows = spark.table(alerts_table()).where(f"run_id = {_in([run_id])} and layer = {_in([layer])}")
    return {r.check_name for r in rows.select("check_name").collect()}


def record_alerts(
    spark: SparkSession, run_id: str, layer: str, checks: list[str], delivered: bool, at: datetime
) -> None:
    if checks:
        rows = [(run_id, layer, c, delivered, at) for c in checks]
        spark.createDataFrame(rows, ALERTS_SCHEMA).write.format("delta").mode("append").saveAsTable(alerts_table())


def replace_quarantine(
    spark: SparkSession, table: str, rule: str, offending, failing: int | None = None, keys: list[str] | None = None
) -> int:
    """The rows a quarantine rule holds back now replace what it held before (a row fixed at
    the source is released); one Delta commit. With ``keys`` (a scoped validation), only what it
    held of those keys is replaced (``offending`` holds rows of those keys), the rest stays. With
    ``failing`` = 0 (the validation found no offending row) and nothing held before, nothing is
    written."""
    if keys is not None and not keys:
        return 0
    condition = f"table_name = {_in([table])} and rule = {_in([rule])}"
    if keys is not None:
        condition += f" and key_value in ({_in(keys)})"
    if failing == 0 and not spark.table(quarantine_table()).where(condition).limit(1).count():
        return 0  # the usual case: a rewrite would cost a query of the table and a commit
    # by path: an overwrite through the catalog makes the Hive metastore try (and log a failure)
    # to alter the table's placeholder schema
    location = spark.sql(f"describe detail {quarantine_table()}").first().location
    (
        offending.select(*QUARANTINE_SCHEMA.fieldNames())
        .write.format("delta")
        .mode("overwrite")
        .option("replaceWhere", condition)
        .save(location)
    )
    return spark.table(quarantine_table()).where(condition).count()


def validated_until(spark: SparkSession, layer: str) -> dict[str, datetime]:
    """{table: landing time up to which its rows were validated} of the layer."""
    rows = (
        spark.table(validated_until_table())
        .where(f"layer = {_in([layer])}")
        .groupBy("table_name")
        .agg(F.max("until").alias("until"))
        .collect()
    )
    return {r.table_name: r.until for r in rows}


def record_validated_until(spark: SparkSession, layer: str, marks: dict[str, datetime], run_id: str, at: datetime):
    if marks:
        rows = [(layer, t, until, run_id, at) for t, until in marks.items()]
        spark.createDataFrame(rows, VALIDATED_UNTIL_SCHEMA).write.format("delta").mode("append").saveAsTable(
            validated_until_table()
        )
