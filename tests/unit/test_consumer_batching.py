"""When the consumer hands a batch to the writer, how readers split and follow the topics, and
when a change table is checkpointed."""

from __future__ import annotations

import time

from kafka import TopicPartition

from spark_jobs.cdc.changes import CHECKPOINT_INTERVAL, checkpoint_due
from spark_jobs.cdc.consumer import reader_groups
from spark_jobs.cdc.reader import Assignment, Batch


def _batch(lag: int, age_s: float, tombstones: int = 10) -> Batch:
    b = Batch(1, tombstones=tombstones, lag={"t": lag})
    b.created = time.monotonic() - age_s
    return b


def test_a_backlog_waits_for_a_big_batch_or_the_linger():
    assert not _batch(lag=5_000, age_s=1.5).ready(min_batch=100, linger_s=2.0, trickle_linger_s=1.0)
    assert _batch(lag=5_000, age_s=2.1).ready(min_batch=100, linger_s=2.0, trickle_linger_s=1.0)
    assert _batch(lag=5_000, age_s=0.0, tombstones=100).ready(min_batch=100, linger_s=2.0, trickle_linger_s=1.0)


def test_a_trickle_is_written_after_the_short_linger():
    assert not _batch(lag=0, age_s=0.5).ready(min_batch=100, linger_s=2.0, trickle_linger_s=1.0)
    assert _batch(lag=0, age_s=1.1).ready(min_batch=100, linger_s=2.0, trickle_linger_s=1.0)


def test_a_checkpoint_is_due_when_the_commits_cross_a_multiple_of_the_interval():
    n = CHECKPOINT_INTERVAL
    assert checkpoint_due(n - 1, n)
    assert checkpoint_due(n - 3, n + 2)  # another writer's commits in between
    assert not checkpoint_due(n, n + 1)
    assert not checkpoint_due(n + 1, 2 * n - 1)


def test_topics_are_grouped_by_backlog_for_the_readers():
    backlog = {"orders": 400, "tickets": 190, "subscribers": 120, "customers": 95, "products": 0, "usage": 0}
    groups = reader_groups(backlog, readers=2)
    assert groups == [["orders", "products", "usage"], ["tickets", "subscribers", "customers"]]
    assert reader_groups(backlog, readers=8) == [[t] for t in sorted(backlog, key=lambda t: -backlog[t])]
    assert reader_groups({"a": 0}, readers=0) == [["a"]]


class _FakeConsumer:
    """What Assignment uses of a KafkaConsumer: topics, partitions, assign and seeks."""

    def __init__(self, topics: dict[str, int]):
        self.partitions = topics
        self.seeks: dict[tuple[str, int], int | str] = {}

    def topics(self):
        return set(self.partitions)

    def partitions_for_topic(self, topic):
        return set(range(self.partitions[topic]))

    def assign(self, tps):
        self.seeks = {}  # Assignment seeks every partition after an assign, so seeks tell where each reads from

    def seek(self, tp, offset):
        self.seeks[(tp.topic, tp.partition)] = offset

    def seek_to_beginning(self, tp):
        self.seeks[(tp.topic, tp.partition)] = "beginning"


def test_a_topic_appearing_later_does_not_rewind_the_partitions_already_read(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("spark_jobs.cdc.reader.time.monotonic", lambda: clock[0])
    consumer = _FakeConsumer({"a": 1})
    assignment = Assignment(consumer, ["a", "b"], {("a", 0): 10})
    assert assignment.refresh() == [TopicPartition("a", 0)] and consumer.seeks == {("a", 0): 10}
    assignment.advance({TopicPartition("a", 0): 250})
    consumer.partitions["b"] = 2
    clock[0] += 0.5
    assert len(assignment.refresh()) == 1  # looked for again only after a second
    clock[0] += 0.6
    assert len(assignment.refresh()) == 3
    assert consumer.seeks == {("a", 0): 250, ("b", 0): "beginning", ("b", 1): "beginning"}
    consumer.partitions["b"] = 3  # partitions added to a topic are picked up, less often
    clock[0] += 5
    assert len(assignment.refresh()) == 3
    clock[0] += Assignment.ALL_TOPICS_S
    assert len(assignment.refresh()) == 4
