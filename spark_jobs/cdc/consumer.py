"""Debezium topics to bronze change-log tables, exactly once.

``python -m spark_jobs.cdc.consumer [--until-caught-up | --interval SECONDS]``

Reads the Debezium envelopes with kafka-python, types them by the contracts and appends each
topic's micro-batch to its bronze table in one Delta commit that also holds the Kafka offsets.
On start the position is recovered from those tables (Kafka's committed offsets are only
written for monitoring), so a crash at any instant neither loses nor duplicates a change.
Poison messages go to the dead-letter table with their raw bytes and the error.

Each partition's slice of a poll is parsed column-wise by Arrow (``columnar``), so the Python
work per record is little more than the poll's own; a slice with anything unusual in it is
parsed record by record (``envelope``), which dead-letters poison and keeps unknown columns.
Polling and parsing overlap with writing (Spark, in a writer thread). While the writer
is busy, new polls are merged into one pending batch, so a slow Delta commit makes the next
batch bigger instead of making a queue longer: latency stays near one write, and each table
gets one commit per batch whatever the change rate.
"""

from __future__ import annotations

import argparse
import logging
import queue
import sys
import threading
import time
import uuid
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pyarrow as pa
import pyarrow.compute as pc
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError

from lakehouse.settings import get_settings
from schemas.contracts import Contract, load_contracts
from spark_jobs import arrow_delta
from spark_jobs.cdc import bronze, columnar
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


@dataclass
class Batch:
    """One poll, parsed: change rows per topic (Arrow tables in ``bronze.parsed_schema``), dead
    letters, and where each partition ends."""

    number: int
    changes: dict[str, list[pa.Table]] = field(default_factory=lambda: defaultdict(list))
    dead: list[tuple] = field(default_factory=list)
    tombstones: int = 0
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    lag: dict[str, int] = field(default_factory=dict)
    created: float = field(default_factory=time.monotonic)

    def ready(self, min_batch: int, linger_s: float, trickle_linger_s: float) -> bool:
        """Big enough, or old enough: ``linger_s`` while a backlog lasts, ``trickle_linger_s``
        once caught up (so a trickle makes a commit per table every second or so, not one per
        poll: each commit costs the JVM ~0.1 s and the checkpoints they add up to)."""
        if self.size >= min_batch:
            return True
        age = time.monotonic() - self.created
        return age >= (linger_s if any(self.lag.values()) else trickle_linger_s)

    @property
    def size(self) -> int:
        return sum(t.num_rows for ts in self.changes.values() for t in ts) + len(self.dead) + self.tombstones

    def absorb(self, later: "Batch") -> None:
        """Append a later poll to this batch (same partitions keep their order)."""
        for topic, tables in later.changes.items():
            self.changes[topic].extend(tables)
        self.dead.extend(later.dead)
        self.tombstones += later.tombstones
        self.next_offsets.update(later.next_offsets)
        self.lag.update(later.lag)


def cdc_contracts() -> list[Contract]:
    return [c for c in load_contracts() if c.source in CDC_SOURCES]


def parse_poll(number: int, records_by_tp, contracts_by_topic, received_at: datetime) -> Batch:
    """Each partition's records column-wise (``columnar``); a slice with anything unusual in it
    record by record, which dead-letters poison messages and keeps unknown columns."""
    batch = Batch(number)
    for tp, records in records_by_tp.items():
        contract = contracts_by_topic[tp.topic]
        batch.next_offsets[tp] = records[-1].offset + 1
        live = [r for r in records if r.value is not None]
        batch.tombstones += len(records) - len(live)  # a delete's tombstone: the delete event precedes it
        if not live:
            continue
        table = columnar.parse_slice(contract, bronze.parsed_schema(contract), [r.key for r in live],
                                     [r.value for r in live], tp.topic, tp.partition, [r.offset for r in live])
        if table is None:
            table = _parse_records(batch, tp, live, contract, received_at)
        if table.num_rows:
            batch.changes[tp.topic].append(table)
    return batch


def _parse_records(batch: Batch, tp: TopicPartition, records, contract: Contract, received_at: datetime) -> pa.Table:
    rows = []
    for rec in records:
        try:
            rows.append((parse_change(rec.key, rec.value, contract), tp.partition, rec.offset))
        except PoisonMessage as e:
            batch.dead.append((tp.topic, tp.partition, rec.offset, rec.key, rec.value, str(e), received_at))
    return bronze.change_rows_arrow(contract, rows, tp.topic)


class BatchWriter:
    """Writes parsed batches to bronze in order, in its own thread."""

    def __init__(self, spark, contracts_by_topic, stats: RunStats, run_id: str):
        self.spark, self.contracts_by_topic, self.stats, self.run_id = spark, contracts_by_topic, stats, run_id
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.written: dict[TopicPartition, int] = {}
        self.metrics: list[tuple] = []
        self.lock = threading.Lock()
        self.locations = {t: bronze.table_location(spark, bronze.change_table_for(c)) for t, c in contracts_by_topic.items()}
        # Each table's append is its own Spark job: run them side by side.
        self.pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="bronze-append")
        # Checkpoints of the change tables, one at a time beside the appends (not inline in a commit).
        self.checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bronze-checkpoint")
        self.versions: dict[str, int] = {}
        self.checkpointing: set[str] = set()
        self.thread = threading.Thread(target=self._loop, name="bronze-writer", daemon=True)
        self.thread.start()

    def offer(self, batch: Batch) -> bool:
        """Hand the batch over if the writer can take it now."""
        self.raise_if_failed()
        try:
            self.queue.put_nowait(batch)
            return True
        except queue.Full:
            return False

    def submit(self, batch: Batch) -> None:
        while True:
            self.raise_if_failed()
            try:
                self.queue.put(batch, timeout=1)
                return
            except queue.Full:
                continue

    def raise_if_failed(self) -> None:
        if self.error is not None:
            raise RuntimeError(f"bronze writer failed: {self.error}") from self.error

    def close(self) -> None:
        """Write everything submitted, then stop; raise what the writer hit."""
        if self.thread.is_alive():
            self.queue.put(None)
            self.thread.join()
        self.pool.shutdown(wait=True)
        self.checkpointer.shutdown(wait=True)
        self.raise_if_failed()
        self.flush_metrics()

    def flush_metrics(self) -> None:
        with self.lock:
            rows, self.metrics = self.metrics, []
        if rows:
            bronze.append(self.spark.createDataFrame(rows, bronze.BATCHES_SCHEMA), bronze.BATCHES_TABLE)

    def _append(self, batch: Batch, topic: str, tables: list[pa.Table]) -> None:
        contract = self.contracts_by_topic[topic]
        table = bronze.change_table_for(contract)
        t0 = time.monotonic()
        ingested_at = bronze.now_utc()
        parsed = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        version = bronze.append_changes(self.spark, contract, bronze.stamp_ingested_at(contract, parsed, ingested_at),
                                        self.locations[topic])
        secs = time.monotonic() - t0
        self._checkpoint_if_due(topic, version)
        n = parsed.num_rows
        offsets = pc.min_max(parsed.column("kafka_offset"))
        age_us = pc.subtract(int(ingested_at.timestamp() * 1_000_000), parsed.column("source_ts").cast(pa.int64()))
        p50, p95 = (q / 1e6 for q in pc.quantile(age_us, q=[0.5, 0.95], interpolation="nearest").to_pylist())
        with self.lock:
            self.metrics.append((
                self.run_id, batch.number, table, n, sum(1 for d in batch.dead if d[0] == topic),
                offsets["min"].as_py(), offsets["max"].as_py(), batch.lag.get(topic), secs,
                n / secs if secs else None, p50, p95, bronze.now_utc(),
            ))
            self.stats.per_table[table] += n
            self.stats.changes += n

    def _checkpoint_if_due(self, topic: str, version: int) -> None:
        with self.lock:
            due = bronze.checkpoint_due(self.versions.get(topic, version - 1), version) and topic not in self.checkpointing
            self.versions[topic] = version
            if due:
                self.checkpointing.add(topic)
        if due:
            self.checkpointer.submit(self._checkpoint, topic)

    def _checkpoint(self, topic: str) -> None:
        try:
            arrow_delta.checkpoint(self.spark, self.locations[topic])
        except Exception as e:  # noqa: BLE001 - the commits stand; readers replay more log until the next one
            log.warning("checkpoint of %s failed: %s", topic, e)
        finally:
            with self.lock:
                self.checkpointing.discard(topic)

    def _loop(self) -> None:
        last_flush = time.monotonic()
        try:
            while (batch := self.queue.get()) is not None:
                self._write(batch)
                if time.monotonic() - last_flush > 30:
                    self.pool.submit(self.flush_metrics)  # off the write path: it is a Delta commit too
                    last_flush = time.monotonic()
        except BaseException as e:  # noqa: BLE001 - handed to the polling thread
            self.error = e

    def _write(self, batch: Batch) -> None:
        started = time.monotonic()
        # Dead letters first (merged, so a re-read batch records them once), then one append per table.
        bronze.merge_dead_letters(self.spark, batch.dead)
        for future in [self.pool.submit(self._append, batch, topic, rows) for topic, rows in batch.changes.items()]:
            future.result()
        self.stats.dead_letters += len(batch.dead)
        self.stats.tombstones += batch.tombstones
        self.stats.batches += 1
        with self.lock:
            self.written.update(batch.next_offsets)
        log.info("batch %d: %d changes, %d dead letters written in %.1fs", batch.number,
                 sum(t.num_rows for ts in batch.changes.values() for t in ts), len(batch.dead), time.monotonic() - started)


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


def run(until_caught_up: bool = True, interval_s: float = 5.0, max_records: int = 20_000,
        max_seconds: float | None = None, min_batch: int = 150_000, linger_s: float = 2.0,
        trickle_linger_s: float = 1.0, max_pending: int = 300_000, started_event: threading.Event | None = None) -> RunStats:
    """Consume until caught up (or continuously). A batch goes to the writer once it holds
    ``min_batch`` records, or a poll finds nothing, or it is ``linger_s`` old (``trickle_linger_s``
    when nothing more is waiting in Kafka): each Delta commit has a fixed cost, so a backlog is
    written in few large commits and a trickle in about one per table per second. ``started_event`` is set
    once the tables are ready and the first poll is done (a benchmark starts its load then)."""
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
    run_id = f"{datetime.now(timezone.utc):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}"
    writer = BatchWriter(spark, contracts_by_topic, stats, run_id)
    started = time.monotonic()
    number = 0
    pending: Batch | None = None
    committed: dict[TopicPartition, int] = {}
    try:
        while True:
            writer.raise_if_failed()
            tps = _assign(consumer, list(contracts_by_topic), positions)
            polled = consumer.poll(timeout_ms=200, max_records=max_records) if tps else {}
            if started_event is not None:
                started_event.set()
            if polled:
                number += 1
                batch = parse_poll(number, polled, contracts_by_topic, bronze.now_utc())
                for tp in polled:
                    hw = consumer.highwater(tp)
                    if hw is not None:
                        batch.lag[tp.topic] = batch.lag.get(tp.topic, 0) + max(0, hw - batch.next_offsets[tp])
                for tp, off in batch.next_offsets.items():
                    positions[(tp.topic, tp.partition)] = off
                if pending is None:
                    pending = batch
                else:
                    pending.absorb(batch)
            if pending is not None:
                if pending.size >= max_pending:
                    writer.submit(pending)  # back-pressure: wait for the writer
                    pending = None
                elif (not polled or pending.ready(min_batch, linger_s, trickle_linger_s)) and writer.offer(pending):
                    pending = None
            if not polled and pending is None:
                if until_caught_up and writer.queue.empty() and _caught_up(consumer, tps):
                    break
                if not until_caught_up:
                    time.sleep(interval_s)
            # For lag monitoring only: the position of record is the bronze tables.
            with writer.lock:
                done = {tp: off for tp, off in writer.written.items() if committed.get(tp) != off}
            if done:
                consumer.commit({tp: OffsetAndMetadata(off, None, -1) for tp, off in done.items()})
                committed.update(done)
            if max_seconds is not None and time.monotonic() - started > max_seconds:
                break
        if pending is not None:
            writer.submit(pending)
        writer.close()
    finally:
        stats.seconds = time.monotonic() - started
        consumer.close()
    return stats


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--until-caught-up", action="store_true", default=True,
                      help="consume until every partition is at its end offset, then exit (default)")
    mode.add_argument("--interval", type=float, metavar="SECONDS",
                      help="run continuously, polling again after SECONDS when idle")
    parser.add_argument("--apply", action="store_true",
                        help="once caught up, apply the change logs to the current-state tables in the same "
                             "Spark session (one JVM start; Airflow runs the two as separate tasks)")
    args = parser.parse_args(argv)
    if args.apply and args.interval is not None:
        parser.error("--apply needs a run that ends: leave out --interval")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    stats = run(until_caught_up=args.interval is None, interval_s=args.interval or 5.0)
    print(stats.summary())
    if args.apply:
        from spark_jobs.cdc import current_state

        for r in current_state.run(get_spark("cdc-consumer")):
            print(r.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
