"""The bronze quality gate on generated data: each rule's failed-row count is the generator's
planted count; a quarantine rule holds back exactly its rows (and releases them once fixed); a
critical rule under its threshold stops the step after recording and alerting; the alert reaches
a webhook; the Data Docs render with no network."""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from expectations import docs, results, scorecard
from expectations.rules import checks_for
from expectations.validate import QualityGateFailed, validate_layer
from simulator import bronze_fixture
from simulator.generator.cli import build_tables
from simulator.generator.config import GeneratorConfig
from simulator.generator.manifest import Manifest

CFG = GeneratorConfig(scale=0.001, seed=7, days=5)
BRONZE, PREFIX = "dq_bronze", "dq_"


@pytest.fixture(scope="module")
def env(spark, tmp_path_factory):
    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("quality")
    for key, value in {
        "LAKEHOUSE_BRONZE_DB": BRONZE,
        "LAKEHOUSE_SCHEMA_PREFIX": PREFIX,
        "LAKEHOUSE_GX_ROOT": str(home / "gx"),
        "LAKEHOUSE_DATA_DOCS": str(home / "docs"),
    }.items():
        mp.setenv(key, value)
    manifest = Manifest(CFG.seed, CFG.scale)
    build_tables(CFG, manifest)
    bronze_fixture.write(spark, bronze_fixture.generate(CFG), BRONZE, progress=lambda line: None)
    yield manifest, home
    mp.undo()


class Receiver:
    """A local webhook: records every JSON body posted to it."""

    def __init__(self):
        self.bodies: list[dict] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                outer.bodies.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _failed(report) -> dict[str, int]:
    return {r.check.name: r.rows_failed for r in report.results if r.rows_failed}


def _engine_of(table: str, local_max_rows: int) -> str:
    """The GX engine that validated a bronze table: its own validation definition, which loads
    from GX's project (its data source still holds the table's asset)."""
    engine = "pandas" if local_max_rows else "spark"
    name = f"bronze__{table.replace('.', '__')}__{engine}__validation"
    assert (
        docs.get_context().validation_definitions.get(name).data.data_asset.name
        == f"bronze__{table.replace('.', '__')}"
    )
    return engine


# Small tables are validated in pandas after one fetch, others through Spark: each rule counts
# the same either way (0: every table through Spark).
ENGINES = pytest.mark.parametrize("local_max_rows", [0, 250_000], ids=["spark", "pandas"])


@ENGINES
def test_each_bronze_rule_reports_the_planted_count_and_lands_in_the_results_table(
    spark, env, receiver, local_max_rows
):
    """Two tables here (every table and layer: the known-answer integration test)."""
    manifest, _ = env
    tables = {"crm.customers", "bss.orders"}
    run_id = f"run-1-{local_max_rows}"
    results.ensure_tables(spark)
    held_version = spark.sql(f"describe history {results.quarantine_table()} limit 1").first().version
    lines = []
    report = validate_layer(
        spark,
        "bronze",
        run_id,
        webhook_url=receiver.url,
        progress=lines.append,
        tables=tables,
        local_max_rows=local_max_rows,
    )
    assert len(report.results) == len([c for c in checks_for("bronze") if c.table in tables])
    engine = "pandas" if local_max_rows else "spark"
    assert {_engine_of(t, local_max_rows) for t in tables} == {engine}
    assert sorted(line.split()[1] for line in lines if line.endswith(f"s ({engine})")) == sorted(tables)
    # bronze sees the source as it is: only the missing CRM phones break a bronze rule
    assert _failed(report) == {"crm.customers.phone.not_null": manifest.defects["null_phone"]["count"]}
    assert not report.stopped
    rows = spark.table(results.results_table()).where(f"run_id = '{run_id}'")
    assert rows.count() == len(report.results)
    phone = rows.where("check_name = 'crm.customers.phone.not_null'").first()
    assert (phone.rows_checked, phone.rows_failed, phone.dimension, phone.severity) == (
        manifest.rows["crm.customers"],
        manifest.defects["null_phone"]["count"],
        "completeness",
        "critical",
    )
    assert phone.outcome == "passed" and phone.pass_rate >= 0.98
    assert receiver.bodies == []  # nothing under its threshold
    # the order number's quarantine rule had nothing to hold, and held nothing: no commit
    assert spark.sql(f"describe history {results.quarantine_table()} limit 1").first().version == held_version


def _append_orders(spark, edits) -> None:
    """Copies of existing orders with changed columns, as CDC would have landed them."""
    table = f"{BRONZE}.bss_orders"
    base = spark.table(table).limit(len(edits)).collect()
    schema = spark.table(table).schema
    rows = [tuple({**row.asDict(), **edit}[f.name] for f in schema) for row, edit in zip(base, edits)]
    spark.createDataFrame(rows, schema).write.format("delta").mode("append").saveAsTable(table)


def test_a_quarantine_rule_holds_back_exactly_its_rows_and_releases_fixed_ones(spark, env, receiver):
    _append_orders(
        spark,
        [
            {"order_id": "MOB2026X0010001", "_key": '{"order_id": "MOB2026X0010001"}'},
            {"order_id": "XYZ20261001000001", "_key": '{"order_id": "XYZ20261001000001"}'},
        ],
    )
    report = validate_layer(
        spark, "bronze", "run-2", webhook_url=receiver.url, progress=lambda line: None, tables={"bss.orders"}
    )
    pattern = next(r for r in report.results if r.check.name == "bss.orders.order_id.pattern")
    assert (pattern.rows_failed, pattern.outcome, pattern.quarantined) == (2, "quarantined", 2)
    held = spark.table(results.quarantine_table()).where("run_id = 'run-2'").collect()
    assert sorted(r.key_value for r in held) == ["MOB2026X0010001", "XYZ20261001000001"]
    assert all("pattern" in r.reason and json.loads(r.row_json)["order_id"] == r.key_value for r in held)
    # a critical rule that failed rows alerts with its rule, table and count, but does not stop
    alert = receiver.bodies[-1]["alerts"]
    assert [(a["table"], a["rule"], a["rows_failed"]) for a in alert] == [("bss.orders", "pattern", 2)]
    # fixed at the source (deleted): released on the next run
    spark.sql(
        f"update {BRONZE}.bss_orders set _is_deleted = true where order_id in ('MOB2026X0010001', 'XYZ20261001000001')"
    )
    validate_layer(spark, "bronze", "run-3", progress=lambda line: None, tables={"bss.orders"})
    assert spark.table(results.quarantine_table()).count() == 0


def test_a_critical_rule_under_its_threshold_stops_after_recording_and_alerting(spark, env, receiver):
    manifest, _ = env
    customers = f"{BRONZE}.crm_customers"
    n = manifest.rows["crm.customers"]
    already = manifest.defects["null_phone"]["count"]
    more = int(n * 0.03)  # completeness falls under 98 %
    ids = [
        r.customer_id
        for r in spark.table(customers).where("phone is not null").orderBy("customer_id").limit(more).collect()
    ]
    spark.sql(f"update {customers} set phone = null where customer_id in ({', '.join(map(str, ids))})")
    try:
        with pytest.raises(QualityGateFailed, match=r"crm.customers not_null \(phone\)"):
            validate_layer(
                spark, "bronze", "run-4", webhook_url=receiver.url, progress=lambda line: None, tables={"crm.customers"}
            )
        row = (
            spark.table(results.results_table())
            .where("run_id = 'run-4' and check_name = 'crm.customers.phone.not_null'")
            .first()
        )
        assert (row.rows_failed, row.outcome, row.passed) == (already + more, "stopped", False)
        alert = [a for a in receiver.bodies[-1]["alerts"] if a["rule"] == "not_null"]
        assert [(a["table"], a["rows_failed"], a["outcome"]) for a in alert] == [
            ("crm.customers", already + more, "stopped")
        ]
        # Airflow retries the failed task: the same run's results and alerts are written once.
        recorded, posts = spark.table(results.results_table()).where("run_id = 'run-4'").count(), len(receiver.bodies)
        with pytest.raises(QualityGateFailed):
            validate_layer(
                spark, "bronze", "run-4", webhook_url=receiver.url, progress=lambda line: None, tables={"crm.customers"}
            )
        assert spark.table(results.results_table()).where("run_id = 'run-4'").count() == recorded
        assert len(receiver.bodies) == posts
    finally:
        bronze_fixture.write(
            spark, {"crm.customers": bronze_fixture.generate(CFG)["crm.customers"]}, BRONZE, progress=lambda line: None
        )


@ENGINES
def test_a_compound_key_counts_each_copy_beyond_the_first(spark, env, local_max_rows):
    """cell KPIs are keyed by (cell_id, period_start): copies of three rows, one of them twice,
    fail the key rule four times (critical: the gate stops); a row sharing only the cell is no copy."""
    table = f"{BRONZE}.network_cell_kpis"
    schema, n = spark.table(table).schema, spark.table(table).count()
    rows = spark.table(table).orderBy("cell_id", "period_start").limit(3).collect()
    copies = [r.asDict() for r in (rows[0], rows[1], rows[2], rows[2])]
    near = {**rows[0].asDict(), "period_start": rows[0].period_start + timedelta(seconds=1)}  # same cell, other time
    before = spark.sql(f"describe history {table} limit 1").first().version
    spark.createDataFrame(copies + [near], schema).write.format("delta").mode("append").saveAsTable(table)
    try:
        with pytest.raises(QualityGateFailed, match=r"network.cell_kpis unique_key \(cell_id\+period_start\): 4 of"):
            validate_layer(
                spark,
                "bronze",
                f"run-6-{local_max_rows}",
                progress=lambda line: None,
                tables={"network.cell_kpis"},
                local_max_rows=local_max_rows,
            )
        row = (
            spark.table(results.results_table())
            .where(
                f"run_id = 'run-6-{local_max_rows}' "
                "and check_name = 'network.cell_kpis.cell_id+period_start.unique_key'"
            )
            .first()
        )
        assert (row.rows_checked, row.rows_failed) == (n + 5, 4)
        assert _engine_of("network.cell_kpis", local_max_rows)
    finally:  # (a second overwrite of the partitioned table through the catalog trips Spark's checks)
        spark.sql(f"restore table {table} to version as of {before}")


def _checked(report, name):
    return next(r for r in report.results if r.check.name == name)


def test_a_scoped_gate_validates_the_rows_that_changed_and_only_their_keys_quarantine(spark, env):
    """The frequent path's gate: the first run validates the whole table and marks how far it
    got; the next ones validate what landed after the mark. A quarantine is replaced for the
    changed keys only; a rate is not judged on a handful of rows."""
    table = f"{BRONZE}.bss_orders"
    before = spark.sql(f"describe history {table} limit 1").first().version
    quiet = {"progress": lambda line: None, "tables": {"bss.orders"}, "scoped": True}
    try:
        n = spark.table(table).where("not _is_deleted").count()
        first = validate_layer(spark, "bronze", "scoped-1", **quiet)
        assert _checked(first, "bss.orders.order_id.pattern").rows_checked == n, "no mark yet: the whole table"
        mark = results.validated_until(spark, "bronze")["bss.orders"]
        later = mark + timedelta(seconds=1)
        bad = ["MOB2026X0010002", "XYZ20261001000002", "BRD2026X0010003"]
        _append_orders(spark, [{"order_id": k, "_key": k, "_applied_at": later} for k in bad])
        second = validate_layer(spark, "bronze", "scoped-2", **quiet)
        pattern = _checked(second, "bss.orders.order_id.pattern")
        assert (pattern.rows_checked, pattern.rows_failed, pattern.quarantined) == (3, 3, 3)
        assert pattern.passed and pattern.scoped, "3 of 3 failing is no rate to stop on"
        assert results.validated_until(spark, "bronze")["bss.orders"] == later
        # One of them deleted at the source (a newer change of its key): released; the two
        # others are not in the scope and stay held.
        spark.sql(
            f"update {table} set _is_deleted = true, _applied_at = timestamp'{later + timedelta(seconds=1)}' "
            f"where order_id = '{bad[0]}'"
        )
        third = validate_layer(spark, "bronze", "scoped-3", **quiet)
        assert _checked(third, "bss.orders.order_id.pattern").rows_checked == 0
        held = spark.table(results.quarantine_table()).where("table_name = 'bss.orders' and rule = 'pattern'")
        assert sorted(r.key_value for r in held.collect()) == sorted(bad[1:])
        # Nothing landed since: nothing checked, nothing released.
        fourth = validate_layer(spark, "bronze", "scoped-4", **quiet)
        assert all(r.rows_checked == 0 for r in fourth.results)
        assert held.count() == 2
    finally:
        spark.sql(f"restore table {table} to version as of {before}")
        spark.sql(f"delete from {results.quarantine_table()} where table_name = 'bss.orders'")


def test_a_scoped_gold_gate_validates_the_rows_built_since_its_last_run(spark, env):
    """The refresh's gold gate: after a whole first run, an incremental build's rows (a newer
    ``_built_at``) are what it checks, their references included."""
    gold = f"{PREFIX}gold"
    spark.sql(f"create database if not exists {gold}")
    built = spark.sql("select current_timestamp() - interval 1 hour").first()[0]
    spark.createDataFrame([("u1", 1)], "user_key string, user_id long").write.format("delta").mode(
        "overwrite"
    ).saveAsTable(f"{gold}.dim_user")
    spark.createDataFrame([(10,)], "product_id long").write.format("delta").mode("overwrite").saveAsTable(
        f"{gold}.dim_product"
    )
    schema = "order_id string, user_id long, product_id long, amount double, list_price double, _built_at timestamp"
    orders = [(f"o{i}", 1, 10, 5.0, 5.0, built) for i in range(20)]
    spark.createDataFrame(orders, schema).write.format("delta").mode("overwrite").saveAsTable(
        f"{gold}.fct_orders_merged"
    )
    quiet = {"progress": lambda line: None, "tables": {"fct_orders_merged"}, "scoped": True}
    first = validate_layer(spark, "gold", "gold-scoped-1", **quiet)
    assert _checked(first, "fct_orders_merged.product_id.references_product").rows_checked == 20, (
        "no mark yet: the whole table"
    )
    later = built + timedelta(minutes=5)
    spark.createDataFrame(
        [("o1", 1, 99, 5.0, 5.0, later), ("o20", 2, 10, 5.0, 5.0, later)], schema
    ).createOrReplaceTempView("rebuilt")
    spark.sql(
        f"merge into {gold}.fct_orders_merged t using rebuilt s on t.order_id = s.order_id "
        "when matched then update set * when not matched then insert *"
    )
    second = validate_layer(spark, "gold", "gold-scoped-2", **quiet)
    product = _checked(second, "fct_orders_merged.product_id.references_product")
    user = _checked(second, "fct_orders_merged.user_id.references_customer")
    assert (product.rows_checked, product.rows_failed, product.scoped) == (2, 1, True)
    assert (user.rows_checked, user.rows_failed) == (2, 1)
    assert results.validated_until(spark, "gold")["fct_orders_merged"] == later


def test_an_empty_table_passes_with_nothing_checked(spark, env):
    """A feed with no file yet (a fresh install): its table exists, empty."""
    table = f"{BRONZE}.network_cells"
    spark.createDataFrame([], spark.table(table).schema).write.format("delta").mode("overwrite").saveAsTable(table)
    report = validate_layer(spark, "bronze", "run-5", progress=lambda line: None, tables={"network.cells"})
    assert report.results and all(
        (r.rows_checked, r.rows_failed, r.outcome) == (0, 0, "passed") for r in report.results
    )


def test_data_docs_render_with_no_network(spark, env):
    site = docs.docs_dir()
    pages = list(site.rglob("*.html"))
    assert (site / "index.html").exists()
    index = (site / "index.html").read_text()
    for table in ("crm.customers", "bss.orders", "network.cells"):  # a page per table validated above
        suite = f"bronze__{table.replace('.', '__')}__suite"
        assert list((site / "validations" / suite).rglob("*.html")) and f"validations/{suite}/" in index, suite
    for page in pages:
        html = page.read_text()
        for ref in re.findall(r"""<(?:link|script|img)\b[^>]*?(?:href|src)=["']([^"']+)["']""", html):
            assert not re.match(r"(https?:)?//", ref), f"{page} loads {ref}"
            target = (page.parent / ref.split("?")[0]).resolve()
            assert target.exists(), f"{page}: {ref} is not in the site"
    css = site / docs.VENDOR_DIR / "bootstrap/4.3.1/css/bootstrap.min.css"
    assert css.stat().st_size > 100_000
    # only what the pages load: the assets and the fonts their stylesheets point at
    vendored = [p for p in (site / docs.VENDOR_DIR).rglob("*") if p.is_file()]
    assert any(p.suffix == ".woff2" for p in vendored) and len(vendored) < 50
    for sheet in (p for p in vendored if p.suffix == ".css"):
        for ref in re.findall(r"""url\(\s*["']?(?!data:)([^"')?#]+)""", sheet.read_text(errors="replace")):
            assert (sheet.parent / ref).exists(), f"{sheet}: {ref} is not in the site"
    # the scorecard, rebuilt after each validation: every run so far on its trend charts
    card = scorecard.scorecard_path().read_text()
    assert card.count("<svg") == 2 and "<title>crm " in card and "run-5" in card
    assert not re.search(r"""(src|href)=["']https?:""", card)
