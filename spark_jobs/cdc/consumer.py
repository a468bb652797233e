"""Debezium topics to bronze change-log tables, exactly once.

``python -m spark_jobs.cdc.consumer [--until-caught-up | --interval SECONDS] [--readers N] [--apply]``

Reads the Debezium envelopes with kafka-python, types them by the contracts and appends each
topic's micro-batch to its bronze table in one Delta commit that also holds the Kafka offsets.
On start the position is recovered from those tables (Kafka's committed offsets are only
written for monitoring), so a crash at any instant neither loses nor duplicates a change.
Poison messages go to the dead-letter table with their raw bytes and the error. A topic whose
records past bronze's position are gone from Kafka stops with an alert (``positions``); a second
consumer started beside this one fails on its first overlapping commit instead of landing the
same offsets twice (``changes.append_changes``).

Reading is done by reader processes (``reader``), one per core, each polling a group of topics
and parsing each partition's slice column-wise with Arrow (``columnar``; a slice with anything
unusual in it goes record by record through ``envelope``, which dead-letters poison and keeps
unknown columns). This process only writes: Arrow files committed to Delta by a writer thread
(``arrow_delta``). While the writer is busy, incoming polls are merged into one pending batch,
so a slow commit makes the next batch bigger instead of a queue longer: latency stays near one
write, and each table gets one commit per batch whatever the change rate.

``run`` sets a run up from a ``ConsumerConfig``; ``Consumer`` is its loop, one small method per
step; the messages from the readers are those of ``protocol``.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import queue
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
from kafka import KafkaConsumer, OffsetAndMetadata, TopicPartition
from kafka.errors import KafkaError

from core import kafka_access
from core.disk import require_free_space
from core.session import WRITE_ONLY_JVM_OPTIONS, get_spark
from core.settings import get_settings
from schemas.contracts import Contract
from spark_jobs import arrow_delta, bronze
from spark_jobs.cdc import changes, positions, source_health
from spark_jobs.cdc.protocol import Message, read_frames, write_frame
from spark_jobs.cdc.reader import Batch, ReaderConfig, Share, existing_partitions

log = logging.getLogger("cdc.consumer")
GROUP_ID = kafka_access.CAPTURE_GROUP
REPO_DIR = Path(__file__).resolve().parents[2]


@dataclass
class RunStats:
    batches: int = 0
    changes: int = 0
    tombstones: int = 0
    dead_letters: int = 0
    per_table: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    seconds: float = 0.0
    gaps: list[positions.Gap] = field(default_factory=list)

    def summary(self) -> str:
        tables = ", ".join(f"{t}={n}" for t, n in sorted(self.per_table.items())) or "none"
        text = (
            f"cdc: {self.changes} changes landed in {self.batches} batches "
            f"({self.tombstones} tombstones skipped, {self.dead_letters} dead letters) "
            f"in {self.seconds:.1f}s; per table: {tables}"
        )
        for gap in self.gaps:
            text += f"\ncdc: STOPPED {gap.text()}"
        return text


class BatchWriter:
    """Writes parsed batches to bronze in order, in its own thread."""

    def __init__(self, spark, contracts_by_topic, stats: RunStats, run_id: str):
        self.spark, self.contracts_by_topic, self.stats, self.run_id = spark, contracts_by_topic, stats, run_id
        self.queue: queue.Queue[Batch | None] = queue.Queue(maxsize=1)
        self.error: BaseException | None = None
        self.written: dict[TopicPartition, int] = {}
        self.metrics: list[tuple] = []
        self.lock = threading.Lock()
        self.locations = {
            t: bronze.table_location(spark, changes.change_table_for(c)) for t, c in contracts_by_topic.items()
        }
        # Each table's append is its own Spark job: run them side by side.
        self.pool = ThreadPoolExecutor(max_workers=6, thread_name_prefix="bronze-append")
        # Checkpoints of the change tables, one at a time beside the appends (not inline in a commit).
        self.checkpointer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="bronze-checkpoint")
        self.versions: dict[str, int] = {}
        self.checkpointing: set[str] = set()
        self.landed: Counter[str] = Counter()  # change table -> rows landed since take_landed()
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
        while self.thread.is_alive():  # a writer that failed takes nothing more from a full queue
            try:
                self.queue.put(None, timeout=1)
                break
            except queue.Full:
                continue
        self.thread.join()
        self.pool.shutdown(wait=True)
        self.checkpointer.shutdown(wait=True)
        self.raise_if_failed()
        self.flush_metrics()

    def flush_metrics(self) -> None:
        with self.lock:
            rows, self.metrics = self.metrics, []
        if rows:
            bronze.append(self.spark.createDataFrame(rows, changes.BATCHES_SCHEMA), changes.BATCHES_TABLE)

    def _append(self, batch: Batch, topic: str, tables: list[pa.Table]) -> None:
        contract = self.contracts_by_topic[topic]
        table = changes.change_table_for(contract)
        t0 = time.monotonic()
        ingested_at = bronze.now_utc()
        parsed = tables[0] if len(tables) == 1 else pa.concat_tables(tables)
        version = changes.append_changes(
            self.spark, contract, changes.stamp_ingested_at(contract, parsed, ingested_at), self.locations[topic]
        )
        secs = time.monotonic() - t0
        self._checkpoint_if_due(topic, version)
        self._record(batch, topic, table, parsed, ingested_at, secs)

    def _record(
        self, batch: Batch, topic: str, table: str, parsed: pa.Table, ingested_at: datetime, secs: float
    ) -> None:
        """The append's row of ``changes.BATCHES_TABLE`` (written by ``flush_metrics``) and the run's counts."""
        n = parsed.num_rows
        offsets = pc.min_max(parsed.column("kafka_offset"))
        age_us = pc.subtract(int(ingested_at.timestamp() * 1_000_000), parsed.column("source_ts").cast(pa.int64()))
        p50, p95 = (q / 1e6 for q in pc.quantile(age_us, q=[0.5, 0.95], interpolation="nearest").to_pylist())
        with self.lock:
            self.metrics.append(
                (
                    self.run_id,
                    batch.number,
                    table,
                    n,
                    sum(1 for d in batch.dead if d[0] == topic),
                    offsets["min"].as_py(),
                    offsets["max"].as_py(),
                    batch.lag.get(topic),
                    secs,
                    n / secs if secs else None,
                    p50,
                    p95,
                    bronze.now_utc(),
                )
            )
            self.stats.per_table[table] += n
            self.stats.changes += n
            self.landed[table] += n

    def take_landed(self) -> dict[str, int]:
        with self.lock:
            landed, self.landed = dict(self.landed), Counter()
        return landed

    def _checkpoint_if_due(self, topic: str, version: int) -> None:
        with self.lock:
            due = (
                changes.checkpoint_due(self.versions.get(topic, version - 1), version)
                and topic not in self.checkpointing
            )
            self.versions[topic] = version
            if due:
                self.checkpointing.add(topic)
        if due:
            self.checkpointer.submit(self._checkpoint, topic)

    def _checkpoint(self, topic: str) -> None:
        try:
            arrow_delta.checkpoint(self.spark, self.locations[topic], keep_log_s=changes.CHANGE_LOG_KEEP_S)
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
        changes.merge_dead_letters(self.spark, batch.dead)
        for future in [self.pool.submit(self._append, batch, topic, rows) for topic, rows in batch.changes.items()]:
            future.result()
        self.stats.dead_letters += len(batch.dead)
        self.stats.tombstones += batch.tombstones
        self.stats.batches += 1
        with self.lock:
            self.written.update(batch.next_offsets)
        log.info(
            "batch %d: %d changes, %d dead letters written in %.1fs",
            batch.number,
            sum(t.num_rows for ts in batch.changes.values() for t in ts),
            len(batch.dead),
            time.monotonic() - started,
        )


def reader_groups(backlog: dict[str, int], readers: int, partitions: dict[str, int] | None = None) -> list[list[Share]]:
    """Topics split into at most ``readers`` groups of about equal backlog (largest first, each
    to the lightest group): a reader's pace is set by the records it has to decode. A topic with
    more than a reader's fair part of the backlog is read in shares of its partitions by as many
    readers (at most one share per partition, ``partitions``: topic -> count), each in another
    group."""
    readers = max(1, readers)
    total = sum(backlog.values())
    shares: list[Share] = []
    for topic in backlog:
        fair = -(-backlog[topic] * readers // total) if total else 1  # ceil
        n = max(1, min(readers, (partitions or {}).get(topic, 1), fair))
        shares += [Share(topic, k, n) for k in range(n)]
    groups: list[list[Share]] = [[] for _ in range(min(readers, len(shares)) or 1)]
    load = [(0, 0)] * len(groups)  # (records, shares): empty topics spread out too
    for share in sorted(shares, key=lambda s: (-backlog[s.topic] / s.slots, s.topic, s.slot)):
        free = [i for i, g in enumerate(groups) if all(s.topic != share.topic for s in g)]
        i = min(free, key=lambda i: load[i])
        groups[i].append(share)
        load[i] = (load[i][0] + backlog[share.topic] // share.slots, load[i][1] + 1)
    return [g for g in groups if g]


class Readers:
    """The reader processes (``reader``) and a thread per process that unpickles its messages
    into one inbox: ``(reader index, message)``; ``(Message.EXIT, code)`` when a process ends."""

    def __init__(self, configs: list[ReaderConfig], inbox_size: int = 4):
        self.inbox: queue.Queue[tuple[int, tuple[Any, ...]]] = queue.Queue(maxsize=inbox_size)
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO_DIR), os.environ.get("PYTHONPATH")])))
        self.procs: list[subprocess.Popen[bytes]] = [
            subprocess.Popen(
                [sys.executable, "-m", "spark_jobs.cdc.reader"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
            )
            for _ in configs
        ]
        for proc, cfg in zip(self.procs, configs):
            assert proc.stdin is not None  # stdin=PIPE
            write_frame(proc.stdin, (cfg,))
        self.threads = [
            threading.Thread(target=self._pump, args=(i, p), name=f"cdc-reader-{i}", daemon=True)
            for i, p in enumerate(self.procs)
        ]
        for t in self.threads:
            t.start()

    def _pump(self, i: int, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None  # stdout=PIPE
        try:
            for message in read_frames(proc.stdout):
                self.inbox.put((i, message))
        except Exception:  # noqa: BLE001 - a message this process cannot read fails the run
            proc.kill()
            self.inbox.put((i, (Message.ERROR, traceback.format_exc())))
        self.inbox.put((i, (Message.EXIT, proc.wait())))

    def stop(self) -> None:
        """Ask every reader to finish: each sends what it has read, then ``(Message.DONE,)``."""
        for p in self.procs:
            if p.stdin and not p.stdin.closed:
                with contextlib.suppress(BrokenPipeError):
                    p.stdin.close()

    def close(self) -> None:
        self.stop()
        for p in self.procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@dataclass(frozen=True)
class ConsumerConfig:
    """How a run consumes; the defaults are ``python -m spark_jobs.cdc.consumer``'s.

    The run ends once every partition is at its end offset (``until_caught_up``), or else runs
    on, a reader polling again ``interval_s`` after finding nothing; ``max_seconds`` stops it
    (each reader sends what it has read) after that long. A reader's poll takes at most
    ``max_records``. A batch goes to the writer once it holds ``min_batch`` records, or a poll
    finds nothing, or it is ``linger_s`` old (``trickle_linger_s`` when nothing more is waiting
    in Kafka); at ``max_pending`` records the run waits for the writer (back-pressure).
    ``readers`` reader processes (default: one per core, at most one per topic).
    ``write_only_jvm`` starts the JVM (if the run starts it) with ``WRITE_ONLY_JVM_OPTIONS``."""

    until_caught_up: bool = True
    interval_s: float = 5.0
    max_records: int = 20_000
    max_seconds: float | None = None
    min_batch: int = 150_000
    linger_s: float = 2.0
    trickle_linger_s: float = 2.0
    max_pending: int = 300_000
    readers: int | None = None
    write_only_jvm: bool = True
    announce_every_s: float | None = None


class Consumer:
    """A run's loop: the readers' messages in, batches out to the writer. Polls that arrive
    while the writer is busy are merged into one pending batch; the offsets the writer has
    landed are committed to Kafka (for lag monitoring only: the position of record is the
    bronze tables)."""

    def __init__(
        self,
        config: ConsumerConfig,
        groups: list[list[Share]],
        readers: Readers,
        writer: BatchWriter,
        kafka: KafkaConsumer,
        started: float,
        started_event: threading.Event | None = None,
    ):
        self.config, self.groups, self.readers, self.writer, self.kafka = config, groups, readers, writer, kafka
        self.started, self.started_event = started, started_event
        self.pending: Batch | None = None
        self.batches = 0  # readers number their own polls; ops.cdc_batches needs one sequence
        self.committed: dict[TopicPartition, int] = {}
        self.polling: set[int] = set()  # readers that have polled
        self.done: set[int] = set()  # readers that have sent all they will
        self.stopping = False

    def run(self) -> None:
        """Until every reader is done and the last batch is handed over; then the writer finishes."""
        while len(self.done) < len(self.groups) or self.pending is not None:
            self.writer.raise_if_failed()
            i, message = self._next_message()
            self._receive(i, message)
            self._hand_over(polled=message[0] == Message.BATCH)
            self._commit_written()
            self._stop_if_overdue()
        self.writer.close()

    def _next_message(self) -> tuple[int, tuple[Any, ...]]:
        try:
            return self.readers.inbox.get(timeout=0.2)
        except queue.Empty:
            return -1, (Message.IDLE,)

    def _receive(self, i: int, message: tuple[Any, ...]) -> None:
        match message[0]:
            case Message.BATCH:
                self._merge(message[1])
            case Message.POLLING:
                self._polled(i)
            case Message.DONE:
                self.done.add(i)
            case Message.ERROR:
                raise RuntimeError(f"cdc reader of {', '.join(map(str, self.groups[i]))} failed:\n{message[1]}")
            case Message.GAP:
                _, topic, partition, at, earliest, end = message
                reason = f"records from {at} on are no longer in Kafka (earliest kept {earliest}, end {end})"
                self._gap(positions.Gap(topic, partition, at, earliest, end, reason))
            case Message.EXIT if i not in self.done:
                group = ", ".join(map(str, self.groups[i]))
                raise RuntimeError(f"cdc reader of {group} exited with code {message[1]} before it was done")

    def _gap(self, gap: positions.Gap) -> None:
        log.error("cdc: %s", gap.text())
        self.writer.stats.gaps.append(gap)
        positions.record_gaps(self.writer.spark, self.writer.run_id, [gap], "open", bronze.now_utc())

    def _merge(self, batch: Batch) -> None:
        if self.pending is None:
            self.batches += 1
            batch.number = self.batches
            self.pending = batch
        else:
            self.pending.absorb(batch)

    def _polled(self, i: int) -> None:
        self.polling.add(i)
        if self.started_event is not None and len(self.polling) == len(self.groups):
            self.started_event.set()

    def _hand_over(self, polled: bool) -> None:
        """The pending batch to the writer: waiting for it once the batch holds ``max_pending``
        records, else only if it is free and the batch is ready (or this turn brought no poll)."""
        pending = self.pending
        if pending is None:
            return
        if pending.size >= self.config.max_pending:
            self.writer.submit(pending)
            self.pending = None
        elif (
            # A turn with no poll (the readers found nothing) hands the batch over at once when
            # the run ends once caught up; an always-on run still commits a trickle at most every
            # trickle_linger_s: each commit adds files to the change log that every reader lists.
            (not polled and (self.config.until_caught_up or pending.age_s >= self.config.trickle_linger_s))
            or pending.ready(self.config.min_batch, self.config.linger_s, self.config.trickle_linger_s)
        ) and self.writer.offer(pending):
            self.pending = None

    def _commit_written(self) -> None:
        with self.writer.lock:
            written = {tp: off for tp, off in self.writer.written.items() if self.committed.get(tp) != off}
        if written:
            self.kafka.commit({tp: OffsetAndMetadata(off, None, -1) for tp, off in written.items()})
            self.committed.update(written)

    def _stop_if_overdue(self) -> None:
        max_seconds = self.config.max_seconds
        if not self.stopping and max_seconds is not None and time.monotonic() - self.started > max_seconds:
            self.readers.stop()
            self.stopping = True


def run(config: ConsumerConfig | None = None, started_event: threading.Event | None = None) -> RunStats:
    """Consume as ``config`` says (default: until caught up). Each Delta commit has a fixed cost,
    so a backlog is written in few large commits and a trickle in about one per table every two seconds.
    Topics are read by reader processes, grouped by backlog. ``started_event`` is set once every
    reader has polled (a benchmark starts its load then)."""
    config = config or ConsumerConfig()
    settings = get_settings()
    contracts = changes.cdc_contracts()
    contracts_by_topic = {changes.topic_for(c): c for c in contracts}
    spark = get_spark("cdc-consumer", WRITE_ONLY_JVM_OPTIONS if config.write_only_jvm else None)
    require_free_space(settings.warehouse_dir, "cdc consumer")
    changes.ensure_tables(spark, contracts)
    source_health.check(spark, sorted({c.source for c in contracts}), bronze.now_utc())
    kafka = _kafka_consumer(settings.kafka_bootstrap)
    stats = RunStats()
    writer = BatchWriter(spark, contracts_by_topic, stats, f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{uuid.uuid4().hex[:6]}")
    start, bases = _start_positions(spark, kafka, contracts_by_topic, writer, settings.kafka_bootstrap)
    _commit_start(kafka, start)
    contracts_by_topic = {t: c for t, c in contracts_by_topic.items() if t not in {g.topic for g in stats.gaps}}
    started = time.monotonic()
    backlog, partitions = _backlog(kafka, list(contracts_by_topic), start)
    groups = reader_groups(backlog, config.readers or os.cpu_count() or 1, partitions)
    readers = Readers(_reader_configs(config, groups, contracts_by_topic, start, bases, settings.kafka_bootstrap))
    log.info("cdc: %d readers: %s", len(groups), "; ".join(", ".join(map(str, g)) for g in groups))
    announcing = _Announcing(writer, contracts, config.announce_every_s) if config.announce_every_s else None
    try:
        Consumer(config, groups, readers, writer, kafka, started, started_event).run()
    finally:
        stats.seconds = time.monotonic() - started
        readers.close()
        kafka.close()
        if announcing is not None:
            announcing.close()
    return stats


class _Announcing:
    """Airflow asset events for the bronze tables that received changes: every ``every_s``, one
    event per table with how many landed, as soon as they are readable (merge on read: the
    tables are views over the change logs' tails). An event Airflow did not take is kept."""

    def __init__(self, writer: Any, contracts: list[Contract], every_s: float, announcer: Any = None):
        from core.airflow_client import AssetAnnouncer, bronze_uri

        self.writer, self.every_s = writer, every_s
        self.uris = {changes.change_table_for(c): bronze_uri(f"{c.source}_{c.name}") for c in contracts}
        self.announcer = announcer or AssetAnnouncer(log=log)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._loop, name="asset-events", daemon=True)
        self.thread.start()

    def _round(self) -> None:
        news = {self.uris[t]: {"changes": n} for t, n in self.writer.take_landed().items() if t in self.uris}
        if news or self.announcer.pending:
            self.announcer.announce(news)

    def _loop(self) -> None:
        while not self.stop.wait(self.every_s):
            self._round()

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        self._round()


def _start_positions(
    spark, kafka: KafkaConsumer, contracts_by_topic: dict[str, Contract], writer: BatchWriter, bootstrap: str
) -> tuple[dict[tuple[str, int], int], dict[tuple[str, int], int]]:
    """The Kafka offset each partition's reader starts at, and the offset bases (``positions``).
    A topic with a gap is left out: recorded in ``ops.cdc_gaps``, alerted, in the run's stats."""
    landed = changes.committed_offsets(spark, [changes.change_table_for(c) for c in contracts_by_topic.values()])
    view = positions.kafka_view(bootstrap, list(contracts_by_topic), kafka)
    start: dict[tuple[str, int], int] = {}
    bases: dict[tuple[str, int], int] = {}
    gaps: list[positions.Gap] = []
    for topic, contract in contracts_by_topic.items():
        table = changes.change_table_for(contract)
        plan = positions.plan_topic(
            topic, positions.read_mark(spark, table), view, {p: o for (t, p), o in landed.items() if t == topic}
        )
        if plan.mark is not None:
            positions.write_mark(spark, table, plan.mark)
        gaps.extend(plan.gaps)
        start.update({(topic, p): o for p, o in plan.positions.items()})
        bases.update({(topic, p): b for p, b in plan.base.items() if b})
    for gap in gaps:
        log.error("cdc: %s", gap.text())
    writer.stats.gaps.extend(gaps)
    positions.record_gaps(spark, writer.run_id, gaps, "open", bronze.now_utc())
    return start, bases


def _commit_start(kafka: KafkaConsumer, start: dict[tuple[str, int], int]) -> None:
    """The group's committed offsets follow bronze from the start: lag measured against them
    (the capture service's) is right before the first batch lands, and after a crash that
    landed a batch without committing it."""
    if start:
        with contextlib.suppress(KafkaError):  # monitoring only
            kafka.commit(
                {TopicPartition(t, p): OffsetAndMetadata(o, None, -1) for (t, p), o in start.items()}, timeout_ms=10_000
            )


def _kafka_consumer(bootstrap: str) -> KafkaConsumer:
    """The consumer group's client: it commits the landed offsets, for lag monitoring only."""
    try:
        return KafkaConsumer(
            **kafka_access.login("capture", bootstrap),
            group_id=GROUP_ID,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=8 * 1024 * 1024,
        )
    except KafkaError as e:
        raise SystemExit(  # noqa: B904 - the message says all; a traceback would hide it
            f"cdc: no Kafka broker at {bootstrap} ({e}). Start it: infra/stack.sh start kafka"
        )


def _reader_configs(
    config: ConsumerConfig,
    groups: list[list[Share]],
    contracts_by_topic: dict[str, Contract],
    start: dict[tuple[str, int], int],
    bases: dict[tuple[str, int], int],
    bootstrap: str,
) -> list[ReaderConfig]:
    def mine(g: list[Share], key: tuple[str, int]) -> bool:
        return any(s.topic == key[0] and s.reads(key[1]) for s in g)

    return [
        ReaderConfig(
            {s.topic: contracts_by_topic[s.topic] for s in g},
            {k: v for k, v in start.items() if mine(g, k)},
            bootstrap,
            os.getpid(),
            config.until_caught_up,
            config.interval_s,
            config.max_records,
            {k: v for k, v in bases.items() if mine(g, k)},
            {s.topic: s for s in g},
        )
        for g in groups
    ]


def _backlog(
    consumer: KafkaConsumer, topics: list[str], start: dict[tuple[str, int], int]
) -> tuple[dict[str, int], dict[str, int]]:
    """Records waiting per topic from the start positions (0 for a topic not there yet), and
    each topic's partitions."""
    tps = existing_partitions(consumer, topics)
    ends = consumer.end_offsets(tps) if tps else {}
    backlog = dict.fromkeys(topics, 0)
    partitions = dict.fromkeys(topics, 1)
    for tp, end in ends.items():
        backlog[tp.topic] += max(0, end - start.get((tp.topic, tp.partition), 0))
        partitions[tp.topic] = max(partitions[tp.topic], tp.partition + 1)
    return backlog, partitions


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--until-caught-up",
        action="store_true",
        default=True,
        help="consume until every partition is at its end offset, then exit (default)",
    )
    mode.add_argument(
        "--interval", type=float, metavar="SECONDS", help="run continuously, polling again after SECONDS when idle"
    )
    parser.add_argument(
        "--apply",
        action="store_true",
        help="once caught up, apply the change logs to the current-state tables in the same "
        "Spark session (one JVM start; Airflow runs the two as separate tasks)",
    )
    parser.add_argument(
        "--announce",
        type=float,
        metavar="SECONDS",
        help="every SECONDS, post an Airflow asset event for each bronze table that received changes",
    )
    parser.add_argument(
        "--readers",
        type=int,
        metavar="N",
        help="reader processes polling Kafka (default: one per core, at most one per topic)",
    )
    args = parser.parse_args(argv)
    if args.apply and args.interval is not None:
        parser.error("--apply needs a run that ends: leave out --interval")
    return args


def group_offsets(bootstrap: str) -> tuple[dict[TopicPartition, int], dict[TopicPartition, int]]:
    """Kafka's end offsets of the CDC topics, and the offsets this consumer group committed
    (what it landed: it commits after each Delta commit)."""
    from kafka import KafkaAdminClient

    topics = [changes.topic_for(c) for c in changes.cdc_contracts()]
    admin = KafkaAdminClient(**kafka_access.login("capture", bootstrap), request_timeout_ms=10_000)
    kafka = KafkaConsumer(
        **kafka_access.login("capture", bootstrap), enable_auto_commit=False, request_timeout_ms=10_000
    )
    try:
        tps = existing_partitions(kafka, topics)
        end = kafka.end_offsets(tps) if tps else {}
        committed = admin.list_group_offsets(GROUP_ID).get(GROUP_ID, {})
    finally:
        kafka.close()
        admin.close()
    return end, {tp: meta.offset for tp, meta in committed.items()}


def wait_until_landed(timeout_s: float = 900.0, poll_s: float = 2.0, clock=time.monotonic, sleep=time.sleep) -> int:
    """With another consumer running (the capture service): block until it has landed every
    change the CDC topics held when this was called; the records it landed meanwhile. A
    TimeoutError names the partitions still behind."""
    bootstrap = get_settings().kafka_bootstrap
    end, committed = group_offsets(bootstrap)
    first = dict(committed)
    deadline = clock() + timeout_s
    while behind := {
        f"{tp.topic}[{tp.partition}]": off - committed.get(tp, 0)
        for tp, off in end.items()
        if committed.get(tp, 0) < off
    }:
        if clock() > deadline:
            raise TimeoutError(f"the capture service has not landed these records in {timeout_s:.0f}s: {behind}")
        sleep(poll_s)
        committed = group_offsets(bootstrap)[1]
    return sum(off - first.get(tp, 0) for tp, off in end.items() if first.get(tp, 0) < off)


def main(argv: list[str] | None = None) -> int:
    args = _parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("kafka").setLevel(logging.WARNING)
    try:
        stats = run(
            ConsumerConfig(
                until_caught_up=args.interval is None,
                interval_s=args.interval or 5.0,
                readers=args.readers,
                # C1 only starts fast and suits a run that ends; an always-on run lives long
                # enough for C2's code to pay back.
                write_only_jvm=not args.apply and args.interval is None,
                announce_every_s=args.announce,
            )
        )
    except RuntimeError as e:
        if isinstance(e.__cause__, arrow_delta.AlreadyLanded):
            print(f"cdc: stopped, nothing landed twice: {e.__cause__}", file=sys.stderr)
            return 4
        raise
    print(stats.summary())
    if stats.gaps:
        # The other topics landed; the run still fails, so a scheduler shows it.
        return 3
    if args.apply:
        from spark_jobs.cdc import current_state

        for r in current_state.run(get_spark("cdc-consumer")):
            print(r.summary())
    return 0


if __name__ == "__main__":
    sys.exit(main())
