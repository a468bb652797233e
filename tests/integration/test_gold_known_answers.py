"""Known answers: the gold layer built by dbt (through the Thrift server) on generated bronze
equals what gold_expected.py computes from the same generated data with pandas; the incremental
build after a change equals a full rebuild; the snapshot keeps each changed profile's history."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from pathlib import Path

import pytest

from core.dbt_cli import run_dbt
from core.sql import thrift_query
from expectations.rules import LAYERS, checks_for
from simulator import bronze_fixture
from simulator.generator.cli import build_tables
from simulator.generator.config import GeneratorConfig
from simulator.generator.manifest import Manifest
from tests.integration.cdc_helpers import job_env
from tests.integration.gold_expected import compute

pytestmark = pytest.mark.integration
CFG = GeneratorConfig(scale=0.002, seed=42)
BRONZE, PREFIX, FULL_PREFIX = "kat_bronze", "kat_", "katfull_"


def _fixture(*extra: str) -> None:
    # the stack's Spark configuration (the Spark tier points SPARK_CONF_DIR at an empty one)
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator.bronze_fixture",
            "--scale",
            str(CFG.scale),
            "--seed",
            str(CFG.seed),
            "--bronze-db",
            BRONZE,
            *extra,
        ],
        env=job_env(),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr[-4000:]


def _drop(prefix: str) -> None:
    for layer in ("silver", "gold", "quality"):
        thrift_query(f"drop database if exists {prefix}{layer} cascade")


def _build(prefix: str, target: str, *extra: str) -> dict:
    # small tables: the time goes to per-node round trips, so more of them at once
    done = run_dbt(["build", "--threads", "4", *extra], bronze_db=BRONZE, schema_prefix=prefix, target_path=target)
    assert done.returncode == 0, done.stdout[-4000:]
    return json.loads((Path(target) / "run_results.json").read_text())


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Bronze written from the generator, then a clean dbt build; the run results and the data."""
    _fixture()
    _drop(PREFIX)
    results = _build(PREFIX, str(tmp_path_factory.mktemp("dbt-target")))
    data = bronze_fixture.generate(CFG)
    manifest = Manifest(CFG.seed, CFG.scale)
    build_tables(CFG, manifest)
    return results, compute(data), manifest


def test_dbt_build_passes_and_warns_only_about_the_planted_orphan_orders(built):
    results, _, manifest = built
    statuses = {r["unique_id"]: (r["status"], r.get("failures")) for r in results["results"]}
    assert len(statuses) > 60
    assert all(s in ("success", "pass", "warn") for s, _ in statuses.values())
    warned = [(u.split(".")[2], f) for u, (s, f) in statuses.items() if s == "warn"]
    assert warned == [
        ("relationships_fct_orders_merged_user_id__user_id__ref_dim_user_", manifest.defects["orphan_orders"]["count"])
    ]


def _none(value):
    """pandas' missing values (None, NaN) as SQL's null; whole numbers as int."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return int(value) if isinstance(value, float) else value


def test_users_are_unified_by_e164_phone_across_crm_and_bss(built):
    _, exp, manifest = built
    rows = thrift_query(
        "select user_key, user_id, customer_id, gender, is_gender_consistent, value_tier, age, is_at_risk "
        "from kat_gold.dim_user"
    )
    got = {r[0]: r for r in rows}
    assert set(got) == set(exp.users.index)
    # every planted phone format became the same E.164 number as the BSS account's, as its token
    variants = manifest.defects["phone_format_variants"]["keys"]
    unified = {r[2]: r for r in rows if r[2] in set(variants)}
    assert len(unified) == len(variants) and all(
        r[1] and re.fullmatch("[0-9a-f]{32}", r[1]) and r[1] == r[0] for r in unified.values()
    )
    # customers with no usable phone keep a row of their own, with no user ID
    unusable = manifest.defects["null_phone"]["keys"] + manifest.defects["malformed_phone"]["keys"]
    assert {got[f"crm-{c}"][2] for c in unusable} == set(unusable)
    assert (
        sum(1 for r in rows if r[4] is False) == exp.gender_inconsistent == manifest.defects["gender_mismatch"]["count"]
    )
    for key, r in got.items():
        e = exp.users.loc[key]
        assert (r[5], r[6], r[7]) == (_none(e.value_tier), _none(e.age), bool(e.at_risk)), key


def test_segment_sizes_equal_the_independent_count(built):
    _, exp, _ = built
    got = dict(thrift_query("select segment, users from kat_gold.fct_segment_sizes"))
    assert got == exp.segment_sizes
    assert thrift_query("select count(*) from kat_gold.fct_user_segments")[0][0] == sum(exp.segment_sizes.values())


def test_operations_kpis_equal_the_independent_figures(built):
    _, exp, _ = built
    rows = thrift_query("select as_of_date, kpi, kpi_value from kat_gold.fct_operations_kpis")
    assert {r[0] for r in rows} == {exp.as_of.isoformat()}
    got = {r[1]: r[2] for r in rows}
    assert set(got) == set(exp.kpis)
    for kpi, value in exp.kpis.items():
        assert got[kpi] == pytest.approx(value, rel=1e-9, abs=1e-9), kpi


def test_orders_carry_the_unified_status_and_the_planted_price_mismatches(built):
    _, exp, manifest = built
    assert (
        dict(thrift_query("select order_status, count(*) from kat_gold.fct_orders group by order_status"))
        == exp.order_status_counts
    )
    mismatched = {
        r[0] for r in thrift_query("select order_id from kat_gold.fct_orders where not is_amount_matching_price")
    }
    assert len(mismatched) == exp.amount_mismatches
    assert mismatched == set(manifest.defects["amount_mismatch"]["keys"])
    assert (
        thrift_query("select count(*) from kat_gold.fct_orders where not is_order_number_valid")[0][0]
        == exp.invalid_order_numbers
        == 0
    )


def test_cell_hours_fault_risk_and_app_events_are_all_accounted_for(built):
    _, exp, _ = built
    assert thrift_query(
        "select count(*), sum(case when is_fault_risk then 1 else 0 end), sum(periods) "
        "from kat_gold.fct_cell_kpi_hourly"
    )[0] == (exp.cell_hours, exp.fault_risk_hours, 17_280)
    assert thrift_query("select sum(events) from kat_gold.fct_app_activity_daily")[0][0] == exp.app_events


BAD_ORDER = "MOB2026O9990000001"  # a letter in the date: fails the order-number pattern


def _copy_order(order_id: str, of: str | None = None, **columns: str) -> None:
    """A copy of order ``of`` (any one when None) under ``order_id`` in bronze, as CDC would have
    landed it; ``columns``: other columns' values, as SQL."""
    cols = [r[0] for r in thrift_query(f"show columns in {BRONZE}.bss_orders")]
    values = {"order_id": f"'{order_id}'", "_key": f'\'{{"order_id": "{order_id}"}}\'', **columns}
    select = ", ".join(f"{values.get(c, c)} as {c}" for c in cols)
    which = f"where order_id = '{of}'" if of else "limit 1"
    thrift_query(f"insert into {BRONZE}.bss_orders select {select} from {BRONZE}.bss_orders {which}")


def _plant_bad_order() -> None:
    """A copy of one order under a malformed number."""
    _copy_order(BAD_ORDER)


def test_quality_rules_count_exactly_the_planted_defects_and_quarantine_holds_back_a_bad_order(built, tmp_path):
    """The three layers validated (GX, through the validate CLI) on the known-answer build: every
    rule's failed rows are the generator's planted count, results queryable through Thrift; a
    malformed order number in bronze is quarantined and, once silver is rebuilt, left out of it."""
    _, _, manifest = built
    _plant_bad_order()
    env = {
        **job_env(),
        "LAKEHOUSE_BRONZE_DB": BRONZE,
        "LAKEHOUSE_SCHEMA_PREFIX": PREFIX,
        "LAKEHOUSE_GX_ROOT": str(tmp_path / "gx"),
        "LAKEHOUSE_DATA_DOCS": str(tmp_path / "docs"),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-m", "expectations.validate", "--layer", "all", "--run-id", "kat"],
            env=env,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr[-4000:]
        failed = dict(
            thrift_query(
                f"select check_name, rows_failed from {PREFIX}quality.validation_results "
                "where run_id = 'kat' and rows_failed > 0"
            )
        )
        planted = {name: d["count"] for name, d in manifest.defects.items()}
        assert failed == {
            "crm.customers.phone.not_null": planted["null_phone"],
            "bss.orders.order_id.pattern": 1,
            "stg_crm__customers.user_token.phone_format": planted["malformed_phone"],
            "int_users.crm_gender+bss_gender.gender_matches_bss": planted["gender_mismatch"],
            "fct_orders_merged.user_id.references_customer": planted["orphan_orders"],
            "fct_orders_merged.amount+list_price.amount_matches_price": planted["amount_mismatch"],
        }
        checked = dict(
            thrift_query(
                f"select layer, count(*) from {PREFIX}quality.validation_results where run_id = 'kat' group by layer"
            )
        )
        assert checked == {layer: len(checks_for(layer)) for layer in LAYERS}
        assert thrift_query(f"select key_value, rule from {PREFIX}quality.quarantine") == [(BAD_ORDER, "pattern")]
        assert (
            run_dbt(
                ["run", "--select", "stg_bss__orders"],
                bronze_db=BRONZE,
                schema_prefix=PREFIX,
                target_path=str(tmp_path / "dbt"),
            ).returncode
            == 0
        )
        assert thrift_query(f"select count(*) from {PREFIX}silver.stg_bss__orders where order_id = '{BAD_ORDER}'") == [
            (0,)
        ]
    finally:
        thrift_query(f"delete from {BRONZE}.bss_orders where order_id = '{BAD_ORDER}'")


def test_the_fct_orders_view_shows_what_bronze_changed_since_the_latest_build(built):
    """gold.fct_orders is fct_orders_merged with the orders bronze changed since its build in
    their place: an update shows its new version (`_built_at` null: not built yet), a delete hides
    the order, a new order appears, and a change the bronze gate would hold back (a missing
    amount, a malformed number) leaves the merged version. Bronze restored, the view is the
    merged table again."""
    merged, view, source = f"{PREFIX}gold.fct_orders_merged", f"{PREFIX}gold.fct_orders", f"{BRONZE}.bss_orders"
    assert thrift_query(f"select count(*) from {view}") == thrift_query(f"select count(*) from {merged}")
    updated, deleted, held, template = (
        r[0] for r in thrift_query(f"select order_id from {merged} where amount is not null order by order_id limit 4")
    )
    version = thrift_query(f"describe history {source} limit 1")[0][0]
    (later,) = thrift_query(f"select cast(max(_applied_at) + interval 1 minute as string) from {source}")[0]
    marker, changed = "2001-01-01 00:00:00", f"_applied_at = timestamp'{later}'"
    new_id = template[:11] + "999999"
    (template_updated,) = thrift_query(
        f"select cast(updated_at as string) from {merged} where order_id = '{template}'"
    )[0]

    try:
        thrift_query(f"update {source} set updated_at = timestamp'{marker}', {changed} where order_id = '{updated}'")
        thrift_query(f"update {source} set _is_deleted = true, {changed} where order_id = '{deleted}'")
        thrift_query(
            f"update {source} set amount = null, updated_at = timestamp'{marker}', {changed} where order_id = '{held}'"
        )
        _copy_order(new_id, of=template, _applied_at=f"timestamp'{later}'")
        _copy_order(BAD_ORDER, of=template, _applied_at=f"timestamp'{later}'")
        rows = {
            r[0]: r[1:]
            for r in thrift_query(
                f"select order_id, cast(updated_at as string), _built_at is null from {view} "
                f"where order_id in ('{updated}', '{deleted}', '{held}', '{new_id}', '{BAD_ORDER}')"
            )
        }
        (held_before,) = thrift_query(f"select cast(updated_at as string) from {merged} where order_id = '{held}'")[0]
        assert rows == {updated: (marker, True), held: (held_before, False), new_id: (template_updated, True)}
        assert held_before != marker
        assert (
            thrift_query(f"select count(*) from {view}")[0][0] == thrift_query(f"select count(*) from {merged}")[0][0]
        )
    finally:
        thrift_query(f"restore table {source} to version as of {version}")
    assert _differences_between(view, merged) == 0


GOLD_TABLES = [
    "fct_orders_merged",
    "fct_orders",
    "fct_service_tickets",
    "fct_cell_kpi_hourly",
    "fct_app_activity_daily",
    "dim_user",
    "fct_user_segments",
    "fct_product_sales_monthly",
    "fct_operations_kpis",
]


def _differences(table: str) -> int:
    """Rows of one build missing from the other, both ways; `_built_at` (when the row was built) aside."""
    return _differences_between(f"{PREFIX}gold.{table}", f"{FULL_PREFIX}gold.{table}")


def _differences_between(a: str, b: str) -> int:
    columns = ", ".join(f"`{c}`" for (c,) in thrift_query(f"show columns in {a}") if c != "_built_at")
    return thrift_query(
        f"select (select count(*) from (select {columns} from {a} except all select {columns} from {b})) + "
        f"(select count(*) from (select {columns} from {b} except all select {columns} from {a}))"
    )[0][0]


def test_incremental_build_after_a_change_equals_a_full_rebuild_and_the_snapshot_keeps_history(built, tmp_path_factory):
    _fixture("--change", "0.01")
    incremental = tmp_path_factory.mktemp("dbt-incr")
    _build(PREFIX, str(incremental))
    # The facts' data tests checked the rows this build merged (a full build's tests check every
    # row: the orphan-order warning above counts all the planted ones), neither none nor all.
    latest, merged, total = thrift_query(
        f"select cast(max(_built_at) as string), "
        f"count_if(_built_at = (select max(_built_at) from {PREFIX}gold.fct_orders_merged)), count(*) "
        f"from {PREFIX}gold.fct_orders_merged"
    )[0]
    assert 0 < merged < total
    compiled = next(incremental.rglob("compiled/**/not_null_fct_orders_merged_order_id.sql")).read_text()
    assert f"where _built_at = timestamp'{latest}'" in compiled
    # Key uniqueness is tested over the whole table, whatever the latest build wrote.
    unique = next(incremental.rglob("compiled/**/unique_fct_orders_merged_order_id.sql")).read_text()
    assert "_built_at" not in unique
    _drop(FULL_PREFIX)
    # the reference: models, seeds and the snapshot from scratch; its tests add nothing here
    _build(
        FULL_PREFIX,
        str(tmp_path_factory.mktemp("dbt-full")),
        "--exclude-resource-type",
        "test",
        "--exclude-resource-type",
        "unit_test",
    )
    try:
        assert {t: _differences(t) for t in GOLD_TABLES} == dict.fromkeys(GOLD_TABLES, 0)
        deleted = thrift_query(f"select count(*) from {BRONZE}.bss_orders where _is_deleted")[0][0]
        assert deleted > 0
        assert (
            thrift_query(f"select count(*) from {PREFIX}gold.fct_orders")[0][0]
            == thrift_query(f"select count(*) from {BRONZE}.bss_orders where not _is_deleted")[0][0]
        )
        # Users whose city or plan changed have a closed version and a current one.
        changed = thrift_query(
            f"select count(distinct p.user_key) from {PREFIX}silver.int_user_profile p "
            f"left join {BRONZE}.crm_customers c on p.customer_id = c.customer_id "
            f"left join {BRONZE}.bss_subscribers s on p.subscriber_id = s.subscriber_id "
            f"where c.city like '% New District' "
            f"or s._applied_at > (select min(_applied_at) from {BRONZE}.bss_subscribers)"
        )[0][0]
        assert changed > 0
        closed = thrift_query(
            f"select count(*), count(distinct user_key) from {PREFIX}silver.snap_user_profile "
            "where dbt_valid_to is not null"
        )[0]
        assert closed == (changed, changed)
        assert (
            thrift_query(f"select count(*) from {PREFIX}silver.snap_user_profile where dbt_valid_to is null")[0][0]
            == thrift_query(f"select count(*) from {PREFIX}silver.int_user_profile")[0][0]
        )
    finally:
        _drop(FULL_PREFIX)


def test_docs_generate_describes_every_gold_model(built, tmp_path):
    done = run_dbt(["docs", "generate"], bronze_db=BRONZE, schema_prefix=PREFIX, target_path=str(tmp_path))
    assert done.returncode == 0, done.stdout[-3000:]
    catalog = json.loads((tmp_path / "catalog.json").read_text())
    documented = {n.split(".")[-1] for n in catalog["nodes"]}
    assert set(GOLD_TABLES) <= documented
    assert (tmp_path / "index.html").exists()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    gold = {
        n["name"]: n
        for n in manifest["nodes"].values()
        if n["resource_type"] == "model" and n["schema"] == f"{PREFIX}gold"
    }
    assert all(gold[t]["description"] for t in GOLD_TABLES)
