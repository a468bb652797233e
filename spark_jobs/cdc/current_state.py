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

from core.airflow_client import AssetAnnouncer, bronze_uri
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


# A MERGE marks the rows it replaces in deletion vectors instead of rewriting every file that
# holds one: updates to keys spread over the whole table would otherwise rewrite all of it.
TABLE_PROPERTIES = {"delta.enableDeletionVectors": "true"}


def ensure_current_table(spark: SparkSession, contract: Contract) -> str:
    """Create the current-state table, or give an older one the table properties it lacks."""
    name = current_table_for(contract)
    props = ", ".join(f"'{k}' = '{v}'" for k, v in TABLE_PROPERTIES.items())
    if not spark.catalog.tableExists(name):
        columns = ", ".join(f"`{f.name}` {f.dataType.simpleString()}" for f in current_schema(contract).fields)
        spark.sql(f"create table if not exists {name} ({columns}) using delta tblproperties ({props})")
        return name
    have = {r[0]: r[1] for r in spark.sql(f"show tblproperties {name}").collect()}
    if any(have.get(k) != v for k, v in TABLE_PROPERTIES.items()):
        spark.sql(f"alter table {name} set tblproperties ({props})")
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


def applied_offsets(spark: SparkSession, table: str, page: int = 1) -> dict[str, int]:
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


def change_log_version(spark: SparkSession, table: str) -> int:
    newest = spark.sql(f"describe history {table} limit 1").select("version").first()
    assert newest is not None, f"{table} has no commit"  # ensure_tables created it
    return int(newest[0])


def unapplied(done: dict[str, int]):
    """The change-log rows past the applied offsets, as a predicate Delta can skip files with:
    a disjunction of (partition = p and offset > applied) per partition, and partition = p for the
    partitions below the highest one that nothing was applied from yet, or above it."""
    if not done:
        return F.lit(True)
    parts = {int(p): off for p, off in done.items()}
    cond = F.col("kafka_partition") > max(parts)
    for part in range(max(parts) + 1):
        this = F.col("kafka_partition") == part
        cond = cond | ((this & (F.col("kafka_offset") > parts[part])) if part in parts else this)
    return cond


def new_changes(spark: SparkSession, contract: Contract, done: dict[str, int], version: int | None = None) -> DataFrame:
    """The changes past ``done``, in the change log as of ``version`` (its latest when None)."""
    table = change_table_for(contract)
    changes = spark.table(table) if version is None else spark.sql(f"select * from {table} version as of {version}")
    return changes.where(unapplied(done))


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
    keys: int  # rows the MERGE wrote: a change older than its key's current version writes none
    seconds: float = 0.0

    def summary(self) -> str:
        return (
            f"current state: {self.table}: {self.changes} new changes, {self.keys} rows written in {self.seconds:.1f}s"
        )


def apply_changes(
    spark: SparkSession, contract: Contract, version: int | None = None, table_ready: bool = False
) -> ApplyResult:
    """Apply the change log's new changes (as of its ``version``, the latest when None).
    ``table_ready``: the current-state table is known to exist with its properties."""
    started = time.monotonic()
    table = current_table_for(contract) if table_ready else ensure_current_table(spark, contract)
    done = applied_offsets(spark, table)
    changes = new_changes(spark, contract, done, version).cache()
    view = f"current_state_batch_{contract.source}_{contract.name}"
    try:
        # One pass over the new changes: each partition's last offset and count, and whether a
        # TRUNCATE is among them.
        stats = (
            changes.groupBy("kafka_partition")
            .agg(
                F.max("kafka_offset").alias("o"),
                F.count("*").alias("n"),
                F.max(F.col("op") == "t").alias("t"),
            )
            .collect()
        )
        if not stats:
            return ApplyResult(table, 0, 0, time.monotonic() - started)
        upto = {**done, **{str(r.kafka_partition): r.o for r in stats}}
        batch = latest_per_key(_after_truncate(spark, table, changes) if any(r.t for r in stats) else changes, contract)
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
            metrics = spark.sql(merge_sql(table, view, cols)).first()
        finally:
            spark.conf.unset("spark.databricks.delta.commitInfo.userMetadata")
        written = int(metrics["num_affected_rows"]) if metrics is not None else 0
        return ApplyResult(table, sum(r.n for r in stats), written, time.monotonic() - started)
    finally:
        changes.unpersist()
        spark.catalog.dropTempView(view)


class Applier:
    """Rounds of apply over every CDC table, in one session. Between rounds it remembers the
    change-log version each table was caught up to: a round reads a table's changes only when
    its change log has a newer commit, so an always-on apply spends its time on the tables that
    changed, not on finding out that the others did not."""

    def __init__(self, spark: SparkSession, contracts: list[Contract] | None = None):
        self.spark = spark
        self.contracts = contracts if contracts is not None else cdc_contracts()
        ensure_tables(spark, self.contracts)
        # change log -> version applied; a table applied once exists with its properties
        self.caught_up: dict[str, int] = {}

    def round(self) -> list[ApplyResult]:
        results = []
        for contract in self.contracts:
            log_table = change_table_for(contract)
            version = change_log_version(self.spark, log_table)
            if self.caught_up.get(log_table) == version:
                results.append(ApplyResult(current_table_for(contract), 0, 0))
                continue
            results.append(apply_changes(self.spark, contract, version, table_ready=log_table in self.caught_up))
            self.caught_up[log_table] = version
        return results


def run(spark: SparkSession | None = None) -> list[ApplyResult]:
    """Apply every CDC table's new changes. Without a session, through the stack's shared Spark
    (see ``get_shared_spark``): the MERGEs are SQL work for the Thrift server's warm JVM, where a
    JVM of this process's own would spend ~20 s starting before its first table (and the quality
    gate after this step would meet a cold server)."""
    from core.session import shared_spark

    if spark is None:
        with shared_spark("cdc-current-state") as session:
            return run(session)
    return Applier(spark).round()


def asset_news(results: list[ApplyResult]) -> dict[str, dict]:
    """{asset uri: extra} of the tables a round changed."""
    return {bronze_uri(r.table.split(".", 1)[1]): {"changes": r.changes} for r in results if r.changes}


def main(argv: list[str] | None = None) -> int:
    import argparse

    from core.session import is_connect, shared_spark

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, metavar="SECONDS", help="run continuously, a round every SECONDS")
    parser.add_argument(
        "--announce",
        action="store_true",
        help="after each round, post an Airflow asset event for every table it changed",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with shared_spark("cdc-current-state") as spark:
        where = "through Spark Connect on the Thrift server" if is_connect(spark) else "in a Spark session of its own"
        applier = Applier(spark)
        announcer = AssetAnnouncer(log=log) if args.announce else None
        while True:
            results = applier.round()
            if announcer is not None:
                announcer.announce(asset_news(results))
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
