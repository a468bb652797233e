"""Validate one layer with Great Expectations and act on each rule's severity.

``python -m expectations.validate --layer bronze|silver|gold|all [--run-id ID]``

Per table: one frame (the columns its rules read, joined with the reference keys its integrity
rules need) and one checkpoint evaluating every expectation of the table against it; GX bundles
the expectations' aggregates, so a table is scanned two or three times (the map rules' counts
together, a key's distinct count), not once per rule. A small table whose rules need no Spark SQL
is fetched once and validated by GX on pandas (``local_frame``). Then:
- every check's rows checked / failed / pass rate go to ``<prefix>quality.validation_results``;
- a quarantine rule's offending rows go to ``<prefix>quality.quarantine`` (silver leaves them out);
- a rule under its threshold, or a failed critical rule, raises an alert on the channel;
- the Data Docs (made offline) and the scorecard are rebuilt;
- a failed critical ``stop`` rule fails the step (exit 3), after all of the above, so the next
  layer is not built on it.
Sources: ``LAKEHOUSE_BRONZE_DB`` (bronze), ``LAKEHOUSE_SCHEMA_PREFIX`` (silver, gold, quality).
"""

from __future__ import annotations

import argparse
import logging
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from core.settings import get_settings
from expectations import alerts, docs, results, scorecard
from expectations.results import CheckResult
from expectations.rules import LAYERS, Check, checks_for, tables_of

log = logging.getLogger(__name__)
EXIT_STOPPED = 3


class QualityGateFailed(RuntimeError):
    """A critical rule failed: the step that feeds the next layer stops."""

    def __init__(self, failures: list[CheckResult]):
        self.failures = failures
        super().__init__(
            "critical quality rules failed, the next layer is not built: " + "; ".join(f.describe() for f in failures)
        )


class TableMissing(RuntimeError):
    pass


@dataclass
class LayerReport:
    layer: str
    run_id: str
    results: list[CheckResult] = field(default_factory=list)
    seconds: float = 0.0
    alerts_sent: int = 0
    alert_error: str | None = None

    @property
    def stopped(self) -> list[CheckResult]:
        return [r for r in self.results if r.outcome == "stopped"]

    def summary(self) -> str:
        by = {o: sum(r.outcome == o for r in self.results) for o in ("passed", "warned", "quarantined", "stopped")}
        tables = len({r.check.table for r in self.results})
        text = f"{self.layer}: {len(self.results)} checks on {tables} tables in {self.seconds:.1f}s: " + ", ".join(
            f"{n} {o}" for o, n in by.items()
        )
        if self.alerts_sent:
            text += f"; {self.alerts_sent} alerts sent"
        if self.alert_error:
            text += f"; ALERTS NOT DELIVERED ({self.alert_error})"
        return text


def new_run_id() -> str:
    """A run id for a validation started outside Airflow (which passes its own)."""
    return "manual__" + datetime.now(UTC).strftime("%Y%m%dT%H%M%S")


def physical_table(layer: str, table: str) -> str:
    if layer == "bronze":
        source, name = table.split(".")
        return f"{get_settings().bronze_db}.{source}_{name}"
    return f"{get_settings().schema_prefix}{layer}.{table}"


def _table(spark: SparkSession, name: str) -> DataFrame:
    if not spark.catalog.tableExists(name):
        raise TableMissing(f"{name} does not exist: load or build that layer before validating it")
    return spark.table(name)


def _current(df: DataFrame) -> DataFrame:
    return df.where(~F.col("_is_deleted")) if "_is_deleted" in df.columns else df  # the current rows only


def _read(spark: SparkSession, name: str) -> DataFrame:
    return _current(_table(spark, name))


def _referenced(checks: list[Check]) -> set[str]:
    cols = {c for check in checks for c in check.columns}
    for check in checks:  # columns named in a row condition
        cols |= set(re.findall(r"\b([a-z_][a-z0-9_]*)\b(?=\s+is\b)", check.where or ""))
    return cols


# When a row landed: a CDC table's change (current state), a file table's load, a gold
# model's incremental build.
LANDED_COLUMNS = ("_applied_at", "_ingested_at", "_built_at")
# A scoped validation of more keys than this validates the whole table instead (the keys go
# into a literal list).
SCOPE_MAX_KEYS = 5_000


@dataclass
class Scope:
    """The rows a scoped validation checks: those of ``keys`` (the key values, as the
    quarantine writes them, of every row that landed after the table's mark, deleted ones
    included), and the landing time it validates the table up to. ``held``: a frame kept in
    memory for the validation, released by ``release``."""

    frame: DataFrame
    keys: list[str]
    until: datetime
    held: list[DataFrame] = field(default_factory=list)

    def release(self) -> None:
        for df in self.held:
            df.unpersist()


def _landed_column(df: DataFrame) -> str | None:
    return next((c for c in LANDED_COLUMNS if c in df.columns), None)


def _key_value(key_cols: list[str]):
    return F.concat_ws("|", *[F.col(k).cast("string") for k in key_cols])


def plan_scope(spark: SparkSession, layer: str, table: str, checks: list[Check], since) -> Scope | None:
    """The scope of rows that landed after ``since``, or None: the whole table is validated
    (no landing column, no mark yet, or more keys than SCOPE_MAX_KEYS where a rule quarantines).
    A CDC table holds one row per key, so its scope is the rows that changed, read once and kept
    (its table is a merge-on-read view: every query of it merges the change log again); a file
    table's scope also holds the older rows of those keys (a key loaded twice is a duplicate)."""
    name = physical_table(layer, table)
    raw = _table(spark, name)
    landed = _landed_column(raw)
    if landed is None or since is None:
        return None
    key_cols = _key_columns(layer, table, checks)
    cap = SCOPE_MAX_KEYS if any(c.action == "quarantine" for c in checks) else None
    if landed == "_applied_at":
        changed = raw.where(F.col(landed) > F.lit(since)).persist()
        if cap is not None and changed.limit(cap + 1).count() > cap:
            changed.unpersist()
            return None
        rows = changed.select(_key_value(key_cols).alias("k"), F.col(landed).alias("t")).collect()
        until = max((r.t for r in rows), default=since)
        return Scope(_current(changed), sorted({r.k for r in rows}), until, [changed])
    changed = raw.where(F.col(landed) > F.lit(since)).select(_key_value(key_cols).alias("k"), F.col(landed).alias("t"))
    rows = changed.limit(cap + 1).collect() if cap is not None else changed.collect()
    if cap is not None and len(rows) > cap:
        return None
    keys = sorted({r.k for r in rows})
    keys_df = spark.createDataFrame([(k,) for k in keys], "k string")
    frame = _current(raw).join(F.broadcast(keys_df), _key_value(key_cols) == keys_df.k, "left_semi")
    return Scope(frame, keys, max((r.t for r in rows), default=since))


def table_frame(
    spark: SparkSession, layer: str, table: str, checks: list[Check], rows: DataFrame | None = None
) -> DataFrame:
    """The table's current rows (or ``rows`` of it), with the matched key of every reference its
    rules check: only the columns the rules read (the whole row where a rule may quarantine it)."""
    df = _read(spark, physical_table(layer, table)) if rows is None else rows
    if not any(c.action == "quarantine" for c in checks):
        df = df.select(*[c for c in df.columns if c in _referenced(checks)])
    for c in checks:
        if c.kind == "unique" and len(c.columns) > 1:
            # a struct, not the values joined as text: formatting 5.8M timestamps as strings
            # cost more than counting the distinct keys (cell KPIs: 10.5 s -> 4.4 s)
            df = df.withColumn(c.key_column, F.struct(*c.columns))
        if c.kind == "exists_in":
            ref_table, ref_col = c.ref.split(".")
            keys = _read(spark, physical_table(layer, ref_table)).select(F.col(ref_col).alias(c.ref_column)).distinct()
            df = df.join(keys, df[c.columns[0]] == keys[c.ref_column], "left")
    return df


def _key_columns(layer: str, table: str, checks: list[Check]) -> list[str]:
    from schemas.contracts import get_contract

    if layer == "bronze":
        return list(get_contract(table).primary_key)
    keys = [c.columns for c in checks if c.kind == "unique"]
    return list(keys[0]) if keys else list(checks[0].columns)


def offending_rows(df: DataFrame, check: Check, key_cols: list[str], run_id: str, at: datetime) -> DataFrame:
    """The rows a check fails, in the quarantine table's shape."""
    if check.kind == "unique":
        df = df.withColumn("_key_copy", F.row_number().over(Window.partitionBy(*check.columns).orderBy(*check.columns)))
    payload = [c for c in df.columns if not c.startswith("_")]
    return df.where(check.failing_sql()).select(
        F.lit(check.table).alias("table_name"),
        F.lit(check.rule).alias("rule"),
        F.concat_ws("|", *[F.col(k).cast("string") for k in key_cols]).alias("key_value"),
        F.lit(f"{check.rule} ({check.dimension}, {check.severity}): fails {check.failing_sql()}").alias("reason"),
        F.to_json(F.struct(*payload)).alias("row_json"),
        F.lit(run_id).alias("run_id"),
        F.lit(at).cast("timestamp").alias("quarantined_at"),
    )


def _row_count(validation_result) -> int | None:
    """The table's rows as GX counted them for a rule on every row (None: no such rule)."""
    for r in validation_result.results:
        if "row_condition" not in r.expectation_config.kwargs and "element_count" in (r.result or {}):
            return int(r.result["element_count"] or 0)
    return None


def _counts(validation_result, rows: int) -> dict[str, tuple[int, int]]:
    """check name -> (rows checked, rows failed) from a GX validation result. Rules that skip
    missing values (regex, sets, pairs) leave them out of the rows checked; a key's failed rows
    are its copies beyond the first (rows x (1 - share of distinct values))."""
    out = {}
    for r in validation_result.results:
        meta = r.expectation_config.meta or {}
        res = r.result or {}
        if r.exception_info and r.exception_info.get("raised_exception"):
            raise RuntimeError(
                f"{meta.get('check')}: Great Expectations raised {r.exception_info.get('exception_message')}"
            )
        if "observed_value" in res:  # uniqueness, an aggregate
            distinct_share = res["observed_value"] if res["observed_value"] is not None else 1.0
            out[meta["check"]] = (rows, round(rows * (1.0 - distinct_share)))
            continue
        # an empty table: GX reports None counts (nothing checked, nothing failed)
        checked = int(res.get("element_count") or 0) - int(res.get("missing_count") or 0)
        out[meta["check"]] = (checked, int(res.get("unexpected_count") or 0))
    return out


def local_frame(df: DataFrame, checks: list[Check], max_rows: int):
    """The columns the checks read as one pandas frame, when the table has at most ``max_rows``
    rows and every check counts the same in pandas; else None. One Arrow fetch instead of GX's
    ~20 metric queries through Spark (a 100k-row table: ~1 s instead of 2-4 s)."""
    if max_rows <= 0 or not all(c.runs_in_pandas for c in checks):
        return None
    if df.limit(max_rows + 1).count() > max_rows:  # stops reading after max_rows + 1
        return None
    columns = sorted({col for c in checks for col in c.columns})
    pdf = df.select(*columns).toPandas()
    for c in checks:
        if c.kind == "unique" and len(c.columns) > 1:  # Spark's struct key as a tuple (nulls as None)
            parts = [pdf[col].astype(object).where(pdf[col].notna(), None) for col in c.columns]
            pdf[c.key_column] = list(zip(*parts))
    return pdf


def validate_table(
    spark,
    context,
    layer: str,
    table: str,
    checks: list[Check],
    run_id: str,
    at: datetime,
    local_max_rows: int = 0,
    scope: Scope | None = None,
) -> tuple[list[CheckResult], object, str]:
    """The table's check results, the key of GX's stored validation result (for its page), and
    the engine GX validated it on (spark or pandas). With ``scope``, only its rows."""
    # A whole table is not cached: a cache fill costs more than the scans GX's metric bundles
    # make. A scope's few rows are, with the reference keys joined to them, read once.
    df = table_frame(spark, layer, table, checks, scope.frame if scope else None)
    if scope is not None:
        df = df.persist()
        scope.held.append(df)
    local = local_frame(df, checks, local_max_rows)
    frame = df if local is None else local
    key, run = docs.run_checkpoint(context, layer, table, [c.expectation() for c in checks], frame, run_id)
    rows = len(local) if local is not None else _row_count(run)
    counts = _counts(run, df.count() if rows is None else rows)
    out = []
    for c in checks:
        checked, failed = counts[c.name]
        held = 0
        if c.action == "quarantine":
            held = results.replace_quarantine(
                spark,
                c.table,
                c.rule,
                offending_rows(df, c, _key_columns(layer, table, checks), run_id, at),
                failing=failed,
                keys=scope.keys if scope else None,
            )
        out.append(CheckResult(c, physical_table(layer, table), checked, failed, held, scoped=scope is not None))
    return out, key, docs.engine_of(frame)


def validate_layer(
    spark: SparkSession,
    layer: str,
    run_id: str | None = None,
    context=None,
    webhook_url: str | None = None,
    progress=print,
    tables: set[str] | None = None,
    local_max_rows: int | None = None,
    scoped: bool = False,
) -> LayerReport:
    """Validate every table of a layer (or only ``tables``); record, quarantine and alert; raise
    QualityGateFailed when a critical stop rule failed (after recording it). Tables of at most
    ``local_max_rows`` rows (default: the settings') are validated in pandas.

    ``scoped`` (the frequent path): each table with a landing column is validated on the rows
    that landed since its last scoped validation (``plan_scope``), the first time and when too
    many changed on the whole table; the landing time validated up to is recorded unless the
    gate stops (the same rows are validated again next time)."""

    run_id = run_id or new_run_id()
    if local_max_rows is None:
        local_max_rows = get_settings().quality_local_max_rows
    at = datetime.now(UTC).replace(tzinfo=None)
    context = context or docs.get_context()
    t0 = time.monotonic()
    report = LayerReport(layer, run_id)
    results.ensure_tables(spark)
    marks = results.validated_until(spark, layer) if scoped else {}
    reached = {}
    pages = []
    for table, checks in tables_of(checks_for(layer)).items():
        if tables is not None and table not in tables:
            continue
        t1 = time.monotonic()
        scope = plan_scope(spark, layer, table, checks, marks.get(table)) if scoped else None
        if scoped:
            reached[table] = scope.until if scope else _landed_until(spark, layer, table)
        try:
            table_results, key, engine = validate_table(
                spark, context, layer, table, checks, run_id, at, local_max_rows, scope
            )
        finally:
            if scope is not None:
                scope.release()
        report.results.extend(table_results)
        pages.append(key)
        failing = sum(not r.passed for r in table_results)
        what = f"{len(scope.keys)} changed keys" if scope else "all rows"
        progress(
            f"  {layer} {table:<24} {len(checks):>3} checks  {failing} under threshold  {what:<18} "
            f"{time.monotonic() - t1:5.1f}s ({engine})"
        )
    t1 = time.monotonic()
    results.record_results(spark, report.results, run_id, at)
    if not report.stopped:
        results.record_validated_until(spark, layer, {t: u for t, u in reached.items() if u is not None}, run_id, at)
    t2 = time.monotonic()
    # A retried task (same run) raises only what its earlier attempts did not.
    done = results.alerts_already_sent(spark, run_id, layer)
    raised = [a for a in alerts.alerts_for(report.results, run_id) if a.check not in done]
    if raised:
        try:
            report.alerts_sent = alerts.send(raised, webhook_url)
            results.record_alerts(spark, run_id, layer, [a.check for a in raised], report.alerts_sent > 0, at)
        except alerts.AlertDeliveryError as e:
            report.alert_error = str(e)
            log.error("quality alerts not delivered: %s", e)
    # the committee's report follows every validation, a stopped one included
    docs.prune_history()
    docs.build_pages(context, pages)
    scorecard.build_report(spark, quiet=True)
    report.seconds = time.monotonic() - t0
    progress(f"  {layer} results table {t2 - t1:.1f}s, alerts and report {time.monotonic() - t2:.1f}s")
    if report.stopped:
        raise QualityGateFailed(report.stopped)
    return report


def _landed_until(spark: SparkSession, layer: str, table: str):
    """The newest landing time in a table (None: it has no landing column, or no rows)."""
    df = _table(spark, physical_table(layer, table))
    landed = _landed_column(df)
    row = df.agg(F.max(landed)).first() if landed else None
    return row[0] if row is not None else None


def run_gate(layer: str, tables: set[str] | None = None, scoped: bool = False) -> dict:
    """A gate task's body in a DAG run: validate a layer (or only ``tables`` of it; ``scoped``:
    their rows that changed, see ``validate_layer``) through the stack's shared Spark (see
    ``get_shared_spark``); a summary for XCom. A stop fails the task without retries: the data,
    not the task, is wrong."""
    from airflow.exceptions import AirflowFailException
    from airflow.sdk import get_current_context

    from core.session import shared_spark

    run_id = get_current_context()["run_id"]
    with shared_spark(f"quality-{layer}") as spark:
        try:
            report = validate_layer(spark, layer, run_id, tables=tables, scoped=scoped)
        except QualityGateFailed as e:
            raise AirflowFailException(str(e)) from e
    print("quality: " + report.summary())
    return {
        "tables": sorted(tables) if tables is not None else "all",
        "scoped": scoped,
        "checks": len(report.results),
        "under_threshold": sum(not r.passed for r in report.results),
        "quarantined": sum(r.quarantined for r in report.results),
        "alerts_sent": report.alerts_sent,
        "seconds": round(report.seconds, 1),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m expectations.validate", description=__doc__.split("\n\n")[0])
    p.add_argument("--layer", choices=[*LAYERS, "all"], required=True)
    p.add_argument("--run-id", default=None)
    args = p.parse_args(argv)
    from core.session import shared_spark

    run_id = args.run_id or new_run_id()
    with shared_spark(f"quality-{args.layer}") as spark:
        for layer in LAYERS if args.layer == "all" else [args.layer]:
            try:
                report = validate_layer(spark, layer, run_id)
            except QualityGateFailed as e:
                print(f"quality: {layer} STOPPED: {e}", file=sys.stderr)
                return EXIT_STOPPED
            except TableMissing as e:
                print(f"quality: {layer}: {e}", file=sys.stderr)
                return 2
            print("quality: " + report.summary())
    print(f"quality: results in {results.results_table()} (run {run_id}); report {docs.docs_index()}")
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    sys.exit(main())
