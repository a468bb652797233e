"""Where each CDC topic stands in Kafka, and whether bronze can go on from there.

Bronze's position of record is the last offset its change tables hold
(``changes.committed_offsets``). Kafka can lose what follows it: retention deletes records
while the pipeline is down, someone deletes records, a topic is recreated, or the broker's
data is wiped (offsets start again at 0). A reader seeking there would skip changes without a
trace, or never read new ones. So before reading, the consumer compares, per partition:

- the recovered position with the earliest offset Kafka still keeps (records deleted);
- the recovered position with the end offset (the log went back: wiped);
- the Kafka cluster id and topic id stored with the change table (``MARK_PROPERTY``, a table
  property) with the live ones (a wiped broker or a recreated topic).

A gap stops that topic, not the others: it is logged, written to ``ops.cdc_gaps`` and alerted.
``python -m spark_jobs.cdc.recover`` acknowledges it (the mark moves the position to the
earliest kept record), asks Debezium for an incremental re-snapshot of the table and resumes.

The change log's ``kafka_offset`` is the Kafka offset plus the partition's ``base`` in the mark:
0 until a recreated topic restarts its offsets, then the position bronze had reached, so the
offsets in bronze only ever grow (the current state's "applied up to" filter relies on it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import datetime

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from pyspark.sql import SparkSession
from pyspark.sql import types as T

from core import alerts, kafka_access
from spark_jobs import bronze

log = logging.getLogger("cdc.positions")
MARK_PROPERTY = "lakehouse.cdc.kafka"
GAPS_TABLE = "ops.cdc_gaps"
GAPS_SCHEMA = T.StructType(
    [
        T.StructField("run_id", T.StringType(), False),
        T.StructField("kafka_topic", T.StringType(), False),
        T.StructField("kafka_partition", T.IntegerType(), False),
        T.StructField("recovered_offset", T.LongType(), True),
        T.StructField("earliest_offset", T.LongType(), True),
        T.StructField("end_offset", T.LongType(), True),
        T.StructField("status", T.StringType(), False),  # open | acknowledged
        T.StructField("reason", T.StringType(), False),
        T.StructField("at", T.TimestampType(), False),
    ]
)


@dataclass
class Mark:
    """What a change table knows of the Kafka topic it reads: the ids it was read from, each
    partition's offset base and the position a recovery resumes from."""

    cluster_id: str
    topic_id: str
    base: dict[int, int] = field(default_factory=dict)
    resume: dict[int, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {
                "cluster_id": self.cluster_id,
                "topic_id": self.topic_id,
                "base": {str(p): v for p, v in sorted(self.base.items())},
                "resume": {str(p): v for p, v in sorted(self.resume.items())},
            },
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Mark:
        d = json.loads(text)
        return cls(
            d["cluster_id"],
            d["topic_id"],
            {int(p): int(v) for p, v in d.get("base", {}).items()},
            {int(p): int(v) for p, v in d.get("resume", {}).items()},
        )


@dataclass(frozen=True)
class KafkaView:
    """The live cluster: its id, each topic's id, each partition's earliest and end offsets."""

    cluster_id: str
    topic_ids: dict[str, str]
    earliest: dict[tuple[str, int], int]
    end: dict[tuple[str, int], int]

    def partitions(self, topic: str) -> list[int]:
        return sorted(p for t, p in self.end if t == topic)


@dataclass(frozen=True)
class Gap:
    topic: str
    partition: int
    recovered: int | None  # the Kafka offset bronze would read next
    earliest: int | None
    end: int | None
    reason: str

    def text(self) -> str:
        return (
            f"{self.topic} partition {self.partition}: {self.reason} (recovered offset {self.recovered}, "
            f"earliest kept {self.earliest}, end {self.end}). Capture of this topic is stopped; recover with: "
            f"python -m spark_jobs.cdc.recover {self.topic}"
        )


@dataclass
class TopicPlan:
    """Where the readers start on one topic (Kafka offsets), the bases to add, and any gaps."""

    positions: dict[int, int]
    base: dict[int, int]
    gaps: list[Gap]
    mark: Mark | None  # a mark to store (first sight of the topic), else None


def plan_topic(topic: str, mark: Mark | None, view: KafkaView, landed: dict[int, int]) -> TopicPlan:
    """Pure: the start positions and gaps of ``topic`` from its stored ``mark``, the live ``view``
    and ``landed`` (partition -> next change-log offset, base included, from bronze)."""
    parts = view.partitions(topic)
    topic_id = view.topic_ids.get(topic)
    if topic_id is None:  # not created yet: the readers look for it
        return TopicPlan({}, {}, [], None)
    new_mark = None
    if mark is None:
        mark = new_mark = Mark(view.cluster_id, topic_id)
    ids_changed = None
    if mark.cluster_id != view.cluster_id:
        ids_changed = f"the Kafka cluster changed (id {mark.cluster_id} -> {view.cluster_id}): its data was wiped"
    elif mark.topic_id != topic_id:
        ids_changed = f"the topic was recreated (id {mark.topic_id} -> {topic_id})"
    positions, gaps = {}, []
    for p in parts:
        base = mark.base.get(p, 0)
        at = max(landed.get(p, 0) - base, mark.resume.get(p, 0))
        earliest, end = view.earliest[(topic, p)], view.end[(topic, p)]
        reason = ids_changed
        if reason is None and at < earliest:
            reason = f"records {at} to {earliest - 1} were deleted before bronze read them"
        elif reason is None and at > end:
            reason = f"the log ends at {end}, before the position bronze reached: its records were wiped"
        if reason:
            gaps.append(Gap(topic, p, at, earliest, end, reason))
        positions[p] = at
    return TopicPlan(positions, dict(mark.base), gaps, new_mark)


def acknowledge(mark: Mark | None, topic: str, view: KafkaView, landed: dict[int, int]) -> Mark:
    """Pure: the mark after a recovery of ``topic``: the live ids, and each partition resuming at
    its earliest kept record; where the log went back (a wiped or recreated topic), a new base so
    that the first record read lands after everything bronze holds."""
    old = mark or Mark(view.cluster_id, view.topic_ids[topic])
    new = Mark(view.cluster_id, view.topic_ids[topic], dict(old.base), dict(old.resume))
    for p in view.partitions(topic):
        earliest, end = view.earliest[(topic, p)], view.end[(topic, p)]
        base = old.base.get(p, 0)
        reached = max(landed.get(p, 0) - base, old.resume.get(p, 0))
        if old.topic_id != new.topic_id or old.cluster_id != new.cluster_id or reached > end:
            new.base[p] = landed.get(p, 0) - earliest
        new.resume[p] = earliest
    return new


def kafka_view(bootstrap: str, topics: list[str], consumer: KafkaConsumer | None = None) -> KafkaView:
    admin = KafkaAdminClient(**kafka_access.login("capture", bootstrap))
    own = consumer is None
    consumer = consumer or KafkaConsumer(**kafka_access.login("capture", bootstrap), enable_auto_commit=False)
    try:
        cluster_id = admin.describe_cluster()["cluster_id"]
        existing = [t for t in topics if t in consumer.topics()]
        described = admin.describe_topics(existing) if existing else []
        topic_ids = {d["name"]: str(d["topic_id"]) for d in described if not d["error_code"]}
        tps = [TopicPartition(d["name"], p["partition_index"]) for d in described for p in d["partitions"]]
        earliest = consumer.beginning_offsets(tps) if tps else {}
        end = consumer.end_offsets(tps) if tps else {}
    finally:
        admin.close()
        if own:
            consumer.close()
    return KafkaView(
        cluster_id,
        topic_ids,
        {(tp.topic, tp.partition): o for tp, o in earliest.items()},
        {(tp.topic, tp.partition): o for tp, o in end.items()},
    )


def read_mark(spark: SparkSession, table: str) -> Mark | None:
    rows = spark.sql(f"show tblproperties {table} ('{MARK_PROPERTY}')").collect()
    value = rows[0].value if rows else None
    if not value or "does not have property" in value:
        return None
    return Mark.from_json(value)


def write_mark(spark: SparkSession, table: str, mark: Mark) -> None:
    bronze.set_properties(spark, table, {MARK_PROPERTY: mark.to_json()})


def record_gaps(spark: SparkSession, run_id: str, gaps: list[Gap], status: str, at: datetime) -> None:
    """Append the gaps to ``ops.cdc_gaps`` and alert on the open ones."""
    if not gaps:
        return
    spark.sql("create database if not exists ops")
    rows = [(run_id, g.topic, g.partition, g.recovered, g.earliest, g.end, status, g.reason, at) for g in gaps]
    df = spark.createDataFrame(rows, GAPS_SCHEMA)
    if spark.catalog.tableExists(GAPS_TABLE):
        df.write.format("delta").mode("append").saveAsTable(GAPS_TABLE)
    else:
        df.write.format("delta").saveAsTable(GAPS_TABLE)
    if status == "open":
        try:
            alerts.post("cdc retention gap", [g.text() for g in gaps], [g.__dict__ for g in gaps])
        except alerts.AlertDeliveryError as e:  # recorded in ops.cdc_gaps and logged already
            log.error("cdc gap alert not delivered: %s", e)
