"""Landing-zone loads: every row of generated files accounted for as the generator's manifest
says, reruns change nothing, late and broken files, crash repair from the table history."""

from __future__ import annotations

import csv
import gzip
import json
from datetime import UTC, datetime, timedelta

import pytest

from simulator.generator.cli import generate
from simulator.generator.config import GeneratorConfig
from spark_jobs import bronze
from spark_jobs.landing import loader, tables
from spark_jobs.landing.feeds import file_feeds, get_feed
from spark_jobs.landing.loader import run

pytestmark = pytest.mark.spark
EVENTS, KPIS = get_feed("app.events"), get_feed("network.cell_kpis")


def _versions(spark) -> dict[str, int]:
    names = [tables.feed_table(f) for f in file_feeds()] + [tables.manifest_table(), tables.quarantine_table()]
    return {n: spark.sql(f"describe history {n} limit 1").first().version for n in names}


def _manifest(spark, feed) -> list:
    return spark.table(tables.manifest_table()).where(f"feed = '{feed.name}'").collect()


@pytest.fixture(scope="module")
def landed(spark, tmp_path_factory):
    """Generated files (default defect rates) loaded once into an empty bronze."""
    root = tmp_path_factory.mktemp("landing")
    truth = generate(GeneratorConfig(scale=0.002, seed=11, days=5), root, load_db=False, show_progress=False)
    spark.sql(f"drop database if exists {bronze.bronze_db()} cascade")  # this module's own (conftest)
    results = {r.feed: r for r in run(root=str(root), spark=spark)}
    return root, truth, results


def test_every_event_is_landed_quarantined_or_a_duplicate_as_planted(spark, landed):
    _, truth, results = landed
    d = truth.defects
    r = results["app.events"]
    assert r.total("quarantined") == d["malformed_json_lines"]["count"]
    assert r.total("duplicates") == d["duplicate_events"]["count"]
    assert (
        r.total("landed")
        == truth.rows["app.events"] - d["malformed_json_lines"]["count"] - d["truncated_gzip"]["events_lost"]
    )
    assert spark.table(tables.feed_table(EVENTS)).count() == r.total("landed")
    for f in _manifest(spark, EVENTS):
        assert f.rows_read == f.rows_landed + f.rows_quarantined + f.duplicates_skipped, f
    ids = spark.table(tables.feed_table(EVENTS)).groupBy("event_id").count().where("count > 1").count()
    assert ids == 0


def test_broken_files_fail_with_their_reason_and_the_rest_load(spark, landed):
    _, truth, _ = landed
    failed = {f.file_path.rsplit("/", 1)[1]: f.error for f in _manifest(spark, EVENTS) if f.status == "failed"}
    assert len(failed) == truth.defects["truncated_gzip"]["count"] + truth.defects["empty_files"]["count"]
    assert any(e.startswith("unreadable: truncated gzip") for e in failed.values()), failed
    assert any(e.startswith("empty file") for e in failed.values()), failed
    quarantined = spark.table(tables.quarantine_table()).where(f"feed = '{EVENTS.name}'").collect()
    assert {q.reason for q in quarantined} == {"not a JSON object"}
    assert all(q.line_number >= 1 and q.raw_line is not None for q in quarantined)


def test_an_unknown_csv_column_is_rescued_not_dropped(spark, landed):
    _, truth, results = landed
    extra = truth.defects["csv_extra_column"]
    rescued = spark.table(tables.feed_table(KPIS)).where("_rescued_data is not null")
    assert rescued.count() == extra["rows"]
    assert json.loads(rescued.first()._rescued_data) == {extra["column"]: "nms-v2.1"}
    assert results["network.cell_kpis"].total("landed") == truth.rows["network.cell_kpis"]


def test_events_are_partitioned_by_their_local_date_and_late_ones_land_in_theirs(spark, landed):
    _, truth, _ = landed
    late = truth.defects["late_events"]["keys"][:50]
    events = spark.table(tables.feed_table(EVENTS))
    rows = (
        events.where(events.event_id.isin(late))
        .selectExpr("event_date", "to_date(from_utc_timestamp(event_at, 'Asia/Shanghai')) as local", "_source_file")
        .collect()
    )
    assert rows and all(r.event_date == r.local for r in rows)
    assert any(r.event_date.strftime("%Y%m%d") not in r._source_file for r in rows)  # a later day's file


def test_a_rerun_loads_nothing_and_commits_nothing(spark, landed):
    root, _, _ = landed
    before = _versions(spark)
    again = run(root=str(root), spark=spark)
    assert all(not r.files for r in again)
    assert _versions(spark) == before


def _app_event(event_id: str, event_at: str) -> dict:
    """A valid app-log event of the contract's shape."""
    return {
        "event_id": event_id,
        "user_phone": "13800000000",
        "device_id": "d1",
        "event_type": "login",
        "event_at": event_at,
        "app_version": "9.9.0",
        "channel": "app",
        "bytes": None,
        "duration_s": None,
    }


def test_a_late_file_for_an_old_date_lands_in_that_date(spark, landed, tmp_path):
    root, _, _ = landed
    line = _app_event("late-0001", "2026-10-01T09:00:00.000+08:00")
    dup = dict(line)  # the same event sent twice in the file
    bad = dict(line, event_id="late-0002", bytes="lots")
    path = root / "app" / "events" / "events_20261001_late.jsonl.gz"
    path.write_bytes(gzip.compress("\n".join(json.dumps(x) for x in (line, dup, bad)).encode() + b"\n"))
    [r] = list(run([EVENTS], root=str(root), spark=spark))
    [f] = r.files
    assert (f.read, f.landed, f.duplicates, f.quarantined) == (3, 1, 1, 1)
    q = spark.table(tables.quarantine_table()).where("file_path like '%_late.jsonl.gz'").first()
    assert q.line_number == 3 and q.reason == "column 'bytes': cannot read 'lots' as bigint"
    got = spark.table(tables.feed_table(EVENTS)).where("event_id = 'late-0001'").first()
    assert str(got.event_date) == "2026-10-01"


def test_a_scheduled_run_takes_the_files_of_its_interval_and_leaves_later_ones(spark, landed):
    """``arrived_before`` (a run's data interval end): a file modified after it waits for the
    next run, which loads it."""
    root, _, _ = landed
    event = _app_event("interval-0001", "2026-10-02T09:00:00.000+08:00")
    path = root / "app" / "events" / "events_20261002_interval.jsonl.gz"
    path.write_bytes(gzip.compress(json.dumps(event).encode() + b"\n"))
    arrived = datetime.fromtimestamp(path.stat().st_mtime, UTC)
    [r] = run([EVENTS], root=str(root), spark=spark, arrived_before=arrived - timedelta(seconds=1))
    assert r.files == []
    [r] = run([EVENTS], root=str(root), spark=spark, arrived_before=arrived + timedelta(seconds=1))
    assert [(f.path.rsplit("/", 1)[1], f.landed) for f in r.files] == [("events_20261002_interval.jsonl.gz", 1)]


def test_a_crash_before_the_manifest_write_is_repaired_from_the_history(spark, landed):
    root, _, _ = landed
    path = root / "app" / "events" / "events_20261002_crash.jsonl.gz"
    line = {
        "event_id": "crash-0001",
        "user_phone": None,
        "device_id": "d1",
        "event_type": "page_view",
        "event_at": "2026-10-02T10:00:00.000+08:00",
        "app_version": "9.9.0",
        "channel": "app",
        "bytes": 1,
        "duration_s": 2,
    }
    path.write_bytes(gzip.compress(json.dumps(line).encode() + b"\n"))
    run([EVENTS], root=str(root), spark=spark)
    # Simulate the crash: the bronze commit happened, the manifest row did not.
    spark.sql(f"delete from {tables.manifest_table()} where file_path like '%_crash.jsonl.gz'")
    version = spark.sql(f"describe history {tables.feed_table(EVENTS)} limit 1").first().version
    [r] = run([EVENTS], root=str(root), spark=spark)
    assert r.recovered == 1 and not r.files
    assert spark.sql(f"describe history {tables.feed_table(EVENTS)} limit 1").first().version == version
    [m] = [f for f in _manifest(spark, EVENTS) if f.file_path.endswith("_crash.jsonl.gz")]
    assert (m.status, m.rows_read, m.rows_landed) == ("loaded", 1, 1)


def test_a_transient_read_error_leaves_the_file_pending_and_the_next_run_loads_it(spark, landed, monkeypatch):
    root, _, _ = landed
    path = root / "app" / "events" / "events_20261003_flaky.jsonl.gz"
    line = {
        "event_id": "flaky-0001",
        "user_phone": "13800000000",
        "device_id": "d1",
        "event_type": "login",
        "event_at": "2026-10-03T09:00:00.000+08:00",
        "app_version": "9.9.0",
        "channel": "app",
        "bytes": None,
        "duration_s": None,
    }
    path.write_bytes(gzip.compress(json.dumps(line).encode() + b"\n"))
    real_read = loader.read_file

    def flaky(fs, file_path, feed):
        if file_path.endswith("_flaky.jsonl.gz"):
            raise OSError("Input/output error (simulated storage hiccup)")
        return real_read(fs, file_path, feed)

    monkeypatch.setattr(loader, "read_file", flaky)
    [r] = run([EVENTS], root=str(root), spark=spark)
    [f] = r.files
    assert (f.status, f.read, f.landed) == ("pending", 0, 0) and "retried" in f.error
    assert "1 pending" in r.summary()
    monkeypatch.setattr(loader, "read_file", real_read)  # the storage is back
    [r] = run([EVENTS], root=str(root), spark=spark)
    [f] = r.files
    assert (f.status, f.read, f.landed) == ("loaded", 1, 1)
    assert spark.table(tables.feed_table(EVENTS)).where("event_id = 'flaky-0001'").count() == 1
    statuses = [m.status for m in _manifest(spark, EVENTS) if m.file_path.endswith("_flaky.jsonl.gz")]
    assert sorted(statuses) == ["loaded", "pending"]
    assert not run([EVENTS], root=str(root), spark=spark)[0].files, "loaded once: not read again"


def test_small_loads_of_one_date_are_compacted(spark, landed):
    """Each load writes one file per date; Delta's auto compaction (the table property, run by
    the loader's commits too) merges them once they pile up (here: from 3 files)."""
    root, _, _ = landed
    folder = root / "app" / "events"
    spark.conf.set("spark.databricks.delta.autoCompact.minNumFiles", "3")
    try:
        for i in range(3):
            line = {
                "event_id": f"compact-{i}",
                "user_phone": None,
                "device_id": "d1",
                "event_type": "login",
                "event_at": "2026-10-03T10:00:00.000+08:00",
                "app_version": "9.9.0",
                "channel": "app",
                "bytes": None,
                "duration_s": None,
            }
            (folder / f"events_20261003_small{i}.jsonl.gz").write_bytes(
                gzip.compress(json.dumps(line).encode() + b"\n")
            )
            run([EVENTS], root=str(root), spark=spark)
    finally:
        spark.conf.unset("spark.databricks.delta.autoCompact.minNumFiles")
    table = tables.feed_table(EVENTS)
    operations = [r.operation for r in spark.sql(f"describe history {table} limit 4").collect()]
    assert "OPTIMIZE" in operations, operations
    # Without compaction: a file per load, at least 3; compacted at the third file, plus the last load.
    files = spark.table(table).where("event_date = '2026-10-03'").inputFiles()
    assert len(files) <= 2, files
    assert spark.table(table).where("event_id like 'compact-%'").count() == 3


# ---------------------------------------------------------------------------------------------
# Landing semantics per feed (the contract's ``landing``): cells are upserted by cell_id, the
# newer updated_at winning; events are appended once per event_id.

CELLS = get_feed("network.cells")


def _cell_rows(root) -> tuple[list[str], list[list[str]]]:
    [path] = sorted((root / "network" / "cells").glob("cells_*.csv"))[:1]
    with path.open(newline="") as f:
        header, *rows = list(csv.reader(f))
    return header, rows


def _deliver_cells(root, name: str, header: list[str], rows: list[list[str]]) -> None:
    with (root / "network" / "cells" / name).open("w", newline="") as f:
        csv.writer(f).writerows([header, *rows])


def _landed_cell(spark, cell_id: str):
    rows = spark.table(tables.feed_table(CELLS)).where(f"cell_id = '{cell_id}'").collect()
    assert len(rows) == 1, rows  # one row per key, whatever was delivered
    return rows[0]


def _with(header: list[str], row: list[str], **values) -> list[str]:
    out = list(row)
    for name, value in values.items():
        out[header.index(name)] = value
    return out


def test_a_corrected_cell_redelivery_is_applied_and_an_identical_one_is_a_duplicate(spark, landed):
    root, truth, results = landed
    assert results["network.cells"].total("landed") == truth.rows["network.cells"]
    header, rows = _cell_rows(root)
    first, second = rows[0], rows[1]
    landed_before = _landed_cell(spark, first[0])
    corrected = _with(header, first, region="Corrected District", updated_at="2026-10-05 08:00:00")
    _deliver_cells(root, "cells_20261005_fix.csv", header, [corrected, second])
    [r] = run([CELLS], root=str(root), spark=spark)
    [f] = r.files
    assert (f.status, f.read, f.landed, f.superseded, f.duplicates, f.quarantined) == ("loaded", 2, 1, 0, 1, 0)
    got = _landed_cell(spark, first[0])
    assert (got.region, str(got.updated_at)) == ("Corrected District", "2026-10-05 08:00:00")
    assert got._source_file.endswith("cells_20261005_fix.csv") and got.site_id == landed_before.site_id
    assert not _landed_cell(spark, second[0])._source_file.endswith("_fix.csv")  # the first copy stays
    assert spark.table(tables.feed_table(CELLS)).count() == truth.rows["network.cells"]
    [m] = [m for m in _manifest(spark, CELLS) if m.file_path.endswith("_fix.csv")]
    assert (m.rows_landed, m.rows_superseded, m.duplicates_skipped) == (1, 0, 1)


def test_an_older_cell_redelivery_never_overwrites_a_newer_row(spark, landed):
    root, _, _ = landed
    header, rows = _cell_rows(root)
    row = rows[2]
    newer = _with(header, row, region="Newer District", updated_at="2026-10-06 09:00:00")
    _deliver_cells(root, "cells_20261006_newer.csv", header, [newer])
    run([CELLS], root=str(root), spark=spark)
    # A stale copy arrives after the newer one: it loses, and is counted as superseded.
    stale = _with(header, row, region="Stale District", updated_at="2026-10-06 08:59:59")
    _deliver_cells(root, "cells_20261006_stale.csv", header, [stale])
    [r] = run([CELLS], root=str(root), spark=spark)
    [f] = r.files
    assert (f.status, f.read, f.landed, f.superseded, f.duplicates) == ("loaded", 1, 0, 1, 0)
    assert "1 superseded" in r.summary()
    assert _landed_cell(spark, row[0]).region == "Newer District"


def test_within_one_load_the_newest_version_of_a_cell_wins_whatever_the_file_order(spark, landed):
    root, _, _ = landed
    header, rows = _cell_rows(root)
    row = rows[3]
    # Files load in path order: the newest version comes first, an older one after it.
    _deliver_cells(
        root, "cells_20261007_a.csv", header, [_with(header, row, region="V3", updated_at="2026-10-07 03:00:00")]
    )
    _deliver_cells(
        root, "cells_20261007_b.csv", header, [_with(header, row, region="V2", updated_at="2026-10-07 02:00:00")]
    )
    [r] = run([CELLS], root=str(root), spark=spark)
    got = {f.path.rsplit("_", 1)[1]: (f.landed, f.superseded) for f in r.files}
    assert got == {"a.csv": (1, 0), "b.csv": (0, 1)}
    assert _landed_cell(spark, row[0]).region == "V3"
    for m in _manifest(spark, CELLS):
        assert m.rows_read == m.rows_landed + m.rows_quarantined + m.duplicates_skipped + (m.rows_superseded or 0), m


def test_an_event_resent_with_other_values_stays_a_duplicate(spark, landed):
    """Append-only: the first landed copy of an event_id is kept, a later one is not applied."""
    root, _, _ = landed
    line = {
        "event_id": "resent-0001",
        "user_phone": "13800000000",
        "device_id": "d1",
        "event_type": "login",
        "event_at": "2026-10-04T09:00:00.000+08:00",
        "app_version": "9.9.0",
        "channel": "app",
        "bytes": None,
        "duration_s": None,
    }
    folder = root / "app" / "events"
    (folder / "events_20261004_first.jsonl.gz").write_bytes(gzip.compress(json.dumps(line).encode() + b"\n"))
    run([EVENTS], root=str(root), spark=spark)
    later = dict(line, app_version="9.9.1", event_at="2026-10-04T09:00:00.000+08:00")
    (folder / "events_20261004_resent.jsonl.gz").write_bytes(gzip.compress(json.dumps(later).encode() + b"\n"))
    [r] = run([EVENTS], root=str(root), spark=spark)
    [f] = r.files
    assert (f.read, f.landed, f.duplicates, f.superseded) == (1, 0, 1, 0)
    [got] = spark.table(tables.feed_table(EVENTS)).where("event_id = 'resent-0001'").collect()
    assert got.app_version == "9.9.0"


def test_a_feed_table_is_created_with_the_layout_an_empty_write_gives(spark, landed):
    # Created by DDL now; a table an earlier version made by writing an empty frame (every field
    # nullable, partitioned by the date) must have the same schema and partitioning.
    feed = get_feed("app.events")
    written = bronze.table_name("written_empty")
    spark.createDataFrame([], tables.feed_schema(feed)).write.format("delta").partitionBy(
        feed.partition[0]
    ).saveAsTable(written)
    made = tables.feed_table(feed)
    assert spark.table(made).schema == spark.table(written).schema
    partitions = [spark.sql(f"describe detail {t}").first().partitionColumns for t in (made, written)]
    assert partitions[0] == partitions[1] == [feed.partition[0]]
    spark.sql(f"drop table {written}")
