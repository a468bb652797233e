"""Table maintenance on real Delta tables: compaction keeps every row in fewer files, VACUUM
deletes what no snapshot within the retention needs and nothing time travel within it reads,
each action is recorded with its before and after, and one failing table stops no other."""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from spark_jobs import bronze
from spark_jobs import maintenance as m

pytestmark = pytest.mark.spark
RETENTION = m.MIN_RETENTION_HOURS
AGED_S = (RETENTION + 24) * 3600  # older than the retention by a day


def _rows(spark, table: str, version: int | None = None) -> list[tuple]:
    travel = f" version as of {version}" if version is not None else ""
    return sorted(tuple(r) for r in spark.sql(f"select * from {table}{travel}").collect())


def _small_files_table(spark, name: str, batches: int) -> str:
    """A bronze table of ``batches`` appends, a file each: how a change log grows."""
    table = bronze.table_name(name)
    spark.sql(f"create database if not exists {bronze.bronze_db()}")
    spark.sql(f"drop table if exists {table}")
    for b in range(batches):
        rows = [(b * 10 + i, f"v{b}-{i}", b % 3 == 0) for i in range(10)]
        spark.createDataFrame(rows, "id long, value string, flag boolean").coalesce(1).write.format("delta").mode(
            "append"
        ).saveAsTable(table)
    return table


def _location(spark, table: str) -> Path:
    return Path(spark.sql(f"describe detail {table}").first().location.removeprefix("file:"))


def _file_names(spark, table: str, version: int) -> set[str]:
    return {
        p.rsplit("/", 1)[-1]
        for p in spark.read.format("delta").option("versionAsOf", version).table(table).inputFiles()
    }


def test_compaction_keeps_every_row_in_fewer_files(spark):
    table = _small_files_table(spark, "changes_to_compact", batches=6)
    before = _rows(spark, table)
    [out] = m.maintain_tables(spark, "t1", targets=[m.Target(table, optimize=True, vacuum=False)])

    assert out.status == "ok", out.error
    assert (out.before.files, out.after.files) == (6, 1)
    assert m.snapshot_measure(spark, table)[0].files == 1
    assert _rows(spark, table) == before and len(before) == 60
    # the replaced files stay on disk (time travel) until VACUUM's retention has passed
    assert (out.disk_before.files, out.disk_after.files) == (6, 7)
    assert _rows(spark, table, version=5) == before


def _age_removed_files(spark, table: str, version: int, written_s: float = AGED_S) -> None:
    """Make the files commit ``version`` removed look removed (and written) a retention ago:
    VACUUM goes by a removed file's tombstone time and by an untracked file's mtime, and has no
    clock to set. The production retention check stays as it is."""
    log = _location(spark, table) / "_delta_log"
    commit = log / f"{version:020d}.json"
    old_ms = int((time.time() - AGED_S) * 1000)
    actions = [json.loads(line) for line in commit.read_text().splitlines()]
    removed = []
    for a in actions:
        if "remove" in a:
            a["remove"]["deletionTimestamp"] = old_ms
            removed.append(a["remove"]["path"])
    assert removed, f"commit {version} of {table} removed no file"
    commit.write_text("\n".join(json.dumps(a) for a in actions) + "\n")
    (log / f".{commit.name}.crc").unlink(missing_ok=True)  # Hadoop's checksum of the old bytes
    spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()  # re-read the edited commit
    for path in removed:
        os.utime(_location(spark, table) / path, (time.time() - written_s,) * 2)


def test_vacuum_deletes_unreferenced_files_and_time_travel_within_retention_works(spark):
    table = bronze.table_name("to_vacuum")
    spark.sql(f"create database if not exists {bronze.bronze_db()}")
    spark.sql(f"drop table if exists {table}")
    a = [(i, f"a{i}") for i in range(20)]
    b = [(i, f"b{i}") for i in range(20)]
    c = [(i, f"c{i}") for i in range(20, 25)]
    schema = "id long, value string"
    spark.createDataFrame(a, schema).repartition(2).write.format("delta").saveAsTable(table)  # v0
    v0_files = _file_names(spark, table, 0)
    spark.createDataFrame(b, schema).repartition(2).write.format("delta").mode("overwrite").saveAsTable(table)  # v1
    spark.createDataFrame(c, schema).coalesce(1).write.format("delta").mode("append").saveAsTable(table)  # v2
    spark.sql(f"optimize {table}")  # v3: v1's and v2's files replaced, a moment ago
    recent = _file_names(spark, table, 1) | _file_names(spark, table, 2)
    _age_removed_files(spark, table, version=1)  # v0's files: replaced and written long ago
    root = _location(spark, table)
    (root / "part-00000-orphan-old.snappy.parquet").write_bytes(b"left by a failed write")
    os.utime(root / "part-00000-orphan-old.snappy.parquet", (time.time() - AGED_S,) * 2)
    (root / "part-00000-orphan-new.snappy.parquet").write_bytes(b"a write in progress")
    on_disk = {p.name for p in root.glob("*.parquet")}
    assert v0_files | recent <= on_disk and len(v0_files) == 2

    out = m.vacuum(spark, table, "t2", RETENTION)

    after = {p.name for p in root.glob("*.parquet")}
    assert out.status == "ok", out.error
    assert not v0_files & after, "files unreferenced for longer than the retention are deleted"
    assert "part-00000-orphan-old.snappy.parquet" not in after
    assert {"part-00000-orphan-new.snappy.parquet"} | recent <= after, "younger files stay"
    assert (out.disk_before.files, out.disk_after.files) == (len(on_disk), len(on_disk) - 3)
    assert out.before == out.after  # the current snapshot is untouched
    # time travel within the retention still reads every row
    assert _rows(spark, table, version=1) == sorted(b)
    assert _rows(spark, table, version=2) == sorted(b + c)
    assert _rows(spark, table) == sorted(b + c)
    with pytest.raises(Exception, match="FILE_NOT_EXIST|does not exist|FileNotFound"):
        _rows(spark, table, version=0)  # beyond the retention: what VACUUM was for


def test_the_configured_retention_is_the_one_vacuum_keeps(spark):
    table = bronze.table_name("longer_retention")
    spark.sql(f"create database if not exists {bronze.bronze_db()}")
    spark.sql(f"drop table if exists {table}")
    for row, mode in (((1, "a"), "error"), ((2, "b"), "overwrite")):  # v0, v1: a file each
        spark.createDataFrame([row], "id long, value string").coalesce(1).write.format("delta").mode(mode).saveAsTable(
            table
        )
    # removed eight days ago, written three weeks ago: older than either retention on disk
    _age_removed_files(spark, table, version=1, written_s=3 * RETENTION * 3600)
    root = _location(spark, table)
    assert len(list(root.glob("*.parquet"))) == 2

    kept = m.vacuum(spark, table, "t4", 2 * RETENTION)
    props = {r.key: r.value for r in spark.sql(f"show tblproperties {table}").collect()}
    assert kept.status == "ok" and props[m.RETENTION_PROPERTY] == f"interval {2 * RETENTION} hours"
    assert len(list(root.glob("*.parquet"))) == 2, "a file within a two-week retention stays"
    assert _rows(spark, table, version=0) == [(1, "a")]

    gone = m.vacuum(spark, table, "t4", RETENTION)
    assert gone.status == "ok" and (gone.disk_before.files, gone.disk_after.files) == (2, 1)


def test_vacuum_refuses_a_retention_under_seven_days(spark):
    table = _small_files_table(spark, "short_retention", batches=1)
    with pytest.raises(m.RetentionTooShort, match="at least 168"):
        m.vacuum(spark, table, "t3", RETENTION - 1)
    with pytest.raises(m.RetentionTooShort):
        m.maintain_tables(spark, "t3", targets=[m.Target(table, optimize=False)], retention_hours=24)


def test_every_action_is_recorded_with_before_and_after_and_a_failing_table_stops_no_other(spark):
    good = _small_files_table(spark, "recorded", batches=4)
    missing = bronze.table_name("no_such_table")
    ops = bronze.table_name("maintenance")
    targets = [m.Target(missing, optimize=True), m.Target(good, optimize=True)]

    outcomes = m.maintain_tables(spark, "run-1", targets=targets, retention_hours=RETENTION)
    m.record(spark, outcomes, table=ops)
    m.record(spark, outcomes, table=ops)  # a retried task replaces its rows

    rows = {(r.target, r.action): r for r in spark.table(ops).where("run_id = 'run-1'").collect()}
    assert len(rows) == 4 and spark.table(ops).count() == 4
    assert rows[(missing, "optimize")].status == "failed" and rows[(missing, "vacuum")].status == "failed"
    assert "no_such_table" in rows[(missing, "optimize")].error
    opt, vac = rows[(good, "optimize")], rows[(good, "vacuum")]
    assert (opt.status, opt.files_before, opt.files_after, opt.disk_files_before, opt.disk_files_after) == (
        "ok",
        4,
        1,
        4,
        5,
    )
    assert opt.bytes_before > 0 and opt.bytes_after > 0 and opt.disk_bytes_after > opt.disk_bytes_before
    # no file is older than the retention: nothing VACUUM could delete, so it is not run
    assert (vac.status, vac.files_before, vac.files_after, vac.disk_files_after) == ("skipped", 1, 1, 5)
    assert "VACUUM START" not in {r.operation for r in spark.sql(f"describe history {good}").collect()}
    assert opt.attempts == 1 and opt.seconds > 0 and opt.at is not None
    with pytest.raises(m.MaintenanceFailed, match="no_such_table"):
        m.raise_if_failed(outcomes)


def test_discover_compacts_bronze_and_only_incremental_dbt_models(spark, monkeypatch):
    monkeypatch.setenv("LAKEHOUSE_SCHEMA_PREFIX", "t_maint_")
    _small_files_table(spark, "crm_customers_changes", batches=1)
    for name in ("fct_orders", "dim_user"):
        spark.sql("create database if not exists t_maint_gold")
        spark.sql(f"create or replace table t_maint_gold.{name} (id long) using delta")
    spark.sql("create or replace view t_maint_gold.int_view as select 1 as id")
    targets = {t.table: t for t in m.discover(spark, incremental={"fct_orders"})}

    assert targets[bronze.table_name("crm_customers_changes")].optimize
    assert targets["t_maint_gold.fct_orders"].optimize
    assert not targets["t_maint_gold.dim_user"].optimize and targets["t_maint_gold.dim_user"].vacuum
    assert "t_maint_gold.int_view" not in targets


def test_tasks_recording_side_by_side_all_land(spark):
    """The DAG's three tasks record at the same time; each MERGE reads the whole table, so one
    meets another's commit (a write conflict) and is tried again instead of failing the task."""
    ops = bronze.table_name("maintenance_side_by_side")
    spark.sql(f"drop table if exists {ops}")
    runs = [[m.Outcome(f"run-{i}", f"table_{j}", "optimize") for j in range(3)] for i in range(4)]
    with ThreadPoolExecutor(len(runs)) as pool:
        list(pool.map(lambda outcomes: m.record(spark, outcomes, table=ops), runs))
    assert spark.table(ops).count() == 12
    merges = [r for r in spark.sql(f"describe history {ops}").collect() if r.operation == "MERGE"]
    assert len(merges) == 4
