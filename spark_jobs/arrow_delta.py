"""Append an Arrow table to a Delta table: Arrow writes the Parquet file, Delta commits it.

Spark's own write costs the JVM ~60 µs of CPU per change row on this machine, most of it
fixed per append (rows converted on the driver, planning, code generation and the JIT of the
fresh classes) plus the row-wise Parquet writer; a CDC consumer appending to six tables every
batch spends more on that than on reading Kafka. Here Arrow's C++ writer makes the data file
(off the GIL) and the commit goes through Delta's own ``OptimisticTransaction`` in the
session's JVM: the same log, protocol checks, conflict detection and checkpoints as any Delta
write, as a blind append.

What Spark's writer would enforce is checked here: the Arrow schema must be the table's, and
non-nullable top-level columns must hold no null. Statistics are written for the integer
columns given (data skipping on Kafka positions); a file without statistics for a column is
simply never skipped on it.

``append`` is two steps: ``write_files`` (Arrow only, no JVM) writes the Parquet files and
returns a ``DataFile`` per file; ``commit_files`` (py4j) commits them.

Delta internals it relies on (none is Delta's public API), all in ``commit_files`` and ``_log``:

- ``DeltaLog.forTable(SparkSession, String)``, its ``unsafeVolatileSnapshot()``,
  ``startTransaction(Option[CatalogTable], Option[Snapshot])``, ``checkpoint()``, ``update`` and
  ``cleanUpExpiredLogs`` (with ``TruncationGranularity.MINUTE``);
- ``Snapshot.checksumOpt`` and ``VersionChecksum.setTransactions``; ``OptimisticTransaction.readTxn``;
- ``OptimisticTransaction.commit(Seq[Action], DeltaOperations.Operation)``, which returns the
  version, ``registerPostCommitHook(hooks.AutoCompact$.MODULE$)`` and ``txnVersion(appId)``;
- ``actions.Action$.MODULE$.fromJson`` on ``DataFile.add_action()``: ``{"add": {"path",
  "partitionValues", "size", "modificationTime", "dataChange": true, "stats"}}``, ``stats`` a JSON
  string of ``numRecords``, ``minValues``, ``maxValues`` and ``nullCount``; and on
  ``{"txn": {"appId", "version", "lastUpdated"}}`` (``SetTransaction``, Delta's protocol);
- the case class ``DeltaOperations$Write`` made positionally: ``(SaveMode.Append, partitionBy,
  predicate, userMetadata)`` and five more ``Option`` fields, all ``None`` (nine in Delta 4.4);
- Scala 2.13's ``None$.MODULE$``, ``Some`` and ``jdk.javaapi.CollectionConverters.asScala``.

When upgrading Delta (or its Scala version), check:

1. ``javap -cp <delta jar> 'org.apache.spark.sql.delta.DeltaOperations$Write'``: the number and
   order of the constructor's fields (a new one fails every append with py4j's "Constructor
   does not exist"; a reordered one records a wrong operation in the history).
2. ``OptimisticTransaction.commit``, ``registerPostCommitHook``, ``hooks.AutoCompact$`` and
   ``DeltaLog.forTable``/``checkpoint`` keep those names and signatures.
3. ``AddFile``'s JSON: no new required field, and the statistics format data skipping reads.
4. Table features the tables might gain by default: a blind add is only right for a table
   whose files need nothing more (column mapping, for one, needs physical column names in the
   Parquet files and statistics).
5. ``tests/spark/test_bronze.py`` and ``tests/spark/test_landing.py`` (partitions, user
   metadata, auto compaction) pass, and ``describe history`` shows ``WRITE``, mode ``Append``.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, NamedTuple

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from py4j.protocol import Py4JJavaError
from pyspark.sql import SparkSession

from core import storage


class SchemaMismatch(ValueError):
    """The Arrow rows do not fit the Delta table."""


@dataclass(frozen=True)
class DataFile:
    """A Parquet file written under a table, as the commit's ``add`` action names it."""

    path: str  # relative to the table's root
    partition_values: dict[str, str]
    size: int
    modification_time: int  # milliseconds since the epoch
    stats: str  # JSON: numRecords, minValues, maxValues, nullCount

    def add_action(self) -> dict[str, Any]:
        return {
            "add": {
                "path": self.path,
                "partitionValues": self.partition_values,
                "size": self.size,
                "modificationTime": self.modification_time,
                "dataChange": True,
                "stats": self.stats,
            }
        }


class _Slice(NamedTuple):
    """The rows of one file: all of them, or those of one partition value (without its column)."""

    partition_values: dict[str, str]
    prefix: str  # "" or "<column>=<value>/"
    rows: pa.Table


def _jvm(spark: SparkSession) -> Any:
    """The session's py4j view of the JVM (a Spark Connect session has none)."""
    jvm = spark._jvm
    if jvm is None:
        raise RuntimeError("arrow_delta needs a classic SparkSession, with a JVM in reach")
    return jvm


def _scala_none(jvm: Any) -> Any:
    return getattr(getattr(jvm.scala, "None$"), "MODULE$")


def _stats(rows: pa.Table, columns: tuple[str, ...]) -> str:
    mins, maxs, nulls = {}, {}, {}
    for name in columns:
        col = rows.column(name)
        if not pa.types.is_integer(col.type):
            continue  # only exact-valued statistics: a wrong bound would skip a file wrongly
        bounds = pc.min_max(col)
        nulls[name] = col.null_count
        if bounds["min"].is_valid:
            mins[name], maxs[name] = bounds["min"].as_py(), bounds["max"].as_py()
    return json.dumps({"numRecords": rows.num_rows, "minValues": mins, "maxValues": maxs, "nullCount": nulls})


class AlreadyLanded(RuntimeError):
    """Another writer has committed these positions of the stream already."""

    def __init__(self, app_id: str, landed: int, first: int, what: str = ""):
        what = what or f"the table already holds position {landed}, this commit starts at {first}"
        super().__init__(f"{app_id}: {what}: another writer landed them (is a second consumer running?)")
        self.app_id, self.landed, self.first = app_id, landed, first


def check_fits(rows: pa.Table, schema: pa.Schema) -> None:
    if rows.schema.remove_metadata() != schema.remove_metadata():
        raise SchemaMismatch(f"rows have schema\n{rows.schema}\nthe table needs\n{schema}")
    for field in schema:
        if not field.nullable and rows.column(field.name).null_count:
            raise SchemaMismatch(f"column {field.name} is NOT NULL but has {rows.column(field.name).null_count} nulls")


def append(
    spark: SparkSession,
    location: str,
    rows: pa.Table,
    schema: pa.Schema,
    stats_columns: tuple[str, ...] = (),
    partition_by: str | None = None,
    user_metadata: str | None = None,
    auto_compact: bool = False,
    txns: dict[str, tuple[int, int]] | None = None,
) -> int:
    """Write ``rows`` (in ``schema``, the table's Arrow schema) under the Delta table at
    ``location`` and commit them as one append; returns the new table version.

    An unpartitioned table gets one Parquet file; a table partitioned by the column
    ``partition_by`` gets one file per value, under ``<column>=<value>/`` and without the column
    (its value is in the log). ``user_metadata`` is the commit's, as ``describe history`` shows.
    ``auto_compact`` runs Delta's auto compaction after the commit, as a Spark write would when
    the table has ``delta.autoOptimize.autoCompact`` (it compacts once small files pile up).
    ``txns`` makes the append idempotent across writers (see ``commit_files``).
    A crash before the commit leaves unreferenced files that VACUUM removes."""
    files = write_files(location, rows, schema, stats_columns, partition_by)
    return commit_files(spark, location, files, partition_by, user_metadata, auto_compact, txns)


def write_files(
    location: str,
    rows: pa.Table,
    schema: pa.Schema,
    stats_columns: tuple[str, ...] = (),
    partition_by: str | None = None,
) -> list[DataFile]:
    """Arrow only: check ``rows`` fit ``schema``, write them under the table at ``location`` (as
    ``append`` says) and return what the commit needs of each file. No JVM, no commit."""
    check_fits(rows, schema)
    fs, root = storage.filesystem(location)
    root = root.rstrip("/")
    slices = _slices(rows, partition_by)
    columns = tuple(c for c in stats_columns if c != partition_by)
    # Arrow's Parquet writer releases the GIL: partitions are written side by side.
    with ThreadPoolExecutor(max_workers=max(1, min(len(slices), os.cpu_count() or 2))) as pool:
        return list(pool.map(lambda part: _write_file(fs, root, part, columns), slices))


def _slices(rows: pa.Table, partition_by: str | None) -> list[_Slice]:
    if partition_by is None:
        return [_Slice({}, "", rows)]
    # Rows sorted by the partition value, then one slice per value.
    rows = rows.take(pc.sort_indices(rows.column(partition_by)))
    runs = pc.run_end_encode(rows.column(partition_by).combine_chunks())
    slices, start = [], 0
    data = rows.drop_columns([partition_by])
    for end, value in zip(runs.run_ends.to_pylist(), runs.values.to_pylist()):
        text = value.isoformat() if hasattr(value, "isoformat") else str(value)
        slices.append(_Slice({partition_by: text}, f"{partition_by}={text}/", data.slice(start, end - start)))
        start = end
    return slices


def _write_file(fs: pafs.FileSystem, root: str, part: _Slice, stats_columns: tuple[str, ...]) -> DataFile:
    name = f"{part.prefix}part-00000-{uuid.uuid4()}-c000.snappy.parquet"
    path = f"{root}/{name}"
    if part.prefix:
        fs.create_dir(f"{root}/{part.prefix.rstrip('/')}", recursive=True)
    pq.write_table(part.rows, path, filesystem=fs, compression="snappy")
    info = fs.get_file_info(path)
    return DataFile(
        name, part.partition_values, info.size, info.mtime_ns // 1_000_000, _stats(part.rows, stats_columns)
    )


def commit_files(
    spark: SparkSession,
    location: str,
    files: list[DataFile],
    partition_by: str | None = None,
    user_metadata: str | None = None,
    auto_compact: bool = False,
    txns: dict[str, tuple[int, int]] | None = None,
) -> int:
    """Commit ``files`` (from ``write_files``) to the Delta table at ``location`` as one blind
    append, through Delta's ``OptimisticTransaction`` in the session's JVM; returns the version.

    ``txns`` maps a Delta application id (a source stream, e.g. a Kafka partition) to the first
    and last position the files hold. The commit records the last as the id's ``txn`` version and
    is refused with ``AlreadyLanded`` when the table already holds that position or a later one;
    a writer committing the same id at the same time fails Delta's conflict check instead. So two
    writers of one stream cannot both land it."""
    jvm = _jvm(spark)
    delta = jvm.org.apache.spark.sql.delta
    action = getattr(getattr(delta.actions, "Action$"), "MODULE$")
    actions = jvm.java.util.ArrayList()
    for file in files:
        actions.add(action.fromJson(json.dumps(file.add_action())))
    operation = _write_operation(jvm, partition_by, user_metadata)
    delta_log = _log(spark, location)
    # From the snapshot this process last saw (its previous commit installed it), not a fresh
    # listing of _delta_log: a commit another writer made since is found when this one takes its
    # version, and checked for conflicts (the txn ids included) like any concurrent commit.
    txn = delta_log.startTransaction(_scala_none(jvm), jvm.scala.Some(delta_log.unsafeVolatileSnapshot()))
    known = _crc_txn_versions(jvm, txn) if txns else None
    for app_id, (first, last) in sorted((txns or {}).items()):
        landed = _txn_version(txn, app_id, known)
        if landed >= first:
            raise AlreadyLanded(app_id, landed, first)
        txn_action = {"appId": app_id, "version": last, "lastUpdated": int(time.time() * 1000)}
        actions.add(action.fromJson(json.dumps({"txn": txn_action})))
    if auto_compact:  # a Spark write registers this hook in writeFiles, which this path skips
        txn.registerPostCommitHook(getattr(getattr(delta.hooks, "AutoCompact$"), "MODULE$"))
    try:
        return txn.commit(jvm.scala.jdk.javaapi.CollectionConverters.asScala(actions).toList(), operation)
    except Exception as e:  # Py4JJavaError, or pyspark's converted error once delta.tables is imported
        if txns and _is_java_error(e, "ConcurrentTransactionException"):
            app_id, (first, _) = min(txns.items())
            raise AlreadyLanded(app_id, -1, first, "another writer committed the same stream at the same time") from e
        raise


def _is_java_error(error: Exception, name: str) -> bool:
    """Whether ``error`` is the JVM's ``name``: raw (``Py4JJavaError``) or as pyspark converts it
    (a ``CapturedException`` subclass of that name; delta-spark registers its own on import)."""
    if isinstance(error, Py4JJavaError):
        return name in error.java_exception.getClass().getName()
    return type(error).__name__ == name


def _crc_txn_versions(jvm: Any, txn: Any) -> dict[str, int] | None:
    """{app id: version} of the read snapshot's ``txn`` actions, from its checksum (CRC) file;
    None when the snapshot has no checksum or the checksum does not list them."""
    checksum = txn.snapshot().checksumOpt()
    if checksum.isEmpty() or checksum.get().setTransactions().isEmpty():
        return None
    listed = jvm.scala.jdk.javaapi.CollectionConverters.asJava(checksum.get().setTransactions().get())
    return {t.appId(): t.version() for t in listed}


def _txn_version(txn: Any, app_id: str, known: dict[str, int] | None) -> int:
    """The last version the table holds of ``app_id``, -1 if none; either way the id is read by
    ``txn``, so a concurrent commit of the same id is a conflict. Delta 4.4's ``txnVersion``
    reconstructs the snapshot's whole state with Spark jobs (seconds per commit on a busy
    machine) although the checksum the previous commit wrote lists these versions: read from
    there, and register the read as ``txnVersion`` does."""
    if known is None:
        return txn.txnVersion(app_id)
    txn.readTxn().addOne(app_id)
    return known.get(app_id, -1)


def _write_operation(jvm: Any, partition_by: str | None, user_metadata: str | None) -> Any:
    """``DeltaOperations.Write`` for an append: what ``describe history`` shows of the commit."""
    none = _scala_none(jvm)
    partitions = none
    if partition_by is not None:
        names = jvm.java.util.ArrayList()
        names.add(partition_by)
        partitions = jvm.scala.Some(jvm.scala.jdk.javaapi.CollectionConverters.asScala(names).toSeq())
    metadata = jvm.scala.Some(user_metadata) if user_metadata is not None else none
    # DeltaOperations.Write(mode, partitionBy, predicate, userMetadata, ...): Delta 4.4 has nine fields.
    return getattr(jvm.org.apache.spark.sql.delta, "DeltaOperations$Write")(
        jvm.org.apache.spark.sql.SaveMode.Append, partitions, none, metadata, *[none] * 5
    )


def recent_commits(location: str, count: int) -> list[tuple[int, dict]]:
    """(version, commitInfo) of the table's latest ``count`` commits, newest first, read from
    the log's JSON files (no Spark job: a loader checks its last commits on every run)."""
    fs, root = storage.filesystem(location)
    log_dir = f"{root.rstrip('/')}/_delta_log"
    infos = fs.get_file_info(pafs.FileSelector(log_dir, allow_not_found=True))
    versions = sorted(
        (int(i.base_name[:-5]) for i in infos if i.base_name.endswith(".json") and i.base_name[:-5].isdigit()),
        reverse=True,
    )[:count]
    commits = []
    for version in versions:
        with fs.open_input_stream(f"{log_dir}/{version:020d}.json", compression=None) as f:
            for line in f.read().decode().splitlines():
                action = json.loads(line)
                if "commitInfo" in action:
                    commits.append((version, action["commitInfo"]))
                    break
    return commits


def checkpoint(spark: SparkSession, location: str, keep_log_s: float | None = None) -> None:
    """Write a checkpoint of the table's latest version (what a commit does inline every
    ``delta.checkpointInterval`` versions; a caller may do it off its latency path instead).

    ``keep_log_s``: then delete the log's commit files older than that many seconds and than the
    checkpoint. Delta's own cleanup (at its checkpoints, after ``delta.logRetentionDuration``)
    deletes whole days only; a table committed every second gathers tens of thousands of files a
    day in ``_delta_log``, and every snapshot update lists them all (a local or HDFS listing has
    no start-after)."""
    delta_log = _log(spark, location)
    delta_log.checkpoint()
    if keep_log_s is None:
        return
    jvm = _jvm(spark)
    minute = getattr(getattr(jvm.org.apache.spark.sql.delta, "TruncationGranularity$"), "MODULE$").MINUTE()
    # Option[Long] made in the JVM: py4j would box a Python int as an Integer.
    string_ops = getattr(getattr(jvm.scala.collection, "StringOps$"), "MODULE$")
    retention = getattr(string_ops, "toLongOption$extension")(str(int(keep_log_s * 1000)))
    delta_log.cleanUpExpiredLogs(
        delta_log.update(False, _scala_none(jvm), _scala_none(jvm)), _scala_none(jvm), retention, minute
    )


def _log(spark: SparkSession, location: str) -> Any:
    return _jvm(spark).org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, location)
