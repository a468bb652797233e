"""The consumer's loop (``Consumer``) with fake readers, writer and Kafka client, and its
configuration: the defaults are those of the keyword arguments ``run`` had before it."""

from __future__ import annotations

import dataclasses
import queue
import threading
import time

import pytest
from kafka import TopicPartition

from spark_jobs.cdc import consumer
from spark_jobs.cdc.consumer import Consumer, ConsumerConfig
from spark_jobs.cdc.protocol import Message
from spark_jobs.cdc.reader import Batch


def test_the_config_defaults_are_the_old_keyword_defaults():
    assert dataclasses.asdict(ConsumerConfig()) == {
        "until_caught_up": True,
        "interval_s": 5.0,
        "max_records": 20_000,
        "max_seconds": None,
        "min_batch": 150_000,
        "linger_s": 2.0,
        "trickle_linger_s": 2.0,
        "max_pending": 300_000,
        "readers": None,
        "write_only_jvm": True,
        "announce_every_s": None,
    }
    with pytest.raises(dataclasses.FrozenInstanceError):
        ConsumerConfig().linger_s = 0.0  # type: ignore[misc]


def test_the_command_line_runs_with_the_defaults_or_what_it_is_told(monkeypatch):
    configs: list[ConsumerConfig] = []

    def run(config: ConsumerConfig) -> consumer.RunStats:
        configs.append(config)
        return consumer.RunStats()

    monkeypatch.setattr(consumer, "run", run)
    assert consumer.main([]) == 0
    assert consumer.main(["--interval", "0.5", "--readers", "3"]) == 0
    assert configs == [
        ConsumerConfig(),
        ConsumerConfig(until_caught_up=False, interval_s=0.5, readers=3, write_only_jvm=False),
    ]


class _Readers:
    def __init__(self, messages):
        self.inbox: queue.Queue = queue.Queue()
        for m in messages:
            self.inbox.put(m)
        self.stopped = False

    def stop(self):
        self.stopped = True


class _Writer:
    """Busy (refuses ``offer``) for the first ``busy`` offers; lands what it takes at once."""

    def __init__(self, busy: int = 0):
        self.busy, self.closed = busy, False
        self.taken: list[Batch] = []
        self.lock = threading.Lock()
        self.written: dict[TopicPartition, int] = {}

    def raise_if_failed(self):
        pass

    def offer(self, batch):
        if self.busy:
            self.busy -= 1
            return False
        self.submit(batch)
        return True

    def submit(self, batch):
        self.taken.append(batch)
        self.written.update(batch.next_offsets)

    def close(self):
        self.closed = True


class _Kafka:
    def __init__(self):
        self.commits = []

    def commit(self, offsets):
        self.commits.append({tp: o.offset for tp, o in offsets.items()})


def _poll(number: int, offset: int) -> Batch:
    return Batch(number, tombstones=1, next_offsets={TopicPartition("a", 0): offset})


def test_polls_arriving_while_the_writer_is_busy_are_merged_into_one_numbered_batch():
    messages = [
        (0, (Message.POLLING,)),
        (1, (Message.POLLING,)),
        (0, (Message.BATCH, _poll(7, 10))),
        (0, (Message.BATCH, _poll(8, 20))),
        (0, (Message.DONE,)),
        (1, (Message.DONE,)),
        (0, (Message.EXIT, 0)),
    ]
    writer, kafka, started = _Writer(busy=2), _Kafka(), threading.Event()
    config = ConsumerConfig(min_batch=1)
    Consumer(config, [["a"], ["b"]], _Readers(messages), writer, kafka, 0.0, started).run()  # type: ignore[arg-type]
    assert started.is_set() and writer.closed
    assert [(b.number, b.tombstones) for b in writer.taken] == [(1, 2)]
    assert kafka.commits == [{TopicPartition("a", 0): 20}]


def test_an_always_on_run_commits_a_trickle_once_it_is_old_enough_not_on_every_quiet_turn():
    readers = _Readers([(0, (Message.POLLING,)), (0, (Message.BATCH, _poll(7, 10)))])
    writer, taken_at = _Writer(), []
    writer.submit = lambda batch: (taken_at.append(time.monotonic()), _Writer.submit(writer, batch))  # type: ignore[method-assign]
    config = ConsumerConfig(until_caught_up=False, min_batch=1_000, trickle_linger_s=0.6)
    started = time.monotonic()
    threading.Timer(1.5, lambda: [readers.inbox.put(m) for m in [(0, (Message.DONE,)), (0, (Message.EXIT, 0))]]).start()
    Consumer(config, [["a"]], readers, writer, _Kafka(), 0.0, threading.Event()).run()  # type: ignore[arg-type]
    assert len(taken_at) == 1
    assert 0.6 <= taken_at[0] - started < 1.5, "held while young, committed once old, before the run ended"


def test_a_reader_that_exits_before_it_is_done_fails_the_run():
    readers = _Readers([(1, (Message.POLLING,)), (1, (Message.EXIT, -9))])
    loop = Consumer(ConsumerConfig(), [["a"], ["b", "c"]], readers, _Writer(), _Kafka(), 0.0)  # type: ignore[arg-type]
    with pytest.raises(RuntimeError, match="reader of b, c exited with code -9 before it was done"):
        loop.run()


class _Landed:
    def __init__(self):
        self.rounds = [{"bronze.bss_orders_changes": 3, "bronze.crm_customers_changes": 1}, {}]

    def take_landed(self):
        return self.rounds.pop(0) if self.rounds else {}


class _Announcer:
    def __init__(self):
        self.posted, self.pending = [], {}

    def announce(self, news):
        self.posted.append(news)
        return len(news)


def test_landed_changes_are_announced_per_bronze_table_and_quiet_rounds_post_nothing():
    from core.airflow_client import bronze_uri
    from spark_jobs.cdc import changes

    announcer = _Announcer()
    announcing = consumer._Announcing(_Landed(), changes.cdc_contracts(), every_s=3600, announcer=announcer)
    announcing._round()
    announcing._round()
    announcing.close()  # the last round runs on close: nothing landed since, nothing posted
    assert announcer.posted == [{bronze_uri("bss_orders"): {"changes": 3}, bronze_uri("crm_customers"): {"changes": 1}}]
