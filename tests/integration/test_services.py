"""Each service of the stack answers a real request."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
import uuid
from contextlib import closing

import psycopg2
import pytest
import yaml
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import NewTopic

from core import kafka_access, pg_roles, services
from core.airflow_client import AirflowClient
from core.settings import REPO_DIR, get_settings
from core.sql import sql_connect, thrift_query

pytestmark = pytest.mark.integration
S = get_settings()


def test_postgres_has_logical_wal_and_every_database():
    with psycopg2.connect(pg_roles.dsn("postgres", "pipeline")) as conn, conn.cursor() as cur:
        cur.execute("show wal_level")
        assert cur.fetchone()[0] == "logical"
        cur.execute("select datname from pg_database")
        assert {"crm", "bss", "metastore", "airflow"} <= {r[0] for r in cur.fetchall()}
    with psycopg2.connect(pg_roles.dsn("metastore", "metastore")) as conn, conn.cursor() as cur:
        cur.execute('select "SCHEMA_VERSION" from "VERSION"')
        assert cur.fetchone()[0] == "2.3.0"


def test_kafka_round_trips_a_message():
    topic = f"test-roundtrip-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(**kafka_access.login("admin"))
    admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
    try:
        producer = KafkaProducer(**kafka_access.login("admin"))
        producer.send(topic, b"hello lakehouse").get(timeout=10)
        producer.close()
        consumer = KafkaConsumer(**kafka_access.login("admin"), consumer_timeout_ms=10_000)
        consumer.assign([TopicPartition(topic, 0)])
        consumer.seek_to_beginning()
        assert [m.value for m in consumer][:1] == [b"hello lakehouse"]
        consumer.close()
    finally:
        admin.delete_topics([topic])
        admin.close()


def test_connect_runs_both_debezium_connectors():
    plugins = services.connect_api("/connector-plugins")
    assert "io.debezium.connector.postgresql.PostgresConnector" in {p["class"] for p in plugins}
    for name in ("crm", "bss"):
        status = services.connect_api(f"/connectors/{name}/status")
        assert status["connector"]["state"] == "RUNNING"
        assert [t["state"] for t in status["tasks"]] == ["RUNNING"]


def test_thrift_server_writes_and_reads_delta_in_the_shared_metastore():
    table = f"default.smoke_{uuid.uuid4().hex[:8]}"
    thrift_query(f"create table {table} using delta as select 1 as n, 'a' as s")
    try:
        assert thrift_query(f"select n, s from {table}") == [(1, "a")]
        provider = {r[0]: r[1] for r in thrift_query(f"describe extended {table}")}["Provider"]
        assert provider == "delta"
        with psycopg2.connect(pg_roles.dsn("metastore", "metastore")) as conn, conn.cursor() as cur:
            cur.execute('select count(*) from "TBLS" where "TBL_NAME" = %s', (table.split(".")[1],))
            assert cur.fetchone()[0] == 1
    finally:
        thrift_query(f"drop table if exists {table}")


def test_an_analysts_query_is_not_queued_behind_a_dbt_build():
    """dbt and analysts share the Thrift server's cores: a small query is not queued behind every
    task of a build's big job (Spark's default FIFO), it gets the next free core (FAIR pools)."""
    profile = yaml.safe_load((REPO_DIR / "dbt" / "profiles.yml").read_text())
    as_dbt = profile["telco_lakehouse"]["outputs"]["local"]["server_side_parameters"]
    big = "select sum(hash(id)) from range(0, 1000000000, 1, 200)"  # 200 tasks, several seconds
    took = {}

    def run_big_as_dbt():
        t0 = time.monotonic()
        with closing(sql_connect("pipeline", configuration=as_dbt)) as conn:
            cur = conn.cursor()
            cur.execute("set spark.sql.thriftserver.scheduler.pool")
            took["pool"] = cur.fetchall()[0][1]
            cur.execute(big)
            cur.fetchall()
        took["end"] = time.monotonic()
        took["big"] = took["end"] - t0

    log = S.home / "logs" / "thrift.log"
    seen = log.stat().st_size
    runner = threading.Thread(target=run_big_as_dbt)
    runner.start()
    # Time the small query only once the big job's tasks wait in the dbt pool (the FAIR
    # scheduler logs it), however long the connection and the planning took.
    deadline = time.monotonic() + 120
    while "tasks to pool dbt" not in log.read_bytes()[seen:].decode(errors="replace"):
        assert time.monotonic() < deadline and runner.is_alive(), "the big job never reached the dbt pool"
        time.sleep(0.1)
    t0 = time.monotonic()
    assert thrift_query("select count(*) from range(0, 10, 1, 1)") == [(10,)]
    small = time.monotonic() - t0
    big_still_running = runner.is_alive()
    runner.join()
    assert took["pool"] == "dbt"
    assert big_still_running, f"the big job ({took['big']:.1f}s) ended before the small query returned"
    # queued FIFO, the small query returns with the big job's last tasks (~ all of its remaining time)
    remaining = took["end"] - t0
    assert small < 0.5 * remaining, f"small query {small:.2f}s, the big job's {remaining:.2f}s after it queued"


CONNECT_PROBE = """
import sys
from core.session import get_shared_spark, release
spark = get_shared_spark("test-connect")
try:
    print(type(spark).__module__, spark.table(sys.argv[1]).collect()[0][0])
    spark.createDataFrame([(8,)], "n int").write.format("delta").mode("append").saveAsTable(sys.argv[1])
finally:
    release(spark)
"""


def test_spark_connect_on_the_thrift_server_sees_the_same_catalog(tmp_path):
    """The quality gates' shared Spark: Spark Connect in the Thrift server's JVM, same metastore.
    In a process of its own, as a gate runs (this one may hold a local session already)."""
    table = f"default.connect_{uuid.uuid4().hex[:8]}"
    thrift_query(f"create table {table} using delta as select 7 as n")
    probe = tmp_path / "connect_probe.py"
    probe.write_text(CONNECT_PROBE)
    try:
        done = subprocess.run(
            [sys.executable, str(probe), table],
            capture_output=True,
            text=True,
            timeout=300,
            env={**os.environ, "PYTHONPATH": str(REPO_DIR)},
        )
        assert done.returncode == 0, done.stderr[-3000:]
        # a Connect session (no JVM of its own) that read the table and wrote to it
        assert done.stdout.split()[-2:] == ["pyspark.sql.connect.session", "7"]
        assert sorted(r[0] for r in thrift_query(f"select n from {table}")) == [7, 8]
    finally:
        thrift_query(f"drop table if exists {table}")


def test_airflow_is_healthy_and_logs_in():
    health = AirflowClient.from_settings().health()
    assert health["metadatabase"]["status"] == "healthy"
    assert health["scheduler"]["status"] == "healthy"
    client = AirflowClient.from_settings()
    assert client.token().count(".") == 2  # a JWT
    assert client.wait_for_dag("lakehouse_build")["dag_id"] == "lakehouse_build"
