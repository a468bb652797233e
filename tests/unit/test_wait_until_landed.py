"""The full build's capture step with the capture service up: it waits until the service has
landed what Kafka held when it started, and names what is still behind when it gives up."""

from __future__ import annotations

import pytest
from kafka import TopicPartition

from spark_jobs.cdc import consumer

A, B = TopicPartition("bss.public.orders", 0), TopicPartition("crm.public.customers", 0)


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self) -> float:
        return self.t

    def sleep(self, s: float) -> None:
        self.t += s


def _offsets(monkeypatch, answers):
    """group_offsets answers these (end, committed) pairs in turn, the last one from then on."""
    calls = []

    def group_offsets(bootstrap):
        calls.append(bootstrap)
        return answers[min(len(calls), len(answers)) - 1]

    monkeypatch.setattr(consumer, "group_offsets", group_offsets)
    return calls


def test_it_waits_for_the_end_offsets_of_its_start_not_later_ones(monkeypatch):
    calls = _offsets(
        monkeypatch,
        [
            ({A: 100, B: 50}, {A: 40, B: 50}),
            ({A: 180, B: 60}, {A: 90, B: 50}),  # the ends move on; only the first ones count
            ({A: 250, B: 70}, {A: 100, B: 55}),
        ],
    )
    clock = Clock()
    assert consumer.wait_until_landed(timeout_s=60, poll_s=2, clock=clock, sleep=clock.sleep) == 60
    assert len(calls) == 3 and clock.t == 4


def test_it_names_the_partitions_still_behind_when_it_gives_up(monkeypatch):
    _offsets(monkeypatch, [({A: 100, B: 50}, {A: 40, B: 50})])
    clock = Clock()
    with pytest.raises(TimeoutError, match=r"bss\.public\.orders\[0\]': 60"):
        consumer.wait_until_landed(timeout_s=10, poll_s=2, clock=clock, sleep=clock.sleep)
    assert clock.t >= 10
