"""Debezium topics to bronze change-log tables, exactly once.

``python -m spark_jobs.cdc.consumer [--until-caught-up | --interval SECONDS]``

Reads the Debezium envelopes with kafka-python, types them by the contracts and appends each
topic's micro-batch to its bronze table in one Delta commit that also holds the Kafka offsets.
On start the position is recovered from those tables (Kafka's committed offsets are only
written for monitoring), so a crash at any instant neither loses nor duplicates a change.
Poison messages go to the dead-letter table with their raw bytes and the error.
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
import uuid
from collections import defaultdict
from datetime import datetime, timezone
from dataclasses import dataclass, field

from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError

from lakehouse.settings import get_settings
from schemas.contracts import Contract, load_contracts
from spark_jobs.cdc import bronze
from spark_jobs.cdc.envelope import PoisonMessage, parse_change
from spark_jobs.session import get_spark

log = logging.getLogger("cdc.consumer")
CDC_SOURCES = ("crm", "bss")
GROUP_ID = "lakehouse-bronze-cdc"


@dataclass
class RunStats:
    batches: int = 0
    changes: int = 0
    tombstones: int = 0
    dead_letters: int = 0
    per_table: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: float = 0.0

    def summary(self) -> str:
        tables = ", ".join(f"{t}={n}" for t, n in sorted(self.per_table.items())) or "none"
        return (
            f"cdc: {self.changes} changes landed in {self.batches} batches "
            f"({self.tombstones} tombstones skipped, {self.dead_letters} dead letters) "
            f"in {self.seconds:.1f}s; per table: {tables}"
        )


def cdc_contracts() -> list[Contract]:
    return [c for c in load_contracts() if c.source in CDC_SOURCES]


def _assign(consumer: KafkaConsumer, topics: list[str], positions: dict[tuple[str, int], int]) -> list[TopicPartition]:
    """Assign every partition of the topics that exist, at the recovered positions."""
    existing = consumer.topics()
    tps = [
        TopicPartition(t, p)
        for t in topics
        if t in existing
        for p in sorted(consumer.partitions_for_topic(t) or ())
    ]
    if set(tps) != set(consumer.assignment()):
        consumer.assign(tps)
        for tp in tps:
            if (tp.topic, tp.partition) in positions:
                consumer.seek(tp, positions[(tp.topic, tp.partition)])
            else:
                consumer.seek_to_beginning(tp)
    return tps


def _caught_up(consumer: KafkaConsumer, tps: list[TopicPartition]) -> bool:
    if not tps:
        return True
    ends = consumer.end_offsets(tps)
    return all(consumer.position(tp) >= ends[tp] for tp in tps)


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def process_batch(spark, records_by_tp, contracts_by_topic, stats: RunStats,
                  metrics: list | None = None, run_id: str = "", lag_of=None) -> dict[TopicPartition, int]:
    """Land one poll's records: dead letters first (merged), then one append per table."""
    started = time.monotonic()
    ingested_at = bronze.now_utc()
    next_offsets: dict[TopicPartition, int] = {}
    per_topic: dict[str, list] = defaultdict(list)
    dead: list[tuple] = []
    for tp, records in records_by_tp.items():
        contract = contracts_by_topic[tp.topic]
        for rec in records:
            next_offsets[tp] = rec.offset + 1
            try:
                change = parse_change(rec.key, rec.value, contract)
            except PoisonMessage as e:
                dead.append((tp.topic, tp.partition, rec.offset, rec.key, rec.value, str(e), ingested_at))
                continue
            if change is None:
                stats.tombstones += 1
                continue
            per_topic[tp.topic].append((change, tp.partition, rec.offset))
    bronze.merge_dead_letters(spark, dead)
    stats.dead_letters += len(dead)
    for topic, rows in per_topic.items():
        contract = contracts_by_topic[topic]
        table = bronze.change_table_for(contract)
        t0 = time.monotonic()
        bronze.append(bronze.change_rows_frame(spark, contract, rows, topic, ingested_at), table)
        stats.changes += len(rows)
        stats.per_table[table] += len(rows)
        if metrics is not None:
            secs = time.monotonic() - t0
            fresh = [(ingested_at - ch.source_ts).total_seconds() for ch, _, _ in rows]
            metrics.append((
                run_id, stats.batches + 1, table, len(rows), sum(1 for d in dead if d[0] == topic),
                min(o for _, _, o in rows), max(o for _, _, o in rows), lag_of(topic) if lag_of else None,
                secs, len(rows) / secs if secs else None, _percentile(fresh, 0.5), _percentile(fresh, 0.95),
                bronze.now_utc(),
            ))
    stats.batches += 1
    log.info("batch %d: %d records in %.1fs", stats.batches, sum(len(r) for r in records_by_tp.values()),
             time.monotonic() - started)
    return next_offsets


def run(until_caught_up: bool = True, interval_s: float = 5.0, max_records: int = 20_000,
        max_seconds: float | None = None) -> RunStats:
    settings = get_settings()
    contracts = cdc_contracts()
    contracts_by_topic = {bronze.topic_for(c): c for c in contracts}
    spark = get_spark("cdc-consumer")
    bronze.ensure_tables(spark, contracts)
    positions = bronze.committed_offsets(spark, [bronze.change_table_for(c) for c in contracts])
    try:
        consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap,
            group_id=GROUP_ID,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
    except KafkaError as e:
        raise SystemExit(f"cdc: no Kafka broker at {settings.kafka_bootstrap} ({e}). Start it: infra/stack.sh start kafka")
    stats = RunStats()
    started = time.monotonic()
    run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    metrics: list[tuple] = []
    last_flush = time.monotonic()

    def lag_of(topic: str) -> int:
        tps = [tp for tp in consumer.assignment() if tp.topic == topic]
        ends = consumer.end_offsets(tps)
        return sum(max(0, ends[tp] - consumer.position(tp)) for tp in tps)

    def flush_metrics():
        if metrics:
            bronze.append(spark.createDataFrame(metrics, bronze.BATCHES_SCHEMA), bronze.BATCHES_TABLE)
            metrics.clear()

    try:
        while True:
            tps = _assign(consumer, list(contracts_by_topic), positions)
            polled = consumer.poll(timeout_ms=1000, max_records=max_records) if tps else {}
            if polled:
                done = process_batch(spark, polled, contracts_by_topic, stats, metrics, run_id, lag_of)
                for tp, off in done.items():
                    positions[(tp.topic, tp.partition)] = off
                # For lag monitoring only: the position of record is the bronze tables.
                consumer.commit({tp: OffsetAndMetadata(off, None, -1) for tp, off in done.items()})
                if time.monotonic() - last_flush > 30:
                    flush_metrics()
                    last_flush = time.monotonic()
            elif until_caught_up and _caught_up(consumer, tps):
                break
            elif not until_caught_up and not polled:
                time.sleep(interval_s)
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                break
    finally:
        stats.seconds = time.monotonic() - started
        try:
            flush_metrics()
        finally:
            consumer.close()
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--until-caught-up", action="store_true", default=True,
                      help="consume until every partition is at its end offset, then exit (default)")
    mode.add_argument("--interval", type=float, metavar="SECONDS",
                      help="run continuously, polling again after SECONDS when idle")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    stats = run(until_caught_up=args.interval is None, interval_s=args.interval or 5.0)
    print(stats.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
