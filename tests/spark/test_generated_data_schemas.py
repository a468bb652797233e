"""Generated data fits the Spark schemas derived from the contracts."""

from __future__ import annotations

import pytest
from pyspark.sql import functions as F

from schemas.contracts import get_contract
from schemas.spark import spark_schema
from simulator.generator.cli import build_tables, generate
from simulator.generator.config import GeneratorConfig
from simulator.generator.manifest import Manifest

pytestmark = pytest.mark.spark
CFG = GeneratorConfig(scale=0.001, seed=5, days=3)


@pytest.fixture(scope="module")
def landing(tmp_path_factory):
    root = tmp_path_factory.mktemp("landing")
    generate(CFG, root, load_db=False, show_progress=False)
    return root


def test_source_tables_take_their_contract_schemas(spark):
    tables, _, _ = build_tables(CFG, Manifest(CFG.seed, CFG.scale))
    for name, table in tables.items():
        contract = get_contract(name)
        df = spark.createDataFrame(table.to_pylist(), schema=spark_schema(contract), verifySchema=True)
        assert df.count() == table.num_rows, name
        assert df.columns == contract.column_names


def test_clean_kpi_csv_parses_with_the_contract_schema(spark, landing):
    contract = get_contract("network.cell_kpis")
    clean = sorted((landing / "network" / "cell_kpis").glob("*.csv"))[0]
    df = spark.read.option("header", True).option("mode", "PERMISSIVE").schema(spark_schema(contract)).csv(str(clean))
    assert df.count() == CFG.n_cells * 96
    nulls = df.select([F.sum(F.col(c).isNull().cast("int")).alias(c) for c in contract.column_names]).first()
    assert all(v == 0 for v in nulls.asDict().values()), nulls


def test_event_lines_parse_with_the_contract_schema(spark, landing):
    contract = get_contract("app.events")
    first_day = sorted((landing / "app" / "events").glob("events_????????.jsonl.gz"))[0]
    df = spark.read.schema(spark_schema(contract)).json(str(first_day))
    parsed = df.where(F.col("event_id").isNotNull())
    assert parsed.count() > 0
    assert parsed.where(F.col("event_at").isNull() | F.col("device_id").isNull()).count() == 0
    # +08:00 offsets become UTC instants: the earliest event of day 1 is on the evening before, UTC.
    assert parsed.agg(F.min("event_at")).first()[0].strftime("%Y-%m-%d") in ("2026-09-30", "2026-10-01")
