"""Recover a CDC table after a retention gap: ``python -m spark_jobs.cdc.recover <topic or table>``.

When Kafka no longer holds the records after bronze's position (``positions``), the consumer
stops that topic and alerts. This command, run by an operator once they have read the alert:

1. acknowledges the gap: the table's mark moves its position to the earliest record Kafka
   keeps (and, for a wiped or recreated topic, stores the new ids and an offset base);
2. asks Debezium for an incremental snapshot of the table through its signal table
   (``debezium_signal`` in the source database) and waits for the connector's notification
   that it completed;
3. resumes: consumes every topic until caught up and applies the current state, where the
   re-snapshotted rows win over what they replace (``current_state``: a snapshot is versioned
   by its WAL position);
4. marks deleted the current-state rows whose key the source no longer has and whose version is
   older than the source's WAL position when its keys were read: deletes that were among the
   lost records (a snapshot only re-reads rows that exist).

``--snapshot-only`` skips the gap check (step 1): a re-snapshot to repair a current state that
is wrong for any other reason. The change log keeps a hole where the records were lost; the
current state and everything built on it are exact again.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import uuid
from dataclasses import dataclass

import psycopg2
from kafka import KafkaConsumer
from pyspark.sql import SparkSession
from pyspark.sql import functions as F

from core import kafka_access, pg_roles
from core.settings import get_settings
from schemas.apply_ddl import SIGNAL_TABLE
from schemas.contracts import Contract
from schemas.spark import spark_schema
from spark_jobs import bronze
from spark_jobs.cdc import changes, current_state, positions
from spark_jobs.cdc.fence import end_offsets, read_from, wait_for_sources

log = logging.getLogger("cdc.recover")


def contract_for(name: str) -> Contract:
    """A CDC contract by topic (``bss.public.orders``) or table (``bss.orders``)."""
    for c in changes.cdc_contracts():
        if name in (changes.topic_for(c), c.qualified_name):
            return c
    known = ", ".join(changes.topic_for(c) for c in changes.cdc_contracts())
    raise SystemExit(f"recover: no CDC table {name!r}; one of: {known}")


def notification_topic(contract: Contract) -> str:
    """The connector's notification topic (``notification.sink.topic.name``; the connector is
    named after its database)."""
    return f"__debezium-notifications.{contract.source}"


def request_snapshot(contract: Contract) -> str:
    """Insert an ``execute-snapshot`` signal for the table; returns the signal's id."""
    signal_id = f"recover-{uuid.uuid4().hex[:24]}"  # the signal table's id is a varchar(42)
    data = json.dumps({"data-collections": [f"public.{contract.name}"], "type": "incremental"})
    with psycopg2.connect(pg_roles.source_dsn(contract.source, "pipeline")) as conn, conn.cursor() as cur:
        cur.execute(
            f"insert into {SIGNAL_TABLE} (id, type, data) values (%s, 'execute-snapshot', %s)", (signal_id, data)
        )
    return signal_id


def wait_for_snapshot(bootstrap: str, topic: str, start: dict[int, int], signal_id: str, timeout_s: float):
    """Block until the connector notifies that the snapshot ``signal_id`` completed; returns the
    rows it scanned. Raises TimeoutError naming what was last heard."""
    consumer = KafkaConsumer(**kafka_access.login("capture", bootstrap), enable_auto_commit=False)
    deadline, last, scanned = time.monotonic() + timeout_s, "nothing", 0
    try:
        read_from(consumer, topic, start, deadline)
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for rec in records:
                    note = json.loads(rec.value) if rec.value else {}
                    if note.get("id") != signal_id:
                        continue
                    last = note.get("type", "?")
                    extra = note.get("additional_data") or {}
                    scanned += int(extra.get("total_rows_scanned", 0) or 0)
                    if last == "COMPLETED":
                        return scanned
                    if last == "ABORTED" or extra.get("status") not in (None, "SUCCEEDED"):
                        raise RuntimeError(f"recover: snapshot {signal_id} ended {last}: {extra}")
    finally:
        consumer.close()
    raise TimeoutError(
        f"recover: no completion of snapshot {signal_id} on {topic} within {timeout_s:.0f}s (last heard: {last}). "
        "Is the connector running? infra/stack.sh status connect"
    )


def source_keys(contract: Contract) -> tuple[list[tuple], int]:
    """The source table's primary keys and the WAL position they were read at."""
    cols = ", ".join(contract.primary_key)
    with psycopg2.connect(pg_roles.source_dsn(contract.source, "pipeline")) as conn, conn.cursor() as cur:
        cur.execute("set transaction isolation level repeatable read")
        cur.execute("select pg_current_wal_lsn() - '0/0'::pg_lsn")  # fixes the snapshot at this position
        (lsn,) = cur.fetchone() or (0,)
        cur.execute(f"select {cols} from public.{contract.name}")
        return cur.fetchall(), int(lsn)


def sweep_deleted(spark: SparkSession, contract: Contract) -> int:
    """Mark deleted the current-state rows whose key the source no longer has, when their version
    is older than the WAL position the keys were read at; returns how many."""
    keys, lsn = source_keys(contract)
    schema = spark_schema(contract)
    key_schema = type(schema)([schema[k] for k in contract.primary_key])
    table = current_state.merged_table_for(contract)
    existing = spark.createDataFrame(keys, key_schema)
    gone = (
        spark.table(table)
        .where(~F.col("_is_deleted") & (F.col("_commit_lsn") < lsn))
        .join(existing, list(contract.primary_key), "left_anti")
        .select("_key")
    )
    view = f"recover_gone_{contract.source}_{contract.name}"
    gone.createOrReplaceTempView(view)
    n = gone.count()
    if n:
        spark.sql(
            f"merge into {table} t using {view} s on t._key = s._key and not t._is_deleted and t._commit_lsn < {lsn} "
            f"when matched then update set _is_deleted = true, _commit_lsn = {lsn}, _lsn = {lsn}, "
            "_kafka_offset = -1, _source_ts = current_timestamp(), _applied_at = current_timestamp()"
        )
    spark.catalog.dropTempView(view)
    return n


@dataclass
class Recovery:
    topic: str
    gaps: list[positions.Gap]
    signal_id: str = ""
    scanned: int = 0
    snapshot_s: float = 0.0
    landed: int = 0
    deleted: int = 0

    def summary(self) -> str:
        gap = (
            "; ".join(f"partition {g.partition} resumes at {g.earliest} (was {g.recovered})" for g in self.gaps)
            if self.gaps
            else "no gap to acknowledge"
        )
        return (
            f"recover {self.topic}: {gap}; incremental snapshot {self.signal_id} scanned {self.scanned} rows "
            f"in {self.snapshot_s:.1f}s; {self.landed} changes landed; {self.deleted} rows deleted at the source "
            "while their records were missing marked deleted"
        )


def recover(name: str, snapshot_only: bool = False, timeout_s: float = 900) -> Recovery:
    from core.session import get_spark
    from spark_jobs.cdc import consumer

    settings = get_settings()
    contract = contract_for(name)
    topic, table = changes.topic_for(contract), changes.change_table_for(contract)
    spark = get_spark("cdc-recover")
    changes.ensure_tables(spark, [contract])
    result = Recovery(topic, [])
    if not snapshot_only:
        landed = {p: o for (t, p), o in changes.committed_offsets(spark, [table]).items() if t == topic}
        view = positions.kafka_view(settings.kafka_bootstrap, [topic])
        mark = positions.read_mark(spark, table)
        result.gaps = positions.plan_topic(topic, mark, view, landed).gaps
        if result.gaps:
            positions.write_mark(spark, table, positions.acknowledge(mark, topic, view, landed))
            positions.record_gaps(
                spark, f"recover-{uuid.uuid4().hex[:8]}", result.gaps, "acknowledged", bronze.now_utc()
            )
    notes = notification_topic(contract)
    start = end_offsets(notes)
    t0 = time.monotonic()
    result.signal_id = request_snapshot(contract)
    print(f"recover: asked the {contract.source} connector for an incremental snapshot of {contract.name} ...")
    result.scanned = wait_for_snapshot(settings.kafka_bootstrap, notes, start, result.signal_id, timeout_s)
    result.snapshot_s = time.monotonic() - t0
    wait_for_sources()  # every snapshot event is in Kafka before the consumer reads to the end
    stats = consumer.run(consumer.ConsumerConfig(until_caught_up=True))
    print(stats.summary())
    if stats.gaps:
        raise SystemExit(f"recover: capture still has gaps: {'; '.join(g.text() for g in stats.gaps)}")
    result.landed = stats.changes
    for r in current_state.run(spark):
        print(r.summary())
    result.deleted = sweep_deleted(spark, contract)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", help="the CDC topic (bss.public.orders) or table (bss.orders)")
    parser.add_argument("--snapshot-only", action="store_true", help="re-snapshot without acknowledging a gap")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the snapshot")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    print(recover(args.table, args.snapshot_only, args.timeout).summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
