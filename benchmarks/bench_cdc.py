"""Benchmark CDC into bronze, in one run on this machine.

``python benchmarks/bench_cdc.py [--backlog-changes 100000] [--rate 1000] [--seconds 60]``

1. Throughput: builds a backlog of changes with the OLTP workload, then reads every CDC topic
   end to end with a bare kafka-python consumer (the raw rate) and lands the same records with
   the real consumer into a scratch bronze database (``bronze_bench``); reports both rates and
   their ratio (target >= 0.7).
2. Freshness: starts the consumer continuously, then runs the workload at ``--rate`` changes/s,
   and reports p50/p95 of (the Delta commit that landed the change - its commit in the source)
   (target p95 <= 5 s).
Needs the running stack and generated sources (``make run`` once).
"""

from __future__ import annotations

import argparse
import sys
import threading
import time

from kafka import KafkaConsumer, TopicPartition

from core import kafka_access
from core.settings import override_settings

BENCH_DB = "bronze_bench"


def raw_consume(topics: list[str]) -> tuple[int, float]:
    consumer = KafkaConsumer(
        **kafka_access.login("capture"),
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 * 1024 * 1024,
    )
    tps = [TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()]
    ends = consumer.end_offsets(tps)
    consumer.assign(tps)
    consumer.seek_to_beginning(*tps)
    n, t0 = 0, time.monotonic()
    while any(consumer.position(tp) < ends[tp] for tp in tps):
        for batch in consumer.poll(timeout_ms=1000, max_records=20_000).values():
            n += len(batch)
    secs = time.monotonic() - t0
    consumer.close()
    return n, secs


def freshness(spark, tables: list[str], since) -> tuple:
    """p50, p95 and max of (Delta commit time of the version that added the row - source
    commit time), and the row count, over the rows ingested since ``since``."""
    from pyspark.sql import functions as F

    from spark_jobs import bronze

    parts = []
    for t in tables:
        log_dir = bronze.table_location(spark, t).rstrip("/") + "/_delta_log/*.json"
        actions = spark.read.json(log_dir).select(F.input_file_name().alias("f"), "add.path", "commitInfo.timestamp")
        commits = (
            actions.where("path is not null")
            .select("f", "path")
            .join(actions.where("timestamp is not null").select("f", "timestamp"), "f")
        )
        rows = (
            spark.table(t)
            .where(F.col("ingested_at") >= F.lit(since))
            .select(F.element_at(F.split(F.col("_metadata.file_path"), "/"), -1).alias("path"), "source_ts")
        )
        parts.append(
            rows.join(commits, "path").select(
                (F.col("timestamp") / 1000 - F.col("source_ts").cast("double")).alias("s")
            )
        )
    union = parts[0]
    for p in parts[1:]:
        union = union.unionByName(p)
    return union.selectExpr("percentile(s, 0.5)", "percentile(s, 0.95)", "max(s)", "count(*)").first()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backlog-changes", type=int, default=100_000)
    p.add_argument("--rate", type=float, default=1000)
    p.add_argument("--seconds", type=float, default=60)
    args = p.parse_args()
    override_settings(bronze_db=BENCH_DB)

    from core.session import WRITE_ONLY_JVM_OPTIONS, get_spark
    from simulator.workload import Workload
    from spark_jobs import bronze
    from spark_jobs.cdc import changes
    from spark_jobs.cdc.changes import cdc_contracts
    from spark_jobs.cdc.consumer import ConsumerConfig, run
    from spark_jobs.cdc.fence import wait_for_sources

    print(f"[1/4] workload: {args.backlog_changes:,} changes as fast as it goes")
    w = Workload(seed=int(time.time()))
    stats = w.run(rate=1e9, max_changes=args.backlog_changes)
    print(f"      {stats.summary()}")
    wait_for_sources()
    topics = [changes.topic_for(c) for c in cdc_contracts()]
    spark = get_spark("bench-cdc", WRITE_ONLY_JVM_OPTIONS)  # the JVM the consumer makes for itself
    spark.sql(f"drop database if exists {BENCH_DB} cascade")
    print("[2/4] raw kafka-python consume of every CDC topic")
    raw_n, raw_s = raw_consume(topics)
    print(f"      {raw_n:,} records in {raw_s:.1f}s = {raw_n / raw_s:,.0f} records/s")
    changes.ensure_tables(spark, cdc_contracts())  # creating the tables is set-up, not landing
    print("[3/4] the consumer landing the same records in bronze")
    polling, marks = threading.Event(), []
    threading.Thread(target=lambda: marks.append(time.monotonic()) if polling.wait(600) else None, daemon=True).start()
    landed = run(ConsumerConfig(until_caught_up=True), started_event=polling)
    t_end = time.monotonic()
    records = landed.changes + landed.tombstones + landed.dead_letters
    print(f"      {landed.summary()}")
    ratio = (records / landed.seconds) / (raw_n / raw_s)
    # The same run from the readers' first poll: without starting the reader processes, which a
    # long catch-up pays once (the run's time already leaves out the Spark set-up before it).
    streaming_s = t_end - marks[0] if marks else landed.seconds

    print(f"[4/4] freshness at {args.rate:,.0f} changes/s for {args.seconds:.0f}s (consumer running first)")
    load_stats, consuming = [], threading.Event()

    def load():
        consuming.wait()
        lw = Workload(seed=7)
        load_stats.append(lw.run(rate=args.rate, duration_s=args.seconds))
        lw.close()

    started = bronze.now_utc()
    th = threading.Thread(target=load)
    th.start()
    run(ConsumerConfig(until_caught_up=False, interval_s=0.2, max_seconds=args.seconds + 15), started_event=consuming)
    th.join()
    lat = freshness(spark, [changes.change_table_for(c) for c in cdc_contracts()], started)
    print(f"      {load_stats[0].summary()}")
    print("\nCDC benchmark")
    print(f"  raw kafka-python consume   {raw_n / raw_s:>10,.0f} records/s")
    print(
        f"  landed in bronze (Delta)   {records / landed.seconds:>10,.0f} records/s   ratio {ratio:.2f} (target >= 0.7)"
    )
    print(
        f"    from the first poll      {records / streaming_s:>10,.0f} records/s   ratio "
        f"{(records / streaming_s) / (raw_n / raw_s):.2f} (start-up {landed.seconds - streaming_s:.1f}s left out)"
    )
    print(
        f"  freshness at {load_stats[0].rate:,.0f} changes/s  "
        f"p50 {lat[0]:.2f} s, p95 {lat[1]:.2f} s, max {lat[2]:.2f} s "
        f"over {lat[3]:,} changes, source commit to Delta commit (target p95 <= 5 s)"
    )
    spark.sql(f"drop database if exists {BENCH_DB} cascade")
    return 0


if __name__ == "__main__":
    sys.exit(main())
