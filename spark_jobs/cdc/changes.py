"""Bronze change-log tables: one Delta table per source table, plus one dead-letter table.

Each row is one Debezium change event with its Kafka coordinates. The Kafka offsets are stored
in the same Delta commit as the rows, so the consumer recovers its position from the tables
themselves: a crash before the commit re-reads the batch, a crash after it skips the batch.
"""

from __future__ import annotations

from datetime import datetime
from functools import cache

import pyarrow as pa
from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T
from pyspark.sql.pandas.types import to_arrow_schema

from schemas.contracts import Contract, load_contracts
from schemas.spark import spark_schema
from spark_jobs import arrow_delta, bronze
from spark_jobs.cdc.envelope import ChangeRow

# The captured systems; the other contracts' sources arrive as files (spark_jobs.landing).
CDC_SOURCES = ("crm", "bss")


def cdc_contracts() -> list[Contract]:
    return [c for c in load_contracts() if c.source in CDC_SOURCES]


def dead_letter_table() -> str:
    return bronze.table_name("cdc_dead_letters")


def topic_for(contract: Contract) -> str:
    """Debezium's topic name: <topic.prefix>.<schema>.<table>; the prefix is the database."""
    return f"{contract.source}.public.{contract.name}"


def change_table_for(contract: Contract) -> str:
    return bronze.table_name(f"{contract.source}_{contract.name}_changes")


def change_log_schema(contract: Contract) -> T.StructType:
    image = spark_schema(contract)
    return T.StructType(
        [
            T.StructField("key", T.StringType(), False),
            T.StructField("op", T.StringType(), False),
            T.StructField("before", image, True),
            T.StructField("after", image, True),
            T.StructField("source_ts", T.TimestampType(), False),
            T.StructField("tx_id", T.LongType(), True),
            T.StructField("lsn", T.LongType(), True),
            T.StructField("commit_lsn", T.LongType(), True),
            T.StructField("is_snapshot", T.BooleanType(), False),
            # A new source column lands here (name -> JSON value) until the contract adopts it.
            T.StructField("extra_columns", T.MapType(T.StringType(), T.StringType()), True),
            T.StructField("kafka_topic", T.StringType(), False),
            T.StructField("kafka_partition", T.IntegerType(), False),
            T.StructField("kafka_offset", T.LongType(), False),
            T.StructField("ingested_at", T.TimestampType(), False),
        ]
    )


DEAD_LETTER_SCHEMA = T.StructType(
    [
        T.StructField("kafka_topic", T.StringType(), False),
        T.StructField("kafka_partition", T.IntegerType(), False),
        T.StructField("kafka_offset", T.LongType(), False),
        T.StructField("raw_key", T.BinaryType(), True),
        T.StructField("raw_value", T.BinaryType(), True),
        T.StructField("error", T.StringType(), False),
        T.StructField("ingested_at", T.TimestampType(), False),
    ]
)


CHECKPOINT_INTERVAL = 100
# How long a change log's commit files outlive its checkpoints: readers take the latest version
# (the apply, the view's tail), none travels back further.
CHANGE_LOG_KEEP_S = 300
NO_INLINE_CHECKPOINT = 1_000_000_000  # a commit checkpoints when its version is a multiple of the interval
STATS_COLUMNS = ("kafka_partition", "kafka_offset")
OPS_DB = "ops"
BATCHES_TABLE = f"{OPS_DB}.cdc_batches"
BATCHES_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("batch", T.IntegerType(), False),
        T.StructField("table_name", T.StringType(), False),
        T.StructField("events", T.LongType(), False),
        T.StructField("dead_letters", T.LongType(), False),
        T.StructField("first_offset", T.LongType(), True),
        T.StructField("last_offset", T.LongType(), True),
        T.StructField("lag_after", T.LongType(), True),
        T.StructField("seconds", T.DoubleType(), False),
        T.StructField("events_per_s", T.DoubleType(), True),
        T.StructField("freshness_p50_s", T.DoubleType(), True),
        T.StructField("freshness_p95_s", T.DoubleType(), True),
        T.StructField("written_at", T.TimestampType(), False),
    ]
)


def ensure_tables(spark: SparkSession, contracts: list[Contract]) -> None:
    """Create the change logs, the dead letters and the batch metrics that are missing, and give
    existing ones the columns and properties they lack; safe beside another process doing the
    same."""
    bronze.ensure_idempotently(lambda: _ensure_tables(spark, contracts), "bronze change logs")


def _ensure_tables(spark: SparkSession, contracts: list[Contract]) -> None:
    spark.sql(f"create database if not exists {bronze.bronze_db()}")
    spark.sql(f"create database if not exists {OPS_DB}")
    wanted = [(change_table_for(c), change_log_schema(c)) for c in contracts]
    wanted.append((dead_letter_table(), DEAD_LETTER_SCHEMA))
    wanted.append((BATCHES_TABLE, BATCHES_SCHEMA))
    for name, schema in wanted:
        if not spark.catalog.tableExists(name):
            # DDL with its properties, not an empty frame written and then altered: no Spark job,
            # one commit
            spark.sql(
                f"create table if not exists {name} ({bronze.ddl_columns(schema.fields)}) using delta "
                f"tblproperties ({bronze.properties_sql(_table_properties(name))})"
            )
            continue
        # Tables made by an earlier version of this code gain the columns added since.
        have = set(spark.table(name).columns)
        missing = [f for f in schema.fields if f.name not in have]
        if missing:
            spark.sql(f"alter table {name} add columns ({bronze.ddl_columns(missing)})")
        bronze.set_properties(spark, name, _table_properties(name))


def _table_properties(name: str) -> dict[str, str]:
    # A commit per batch: a checkpoint every 10 (Delta's default) is most of the tail latency.
    props = {"delta.checkpointInterval": str(CHECKPOINT_INTERVAL)}
    if name.endswith("_changes"):
        # The consumer checkpoints these itself, off its write path (a checkpoint is a Spark job
        # of seconds that an inline one adds to a batch's latency): see consumer.BatchWriter.
        props["delta.checkpointInterval"] = str(NO_INLINE_CHECKPOINT)
        # Readers skip files by Kafka position (current_state); statistics on the 30-odd image
        # columns would cost every append a wide aggregate and its code generation for nothing.
        props["delta.dataSkippingStatsColumns"] = ",".join(STATS_COLUMNS)
    return props


@cache
def _arrow_schema(contract: Contract) -> pa.Schema:
    return to_arrow_schema(change_log_schema(contract), timezone="UTC")


@cache
def parsed_schema(contract: Contract) -> pa.Schema:
    """The change-log schema as parsing makes it: everything but ``ingested_at``, which the
    writer stamps when the rows are written."""
    return _arrow_schema(contract).remove(_arrow_schema(contract).get_field_index("ingested_at"))


def change_rows_arrow(contract: Contract, records: list[tuple[ChangeRow, int, int]], topic: str) -> pa.Table:
    """(change, partition, offset) triples to an Arrow table in ``parsed_schema``."""
    return pa.Table.from_pylist(
        [
            {
                "key": ch.key,
                "op": ch.op,
                "before": ch.before,
                "after": ch.after,
                "source_ts": ch.source_ts,
                "tx_id": ch.tx_id,
                "lsn": ch.lsn,
                "commit_lsn": ch.commit_lsn,
                "is_snapshot": ch.snapshot,
                "extra_columns": list(ch.extra_columns.items()) if ch.extra_columns else None,
                "kafka_topic": topic,
                "kafka_partition": partition,
                "kafka_offset": offset,
            }
            for ch, partition, offset in records
        ],
        schema=parsed_schema(contract),
    )


def stamp_ingested_at(contract: Contract, parsed: pa.Table, ingested_at: datetime) -> pa.Table:
    """Parsed rows plus the time they are written, in the full change-log schema."""
    field = _arrow_schema(contract).field("ingested_at")
    micros = int(ingested_at.timestamp() * 1_000_000)
    column = pa.array([micros] * parsed.num_rows, pa.int64()).cast(field.type)
    return parsed.append_column(field, column)


def append_changes(spark: SparkSession, contract: Contract, rows: pa.Table, location: str) -> int:
    """Append change rows (full change-log schema) to the contract's change table at ``location``;
    returns the new version. Checkpoints are the caller's (``checkpoint_due``).

    Each Kafka partition in ``rows`` is a Delta ``txn`` application id whose version is the last
    offset landed, so a second consumer reading the same offsets (two started at once) fails
    with ``arrow_delta.AlreadyLanded`` instead of appending them again."""
    return arrow_delta.append(spark, location, rows, _arrow_schema(contract), STATS_COLUMNS, txns=offset_ranges(rows))


def offset_ranges(rows: pa.Table) -> dict[str, tuple[int, int]]:
    """{'kafka:<topic>:<partition>': (first offset, last offset)} of the change rows."""
    grouped = rows.group_by(["kafka_topic", "kafka_partition"]).aggregate(
        [("kafka_offset", "min"), ("kafka_offset", "max")]
    )
    return {
        f"kafka:{r['kafka_topic']}:{r['kafka_partition']}": (r["kafka_offset_min"], r["kafka_offset_max"])
        for r in grouped.to_pylist()
    }


def checkpoint_due(previous_version: int, version: int) -> bool:
    """Whether the commits after ``previous_version`` up to ``version`` crossed a multiple of the
    checkpoint interval (other writers' commits may lie between)."""
    return version // CHECKPOINT_INTERVAL > previous_version // CHECKPOINT_INTERVAL


def merge_dead_letters(spark: SparkSession, rows: list[tuple]) -> None:
    """Dead letters are merged on their Kafka coordinates, so re-reading a batch after a crash
    never records a poison message twice. They are written before the batch's change rows."""
    if not rows:
        return
    spark.createDataFrame(rows, DEAD_LETTER_SCHEMA).createOrReplaceTempView("_dead_letter_batch")
    spark.sql(
        f"""merge into {dead_letter_table()} t using _dead_letter_batch s
        on t.kafka_topic = s.kafka_topic and t.kafka_partition = s.kafka_partition
           and t.kafka_offset = s.kafka_offset
        when not matched then insert *"""
    )


def committed_offsets(spark: SparkSession, tables: list[str]) -> dict[tuple[str, int], int]:
    """The next offset to read per (topic, partition), from what the change tables hold.

    Only change tables count: their rows and offsets commit together. The dead-letter table
    does not, since a batch's dead letters commit before its change rows."""
    next_offsets: dict[tuple[str, int], int] = {}
    for table in tables:
        rows = (
            spark.table(table)
            .groupBy("kafka_topic", "kafka_partition")
            .agg(F.max("kafka_offset").alias("last"))
            .collect()
        )
        for r in rows:
            tp = (r.kafka_topic, r.kafka_partition)
            next_offsets[tp] = max(next_offsets.get(tp, 0), r.last + 1)
    return next_offsets
