"""Change logs applied to current state: newest version wins, deletes stick, reruns are no-ops."""

from __future__ import annotations

from pathlib import Path

import pytest
from chispa import assert_df_equality

from schemas.contracts import get_contract
from spark_jobs import bronze
from spark_jobs.cdc import changes, current_state
from tests.debezium_samples import customer_change

pytestmark = pytest.mark.spark
CUSTOMERS = get_contract("crm.customers")
TOPIC = "crm.public.customers"


def change(op, cid, city, commit_lsn, lsn):
    return customer_change(op, cid, city, lsn, commit_lsn)


def land(spark, events, first_offset):
    rows = [(ch, 0, first_offset + i) for i, ch in enumerate(events)]
    stamped = changes.stamp_ingested_at(CUSTOMERS, changes.change_rows_arrow(CUSTOMERS, rows, TOPIC), bronze.now_utc())
    changes.append_changes(spark, CUSTOMERS, stamped, bronze.table_location(spark, changes.change_table_for(CUSTOMERS)))


def assert_current(spark, expected: list[tuple[int, str, bool]]) -> None:
    """The current-state table holds exactly these (customer_id, city, _is_deleted) rows: one
    per key (a duplicated key is an extra row, not a dict entry overwritten)."""
    actual = spark.table(current_state.current_table_for(CUSTOMERS)).select("customer_id", "city", "_is_deleted")
    assert_df_equality(
        actual,
        spark.createDataFrame(expected, actual.schema),
        ignore_row_order=True,
        ignore_nullable=True,
    )


@pytest.fixture
def fresh(spark, own_bronze_db):
    spark.sql(f"drop database if exists {own_bronze_db} cascade")
    changes.ensure_tables(spark, [CUSTOMERS])


def test_newest_version_wins_and_deletes_stay_deleted(spark, fresh):
    land(
        spark,
        [
            change("r", 1, "snapshot", None, 10),  # snapshot read
            change("u", 1, "A", 100, 110),
            change("c", 2, "B", 100, 120),
            change("u", 2, "C", 200, 210),
            change("c", 3, "D", 200, 220),
            change("d", 3, "D", 300, 310),
        ],
        first_offset=0,
    )
    res = current_state.apply_changes(spark, CUSTOMERS)
    assert (res.changes, res.keys) == (6, 3)
    assert_current(spark, [(1, "A", False), (2, "C", False), (3, "D", True)])

    # A replayed older event of key 2 and a late insert of deleted key 3 change nothing;
    # a genuinely newer update of key 1 does.
    land(
        spark,
        [change("u", 2, "stale", 100, 130), change("c", 3, "zombie", 200, 220), change("u", 1, "E", 400, 410)],
        first_offset=6,
    )
    res = current_state.apply_changes(spark, CUSTOMERS)
    assert (res.changes, res.keys) == (3, 1), "the two older events write nothing"
    assert_current(spark, [(1, "E", False), (2, "C", False), (3, "D", True)])


def test_a_rerun_reads_nothing_and_offsets_live_in_the_merge_commit(spark, fresh):
    land(spark, [change("c", 7, "A", 100, 110)], first_offset=0)
    table = current_state.merged_table_for(CUSTOMERS)
    current_state.apply_changes(spark, CUSTOMERS)
    version = spark.sql(f"describe history {table}").first().version
    assert current_state.applied_offsets(spark, table) == {"0": 0}
    assert current_state.apply_changes(spark, CUSTOMERS).changes == 0
    assert spark.sql(f"describe history {table}").first().version == version, "a no-op run commits nothing"
    land(spark, [change("u", 7, "B", 200, 210)], first_offset=1)
    assert current_state.apply_changes(spark, CUSTOMERS).changes == 1
    assert current_state.applied_offsets(spark, table) == {"0": 1}
    assert_current(spark, [(7, "B", False)])


def test_offsets_are_recovered_however_many_maintenance_commits_follow(spark, fresh):
    land(spark, [change("c", 7, "A", 100, 110)], first_offset=0)
    table = current_state.merged_table_for(CUSTOMERS)
    current_state.apply_changes(spark, CUSTOMERS)
    for i in range(200):  # e.g. OPTIMIZE / VACUUM / property commits of the maintenance DAG
        spark.sql(f"alter table {table} set tblproperties ('lakehouse.test.maintenance' = '{i}')")
    assert current_state.applied_offsets(spark, table) == {"0": 0}
    assert current_state.apply_changes(spark, CUSTOMERS).changes == 0, "nothing applied twice"


def test_a_snapshot_read_beats_older_streamed_versions_and_loses_to_newer(spark, fresh):
    land(spark, [change("c", 1, "A", 100, 90), change("c", 2, "B", 100, 95), change("u", 2, "C", 300, 290)], 0)
    current_state.apply_changes(spark, CUSTOMERS)
    # A re-snapshot read at WAL position 200 (no commit LSN): newer than key 1's last commit,
    # older than key 2's. Before snapshots were versioned by their position, both lost.
    land(spark, [change("r", 1, "fixed", None, 200), change("r", 2, "stale", None, 200)], 3)
    current_state.apply_changes(spark, CUSTOMERS)
    assert_current(spark, [(1, "fixed", False), (2, "C", False)])


def test_a_truncate_empties_the_current_state_and_keeps_later_changes(spark, fresh):
    land(spark, [change("c", 1, "A", 100, 90), change("c", 2, "B", 150, 140)], 0)
    current_state.apply_changes(spark, CUSTOMERS)
    truncate = customer_change("t", 0, None, 205, 200)
    # In one batch: a change before the truncate, the truncate, a re-insert after it.
    land(spark, [change("u", 2, "C", 180, 170), truncate, change("c", 3, "D", 300, 290)], 2)
    res = current_state.apply_changes(spark, CUSTOMERS)
    assert res.changes == 3
    # Key 2's pre-truncate update is never applied: the tombstone keeps the image it had.
    assert_current(spark, [(1, "A", True), (2, "B", True), (3, "D", False)])
    # A replayed pre-truncate insert cannot bring a row back; the log keeps the truncate event.
    land(spark, [change("c", 1, "zombie", 100, 90)], 5)
    current_state.apply_changes(spark, CUSTOMERS)
    assert_current(spark, [(1, "A", True), (2, "B", True), (3, "D", False)])
    ops = [r.op for r in spark.table(changes.change_table_for(CUSTOMERS)).orderBy("kafka_offset").collect()]
    assert ops == ["c", "c", "u", "t", "c", "c"]


def land_in(spark, partition: int, offsets: list[int]) -> None:
    rows = [(change("u", 1, f"p{partition}o{o}", 100 + o, 100 + o), partition, o) for o in offsets]
    stamped = changes.stamp_ingested_at(CUSTOMERS, changes.change_rows_arrow(CUSTOMERS, rows, TOPIC), bronze.now_utc())
    changes.append_changes(spark, CUSTOMERS, stamped, bronze.table_location(spark, changes.change_table_for(CUSTOMERS)))


def test_new_changes_are_the_rows_past_each_partitions_applied_offset(spark, fresh):
    for partition in range(4):
        land_in(spark, partition, [0, 1, 2])
    got = current_state.new_changes(spark, CUSTOMERS, {"0": 1, "2": 0}).select("kafka_partition", "kafka_offset")
    assert sorted(map(tuple, got.collect())) == [(0, 2), (1, 0), (1, 1), (1, 2), (2, 1), (2, 2), (3, 0), (3, 1), (3, 2)]


def test_applied_files_are_skipped_not_read(spark, fresh):
    """The filter on new offsets prunes the change log's old files by their statistics: with
    the applied files gone from disk, reading the new changes still works."""
    land_in(spark, 0, [0, 1])
    current_state.apply_changes(spark, CUSTOMERS)
    location = bronze.table_location(spark, changes.change_table_for(CUSTOMERS)).removeprefix("file:")
    applied = set(Path(location).rglob("*.parquet"))
    land_in(spark, 0, [2])
    for path in applied:
        path.unlink()
    got = current_state.new_changes(spark, CUSTOMERS, {"0": 1}).select("kafka_offset").collect()
    assert [r.kafka_offset for r in got] == [2]


def test_a_round_reads_only_the_change_logs_with_new_commits(spark, fresh, monkeypatch):
    applied = []
    real = current_state.apply_changes
    monkeypatch.setattr(
        current_state, "apply_changes", lambda s, c, v=None, **kw: applied.append(v) or real(s, c, v, **kw)
    )
    applier = current_state.Applier(spark, [CUSTOMERS])
    land(spark, [change("c", 1, "A", 100, 110)], first_offset=0)
    assert [r.changes for r in applier.round()] == [1]
    assert [r.changes for r in applier.round()] == [0]
    assert len(applied) == 1, "an unchanged change log is not read again"
    land(spark, [change("u", 1, "B", 200, 210)], first_offset=1)
    assert [r.changes for r in applier.round()] == [1]
    assert len(applied) == 2
    assert_current(spark, [(1, "B", False)])
    props = dict(spark.sql(f"show tblproperties {current_state.merged_table_for(CUSTOMERS)}").collect())
    assert props.get("delta.enableDeletionVectors") == "true"


def test_landed_changes_are_visible_before_any_merge(spark, fresh):
    """Merge on read: the view holds the change log's tail, newest version per key, before the
    apply has merged anything."""
    current_state.ensure_current_table(spark, CUSTOMERS)
    land(spark, [change("c", 1, "A", 100, 110), change("u", 1, "B", 200, 210), change("c", 2, "C", 200, 220)], 0)
    land(spark, [change("d", 2, "C", 300, 310), change("u", 1, "stale", 150, 160)], 3)
    assert_current(spark, [(1, "B", False), (2, "C", True)])
    assert spark.table(current_state.merged_table_for(CUSTOMERS)).count() == 0


def test_the_view_joins_merged_rows_and_the_tail_one_row_per_key(spark, fresh):
    land(spark, [change("c", 1, "A", 100, 110), change("c", 2, "B", 100, 120), change("c", 3, "C", 100, 130)], 0)
    current_state.apply_changes(spark, CUSTOMERS)
    # Past the merge: a newer update of 1, an older replay of 2 (the merged row outranks it), a
    # delete of 3 and a new key 4.
    land(
        spark,
        [change("u", 1, "A2", 200, 210), change("u", 2, "stale", 50, 60), change("d", 3, "C", 200, 230)]
        + [change("c", 4, "D", 200, 240)],
        3,
    )
    expected = [(1, "A2", False), (2, "B", False), (3, "C", True), (4, "D", False)]
    assert_current(spark, expected)
    # A view not yet moved past the merge's offsets (a reader between the MERGE's commit and the
    # view's replacement) sees the same rows: a change in both counts once.
    current_state.apply_changes(spark, CUSTOMERS)
    current_state.replace_view(spark, CUSTOMERS, {"0": 2})
    assert_current(spark, expected)


def test_applied_at_is_when_the_change_landed_merged_or_not(spark, fresh):
    land(spark, [change("c", 1, "A", 100, 110)], 0)
    table = current_state.current_table_for(CUSTOMERS)
    current_state.ensure_current_table(spark, CUSTOMERS)
    landed = spark.table(changes.change_table_for(CUSTOMERS)).first().ingested_at
    assert spark.table(table).first()._applied_at == landed
    current_state.apply_changes(spark, CUSTOMERS)
    assert spark.table(current_state.merged_table_for(CUSTOMERS)).first()._applied_at == landed
    assert spark.table(table).first()._applied_at == landed


def test_a_current_state_table_of_the_older_layout_becomes_the_merged_table(spark, fresh):
    land(spark, [change("c", 1, "A", 100, 110)], 0)
    current_state.apply_changes(spark, CUSTOMERS)
    merged, view = current_state.merged_table_for(CUSTOMERS), current_state.current_table_for(CUSTOMERS)
    spark.sql(f"drop view {view}")
    spark.sql(f"alter table {merged} rename to {view}")  # the layout before merge on read
    land(spark, [change("u", 1, "B", 200, 210)], 1)
    res = current_state.apply_changes(spark, CUSTOMERS)
    assert res.changes == 1, "the offsets came along: only the new change is applied"
    assert_current(spark, [(1, "B", False)])


def test_the_applier_compacts_a_change_log_once_commits_pile_up(spark, fresh):
    applier = current_state.Applier(spark, [CUSTOMERS], compact_every=3)
    for i in range(4):
        land(spark, [change("u", 1, f"v{i}", 100 + i, 100 + i)], first_offset=i)
    log_table = changes.change_table_for(CUSTOMERS)
    assert spark.sql(f"describe detail {log_table}").first().numFiles == 4
    assert [r.changes for r in applier.round()] == [4]
    assert spark.sql(f"describe detail {log_table}").first().numFiles == 1
    assert_current(spark, [(1, "v3", False)])
    land(spark, [change("u", 1, "v4", 200, 200)], first_offset=4)
    assert [r.changes for r in applier.round()] == [1], "the compaction's commit is no change"
    assert spark.sql(f"describe detail {log_table}").first().numFiles == 2, "not yet due again"
