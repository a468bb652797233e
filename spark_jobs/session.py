"""The SparkSession of a job: Delta, the shared Postgres-backed metastore, the local warehouse.

Everything comes from the one ``spark-defaults.conf`` / ``hive-site.xml`` that
``infra/stack.sh`` renders into ``$SPARK_CONF_DIR``, so a job, the Thrift server and dbt all see
the same catalog. On a cluster, point SPARK_CONF_DIR at that cluster's configuration.
"""

from __future__ import annotations

import os

from pyspark.sql import SparkSession

from lakehouse.settings import get_settings


# For a JVM that only commits (Arrow writes the data: the CDC consumer, the file loader): C2's
# compiles of the commit path cost more CPU in a run of minutes than they give back, CPU the
# Python side needs (bench_cdc: landed 31k -> 35k records/s). Not for heavy Spark work.
WRITE_ONLY_JVM_OPTIONS = "-XX:TieredStopAtLevel=1"


class SparkConfigMissing(RuntimeError):
    pass


def get_spark(app_name: str, driver_java_options: str | None = None) -> SparkSession:
    """The process's session; ``driver_java_options`` apply only if this call starts the JVM."""
    conf_dir = os.environ.setdefault("SPARK_CONF_DIR", str(get_settings().spark_conf_dir))
    if not os.path.exists(os.path.join(conf_dir, "spark-defaults.conf")):
        raise SparkConfigMissing(
            f"no spark-defaults.conf in {conf_dir}: render it with `infra/stack.sh start` "
            "(it also starts the metastore's PostgreSQL)"
        )
    builder = SparkSession.builder.appName(app_name).enableHiveSupport()
    if driver_java_options:
        builder = builder.config("spark.driver.extraJavaOptions", driver_java_options)
    return builder.getOrCreate()
