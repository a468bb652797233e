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
"""

from __future__ import annotations

import json
import uuid

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq
from pyspark.sql import SparkSession


class SchemaMismatch(ValueError):
    """The Arrow rows do not fit the Delta table."""


def _scala_none(jvm):
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


def check_fits(rows: pa.Table, schema: pa.Schema) -> None:
    if rows.schema.remove_metadata() != schema.remove_metadata():
        raise SchemaMismatch(f"rows have schema\n{rows.schema}\nthe table needs\n{schema}")
    for field in schema:
        if not field.nullable and rows.column(field.name).null_count:
            raise SchemaMismatch(f"column {field.name} is NOT NULL but has {rows.column(field.name).null_count} nulls")


def append(spark: SparkSession, location: str, rows: pa.Table, schema: pa.Schema,
           stats_columns: tuple[str, ...] = ()) -> int:
    """Write ``rows`` (in ``schema``, the table's Arrow schema) as one Parquet file under the
    unpartitioned Delta table at ``location`` and commit it; returns the new table version.
    A crash before the commit leaves an unreferenced file that VACUUM removes."""
    check_fits(rows, schema)
    fs, root = pafs.FileSystem.from_uri(location)
    name = f"part-00000-{uuid.uuid4()}-c000.snappy.parquet"
    path = f"{root.rstrip('/')}/{name}"
    pq.write_table(rows, path, filesystem=fs, compression="snappy")
    info = fs.get_file_info(path)
    add = {"add": {"path": name, "partitionValues": {}, "size": info.size,
                   "modificationTime": info.mtime_ns // 1_000_000, "dataChange": True,
                   "stats": _stats(rows, stats_columns)}}
    jvm = spark._jvm
    delta = jvm.org.apache.spark.sql.delta
    actions = jvm.java.util.ArrayList()
    actions.add(getattr(getattr(delta.actions, "Action$"), "MODULE$").fromJson(json.dumps(add)))
    none = _scala_none(jvm)
    # DeltaOperations.Write(mode, partitionBy, predicate, userMetadata, ...): Delta 4.4 has nine fields.
    operation = getattr(delta, "DeltaOperations$Write")(jvm.org.apache.spark.sql.SaveMode.Append, *[none] * 8)
    log = _log(spark, location)
    return log.startTransaction().commit(jvm.scala.jdk.javaapi.CollectionConverters.asScala(actions).toList(), operation)


def checkpoint(spark: SparkSession, location: str) -> None:
    """Write a checkpoint of the table's latest version (what a commit does inline every
    ``delta.checkpointInterval`` versions; a caller may do it off its latency path instead)."""
    _log(spark, location).checkpoint()


def _log(spark: SparkSession, location: str):
    return spark._jvm.org.apache.spark.sql.delta.DeltaLog.forTable(spark._jsparkSession, location)
