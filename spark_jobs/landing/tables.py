"""Bronze tables of the file feeds: one per feed, the file manifest, and the quarantine."""

from __future__ import annotations

from pyspark.sql import SparkSession
from pyspark.sql import types as T

from schemas.spark import spark_schema, stats_without
from spark_jobs import bronze  # one bronze database for CDC and files (benchmarks rename it)
from spark_jobs.landing.feeds import Feed
from spark_jobs.landing.parse import LINE, RESCUED


def manifest_table() -> str:
    return bronze.table_name("landing_files")


def quarantine_table() -> str:
    return bronze.table_name("landing_quarantine")


MANIFEST_SCHEMA = T.StructType(
    [
        T.StructField("feed", T.StringType(), False),
        T.StructField("file_path", T.StringType(), False),
        T.StructField("fingerprint", T.StringType(), False),  # sha-256 of the file's bytes
        T.StructField("size_bytes", T.LongType(), False),
        T.StructField("modified_at", T.TimestampType(), False),
        T.StructField(
            "status", T.StringType(), False
        ),  # loaded | failed | duplicate_file | pending (a read failed: retried)
        T.StructField("rows_read", T.LongType(), False),
        T.StructField("rows_landed", T.LongType(), False),
        T.StructField("rows_quarantined", T.LongType(), False),
        T.StructField("duplicates_skipped", T.LongType(), False),
        # An upsert feed's rows that lost to a newer version of their key (null: loaded before
        # upsert feeds were counted, i.e. none).
        T.StructField("rows_superseded", T.LongType(), True),
        T.StructField("error", T.StringType(), True),
        T.StructField("bronze_version", T.LongType(), True),
        T.StructField("loaded_at", T.TimestampType(), False),
    ]
)

QUARANTINE_SCHEMA = T.StructType(
    [
        T.StructField("feed", T.StringType(), False),
        T.StructField("file_path", T.StringType(), False),
        T.StructField("fingerprint", T.StringType(), False),
        T.StructField("line_number", T.LongType(), False),
        T.StructField("raw_line", T.StringType(), True),
        T.StructField("reason", T.StringType(), False),
        T.StructField("quarantined_at", T.TimestampType(), False),
    ]
)


def feed_table(feed: Feed) -> str:
    return bronze.table_name(f"{feed.contract.source}_{feed.contract.name}")


def feed_schema(feed: Feed) -> T.StructType:
    fields = list(spark_schema(feed.contract).fields)
    if feed.partition:
        fields.append(T.StructField(feed.partition[0], T.DateType(), False))
    return T.StructType(
        fields
        + [
            T.StructField(RESCUED, T.StringType(), True),
            T.StructField("_source_file", T.StringType(), False),
            T.StructField(LINE, T.LongType(), False),
            T.StructField("_ingested_at", T.TimestampType(), False),
        ]
    )


def ensure_tables(spark: SparkSession, feed: Feed) -> None:
    """Create what is missing; commits to a table that exists only to add a column or a property
    it lacks (added since it was created), so a rerun leaves versions alone."""
    if not spark.catalog.databaseExists(bronze.bronze_db()):  # the metastore logs an error for "if not exists" on one
        spark.sql(f"create database if not exists {bronze.bronze_db()}")
    personal = [c.name for c in feed.contract.columns if c.pii]
    for name, schema, partition, unstated in (
        (feed_table(feed), feed_schema(feed), feed.partition[0] if feed.partition else None, personal),
        (manifest_table(), MANIFEST_SCHEMA, None, []),
        (quarantine_table(), QUARANTINE_SCHEMA, None, ["raw_line"]),
    ):
        # Loads write one file per date; many small loads of one date get compacted. No file
        # statistics of a personal column (or a raw line) in the transaction log (nor of the
        # partition column, which Delta refuses to name there).
        props = {"delta.autoOptimize.autoCompact": "true", **stats_without(schema.fields, [*unstated, partition or ""])}
        if spark.catalog.tableExists(name):
            have = set(spark.table(name).schema.fieldNames())
            missing = [f for f in schema if f.name not in have]
            if missing:  # Delta adds them nullable: the rows already there have none
                spark.sql(f"alter table {name} add columns ({bronze.ddl_columns(missing)})")
            bronze.set_properties(spark, name, props)
            continue
        # DDL, not an empty frame written (no Spark job)
        partitioned = f" partitioned by (`{partition}`)" if partition else ""
        spark.sql(
            f"create table if not exists {name} ({bronze.ddl_columns(schema.fields)}) using delta{partitioned} "
            f"tblproperties ({bronze.properties_sql(props)})"
        )
