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

Merge on read: the MERGEd table is ``bronze.<source>_<table>_merged``, and what readers query,
``bronze.<source>_<table>``, is a view of it together with the change log's tail past the offsets
it holds, the newest version of each key winning by the same order. A committed change is in the
view as soon as the consumer's change-log commit lands, whatever the MERGE's pace; each apply
moves the view's offsets forward after its commit. The tail leaves TRUNCATE events to the MERGE.
``_applied_at`` is when the change landed in bronze (its change-log ``ingested_at``), the same in
the tail and once merged, so an incremental reader's watermark does not see a change twice.
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
from schemas.spark import spark_schema, stats_without
from spark_jobs import bronze
from spark_jobs.cdc.changes import cdc_contracts, change_table_for, ensure_tables

log = logging.getLogger("cdc.current_state")
META_KEY = "lakehouse.current_state.offsets"
# A change's version, as current-state column -> SQL over a change-log row: a snapshot read (no
# commit LSN) is versioned by the WAL position it was read at.
VERSION_SQL = {
    "_commit_lsn": "coalesce(commit_lsn, lsn, -1)",
    "_lsn": "coalesce(lsn, -1)",
    "_kafka_offset": "kafka_offset",
}
NEWEST_FIRST = ", ".join(f"{c} desc" for c in VERSION_SQL)


def current_table_for(contract: Contract) -> str:
    """What readers query: the view of the merged table and the change log's tail."""
    return f"{bronze.bronze_db()}.{contract.source}_{contract.name}"


def merged_table_for(contract: Contract) -> str:
    """The Delta table the apply MERGEs into."""
    return f"{current_table_for(contract)}_merged"


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


def table_properties(contract: Contract) -> dict[str, str]:
    """TABLE_PROPERTIES, and no statistics on the contract's pii columns (nor on the key, when one
    of them is part of it: a number's monthly usage is keyed by the number)."""
    personal = [c.name for c in contract.columns if c.pii]
    if set(personal) & set(contract.primary_key):
        personal.append("_key")
    return {**TABLE_PROPERTIES, **stats_without(current_schema(contract).fields, personal)}


def ensure_current_table(spark: SparkSession, contract: Contract) -> str:
    """Create the merged table and the readers' view, or give an older merged table the table
    properties it lacks; returns the merged table. A current-state table of the layout before
    merge on read (a table where the view goes) becomes the merged table, offsets and all."""
    name, view = merged_table_for(contract), current_table_for(contract)
    if (
        not spark.catalog.tableExists(name)
        and spark.catalog.tableExists(view)
        and (spark.catalog.getTable(view).tableType or "").upper() != "VIEW"
    ):
        spark.sql(f"alter table {view} rename to {name}")
    if not spark.catalog.tableExists(name):
        spark.sql(
            f"create table if not exists {name} ({bronze.ddl_columns(current_schema(contract).fields)}) "
            f"using delta tblproperties ({bronze.properties_sql(table_properties(contract))})"
        )
    else:
        bronze.set_properties(spark, name, table_properties(contract))
    replace_view(spark, contract, applied_offsets(spark, name))
    return name


def change_version(changes: DataFrame) -> list:
    """A change's version as (commit LSN, LSN, Kafka offset) columns of a change-log row."""
    return [F.expr(e) for e in VERSION_SQL.values()]


def flattened(contract: Contract) -> list[str]:
    """A change-log row as the current-state columns, a SQL select list (the MERGE's batch and
    the readers' view both read the log through it): the row's image (before for a delete),
    key, version, source time, whether it is a delete, and when it landed."""
    return [
        *[f"case when op = 'd' then before.`{c}` else after.`{c}` end as `{c}`" for c in contract.column_names],
        "key as _key",
        *[f"{e} as {c}" for c, e in VERSION_SQL.items()],
        "source_ts as _source_ts",
        "op = 'd' as _is_deleted",
        "ingested_at as _applied_at",
    ]


def latest_per_key(changes: DataFrame, contract: Contract) -> DataFrame:
    """The newest change of each key in a batch, flattened to the current-state columns."""
    flat = changes.selectExpr(*flattened(contract))
    newest = Window.partitionBy("_key").orderBy(*[F.col(c).desc() for c in VERSION_SQL])
    return flat.withColumn("_rank", F.row_number().over(newest)).where("_rank = 1").drop("_rank")


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


def unapplied_sql(done: dict[str, int]) -> str:
    """The change-log rows past the applied offsets, as a predicate Delta can skip files with:
    a disjunction of (partition = p and offset > applied) per partition, and partition = p for the
    partitions below the highest one that nothing was applied from yet, or above it."""
    if not done:
        return "true"
    parts = {int(p): off for p, off in done.items()}
    terms = [f"kafka_partition > {max(parts)}"]
    for part in range(max(parts) + 1):
        this = f"kafka_partition = {part}"
        terms.append(f"({this} and kafka_offset > {parts[part]})" if part in parts else f"({this})")
    return " or ".join(terms)


def unapplied(done: dict[str, int]):
    return F.expr(unapplied_sql(done))


# n is at least as new as m (a tie goes to the change log's copy: the same change, not yet
# visible as merged to a reader of the view written before the MERGE's commit).
AT_LEAST_AS_NEW = (
    "n._commit_lsn > m._commit_lsn or (n._commit_lsn = m._commit_lsn and "
    "(n._lsn > m._lsn or (n._lsn = m._lsn and n._kafka_offset >= m._kafka_offset)))"
)


def view_sql(contract: Contract, done: dict[str, int]) -> str:
    """The readers' view: the merged rows no newer change in the tail (the change log past
    ``done``) replaces, and the tail's newest change of each key that no merged row outranks."""
    tail = (
        f"select {', '.join(flattened(contract))} "
        f"from {change_table_for(contract)} where op <> 't' and ({unapplied_sql(done)})"
    )
    cols = ", ".join(f"`{f.name}`" for f in current_schema(contract).fields)
    merged = merged_table_for(contract)
    # The tail is small, the merged table is not: every join broadcasts the tail's side, so the
    # merged table is scanned (its version columns only, for the tail's keys) but never shuffled.
    return (
        f"with tail as ({tail}), newest as (select {cols} from (select *, row_number() over "
        f"(partition by _key order by {NEWEST_FIRST}) as _rank from tail) where _rank = 1), "
        "merged_of_tail as (select /*+ BROADCAST(k) */ m._key, m._commit_lsn, m._lsn, m._kafka_offset "
        f"from {merged} m left semi join newest k on m._key = k._key) "
        f"select /*+ BROADCAST(n) */ m.* from {merged} m left anti join newest n on m._key = n._key "
        f"and ({AT_LEAST_AS_NEW}) "
        "union all select /*+ BROADCAST(m) */ n.* from newest n left anti join merged_of_tail m "
        f"on m._key = n._key and not ({AT_LEAST_AS_NEW})"
    )


def replace_view(spark: SparkSession, contract: Contract, done: dict[str, int]) -> None:
    """Point the readers' view at the change log past ``done`` (offsets the merged table holds)."""
    spark.sql(f"create or replace view {current_table_for(contract)} as {view_sql(contract, done)}")


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
    table = merged_table_for(contract) if table_ready else ensure_current_table(spark, contract)
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
            return ApplyResult(current_table_for(contract), 0, 0, time.monotonic() - started)
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
        replace_view(spark, contract, upto)
        return ApplyResult(current_table_for(contract), sum(r.n for r in stats), written, time.monotonic() - started)
    finally:
        changes.unpersist()
        spark.catalog.dropTempView(view)


# An always-on consumer commits a file per change log about every second; readers of the
# view's tail and every snapshot of the log pay for each file until they are compacted.
COMPACT_EVERY = 200


class Applier:
    """Rounds of apply over every CDC table, in one session. Between rounds it remembers the
    change-log version each table was caught up to: a round reads a table's changes only when
    its change log has a newer commit, so an always-on apply spends its time on the tables that
    changed, not on finding out that the others did not."""

    def __init__(
        self, spark: SparkSession, contracts: list[Contract] | None = None, compact_every: int = COMPACT_EVERY
    ):
        self.spark = spark
        self.contracts = contracts if contracts is not None else cdc_contracts()
        self.compact_every = compact_every
        ensure_tables(spark, self.contracts)
        # change log -> version applied; a table applied once exists with its properties
        self.caught_up: dict[str, int] = {}
        self.compacted: dict[str, int] = {}  # change log -> version at its last compaction here

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
            if version - self.compacted.get(log_table, 0) >= self.compact_every:
                self.compacted[log_table] = compact(self.spark, log_table)
        return results


def compact(spark: SparkSession, table: str) -> int:
    """OPTIMIZE a change log (the consumer's blind appends do not conflict with it); returns its
    version after."""
    started = time.monotonic()
    spark.sql(f"optimize {table}")
    version = change_log_version(spark, table)
    log.info("compacted %s in %.1fs (version %d)", table, time.monotonic() - started, version)
    return version


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


def main(argv: list[str] | None = None) -> int:
    import argparse

    from core.session import is_connect, shared_spark

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--interval", type=float, metavar="SECONDS", help="run continuously, a round every SECONDS")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    with shared_spark("cdc-current-state") as spark:
        where = "through Spark Connect on the Thrift server" if is_connect(spark) else "in a Spark session of its own"
        applier = Applier(spark)
        while True:
            results = applier.round()
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
