"""The SparkSession of a job: Delta, the shared Postgres-backed metastore, the local warehouse.

Everything comes from the one ``spark-defaults.conf`` / ``hive-site.xml`` that
``infra/stack.sh`` renders into ``$SPARK_CONF_DIR``, so a job, the Thrift server and dbt all see
the same catalog. On a cluster, point SPARK_CONF_DIR at that cluster's configuration.
"""

from __future__ import annotations

import logging
import os
import re
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession

from core.secrets import secret
from core.settings import get_settings

# For a JVM that only commits (Arrow writes the data: the CDC consumer, the file loader): C2's
# compiles of the commit path cost more CPU in a run of minutes than they give back, CPU the
# Python side needs (bench_cdc: landed 31k -> 35k records/s). Not for heavy Spark work.
WRITE_ONLY_JVM_OPTIONS = "-XX:TieredStopAtLevel=1"


log = logging.getLogger(__name__)


class SparkConfigMissing(RuntimeError):
    pass


def get_spark(app_name: str, driver_java_options: str | None = None) -> SparkSession:
    """The process's session; ``driver_java_options`` apply only if this call starts the JVM."""
    conf_dir = str(get_settings().spark_conf_dir)
    os.environ["SPARK_CONF_DIR"] = conf_dir  # pyspark's JVM launcher reads it from the environment
    if not os.path.exists(os.path.join(conf_dir, "spark-defaults.conf")):
        raise SparkConfigMissing(
            f"no spark-defaults.conf in {conf_dir}: render it with `infra/stack.sh start` "
            "(it also starts the metastore's PostgreSQL)"
        )
    builder = SparkSession.builder.appName(app_name).enableHiveSupport()
    if driver_java_options:
        builder = builder.config("spark.driver.extraJavaOptions", driver_java_options)
    return builder.getOrCreate()


def connect_login_url(url: str) -> str:
    """``url`` with the server's bearer token (``spark.connect.authenticate.token``, from the
    secret store). The Python client sends a token only over TLS, or over gRPC's local
    credentials to the host name ``localhost``: a loopback address is named so."""
    token = secret("spark_connect_token")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        raise ValueError("the Spark Connect token may hold only letters, digits, _ and - (it goes into a URL)")
    host, _, port = url.removeprefix("sc://").split("/")[0].rpartition(":")
    if host in ("127.0.0.1", "::1", "[::1]"):
        host = "localhost"
    return f"sc://{host}:{port}/;token={token}"


def serving(url: str | None, timeout: float = 1.0) -> bool:
    """Whether something listens at a ``sc://host:port`` address."""
    if not url:
        return False
    host, port = url.removeprefix("sc://").split("/")[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout):
            return True
    except OSError:
        return False


def get_shared_spark(app_name: str) -> SparkSession:
    """The process's active session if it has one; else the Thrift server's Spark through Spark
    Connect when the stack serves it; else a session of this process's own. For short steps
    that only read and write tables (the quality gates): the server's JVM is warm and its
    metastore connected, where a JVM of their own spends ~25 s starting, connecting and
    compiling before its first table is read."""
    active = SparkSession.getActiveSession()
    if active is not None:  # this process has a Spark already (a test's, a job's): no second one
        return active
    url = get_settings().spark_connect_url
    if url is not None and serving(url):
        return SparkSession.builder.remote(connect_login_url(url)).appName(app_name).getOrCreate()
    log.warning(
        "Spark Connect %s is not serving: %s runs in a Spark session of its own", url or "(not configured)", app_name
    )
    return get_spark(app_name)


def is_connect(spark: SparkSession) -> bool:
    return type(spark).__module__.startswith("pyspark.sql.connect")


def release(spark: SparkSession) -> None:
    """End a Spark Connect session (the server keeps its state until then); a session of this
    process's own lives on with the process."""
    if is_connect(spark):
        spark.stop()


@contextmanager
def shared_spark(app_name: str) -> Iterator[SparkSession]:
    """``get_shared_spark`` for the length of a ``with`` block, released at its end."""
    spark = get_shared_spark(app_name)
    try:
        yield spark
    finally:
        release(spark)
