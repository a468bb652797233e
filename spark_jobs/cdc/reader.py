"""Read and parse CDC topics in a process of its own: ``python -m spark_jobs.cdc.reader``.

kafka-python decodes every record in Python (~20 µs each on this machine), most of a core on
its own. The consumer (``consumer.run``) starts one reader per group of topics, so reading and
parsing use every core and never wait for the GIL of the process that writes to Delta.

The reader gets its ``ReaderConfig`` on stdin, treats the end of stdin as "stop" and reports on
stdout, in the frames and ``Message`` kinds of ``protocol``. It keeps no state that matters:
positions are recovered from bronze by the consumer, so a reader that dies, or is orphaned by a
killed consumer (it notices and exits), loses nothing.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO, Any, NamedTuple

import pyarrow as pa
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import OffsetOutOfRangeError

from core import kafka_access
from schemas.contracts import Contract
from spark_jobs import bronze
from spark_jobs.cdc import changes, columnar
from spark_jobs.cdc.envelope import PoisonMessage, parse_event
from spark_jobs.cdc.protocol import Message, read_frames, write_frame


class Share(NamedTuple):
    """What one reader reads of a topic: the partitions ``p`` with ``p % slots == slot`` (all of
    them by default). A topic with more backlog than one reader decodes is read in shares by
    several, each partition by one reader only, so each partition's order is kept."""

    topic: str
    slot: int = 0
    slots: int = 1

    def reads(self, partition: int) -> bool:
        return partition % self.slots == self.slot

    def __str__(self) -> str:
        return self.topic if self.slots == 1 else f"{self.topic}[{self.slot}/{self.slots}]"


@dataclass
class ReaderConfig:
    topics: dict[str, Contract]  # topic -> its contract
    positions: dict[tuple[str, int], int]  # (topic, partition) -> next Kafka offset, from bronze
    bootstrap: str
    parent_pid: int
    until_caught_up: bool = True
    interval_s: float = 5.0
    max_records: int = 20_000
    # (topic, partition) -> what to add to a Kafka offset for the change log (``positions``)
    bases: dict[tuple[str, int], int] = field(default_factory=dict)
    # topic -> the share of its partitions this reader reads (absent: all of them)
    shares: dict[str, Share] = field(default_factory=dict)


@dataclass
class Batch:
    """One poll, parsed: change rows per topic (Arrow tables in ``changes.parsed_schema``), dead
    letters, and where each partition ends."""

    number: int
    changes: dict[str, list[pa.Table]] = field(default_factory=lambda: defaultdict(list))
    dead: list[tuple] = field(default_factory=list)
    tombstones: int = 0
    next_offsets: dict[TopicPartition, int] = field(default_factory=dict)
    lag: dict[str, int] = field(default_factory=dict)
    created: float = field(default_factory=time.monotonic)  # CLOCK_MONOTONIC: the same in every process

    def ready(self, min_batch: int, linger_s: float, trickle_linger_s: float) -> bool:
        """Big enough, or old enough: ``linger_s`` while a backlog lasts, ``trickle_linger_s``
        once caught up (so a trickle makes a commit per table every few seconds, not one per
        poll: each commit costs the JVM ~0.1 s and the checkpoints they add up to)."""
        if self.size >= min_batch:
            return True
        return self.age_s >= (linger_s if any(self.lag.values()) else trickle_linger_s)

    @property
    def age_s(self) -> float:
        return time.monotonic() - self.created

    @property
    def size(self) -> int:
        return sum(t.num_rows for ts in self.changes.values() for t in ts) + len(self.dead) + self.tombstones

    def absorb(self, later: Batch) -> None:
        """Append a later poll to this batch (same partitions keep their order)."""
        for topic, tables in later.changes.items():
            self.changes[topic].extend(tables)
        self.dead.extend(later.dead)
        self.tombstones += later.tombstones
        self.next_offsets.update(later.next_offsets)
        self.lag.update(later.lag)


def parse_poll(
    number: int, records_by_tp, contracts_by_topic, received_at: datetime, bases: dict | None = None
) -> Batch:
    """Each partition's records column-wise (``columnar``); a slice with anything unusual in it
    record by record, which dead-letters poison messages and keeps unknown columns. Change rows
    and dead letters carry the Kafka offset plus the partition's base (``positions``)."""
    batch = Batch(number)
    for tp, records in records_by_tp.items():
        contract = contracts_by_topic[tp.topic]
        base = (bases or {}).get((tp.topic, tp.partition), 0)
        batch.next_offsets[tp] = records[-1].offset + 1
        live = [r for r in records if r.value is not None]
        batch.tombstones += len(records) - len(live)  # a delete's tombstone: the delete event precedes it
        if not live:
            continue
        table = columnar.parse_slice(
            contract,
            changes.parsed_schema(contract),
            [r.key for r in live],
            [r.value for r in live],
            tp.topic,
            tp.partition,
            [r.offset + base for r in live],
        )
        if table is None:
            table = _parse_records(batch, tp, live, contract, received_at, base)
        if table.num_rows:
            batch.changes[tp.topic].append(table)
    return batch


def _parse_records(
    batch: Batch, tp: TopicPartition, records, contract: Contract, received_at: datetime, base: int = 0
) -> pa.Table:
    rows = []
    for rec in records:
        try:
            rows.append((parse_event(rec.key, rec.value, contract), tp.partition, rec.offset + base))
        except PoisonMessage as e:
            batch.dead.append((tp.topic, tp.partition, rec.offset + base, rec.key, rec.value, str(e), received_at))
    return changes.change_rows_arrow(contract, rows, tp.topic)


def existing_partitions(consumer: KafkaConsumer, topics: list[str]) -> list[TopicPartition]:
    """Every partition of those of ``topics`` that exist (a metadata request)."""
    existing = consumer.topics()
    return [
        TopicPartition(t, p) for t in topics if t in existing for p in sorted(consumer.partitions_for_topic(t) or ())
    ]


class Assignment:
    """The partitions of the reader's topics that exist, at their positions (recovered from
    bronze, then moved on by ``advance`` as batches are sent: ``assign`` forgets them). Topics
    that do not exist yet (before the connector's snapshot) are looked for every second, and
    partitions added to a topic every 30 s (a metadata request each time, so not every poll)."""

    MISSING_TOPICS_S = 1.0
    ALL_TOPICS_S = 30.0

    def __init__(
        self,
        consumer: KafkaConsumer,
        topics: list[str],
        positions: dict[tuple[str, int], int],
        shares: dict[str, Share] | None = None,
    ):
        self.consumer, self.topics, self.positions = consumer, topics, positions
        self.shares = shares or {}
        self.tps: list[TopicPartition] = []
        self.checked: float | None = None

    def refresh(self) -> list[TopicPartition]:
        every = self.ALL_TOPICS_S if {tp.topic for tp in self.tps} == set(self.topics) else self.MISSING_TOPICS_S
        if self.checked is not None and time.monotonic() - self.checked < every:
            return self.tps
        self.checked = time.monotonic()
        tps = [
            tp
            for tp in existing_partitions(self.consumer, self.topics)
            if self.shares.get(tp.topic, Share(tp.topic)).reads(tp.partition)
        ]
        if set(tps) != set(self.tps):
            self.consumer.assign(tps)
            for tp in tps:
                at = self.positions.get((tp.topic, tp.partition))
                if at is None:
                    self.consumer.seek_to_beginning(tp)
                else:
                    self.consumer.seek(tp, at)
            self.tps = tps
        return self.tps

    def advance(self, next_offsets: dict[TopicPartition, int]) -> None:
        for tp, offset in next_offsets.items():
            self.positions[(tp.topic, tp.partition)] = offset

    def drop(self, topic: str) -> None:
        """Stop reading ``topic`` (a gap): it is no longer looked for either."""
        self.topics = [t for t in self.topics if t != topic]
        self.tps = [tp for tp in self.tps if tp.topic != topic]
        self.consumer.assign(self.tps)


def _caught_up(consumer: KafkaConsumer, tps: list[TopicPartition]) -> bool:
    if not tps:
        return True
    ends = consumer.end_offsets(tps)
    return all(consumer.position(tp) >= ends[tp] for tp in tps)


def _lagging(consumer: KafkaConsumer, batch: Batch, polled: dict[TopicPartition, Any]) -> Batch:
    """The batch with the records still waiting after it in each polled topic (``Batch.lag``)."""
    for tp in polled:
        hw = consumer.highwater(tp)
        if hw is not None:
            batch.lag[tp.topic] = batch.lag.get(tp.topic, 0) + max(0, hw - batch.next_offsets[tp])
    return batch


def _poll(consumer: KafkaConsumer, assignment: Assignment, out: IO[bytes], max_records: int) -> dict:
    """One poll; a position Kafka no longer has (retention, deleted records, a wiped log) is
    reported as a gap and its topic dropped, where the default reset would skip silently."""
    try:
        return consumer.poll(timeout_ms=200, max_records=max_records)
    except OffsetOutOfRangeError as e:
        for tp, position in (e.args[0] if e.args and isinstance(e.args[0], dict) else {}).items():
            earliest = consumer.beginning_offsets([tp])[tp]
            end = consumer.end_offsets([tp])[tp]
            write_frame(out, (Message.GAP, tp.topic, tp.partition, position, earliest, end))
            assignment.drop(tp.topic)
        return {}


def read(cfg: ReaderConfig, out: IO[bytes], stop: threading.Event) -> None:
    consumer = KafkaConsumer(
        **kafka_access.login("capture", cfg.bootstrap),
        enable_auto_commit=False,
        auto_offset_reset="none",  # never jump over a gap: ``_poll``
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    assignment = Assignment(consumer, list(cfg.topics), dict(cfg.positions), cfg.shares)
    number, announced = 0, False
    try:
        while not stop.is_set() and os.getppid() == cfg.parent_pid:
            tps = assignment.refresh()
            polled = _poll(consumer, assignment, out, cfg.max_records) if tps else {}
            if not announced:
                write_frame(out, (Message.POLLING,))
                announced = True
            if polled:
                number += 1
                batch = _lagging(consumer, parse_poll(number, polled, cfg.topics, bronze.now_utc(), cfg.bases), polled)
                write_frame(out, (Message.BATCH, batch))
                assignment.advance(batch.next_offsets)
            elif cfg.until_caught_up and _caught_up(consumer, tps):
                break
            elif not cfg.until_caught_up:
                stop.wait(cfg.interval_s)
        write_frame(out, (Message.DONE,))
    finally:
        consumer.close()


def main() -> int:
    # Frames go to the real stdout; anything a library prints goes to stderr instead.
    out = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    cfg = next(read_frames(sys.stdin.buffer))[0]
    stop = threading.Event()

    def wait_for_stop():
        while os.read(sys.stdin.fileno(), 4096):  # b"" once the consumer closes our stdin (or dies)
            pass
        stop.set()

    threading.Thread(target=wait_for_stop, name="stop-on-stdin-eof", daemon=True).start()
    try:
        read(cfg, out, stop)
    except BrokenPipeError:
        return 1  # the consumer is gone: nothing to report to
    except BaseException:  # noqa: BLE001 - reported to the consumer, which fails the run
        with contextlib.suppress(BrokenPipeError):
            write_frame(out, (Message.ERROR, traceback.format_exc()))
        return 1
    return 0


if __name__ == "__main__":
    # Run as the importable module, so pickled Batches name spark_jobs.cdc.reader.Batch, not __main__.Batch.
    from spark_jobs.cdc import reader

    sys.exit(reader.main())
