"""One SparkSession for all Spark tests: local, Delta, in-memory catalog, tables under tmp."""

from __future__ import annotations

import logging

import pytest
from pyspark.sql import SparkSession

from core import pii
from core.settings import get_settings, jvm_version


@pytest.fixture(scope="session")
def pii_home(tmp_path_factory):
    """A home of the tests' own, holding only the PII keys the session's pii catalog reads."""
    home = tmp_path_factory.mktemp("home")
    pii.ensure_keys(home)
    return home


@pytest.fixture(scope="session")
def spark(tmp_path_factory, pii_home):
    jars = get_settings().jars_dir
    delta = [
        jars / "spark" / f"{jvm_version('DELTA_SPARK_ARTIFACT')}-{jvm_version('DELTA_VERSION')}.jar",
        jars / "spark" / f"delta-storage-{jvm_version('DELTA_VERSION')}.jar",
        jars / "lakehouse" / "lakehouse-spark.jar",
    ]
    missing = [str(j) for j in delta if not j.exists()]
    if missing:
        pytest.fail(f"jars missing ({missing}); run infra/fetch_jars.sh")
    # Not the stack's configuration: these tests need no metastore or services.
    empty_conf = tmp_path_factory.mktemp("spark-conf")
    classpath = ":".join(str(j) for j in delta)
    # The JVM launcher reads SPARK_CONF_DIR once; restored at once so that later tiers (and the
    # jobs they start) see the stack's configuration again.
    mp = pytest.MonkeyPatch()
    mp.setenv("SPARK_CONF_DIR", str(empty_conf))
    session = (
        SparkSession.builder.master("local[2]")
        .appName("lakehouse-tests")
        .config("spark.driver.extraClassPath", classpath)
        .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
        .config("spark.sql.catalog.spark_catalog", "org.apache.spark.sql.delta.catalog.DeltaCatalog")
        .config("spark.sql.catalog.pii", "lakehouse.pii.PiiCatalog")
        .config("spark.sql.catalog.pii.keys", str(pii_home / "secrets"))
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("warehouse")))
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.databricks.delta.snapshotPartitions", "2")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .getOrCreate()
    )
    mp.undo()
    yield session
    session.stop()


@pytest.fixture(scope="module", autouse=True)
def own_bronze_db(request, spark):
    """Each test module lands in a bronze database of its own (``LAKEHOUSE_BRONZE_DB``), created
    empty: modules share no tables, so their order does not matter."""
    name = f"t_{request.module.__name__.rsplit('.', 1)[-1]}_bronze"
    mp = pytest.MonkeyPatch()
    mp.setenv("LAKEHOUSE_BRONZE_DB", name)
    spark.sql(f"drop database if exists {name} cascade")
    yield name
    mp.undo()


# py4j logs its connection close at interpreter exit, after pytest has closed the streams.
logging.getLogger("py4j").setLevel(logging.WARNING)
