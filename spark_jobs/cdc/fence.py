"""Wait until a source transaction's changes are in Kafka, so a run can start "after" it.

Debezium stamps every event with the Postgres transaction id (``source.txId``). Record the
topic's end offsets before the transaction, note ``txid_current()`` inside it, and this reads
forward from those offsets until it has seen the transaction's events.
"""

from __future__ import annotations

import json
import time

from kafka import KafkaConsumer, TopicPartition

from lakehouse.settings import get_settings


def end_offsets(topic: str) -> dict[int, int]:
    consumer = KafkaConsumer(bootstrap_servers=get_settings().kafka_bootstrap, enable_auto_commit=False)
    try:
        parts = consumer.partitions_for_topic(topic) or set()
        ends = consumer.end_offsets([TopicPartition(topic, p) for p in parts])
        return {tp.partition: off for tp, off in ends.items()}
    finally:
        consumer.close()


def wait_for_transaction(topic: str, tx_id: int, expected_events: int, start: dict[int, int],
                         timeout_s: float = 120) -> int:
    """Block until ``expected_events`` events of ``tx_id`` are in ``topic``; return how many."""
    consumer = KafkaConsumer(bootstrap_servers=get_settings().kafka_bootstrap, enable_auto_commit=False)
    seen = 0
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            parts = consumer.partitions_for_topic(topic)
            if parts:
                break
            time.sleep(0.5)
        tps = [TopicPartition(topic, p) for p in sorted(parts or ())]
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, start.get(tp.partition, 0))
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
