"""The cluster profile builds the same gold as local mode, and goes on when a node dies: a Spark
worker under a dbt build and under a file load, an HDFS DataNode under reads and writes, a Kafka
broker under a change workload."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable

import pytest

from core.settings import REPO_DIR, get_settings
from core.sql import thrift_query
from lakehouse.gold_hashes import compare, fingerprints
from lakehouse.reconcile import reconcile_all
from spark_jobs.cdc.consumer import wait_until_landed
from spark_jobs.cdc.fence import wait_for_sources
from spark_jobs.landing import tables as landing_tables
from spark_jobs.landing.feeds import file_feeds
from tests.cluster.conftest import STACK, sh

RUN_DIR = get_settings().home / "run"
LOG = get_settings().home.with_name(get_settings().home.name + ".faults.log")


def _json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)


def master() -> dict:
    s = get_settings()
    return _json(f"http://{s.bind_host}:{s.spark_master_webui_port}/json/")


def app_id(name: str) -> str | None:
    return next((a["id"] for a in master()["activeapps"] if a["name"] == name), None)


def workers_running(app: str) -> list[int]:
    """The workers (1-based) with an executor of application ``app`` (its id)."""
    s = get_settings()
    found = []
    for i in range(1, 3):
        try:
            executors = _json(f"http://{s.bind_host}:{s.spark_master_webui_port + i}/json/")["executors"]
        except OSError:
            continue
        if any(e["appid"] == app for e in executors):
            found.append(i)
    return found


def kill(service: str) -> None:
    """SIGKILL a service's whole process group: a worker with its executors, a node as if it died."""
    pid = int((RUN_DIR / f"{service}.pid").read_text())
    os.killpg(pid, signal.SIGKILL)


def wait_for(what: str, check: Callable[[], object], timeout_s: float, proc: subprocess.Popen | None = None):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if value := check():
            return value
        if proc is not None and proc.poll() is not None:
            pytest.fail(f"the work ended (exit {proc.returncode}) before {what}")
        time.sleep(0.5)
    pytest.fail(f"no {what} within {timeout_s:.0f}s")


def _background(args: list[str], env: dict[str, str]) -> subprocess.Popen:
    LOG.parent.mkdir(parents=True, exist_ok=True)
    out = LOG.open("a")
    out.write(f"\n$ {' '.join(args)}\n")
    out.flush()
    return subprocess.Popen(args, cwd=REPO_DIR, env=env, stdout=out, stderr=subprocess.STDOUT, text=True)


def _restart(service: str, env: dict[str, str]) -> None:
    sh([STACK, "start", service], env, 600, LOG)


def test_the_cluster_builds_the_same_gold_as_local_mode(local_gold, cluster_gold):
    assert (local_gold["profile"], cluster_gold["profile"]) == ("local", "cluster")
    tables = local_gold["tables"]
    assert len(tables) >= 15 and sum(t["rows"] for t in tables.values()) > 1000
    assert compare(tables, cluster_gold["tables"]) == []
    # ... and it was built on the cluster: gold on HDFS, the jobs as applications of the master
    detail = thrift_query("describe detail gold.dim_user")[0]
    location = next(v for v in detail if isinstance(v, str) and v.endswith("/dim_user"))
    assert location.startswith("hdfs://"), location
    apps = {a["name"] for a in master()["completedapps"]} | {a["name"] for a in master()["activeapps"]}
    assert {"lakehouse-thrift-server", "landing-loader", "cdc-consumer"} <= apps, apps


def test_a_worker_killed_mid_dbt_build_the_build_completes_with_the_same_gold(cluster_gold, cluster_env):
    thrift = app_id("lakehouse-thrift-server")
    assert thrift, "the Thrift server is not an application of the master"
    build = _background(
        [
            sys.executable,
            "-c",
            "import sys; from core.dbt_cli import PIPELINE_BUILD_FLAGS, run_dbt; "
            "r = run_dbt(['build', *PIPELINE_BUILD_FLAGS]); print(r.stdout[-4000:]); sys.exit(r.returncode)",
        ],
        cluster_env,
    )
    worker = wait_for("Thrift executor on a worker", lambda: workers_running(thrift), 300, build)[0]
    time.sleep(5)  # well into the build's statements
    assert build.poll() is None, "the build ended before the kill"
    kill(f"spark-worker{worker}")
    try:
        assert build.wait(timeout=2400) == 0, f"dbt build failed after worker {worker} died; log {LOG}"
        assert compare(cluster_gold["tables"], fingerprints()) == []
    finally:
        _restart("spark", cluster_env)


def test_a_worker_killed_mid_file_load_the_load_completes_exactly(cluster_gold, cluster_env):
    """Every landed file loaded again into a scratch bronze; a worker of the loader killed on
    the way; the tables it makes are the main bronze's, row for row."""
    scratch = "verify_bronze"
    thrift_query(f"drop database if exists {scratch} cascade")
    env = cluster_env | {"LAKEHOUSE_BRONZE_DB": scratch}
    load = _background([sys.executable, "-m", "spark_jobs.landing.loader"], env)
    app = wait_for("file loader application", lambda: app_id("landing-loader"), 300, load)
    worker = wait_for("loader executor on a worker", lambda: workers_running(app), 300, load)[0]
    assert load.poll() is None, "the load ended before the kill"
    kill(f"spark-worker{worker}")
    try:
        assert load.wait(timeout=1800) == 0, f"the file load failed after worker {worker} died; log {LOG}"
        main, again = fingerprints("bronze"), fingerprints(scratch)
        for feed in file_feeds():
            table = landing_tables.feed_table(feed).split(".", 1)[1]
            assert again[table]["rows"] > 0
            assert compare({table: main[table]}, {table: again[table]}) == [], table
    finally:
        _restart("spark", cluster_env)


def _live_datanodes() -> int:
    s = get_settings()
    url = f"http://{s.bind_host}:{s.hdfs_namenode_http_port}/jmx?qry=Hadoop:service=NameNode,name=FSNamesystemState"
    return int(_json(url)["beans"][0]["NumLiveDataNodes"])


def test_a_datanode_killed_reads_and_writes_go_on(cluster_gold, cluster_env):
    kill("hdfs-dn2")
    try:
        # reads: every gold table whole, while the NameNode still counts the dead node as live
        assert compare(cluster_gold["tables"], fingerprints()) == []
        # writes: models rebuilt (new files, each block on the one DataNode left) and read back
        sh(
            [sys.executable, "-c", "import sys; from core.dbt_cli import run_dbt; "
             "r = run_dbt(['run', '--select', 'dim_product', 'fct_segment_sizes']); "
             "print(r.stdout[-3000:]); sys.exit(r.returncode)"],
            cluster_env, 1200, LOG,
        )  # fmt: skip
        assert compare(cluster_gold["tables"], fingerprints()) == []
        wait_for("the NameNode to count the dead DataNode out", lambda: _live_datanodes() == 1, 120)
    finally:
        _restart("hdfs", cluster_env)
    assert _live_datanodes() == 2


def test_a_broker_killed_under_a_workload_capture_goes_on_and_reconciles_exactly(cluster_gold, cluster_env):
    s = get_settings()
    assert s.kafka_brokers == 3
    workload = _background(
        [sys.executable, "-m", "simulator.workload", "--rate", "50", "--duration", "60"], cluster_env
    )
    time.sleep(20)
    assert workload.poll() is None, "the workload ended before the kill"
    kill("kafka-2")
    try:
        assert workload.wait(timeout=600) == 0, f"the workload failed after a broker died; log {LOG}"
        wait_for_sources(timeout_s=300)  # Debezium published every change (to the two brokers left)
        landed = wait_until_landed(timeout_s=900)
        assert landed > 0
        diffs = reconcile_all()
        assert diffs and all(d.exact for d in diffs), [d.summary() for d in diffs if not d.exact]
    finally:
        _restart("kafka", cluster_env)
    # the restarted broker catches up: every partition has its three replicas in sync again
    from kafka import KafkaAdminClient

    from core.kafka_access import login

    admin = KafkaAdminClient(**login("admin"))
    try:

        def in_sync() -> bool:
            topics = admin.describe_topics()
            return all(
                len(p["isr"]) == 3 for t in topics if t["topic"].startswith(("crm.", "bss.")) for p in t["partitions"]
            )

        wait_for("every CDC partition back to three in-sync replicas", in_sync, 180)
    finally:
        admin.close()
