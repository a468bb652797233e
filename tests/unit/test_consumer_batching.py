"""When the consumer hands a batch to the writer, how readers split and follow the topics, and
when a change table is checkpointed."""

from __future__ import annotations

import time

from kafka import TopicPartition

from spark_jobs.cdc.changes import CHECKPOINT_INTERVAL, checkpoint_due
from spark_jobs.cdc.consumer import reader_groups
from spark_jobs.cdc.reader import Assignment, Batch, Share


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
    assert _names(groups) == [["orders", "products", "usage"], ["tickets", "subscribers", "customers"]]
    assert _names(reader_groups(backlog, readers=8)) == [[t] for t in sorted(backlog, key=lambda t: -backlog[t])]
    assert _names(reader_groups({"a": 0}, readers=0)) == [["a"]]


def _names(groups):
    return [[str(s) for s in g] for g in groups]


def test_a_topic_heavier_than_a_readers_part_is_read_in_shares_of_its_partitions():
    backlog = {"orders": 900, "tickets": 60, "products": 0}
    # One partition: one reader has it all, whatever the backlog.
    assert _names(reader_groups(backlog, 2, {"orders": 1})) == [["orders"], ["tickets", "products"]]
    # Four: two shares, one per reader; every partition read by exactly one of them.
    groups = reader_groups(backlog, 2, {"orders": 4, "tickets": 4, "products": 4})
    assert _names(groups) == [["orders[0/2]", "tickets"], ["orders[1/2]", "products"]]
    orders = [s for g in groups for s in g if s.topic == "orders"]
    assert sorted(p for p in range(4) for s in orders if s.reads(p)) == [0, 1, 2, 3]
    # More readers than topics: the heavy topic takes the spare ones, up to its partitions.
    groups = reader_groups(backlog, 8, {"orders": 4, "tickets": 4, "products": 4})
    assert sorted(str(s) for g in groups for s in g if s.topic == "orders") == [f"orders[{k}/4]" for k in range(4)]
    assert all(len({s.topic for s in g}) == len(g) for g in groups)  # never two shares of a topic in one reader


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


def test_a_share_assigns_only_its_partitions_also_those_added_later(monkeypatch):
    clock = [100.0]
    monkeypatch.setattr("spark_jobs.cdc.reader.time.monotonic", lambda: clock[0])
    consumer = _FakeConsumer({"orders": 4, "tickets": 2})
    assignment = Assignment(consumer, ["orders", "tickets"], {("orders", 1): 7}, {"orders": Share("orders", 1, 2)})
    assert assignment.refresh() == [TopicPartition("orders", p) for p in (1, 3)] + [
        TopicPartition("tickets", p) for p in (0, 1)
    ]
    assert consumer.seeks[("orders", 1)] == 7
    consumer.partitions["orders"] = 6
    clock[0] += Assignment.ALL_TOPICS_S
    assert [tp.partition for tp in assignment.refresh() if tp.topic == "orders"] == [1, 3, 5]
