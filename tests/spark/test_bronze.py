"""Bronze change-log writes: contract-typed rows, offsets recovered, dead letters once."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

# Delta converts JVM errors once imported, as in any process that imports delta.tables.
import delta.exceptions.captured  # noqa: F401
import pyarrow as pa
import pytest
from pyspark.sql import types as T

from schemas.contracts import get_contract
from spark_jobs import arrow_delta, bronze
from spark_jobs.cdc import changes
from tests.debezium_samples import customer_change

pytestmark = pytest.mark.spark
CUSTOMERS = get_contract("crm.customers")
TOPIC = "crm.public.customers"


def _event(op, cid, city, lsn):
    return customer_change(op, cid, city, lsn, tx_id=5)


@pytest.fixture
def tables(spark, own_bronze_db):
    spark.sql(f"drop database if exists {own_bronze_db} cascade")
    changes.ensure_tables(spark, [CUSTOMERS])
    return changes.change_table_for(CUSTOMERS)


def test_change_log_images_carry_the_contract_schema(spark, tables):
    after = spark.table(tables).schema["after"].dataType
    assert isinstance(after, T.StructType)
    assert [f.name for f in after.fields] == CUSTOMERS.column_names
    assert after["birth_date"].dataType == T.DateType()


def test_offsets_are_recovered_from_the_rows_they_committed_with(spark, tables):
    assert changes.committed_offsets(spark, [tables]) == {}
    records = [(_event("c", 1, "A", 100), 0, 10), (_event("u", 1, "B", 200), 0, 11), (_event("d", 1, "B", 300), 0, 12)]
    rows = changes.stamp_ingested_at(CUSTOMERS, changes.change_rows_arrow(CUSTOMERS, records, TOPIC), bronze.now_utc())
    changes.append_changes(spark, CUSTOMERS, rows, bronze.table_location(spark, tables))
    assert changes.committed_offsets(spark, [tables]) == {(TOPIC, 0): 13}
    rows = spark.table(tables).orderBy("kafka_offset").collect()
    assert [(r.op, r.after.city if r.after else None, r.before.city if r.before else None) for r in rows] == [
        ("c", "A", None),
        ("u", "B", None),
        ("d", None, "B"),
    ]


def test_dead_letters_are_recorded_once_when_a_batch_is_reread(spark, tables):
    row = (TOPIC, 0, 42, b"k", b"\xff not json", "value is not JSON", bronze.now_utc())
    changes.merge_dead_letters(spark, [row])
    changes.merge_dead_letters(spark, [row])
    dead = spark.table(changes.dead_letter_table()).collect()
    assert len(dead) == 1
    assert dead[0].raw_value == bytearray(b"\xff not json") and dead[0].kafka_offset == 42


def _stamped(records):
    return changes.stamp_ingested_at(CUSTOMERS, changes.change_rows_arrow(CUSTOMERS, records, TOPIC), bronze.now_utc())


def test_an_arrow_append_is_a_delta_write_that_reads_back_typed(spark, tables):
    location = bronze.table_location(spark, tables)
    first = changes.append_changes(spark, CUSTOMERS, _stamped([(_event("c", 7, "A", 100), 1, 5)]), location)
    second = changes.append_changes(spark, CUSTOMERS, _stamped([(_event("u", 7, "B", 200), 1, 6)]), location)
    assert second == first + 1
    history = spark.sql(f"describe history {tables}").orderBy("version").collect()
    assert [(h.operation, h.operationParameters["mode"]) for h in history[-2:]] == [("WRITE", "Append")] * 2
    rows = spark.table(tables).orderBy("kafka_offset").collect()
    assert [(r.op, r.after.city, r.after.birth_date.isoformat(), r.kafka_partition) for r in rows] == [
        ("c", "A", "1970-01-01", 1),
        ("u", "B", "1970-01-01", 1),
    ]
    # Statistics on the Kafka positions, so a reader past an offset skips the files before it.
    commit = Path(location.removeprefix("file:")) / "_delta_log" / f"{second:020d}.json"
    adds = [json.loads(line)["add"] for line in commit.read_text().splitlines() if '"add"' in line]
    stats = json.loads(adds[0]["stats"])
    assert stats["numRecords"] == 1 and stats["minValues"] == {"kafka_partition": 1, "kafka_offset": 6}


def test_an_arrow_append_refuses_rows_that_do_not_fit(spark, tables):
    location = bronze.table_location(spark, tables)
    version = spark.sql(f"describe history {tables}").agg({"version": "max"}).first()[0]
    rows = _stamped([(_event("c", 8, "A", 100), 0, 1)])
    with pytest.raises(arrow_delta.SchemaMismatch, match="schema"):
        changes.append_changes(spark, CUSTOMERS, rows.drop_columns(["tx_id"]), location)
    not_null = pa.schema([pa.field("key", pa.string(), nullable=False)])
    with pytest.raises(arrow_delta.SchemaMismatch, match="NOT NULL"):
        arrow_delta.append(spark, location, pa.table({"key": pa.array([None], pa.string())}, schema=not_null), not_null)
    assert spark.sql(f"describe history {tables}").agg({"version": "max"}).first()[0] == version


def test_change_tables_checkpoint_only_when_asked(spark, tables):
    location = bronze.table_location(spark, tables)
    log_dir = Path(location.removeprefix("file:")) / "_delta_log"
    version = changes.append_changes(spark, CUSTOMERS, _stamped([(_event("c", 9, "A", 100), 0, 1)]), location)
    assert not list(log_dir.glob("*.checkpoint.parquet"))  # the consumer checkpoints off its write path
    arrow_delta.checkpoint(spark, location)
    assert (log_dir / f"{version:020d}.checkpoint.parquet").exists()
    assert spark.read.format("delta").load(location).count() == 1


def test_a_checkpoint_can_drop_the_commit_files_before_it(spark, tables):
    """The consumer's checkpoints clean a change log's expired commits by the minute (Delta's
    own cleanup keeps whole days): the table reads the same and remembers its landed offsets."""
    location = bronze.table_location(spark, tables)
    log_dir = Path(location.removeprefix("file:")) / "_delta_log"
    for offset in (40, 41, 42):
        changes.append_changes(spark, CUSTOMERS, _stamped([(_event("c", offset, "A", 100), 3, offset)]), location)
    an_hour_ago = time.time() - 3600
    for f in [*log_dir.glob("*.json"), *log_dir.glob("*.crc")]:
        os.utime(f, (an_hour_ago, an_hour_ago))
    count = spark.read.format("delta").load(location).count()
    version = changes.append_changes(spark, CUSTOMERS, _stamped([(_event("c", 43, "A", 100), 3, 43)]), location)
    arrow_delta.checkpoint(spark, location, keep_log_s=60)
    assert sorted(int(f.name[:20]) for f in log_dir.glob("*.json")) == [version]
    assert spark.read.format("delta").load(location).count() == count + 1
    with pytest.raises(arrow_delta.AlreadyLanded):
        changes.append_changes(spark, CUSTOMERS, _stamped([(_event("c", 42, "A", 100), 3, 42)]), location)


def _commit_behind_the_process(log_dir: Path, txn: dict | None = None) -> None:
    """Another writer's blind append, as a commit file this process has not seen: a copy of the
    latest commit's first data file (and ``txn``, a Kafka position it landed)."""
    versions = sorted(int(f.name[:20]) for f in log_dir.glob("*.json"))
    add = next(
        json.loads(line)["add"]
        for line in (log_dir / f"{versions[-1]:020d}.json").read_text().splitlines()
        if '"add"' in line
    )
    table_dir = log_dir.parent
    copy = f"other-writer-{versions[-1]}.parquet"
    (table_dir / copy).write_bytes((table_dir / add["path"]).read_bytes())
    info = {"timestamp": int(time.time() * 1000), "operation": "WRITE", "operationParameters": {"mode": "Append"}}
    actions: list[dict] = [{"commitInfo": {**info, "isBlindAppend": True}}]
    actions.append({"add": {**add, "path": copy}})
    if txn:
        actions.append({"txn": txn})
    (log_dir / f"{versions[-1] + 1:020d}.json").write_text("\n".join(json.dumps(a) for a in actions) + "\n")


def test_an_append_from_a_stale_snapshot_lands_after_another_writers_commit(spark, tables):
    """Appends start from the snapshot the process last saw (no listing of the log): a commit
    another writer made meanwhile is found at commit time, and a blind append of another
    stream goes on after it."""
    location = bronze.table_location(spark, tables)
    log_dir = Path(location.removeprefix("file:")) / "_delta_log"
    changes.append_changes(spark, CUSTOMERS, _stamped([(_event("c", 50, "A", 100), 4, 50)]), location)
    count = spark.read.format("delta").load(location).count()
    _commit_behind_the_process(log_dir)
    version = changes.append_changes(spark, CUSTOMERS, _stamped([(_event("c", 51, "A", 100), 4, 51)]), location)
    assert version == max(int(f.name[:20]) for f in log_dir.glob("*.json"))
    assert spark.read.format("delta").load(location).count() == count + 2


def test_a_position_another_writer_landed_meanwhile_is_refused(spark, tables):
    location = bronze.table_location(spark, tables)
    log_dir = Path(location.removeprefix("file:")) / "_delta_log"
    changes.append_changes(spark, CUSTOMERS, _stamped([(_event("c", 60, "A", 100), 5, 60)]), location)
    # A second consumer landed offset 61 of the same partition after this process's last look.
    _commit_behind_the_process(log_dir, {"appId": f"kafka:{TOPIC}:5", "version": 61, "lastUpdated": 0})
    with pytest.raises(arrow_delta.AlreadyLanded):
        changes.append_changes(spark, CUSTOMERS, _stamped([(_event("c", 61, "A", 100), 5, 61)]), location)


def test_a_process_with_a_spark_session_shares_it_instead_of_connecting(spark):
    from core.session import get_shared_spark, release

    shared = get_shared_spark("quality-test")
    assert shared is spark  # not a Spark Connect session beside it (pyspark refuses that)
    release(shared)  # a local session lives on with its process
    assert not spark.sparkContext._jsc.sc().isStopped()


def test_offsets_already_landed_are_refused_not_appended_twice(spark, tables):
    location = bronze.table_location(spark, tables)
    batch = [(_event("c", 11, "A", 100), 0, 20), (_event("u", 11, "B", 200), 0, 21)]
    changes.append_changes(spark, CUSTOMERS, _stamped(batch), location)
    # A second consumer that recovered the same position reads an overlapping batch.
    with pytest.raises(arrow_delta.AlreadyLanded, match=f"kafka:{TOPIC}:0.*position 21.*starts at 21"):
        changes.append_changes(spark, CUSTOMERS, _stamped([*batch[1:], (_event("u", 11, "C", 300), 0, 22)]), location)
    # The next batch after the landed one, and another partition, go through.
    changes.append_changes(spark, CUSTOMERS, _stamped([(_event("u", 11, "C", 300), 0, 22)]), location)
    changes.append_changes(spark, CUSTOMERS, _stamped([(_event("c", 12, "A", 100), 1, 20)]), location)
    rows = spark.table(tables).select("kafka_partition", "kafka_offset").orderBy("kafka_partition", "kafka_offset")
    assert [tuple(r) for r in rows.collect()] == [(0, 20), (0, 21), (0, 22), (1, 20)]


def test_two_writers_ensuring_the_change_logs_at_once_both_succeed(spark, own_bronze_db):
    # The capture service starts its consumer and its apply together; on a new warehouse both
    # create the same change logs, and the loser of Delta's first commit must not crash.
    import threading

    spark.sql(f"drop database if exists {own_bronze_db} cascade")
    contracts = [get_contract(n) for n in ("crm.customers", "crm.service_tickets", "bss.orders", "bss.products")]
    start, errors = threading.Barrier(2), []

    def ensure():
        start.wait()
        try:
            changes.ensure_tables(spark, contracts)
        except Exception as e:  # noqa: BLE001 (the assertion reports it)
            errors.append(e)

    threads = [threading.Thread(target=ensure) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    for c in contracts:
        assert spark.table(changes.change_table_for(c)).count() == 0


def test_a_change_log_is_created_with_the_layout_an_empty_write_gives(spark, own_bronze_db):
    # Created through the catalog now; a table an earlier version made by writing an empty frame
    # (every field nullable) must have the same schema, or appends to old and new ones differ.
    spark.sql(f"drop database if exists {own_bronze_db} cascade")
    contract = get_contract("bss.orders")
    changes.ensure_tables(spark, [contract])
    written = f"{own_bronze_db}.written_empty"
    spark.createDataFrame([], changes.change_log_schema(contract)).write.format("delta").saveAsTable(written)
    assert spark.table(changes.change_table_for(contract)).schema == spark.table(written).schema
