"""Run the CDC jobs as the scheduler does (separate processes) and read what they left."""

from __future__ import annotations

import os
import subprocess
import sys

import psycopg2
from kafka import KafkaConsumer, TopicPartition

from core import kafka_access, pg_roles
from core.settings import REPO_DIR, get_settings
from core.sql import thrift_query


def job_env() -> dict[str, str]:
    return {**os.environ, "SPARK_CONF_DIR": str(get_settings().spark_conf_dir)}


def run_job(module: str, *args: str, timeout: float = 900) -> str:
    r = subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=job_env(),
        cwd=REPO_DIR,
    )
    assert r.returncode == 0, f"{module} failed:\n{r.stdout[-2000:]}\n{r.stderr[-4000:]}"
    return r.stdout


def start_job(module: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", module, *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=job_env(),
        cwd=REPO_DIR,
    )


def sql(db: str, statement: str, params=None):
    with psycopg2.connect(pg_roles.source_dsn(db, "generator")) as conn, conn.cursor() as cur:
        cur.execute(statement, params)
        return cur.fetchall() if cur.description else cur.rowcount


def topic_messages(topic: str) -> tuple[int, int]:
    """(records, tombstones) in a topic, read end to end (what Kafka still keeps: see ``earliest``)."""
    consumer = KafkaConsumer(**kafka_access.login("admin"), enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        ends = consumer.end_offsets(tps)
        consumer.assign(tps)
        consumer.seek_to_beginning(*tps)
        records = tombstones = 0
        while any(consumer.position(tp) < ends[tp] for tp in tps):
            for batch in consumer.poll(timeout_ms=1000).values():
                for rec in batch:
                    if rec.offset < ends[TopicPartition(rec.topic, rec.partition)]:
                        records += 1
                        tombstones += rec.value is None
        return records, tombstones
    finally:
        consumer.close()


def earliest(topic: str) -> int:
    """The first offset partition 0 of ``topic`` still keeps (records before it were deleted)."""
    return _offset(topic, "beginning_offsets")


def end_offset(topic: str) -> int:
    """The offset partition 0 of ``topic`` writes next."""
    return _offset(topic, "end_offsets")


def _offset(topic: str, which: str) -> int:
    consumer = KafkaConsumer(**kafka_access.login("admin"), enable_auto_commit=False)
    try:
        tp = TopicPartition(topic, 0)
        return getattr(consumer, which)([tp])[tp]
    finally:
        consumer.close()


def landed_counts(table: str, topic: str, from_offset: int = 0) -> tuple[int, int]:
    """(rows, distinct Kafka coordinates) of one topic in a bronze table, from ``from_offset`` on."""
    return tuple(
        thrift_query(
            f"select count(*), count(distinct kafka_partition, kafka_offset) from {table} "
            f"where kafka_topic = '{topic}' and kafka_offset >= {from_offset}"
        )[0]
    )
