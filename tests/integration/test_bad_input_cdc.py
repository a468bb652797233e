"""A few items of the CDC bad-input corpus through the real Kafka and the real consumer process:
each dead-lettered at its own offset with its reason, the tombstone skipped, and the consumer
exits 0. Only items that must not land: a landed one would change the real current state. Among
them those that once stopped the reader (a JSON null crashed Arrow, deep nesting Python's json)."""

from __future__ import annotations

import pytest
from kafka import KafkaProducer

from core import kafka_access
from core.sql import thrift_query
from spark_jobs.cdc import changes
from tests.bad_inputs import load_cdc_corpus
from tests.integration.cdc_helpers import run_job

pytestmark = pytest.mark.integration
PRODUCED = (
    "decimal-scale",
    "json-null",
    "deeply-nested-json",
    "required-column-null",
    "unknown-table",
    "op-not-a-string",
    "tombstone-alone",
)
TABLES = {changes.topic_for(c): c for c in changes.cdc_contracts()}


def test_corpus_items_through_kafka_are_dead_lettered_at_their_offsets():
    items = [i for i in load_cdc_corpus() if i.id in PRODUCED]
    producer = KafkaProducer(**kafka_access.login("admin"))
    sent = []  # (item, topic, partition, offset)
    for item in items:
        for key, value in item.messages:
            meta = producer.send(item.topic, key=key, value=value).get(timeout=10)
            sent.append((item, meta.topic, meta.partition, meta.offset))
    producer.close()

    out = run_job("spark_jobs.cdc.consumer")  # asserts exit 0
    assert "dead letters" in out, out

    for item, topic, partition, offset in sent:
        where = f"kafka_topic = '{topic}' and kafka_partition = {partition} and kafka_offset = {offset}"
        dead = thrift_query(f"select error from {changes.dead_letter_table()} where {where}")
        table = changes.change_table_for(TABLES[topic])
        landed = thrift_query(f"select count(*) from {table} where {where}")[0][0]
        if item.dead:
            assert len(dead) == 1 and item.expect["reason"] in dead[0][0], (item.id, dead)
        else:
            assert dead == [], (item.id, dead)
        assert landed == item.landed, item.id
