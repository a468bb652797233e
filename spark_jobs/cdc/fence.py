"""Wait until a source transaction's changes are in Kafka, so a run can start "after" it.

Debezium stamps every event with the Postgres transaction id (``source.txId``). Record the
topic's end offsets before the transaction, note ``txid_current()`` inside it, and this reads
forward from those offsets until it has seen the transaction's events.
"""

from __future__ import annotations

import json
import time

from kafka import KafkaConsumer, TopicPartition

from core import kafka_access, pg_roles
from schemas.apply_ddl import SENTINELS


def end_offsets(topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(**kafka_access.login("capture"), enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        consumer.close()


def read_from(consumer: KafkaConsumer, topic: str, start: dict[int, int], deadline: float) -> None:
    """Assign ``consumer`` every partition of ``topic`` (waiting until the topic exists, at most
    until ``deadline``), each at its offset in ``start`` (partition -> offset; 0 if absent)."""
    parts = None
    while time.monotonic() < deadline:
        parts = consumer.partitions_for_topic(topic)
        if parts:
            break
        time.sleep(0.5)
    tps = [TopicPartition(topic, p) for p in sorted(parts or ())]
    consumer.assign(tps)
    for tp in tps:
        consumer.seek(tp, start.get(tp.partition, 0))


def wait_for_transaction(
    topic: str, tx_id: int, expected_events: int, start: dict[int, int], timeout_s: float = 120
) -> int:
    """Block until ``expected_events`` events of ``tx_id`` are in ``topic``; return how many."""
    consumer = KafkaConsumer(**kafka_access.login("capture"), enable_auto_commit=False)
    seen = 0
    deadline = time.monotonic() + timeout_s
    try:
        read_from(consumer, topic, start, deadline)
        while seen < expected_events and time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=500).values():
                for rec in records:
                    if rec.value is None:
                        continue
                    try:
                        source = json.loads(rec.value).get("source") or {}
                    except ValueError:
                        continue
                    if source.get("txId") == tx_id:
                        seen += 1
    finally:
        consumer.close()
    if seen < expected_events:
        raise TimeoutError(
            f"only {seen} of {expected_events} events of transaction {tx_id} reached {topic} "
            f"within {timeout_s:.0f}s: is the Debezium connector running? (infra/stack.sh status connect)"
        )
    return seen


def wait_for_sources(timeout_s: float = 120, settle_s: float = 2.0) -> None:
    """Commit a sentinel transaction in each source database and wait until Debezium has
    published it: Debezium reads each database's WAL in commit order, so every change committed
    before the sentinel has been sent to Kafka by then (plus a moment for in-flight sends)."""
    import psycopg2

    for source, (table, key) in SENTINELS.items():
        topic = f"{source}.public.{table}"
        start = end_offsets(topic)
        with psycopg2.connect(pg_roles.source_dsn(source, "pipeline")) as conn, conn.cursor() as cur:
            cur.execute(f"update {table} set {key} = {key} where {key} = (select min({key}) from {table})")
            touched = cur.rowcount
            cur.execute("select txid_current()")
            (tx_id,) = cur.fetchone() or (None,)
        if touched:
            wait_for_transaction(topic, tx_id, touched, start, timeout_s)
    time.sleep(settle_s)
