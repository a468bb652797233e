"""Known answers: the gold layer built by dbt (through the Thrift server) on generated bronze
equals what gold_expected.py computes from the same generated data with pandas; the incremental
build after a change equals a full rebuild; the snapshot keeps each changed profile's history;
after a price change, orders are checked against the price valid when they were created."""

from __future__ import annotations

import json
import math
import re
import subprocess
import sys
from datetime import date, timedelta
from functools import cache
from pathlib import Path

import pyarrow as pa
import pytest

from core.dbt_cli import run_dbt
from core.sql import thrift_query
from expectations.rules import LAYERS, checks_for
from simulator import bronze_fixture
from simulator.generator.cli import build_tables
from simulator.generator.config import GeneratorConfig
from simulator.generator.manifest import Manifest
from tests.integration.cdc_helpers import job_env
from tests.integration.gold_expected import VARS, amount_mismatches, compute

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


@cache
def _generated() -> dict[str, pa.Table]:
    return bronze_fixture.generate(CFG)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """Bronze written from the generator, then a clean dbt build; the run results and the data."""
    _fixture()
    _drop(PREFIX)
    results = _build(PREFIX, str(tmp_path_factory.mktemp("dbt-target")))
    data = _generated()
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


def test_marketing_lists_hold_the_open_identified_members_with_their_offer(built):
    _, exp, _ = built
    rows = thrift_query("select list_name, user_key, offer, list_date from kat_gold.campaign_lists")
    got: dict[str, set] = {}
    for name, key, offer, _ in rows:
        got.setdefault(name, set()).add((key, offer))
    # no model has scored this schema's users: its list is absent, the others are exact
    assert got == exp.campaign_lists and "churn_top_decile" not in got
    assert {r[3] for r in rows} == {str(exp.as_of)}
    # the list carries the key and the offer, nothing that identifies or profiles the user
    columns = [r[0] for r in thrift_query("describe kat_gold.campaign_lists") if r[0] and not r[0].startswith("#")]
    assert sorted(set(columns)) == ["list_date", "list_name", "offer", "user_key"]


def _board(table: str, where: str = "true", key: str = "kpi") -> dict:
    """{key: (kpi_value, target, meets_target)} of a KPI table's rows."""
    return {
        r[0]: r[1:] for r in thrift_query(f"select {key}, kpi_value, target, meets_target from {table} where {where}")
    }


def _assert_board(got: dict, expected: dict) -> None:
    assert set(got) == set(expected)
    for key, (value, target, meets) in expected.items():
        assert got[key] == (
            pytest.approx(value, rel=1e-9, abs=1e-9) if value is not None else None,
            pytest.approx(target, rel=1e-9, abs=1e-9) if target is not None else None,
            meets,
        ), key


def _period(board: dict, period: str) -> dict:
    return {kpi: kpi_figures for (p, kpi), kpi_figures in board.items() if p == period}


def test_operations_kpis_equal_the_independent_figures(built):
    """The board as of the profile date, the day and its month to date: values, targets and
    whether each is met, against the pandas reference; the day's rows and the month's are in
    their history tables."""
    _, exp, _ = built
    board = f"{PREFIX}gold.fct_operations_kpis"
    assert thrift_query(
        f"select distinct cast(as_of_date as string), period, cast(period_start as string) from {board} order by period"
    ) == [
        (exp.as_of.isoformat(), "day", exp.as_of.isoformat()),
        (exp.as_of.isoformat(), "month", exp.as_of.replace(day=1).isoformat()),
    ]
    got = _board(board, key="concat(period, '/', kpi)")
    _assert_board(got, {f"{p}/{k}": v for (p, k), v in exp.kpis.items()})
    # what the plan sets a target on meets it or not; the medians are for information
    assert {k.split("/")[1] for k, (_, target, _) in got.items() if target is not None} == {*VARS["kpi_targets"]}
    assert all(got[f"month/{k}"][2] is not None for k in VARS["kpi_targets"])
    day = f"as_of_date = date'{exp.as_of}'"
    _assert_board(_board(f"{PREFIX}gold.fct_operations_kpis_history", day), _period(exp.kpis, "day"))
    _assert_board(_board(f"{PREFIX}gold.fct_operations_kpis_monthly", day), _period(exp.kpis, "month"))


def test_kpi_history_keeps_each_day_and_the_latest_month_to_date(built, tmp_path):
    """The daily schedule's record: a backfill of the day before adds that day's rows, as of
    that day, and leaves the rows of the later day and of the month (counted through it) alone;
    the later day rebuilt replaces its own rows and its month's, its 5G target now on the share
    of the first day in the history."""
    _, exp, _ = built
    day, before = exp.as_of, exp.as_of - timedelta(days=1)
    history, monthly = f"{PREFIX}gold.fct_operations_kpis_history", f"{PREFIX}gold.fct_operations_kpis_monthly"

    def daily_run(as_of: date, backfill: bool, *models: str) -> None:
        dbt_vars = {"as_of_date": as_of.isoformat(), **({"day_models_schema": "gold_backfill"} if backfill else {})}
        # cautious: not the tests that also read a model left out (the segments)
        _build(
            PREFIX,
            str(tmp_path / as_of.isoformat()),
            *("--select", *models, "--indirect-selection", "cautious", "--vars", json.dumps(dbt_vars)),
        )

    kpi_models = ("fct_operations_kpis", "fct_operations_kpis_history", "fct_operations_kpis_monthly")
    try:
        daily_run(before, True, "int_user_app_activity", "dim_user", *kpi_models)
        earlier = exp.kpi_board(before)
        _assert_board(_board(history, f"as_of_date = date'{before}'"), _period(earlier, "day"))
        _assert_board(_board(history, f"as_of_date = date'{day}'"), _period(exp.kpis, "day"))
        _assert_board(_board(monthly), _period(exp.kpis, "month"))
        assert thrift_query(f"select distinct cast(as_of_date as string) from {monthly}") == [(day.isoformat(),)]

        daily_run(day, False, *kpi_models)
        baseline = earlier[("day", "five_g_user_share")].value
        rebuilt = exp.kpi_board(day, five_g_baseline=baseline)
        assert rebuilt[("day", "five_g_user_share")].target == pytest.approx(baseline * 1.1)
        _assert_board(_board(history, f"as_of_date = date'{day}'"), _period(rebuilt, "day"))
        _assert_board(_board(history, f"as_of_date = date'{before}'"), _period(earlier, "day"))
        _assert_board(_board(monthly), _period(rebuilt, "month"))
        complete = (day + timedelta(days=1)).month != day.month
        assert thrift_query(f"select distinct cast(as_of_date as string), is_month_complete from {monthly}") == [
            (day.isoformat(), complete)
        ]
    finally:
        thrift_query(f"drop database if exists {PREFIX}gold_backfill cascade")


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
    "dim_product_price_history",
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


@pytest.fixture(scope="module")
def changed(built, tmp_path_factory):
    """The fixture's change applied to bronze (the tests before it read bronze as built), then an
    incremental build; its target directory."""
    _fixture("--change", "0.01")
    incremental = tmp_path_factory.mktemp("dbt-incr")
    _build(PREFIX, str(incremental))
    return incremental


def test_incremental_build_after_a_change_equals_a_full_rebuild_and_the_snapshot_keeps_history(
    changed, tmp_path_factory
):
    incremental = changed
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
    # the 5G share's baseline the incremental build found in its KPI history, which the
    # reference, from scratch, has not
    (baseline,) = thrift_query(
        f"select min_by(kpi_value, as_of_date) from {PREFIX}gold.fct_operations_kpis_history "
        f"where kpi = 'five_g_user_share' "
        f"and as_of_date < (select max(as_of_date) from {PREFIX}gold.fct_operations_kpis)"
    )[0]
    # the reference: models, seeds and the snapshot from scratch; its tests add nothing here
    _build(
        FULL_PREFIX,
        str(tmp_path_factory.mktemp("dbt-full")),
        "--exclude-resource-type",
        "test",
        "--exclude-resource-type",
        "unit_test",
        "--vars",
        json.dumps({"five_g_share_baseline": baseline}),
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


def test_orders_are_checked_against_the_price_valid_when_they_were_created(built, changed):
    """The change raised a product's price after its orders: the orders before it at the old
    price stay valid, one after it at the old price is flagged, one at the new price is not; the
    flagged orders are the pandas reference's, in the merged table, the view and the gold rule."""
    plan = bronze_fixture.price_change(_generated())
    wrong, right = plan.orders["order_id"].to_pylist()
    changed_at = f"timestamp'{plan.changed_at}'"
    assert thrift_query(
        f"select cast(price as string), cast(valid_from as string), cast(valid_to as string), is_current "
        f"from {PREFIX}gold.dim_product_price_history where product_id = {plan.product_id} order by valid_from"
    ) == [
        (str(plan.old_price), str(plan.product["created_at"][0].as_py()), str(plan.changed_at), False),
        (str(plan.new_price), str(plan.changed_at), None, True),
    ]
    data = _generated()
    expected = amount_mismatches(
        pa.concat_tables([data["bss.orders"], plan.orders]).to_pandas(),
        pa.concat_tables([data["bss.products"], plan.product]).to_pandas(),
    )
    deleted = {r[0] for r in thrift_query(f"select order_id from {BRONZE}.bss_orders where _is_deleted")}
    for table in ("fct_orders_merged", "fct_orders"):
        flagged = {
            r[0] for r in thrift_query(f"select order_id from {PREFIX}gold.{table} where not is_amount_matching_price")
        }
        assert flagged == expected - deleted, table
        assert wrong in flagged and right not in flagged
    assert thrift_query(
        f"select order_id, cast(list_price as string) from {PREFIX}gold.fct_orders "
        f"where order_id in ('{wrong}', '{right}') order by order_id"
    ) == [(wrong, str(plan.new_price)), (right, str(plan.new_price))]
    # the product's older orders at the old price: still valid, and there are some
    older = thrift_query(
        f"select count(*), count_if(not is_amount_matching_price) from {PREFIX}gold.fct_orders "
        f"where product_id = {plan.product_id} and created_at < {changed_at} and amount = {plan.old_price}"
    )[0]
    assert older[0] > 0 and older[1] == 0
    # the gold gate's accuracy rule counts the same orders
    (rule,) = [c for c in checks_for("gold") if c.rule == "amount_matches_price"]
    assert thrift_query(f"select count(*) from {PREFIX}gold.fct_orders_merged where {rule.failing_sql()}") == [
        (len(expected - deleted),)
    ]


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
