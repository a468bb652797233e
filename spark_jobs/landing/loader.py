"""Landing-zone files into bronze, each file exactly once, every row accounted for.

``python -m spark_jobs.landing.loader [--feed app.events] [--root URI]``

For each feed (a contract with a file format): list the files (a local folder by default, any
Hadoop file system URI otherwise), fingerprint the ones the manifest has not seen, read the new
ones in one pass, quarantine the rows that break the contract (with file, line and reason),
skip rows whose key is already in bronze or earlier in the same load, and append the rest.
Per file, rows read = landed + quarantined + duplicates skipped, recorded in the manifest table.

A corrupt, truncated or empty file is marked failed with its reason; the other files load.
Crash safety: a file's quarantine rows commit together and a retry skips files that have them;
the bronze append carries the per-file counts in its commit, so a crash before the manifest is
written is repaired from the table's history instead of loading the files again.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

from pyspark.errors import PySparkException
from pyspark.sql import DataFrame, SparkSession, Window
from pyspark.sql import functions as F
from py4j.protocol import Py4JJavaError

from lakehouse.settings import get_settings
from spark_jobs.landing import tables
from spark_jobs.landing.feeds import Feed, file_feeds, get_feed
from spark_jobs.landing.parse import parse_files
from spark_jobs.session import get_spark

log = logging.getLogger("landing")
LOADER_TAG = "landing-loader"


@dataclass
class FileOutcome:
    path: str
    fingerprint: str
    size: int
    modified_at: datetime
    status: str = "loaded"
    read: int = 0
    landed: int = 0
    quarantined: int = 0
    duplicates: int = 0
    error: str | None = None

    def manifest_row(self, feed: Feed, version: int | None, at: datetime) -> tuple:
        return (feed.name, self.path, self.fingerprint, self.size, self.modified_at, self.status, self.read,
                self.landed, self.quarantined, self.duplicates, self.error, version, at)


@dataclass
class FeedResult:
    feed: str
    files: list[FileOutcome] = field(default_factory=list)
    recovered: int = 0
    seconds: float = 0.0

    def total(self, attr: str) -> int:
        return sum(getattr(f, attr) for f in self.files)

    def summary(self) -> str:
        failed = [f for f in self.files if f.status == "failed"]
        return (f"{self.feed}: {len(self.files)} new files ({len(failed)} failed), {self.total('read'):,} rows read = "
                f"{self.total('landed'):,} landed + {self.total('quarantined'):,} quarantined + "
                f"{self.total('duplicates'):,} duplicates skipped in {self.seconds:.1f}s"
                + "".join(f"\n  failed {f.path}: {f.error}" for f in failed))


def default_root() -> str:
    return str(get_settings().landing_dir)


def _java_error(e: Exception) -> str:
    """The root cause of a failed Spark read, in one line."""
    if isinstance(e, Py4JJavaError):
        cause = e.java_exception
        while cause.getCause() is not None:
            cause = cause.getCause()
        return f"{cause.getClass().getSimpleName()}: {cause.getMessage()}"
    return str(e).strip().splitlines()[0]


def list_files(spark: SparkSession, root: str, feed: Feed) -> DataFrame:
    """path, size and modification time of the feed's files (content is not read)."""
    directory = f"{root.rstrip('/')}/{feed.subdir}"
    try:
        return (spark.read.format("binaryFile").option("pathGlobFilter", feed.glob)
                .option("recursiveFileLookup", "true").load(directory)
                .select(F.col("path"), F.col("length").alias("size"), F.col("modificationTime").alias("modified_at")))
    except PySparkException as e:
        if "PATH_NOT_FOUND" in str(e):
            return spark.createDataFrame([], "path string, size long, modified_at timestamp")
        raise


def fingerprints(spark: SparkSession, paths: list[str]) -> dict[str, str]:
    rows = spark.read.format("binaryFile").load(paths).select("path", F.sha2("content", 256).alias("fp")).collect()
    return {r.path: r.fp for r in rows}


def recover_unrecorded(spark: SparkSession, feed: Feed) -> int:
    """Manifest rows for loads that committed to bronze but crashed before the manifest write."""
    table = tables.feed_table(feed)
    recorded = {r.fingerprint for r in spark.table(tables.MANIFEST_TABLE).where(F.col("feed") == feed.name)
                .select("fingerprint").collect()}
    rows = []
    for h in spark.sql(f"describe history {table} limit 20").where("userMetadata is not null").collect():
        meta = json.loads(h.userMetadata) if h.userMetadata.startswith("{") else {}
        if meta.get("loader") != LOADER_TAG:
            continue
        for fp, f in meta["files"].items():
            if fp not in recorded:
                out = FileOutcome(f["path"], fp, f["size"], datetime.fromisoformat(f["modified_at"]), "loaded",
                                  f["read"], f["landed"], f["quarantined"], f["duplicates"])
                rows.append(out.manifest_row(feed, h.version, datetime.now(timezone.utc)))
    if rows:
        spark.createDataFrame(rows, tables.MANIFEST_SCHEMA).write.format("delta").mode("append").saveAsTable(tables.MANIFEST_TABLE)
        log.warning("%s: recorded %d files that were loaded before a crash", feed.name, len(rows))
    return len(rows)


def _new_files(spark: SparkSession, root: str, feed: Feed) -> tuple[list[FileOutcome], list[FileOutcome]]:
    """Files to load, and files settled without loading (duplicates of loaded content, empty)."""
    listed = list_files(spark, root, feed)
    manifest = spark.table(tables.MANIFEST_TABLE).where(F.col("feed") == feed.name)
    unseen = listed.join(manifest.select(F.col("file_path").alias("path"), F.col("size_bytes").alias("size"),
                                         "modified_at"), ["path", "size", "modified_at"], "left_anti").orderBy("path").collect()
    if not unseen:
        return [], []
    fps = fingerprints(spark, [r.path for r in unseen])
    seen = {(r.file_path, r.fingerprint) for r in manifest.select("file_path", "fingerprint").collect()}
    seen_fps = {fp for _, fp in seen}
    todo, settled = [], []
    for r in unseen:
        out = FileOutcome(r.path, fps[r.path], r.size, r.modified_at)
        if (r.path, out.fingerprint) in seen:
            continue  # touched, same content: already accounted for
        if out.fingerprint in seen_fps or out.fingerprint in {f.fingerprint for f in todo}:
            out.status, out.error = "duplicate_file", "same content as a file already loaded"
            settled.append(out)
        elif r.size == 0:
            out.status, out.error = "failed", "empty file (0 bytes)"
            settled.append(out)
        else:
            todo.append(out)
    return todo, settled


def _readable(spark: SparkSession, files: list[FileOutcome]) -> list[FileOutcome]:
    """Read each file on its own to find the ones that cannot be read; mark them failed."""
    good = []
    for f in files:
        try:
            spark.read.text(f.path, wholetext=True).select(F.length("value")).collect()
            good.append(f)
        except (Py4JJavaError, PySparkException) as e:
            f.status, f.error = "failed", f"unreadable: {_java_error(e)}"
            log.warning("%s: %s", f.path, f.error)
    return good


def _existing_keys(spark: SparkSession, feed: Feed, batch: DataFrame) -> DataFrame:
    """Keys already in bronze, read only from the partitions this load touches."""
    key = list(feed.contract.primary_key)
    target = spark.table(tables.feed_table(feed))
    if feed.partition:
        part = feed.partition[0]
        dates = [r[0] for r in batch.select(part).distinct().collect() if r[0] is not None]
        target = target.where(F.col(part).isin(dates)) if dates else target.limit(0)
        key = key + [part]
    return target.select(*key)


def _load(spark: SparkSession, feed: Feed, files: list[FileOutcome], at: datetime) -> int | None:
    """One pass over the files: quarantine, deduplicate, append. Fills in each file's counts."""
    by_path = {f.path: f for f in files}
    fp_map = F.broadcast(spark.createDataFrame([(f.path, f.fingerprint) for f in files], "file_path string, fingerprint string"))
    t0 = time.monotonic()
    rows = parse_files(spark, [f.path for f in files], feed).persist()
    new = None
    try:
        per_file = rows.groupBy("file_path").agg(F.count("*").alias("read"),
                                                 F.count(F.when(F.col("_reason").isNotNull(), 1)).alias("bad")).collect()
        for r in per_file:
            by_path[r.file_path].read, by_path[r.file_path].quarantined = r.read, r.bad
        bad = rows.where(F.col("_reason").isNotNull()).join(fp_map, "file_path").select(
            F.lit(feed.name).alias("feed"), "file_path", "fingerprint", "line_number", F.col("line").alias("raw_line"),
            F.col("_reason").alias("reason"), F.lit(at).alias("quarantined_at"))
        log.info("%s: %d files read and checked in %.1fs", feed.name, len(files), time.monotonic() - t0)
        # A file's quarantine rows commit together: after a crash they are either all there or
        # none, so a retry appends only for the files that have none (cheaper than a MERGE).
        bad_files = [by_path[r.file_path].fingerprint for r in per_file if r.bad]
        if bad_files:
            done = {r.fingerprint for r in spark.table(tables.QUARANTINE_TABLE)
                    .where(F.col("fingerprint").isin(bad_files)).select("fingerprint").distinct().collect()}
            todo = bad.where(~F.col("fingerprint").isin(list(done))) if done else bad
            todo.write.format("delta").mode("append").saveAsTable(tables.QUARANTINE_TABLE)
        key = list(feed.contract.primary_key) + ([feed.partition[0]] if feed.partition else [])
        good = rows.where(F.col("_reason").isNull())
        # One shuffle, by date: the key's first occurrence is found within it, and each task then
        # writes whole date partitions, so a load makes one file per date instead of one per task.
        good = good.repartition(feed.partition[0]) if feed.partition else good.coalesce(1)
        first = good.withColumn("_n", F.row_number().over(
            Window.partitionBy(*key).orderBy("file_path", "line_number"))).where("_n = 1")
        # The keys already landed for these dates are few next to the load: broadcast them.
        new = first.join(F.broadcast(_existing_keys(spark, feed, good)), key, "left_anti").persist()
        landed = {r.file_path: r[1] for r in new.groupBy("file_path").count().collect()}
        log.info("%s: quarantined and deduplicated at %.1fs", feed.name, time.monotonic() - t0)
        for f in files:
            f.landed = landed.get(f.path, 0)
            f.duplicates = f.read - f.quarantined - f.landed
            if f.read == 0:
                f.status, f.error = "failed", "empty file: no lines"
        meta = {"loader": LOADER_TAG, "feed": feed.name, "files": {
            f.fingerprint: {"path": f.path, "size": f.size, "modified_at": f.modified_at.isoformat(), "read": f.read,
                            "landed": f.landed, "quarantined": f.quarantined, "duplicates": f.duplicates}
            for f in files if f.status == "loaded"}}
        if not sum(landed.values()):
            return None
        columns = tables.feed_schema(feed).fieldNames()
        out = new.withColumnRenamed("file_path", "_source_file").withColumnRenamed("line_number", "_line_number") \
            .withColumn("_ingested_at", F.lit(at)).select(*columns)
        writer = out.write.format("delta").mode("append").option("userMetadata", json.dumps(meta))
        writer.saveAsTable(tables.feed_table(feed))
        log.info("%s: %d rows appended at %.1fs", feed.name, sum(landed.values()), time.monotonic() - t0)
        return spark.sql(f"describe history {tables.feed_table(feed)} limit 1").first().version
    finally:
        if new is not None:
            new.unpersist()
        rows.unpersist()


def load_feed(spark: SparkSession, feed: Feed, root: str | None = None) -> FeedResult:
    t0 = time.monotonic()
    root = root or default_root()
    tables.ensure_tables(spark, feed)
    result = FeedResult(feed.name, recovered=recover_unrecorded(spark, feed))
    todo, settled = _new_files(spark, root, feed)
    result.files = settled + todo
    at = datetime.now(timezone.utc)
    version = None
    if todo:
        try:
            version = _load(spark, feed, todo, at)
        except (Py4JJavaError, PySparkException) as e:
            log.warning("%s: one load of %d files failed (%s); finding the unreadable ones", feed.name, len(todo), _java_error(e))
            readable = _readable(spark, todo)
            version = _load(spark, feed, readable, at) if readable else None
    if result.files:
        rows = [f.manifest_row(feed, version if f.status == "loaded" else None, at) for f in result.files]
        spark.createDataFrame(rows, tables.MANIFEST_SCHEMA).write.format("delta").mode("append").saveAsTable(tables.MANIFEST_TABLE)
    result.seconds = time.monotonic() - t0
    return result


def run(feeds: list[Feed] | None = None, root: str | None = None, spark: SparkSession | None = None) -> list[FeedResult]:
    spark = spark or get_spark("landing-loader")
    # A JSON line repeating a key keeps its last value instead of failing the load.
    spark.conf.set("spark.sql.mapKeyDedupPolicy", "LAST_WIN")
    return [load_feed(spark, f, root) for f in (feeds or file_feeds())]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed", action="append", help="qualified feed name (default: every file feed)")
    parser.add_argument("--root", help=f"landing zone root, a path or URI (default {default_root()})")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    results = run([get_feed(n) for n in args.feed] if args.feed else None, args.root)
    for r in results:
        print(r.summary())
    print(f"manifest {tables.MANIFEST_TABLE}, quarantine {tables.QUARANTINE_TABLE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
