"""Apply bronze change logs to current-state tables with MERGE, deletes included.

``python -m spark_jobs.cdc.current_state [--interval SECONDS]`` (through the Thrift server's
Spark Connect when the stack serves it, else in a Spark session of its own; ``--interval`` keeps
applying, one session, a round every SECONDS)

One current-state table per source table (``bronze.<source>_<table>``): the contract's columns
plus the version of the change that wrote each row. A change only wins over a newer version of
its key, ordered by (commit LSN, LSN, Kafka offset), so a late or replayed older event never
overwrites a newer one. A snapshot read has no commit of its own: its version is the WAL
position it was read at (``source.lsn`` of an initial snapshot; an incremental snapshot's
sequence carries the stream position of its window), so a re-snapshot corrects a row that older
streamed changes left wrong and loses to newer ones. Deletes stay as tombstones
(``_is_deleted``) so that an older event arriving after a delete cannot resurrect the row;
readers filter them out. A source ``TRUNCATE`` (op ``t``) turns every row older than it into a
tombstone of the truncate's version; the change log keeps the event.

Each run reads only the change-log rows past the offsets it applied last, and records the new
offsets in the MERGE's own Delta commit (commit user metadata): the apply is exactly once, and
its cost follows the new changes, not the table's size.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from dataclasses import dataclass

from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

from schemas.contracts import Contract
from schemas.spark import spark_schema
from spark_jobs import bronze
from spark_jobs.cdc.changes import cdc_contracts, change_table_for, ensure_tables

log = logging.getLogger("cdc.current_state")
META_KEY = "lakehouse.current_state.offsets"
VERSION_COLS = ["_commit_lsn", "_lsn", "_kafka_offset"]


def current_table_for(contract: Contract) -> str:
    return f"{bronze.bronze_db()}.{contract.source}_{contract.name}"


def current_schema(contract: Contract):
    schema = spark_schema(contract)
    for name, dtype in [
        ("_key", T.StringType()),
        ("_commit_lsn", T.LongType()),
        ("_lsn", T.LongType()),
        ("_kafka_offset", T.LongType()),
        ("_source_ts", T.TimestampType()),
        ("_is_deleted", T.BooleanType()),
        ("_applied_at", T.TimestampType()),
    ]:
        schema = schema.add(name, dtype, nullable=True)
    return schema


def ensure_current_table(spark: SparkSession, contract: Contract) -> str:
    name = current_table_for(contract)
    if not spark.catalog.tableExists(name):
        spark.createDataFrame([], current_schema(contract)).write.format("delta").saveAsTable(name)
    return name


def change_version(changes: DataFrame) -> list:
    """A change's version as (commit LSN, LSN, Kafka offset) columns: a snapshot read (no commit
    LSN) is versioned by the WAL position it was read at."""
    return [
        F.coalesce(F.col("commit_lsn"), F.col("lsn"), F.lit(-1)),
        F.coalesce(F.col("lsn"), F.lit(-1)),
        F.col("kafka_offset"),
    ]


def latest_per_key(changes: DataFrame, contract: Contract) -> DataFrame:
    """The newest change of each key in a batch, flattened to the current-state columns."""
    commit, lsn, offset = change_version(changes)
    newest = changes.withColumn(
        "_rank", F.row_number().over(Window.partitionBy("key").orderBy(commit.desc(), lsn.desc(), offset.desc()))
    ).where("_rank = 1")
    image = F.when(F.col("op") == "d", F.col("before")).otherwise(F.col("after"))
    return newest.select(
        *[image[c].alias(c) for c in contract.column_names],
        F.col("key").alias("_key"),
        commit.alias("_commit_lsn"),
        lsn.alias("_lsn"),
        F.col("kafka_offset").alias("_kafka_offset"),
        F.col("source_ts").alias("_source_ts"),
        (F.col("op") == "d").alias("_is_deleted"),
        F.current_timestamp().alias("_applied_at"),
    )


# s is newer than t: lexicographic on (commit LSN, LSN, Kafka offset).
NEWER = (
    "s._commit_lsn > t._commit_lsn or (s._commit_lsn = t._commit_lsn and "
    "(s._lsn > t._lsn or (s._lsn = t._lsn and s._kafka_offset > t._kafka_offset)))"
)


def applied_offsets(spark: SparkSession, table: str, page: int = 100) -> dict[str, int]:
    """{'partition': last applied offset} from the newest commit that recorded them, however many
    commits (OPTIMIZE, VACUUM, property changes) followed it: the history is read newest first,
    in pages ten times larger each round. {} when no commit in the kept log recorded any."""
    limit = page
    while True:
        history = spark.sql(f"describe history {table} limit {limit}").select("userMetadata").collect()
        for row in history:
            if row.userMetadata and row.userMetadata.startswith(META_KEY):
                return json.loads(row.userMetadata[len(META_KEY) + 1 :])
        if len(history) < limit:
            return {}
        limit *= 10


def new_changes(spark: SparkSession, contract: Contract, done: dict[str, int]) -> DataFrame:
    changes = spark.table(change_table_for(contract))
    if not done:
        return changes
    seen = F.lit(False)
    for part, off in done.items():
        seen = seen | ((F.col("kafka_partition") == int(part)) & (F.col("kafka_offset") <= off))
    return changes.where(~seen)


def _after_truncate(spark: SparkSession, table: str, changes: DataFrame) -> DataFrame:
    """The batch's changes that follow its last TRUNCATE, once every row older than that
    truncate is a tombstone of its version (tombstones too, so an older replayed event cannot
    come back); the whole batch when it holds no truncate."""
    commit, lsn, offset = change_version(changes)
    last = (
        changes.where("op = 't'")
        .select(commit.alias("c"), lsn.alias("l"), offset.alias("o"), F.col("source_ts").alias("ts"))
        .orderBy(F.desc("c"), F.desc("l"), F.desc("o"))
        .first()
    )
    if last is None:
        return changes
    older = (
        f"_commit_lsn < {last.c} or (_commit_lsn = {last.c} and "
        f"(_lsn < {last.l} or (_lsn = {last.l} and _kafka_offset < {last.o})))"
    )
    spark.sql(
        f"update {table} set _is_deleted = true, _commit_lsn = {last.c}, _lsn = {last.l}, "
        f"_kafka_offset = {last.o}, _source_ts = timestamp'{last.ts.isoformat(sep=' ')}', "
        f"_applied_at = current_timestamp() where {older}"
    )
    newer = (commit > last.c) | ((commit == last.c) & ((lsn > last.l) | ((lsn == last.l) & (offset > last.o))))
    return changes.where(newer & (F.col("op") != "t"))


def merge_sql(table: str, source: str, cols: list[str]) -> str:
    """The MERGE in SQL, not Delta's Python API: it runs the same in a session of this process
    and through Spark Connect on the Thrift server (which has no Delta Connect plugin)."""
    quoted = [f"`{c}`" for c in cols]
    return (
        f"merge into {table} t using {source} s on t._key = s._key "
        f"when matched and ({NEWER}) then update set {', '.join(f't.{c} = s.{c}' for c in quoted)} "
        f"when not matched then insert ({', '.join(quoted)}) values ({', '.join(f's.{c}' for c in quoted)})"
    )


@dataclass
class ApplyResult:
    table: str
    changes: int
    keys: int
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"current state: {self.table}: {self.changes} new changes applied to {self.keys} keys "
            f"in {self.seconds:.1f}s"
        )


def apply_changes(spark: SparkSession, contract: Contract) -> ApplyResult:
    started = time.monotonic()
    table = ensure_current_table(spark, contract)
    done = applied_offsets(spark, table)
    changes = new_changes(spark, contract, done).cache()
    view = f"current_state_batch_{contract.source}_{contract.name}"
    try:
        maxima = (
            changes.groupBy("kafka_partition").agg(F.max("kafka_offset").alias("o"), F.count("*").alias("n")).collect()
        )
        if not maxima:
            return ApplyResult(table, 0, 0, time.monotonic() - started)
        upto = {**done, **{str(r.kafka_partition): r.o for r in maxima}}
        batch = latest_per_key(_after_truncate(spark, table, changes), contract)
        cols = contract.column_names + [
            "_key",
            "_commit_lsn",
            "_lsn",
            "_kafka_offset",
            "_source_ts",
            "_is_deleted",
            "_applied_at",
        ]
        # The offsets travel in the MERGE's own commit, so they are durable exactly when the rows are.
        spark.conf.set(
            "spark.databricks.delta.commitInfo.userMetadata", f"{META_KEY}={json.dumps(upto, sort_keys=True)}"
        )
        batch.createOrReplaceTempView(view)
        try:
            spark.sql(merge_sql(table, view, cols))
        finally:
            spark.conf.unset("spark.databricks.delta.commitInfo.userMetadata")
        return ApplyResult(table, sum(r.n for r in maxima), batch.count(), time.monotonic() - started)
    finally:
        changes.unpersist()
        spark.catalog.dropTempView(view)


def run(spark: SparkSession | None = None) -> list[ApplyResult]:
    """Apply every CDC table's new changes. Without a session, through the stack's shared Spark
    (see ``get_shared_spark``): the MERGEs are SQL work for the Thrift server's warm JVM, where a
    JVM of this process's own would spend ~20 s starting before its first table (and the quality
    gate after this step would meet a cold server)."""
    from core.session import shared_spark

    if spark is None:
        with shared_spark("cdc-current-state") as session:
            return run(session)
    contracts = cdc_contracts()
    ensure_tables(spark, contracts)
    return [apply_changes(spark, c) for c in contracts]


def main(argv: list[str] | None = None) -> int:
    import argparse

    from core.session import is_connect, shared_spark

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, metavar="SECONDS", help="run continuously, a round every SECONDS")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with shared_spark("cdc-current-state") as spark:
        where = "through Spark Connect on the Thrift server" if is_connect(spark) else "in a Spark session of its own"
        while True:
            results = run(spark)
            if args.interval is None:
                break
            if any(r.changes for r in results):  # a continuous run reports only rounds that applied
                for r in results:
                    if r.changes:
                        print(r.summary(), flush=True)
            time.sleep(args.interval)
    for r in results:
        print(r.summary())
    print(f"current state: {len(results)} tables, {sum(r.changes for r in results)} changes applied {where}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
