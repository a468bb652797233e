"""When the consumer hands a batch to the writer, and when it checkpoints a change table."""

from __future__ import annotations

import time

from spark_jobs.cdc.bronze import CHECKPOINT_INTERVAL, checkpoint_due
from spark_jobs.cdc.consumer import reader_groups
from spark_jobs.cdc.reader import Batch


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
