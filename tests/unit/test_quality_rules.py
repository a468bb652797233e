"""Quality rules from the contracts, severity actions, alerts, the offline Data Docs rewrite and
the scorecard: pure logic, no Spark."""

from __future__ import annotations

import re
from datetime import date, datetime
from pathlib import Path

import pytest

from core.settings import REPO_DIR
from expectations import alerts, docs, scorecard
from expectations.results import CheckResult
from expectations.rules import LAYERS, Check, RuleConfigError, _from_rule, checks_for
from schemas.contracts import ContractError, Rule, load_contracts, parse_contract


def _by_name(layer: str) -> dict[str, Check]:
    return {c.name: c for c in checks_for(layer)}


def test_every_contract_rule_is_checked_in_exactly_one_layer():
    declared = {(c.qualified_name, r.rule) for c in load_contracts() for col in c.columns for r in col.rules}
    checked = [(c.source, c.rule, c.layer) for layer in LAYERS for c in checks_for(layer)]
    for table, rule in declared:
        layers = {layer for src, r, layer in checked if r == rule and src == table.split(".")[0]}
        assert len(layers) == 1, (table, rule, layers)


def test_bronze_checks_come_from_keys_nullability_allowed_values_and_patterns():
    bronze = _by_name("bronze")
    assert bronze["crm.customers.customer_id.unique_key"].kind == "unique"
    assert bronze["network.cell_kpis.cell_id+period_start.unique_key"].columns == ("cell_id", "period_start")
    required = {n for n in bronze if n.startswith("crm.customers.") and n.endswith(".required")}
    assert required == {
        f"crm.customers.{c}.required"
        for c in ("customer_id", "full_name", "acquisition_channel", "created_at", "updated_at")
    }
    phone = bronze["crm.customers.phone.not_null"]
    assert (phone.dimension, phone.severity, phone.threshold, phone.action) == (
        "completeness",
        "critical",
        0.98,
        "stop",
    )
    order_no = bronze["bss.orders.order_id.pattern"]
    assert (order_no.kind, order_no.action) == ("regex", "quarantine")
    assert bronze["crm.service_tickets.satisfaction_score.allowed_values"].values == (1, 2, 3, 4, 5)  # typed


def test_cross_table_rules_run_where_their_inputs_meet():
    silver, gold = _by_name("silver"), _by_name("gold")
    assert silver["int_users.crm_gender+bss_gender.gender_matches_bss"].dimension == "consistency"
    assert silver["stg_crm__customers.user_token.phone_format"].where == "has_phone"
    amount = gold["fct_orders_merged.amount+list_price.amount_matches_price"]
    assert (amount.dimension, amount.kind) == ("accuracy", "pair_equal")
    refs = {n: c.ref for n, c in gold.items() if c.kind == "exists_in"}
    assert refs == {
        "fct_orders_merged.user_id.references_customer": "dim_user.user_id",
        "fct_orders_merged.product_id.references_product": "dim_product.product_id",
    }


def test_failing_sql_says_what_the_expectation_counts():
    silver, gold = _by_name("silver"), _by_name("gold")
    assert silver["stg_crm__customers.user_token.phone_format"].failing_sql() == "(has_phone) and (user_token is null)"
    assert (
        gold["fct_orders_merged.user_id.references_customer"].failing_sql()
        == "user_id is not null and _ref_user_id is null"
    )
    expectation = gold["fct_orders_merged.user_id.references_customer"].expectation()
    assert expectation.column == "_ref_user_id" and "user_id IS NOT NULL" in str(expectation.row_condition)
    assert expectation.meta["check"] == "fct_orders_merged.user_id.references_customer"


def test_severity_and_action_are_checked_where_declared():
    with pytest.raises(ValueError, match="warning can only be recorded"):
        Rule("x", "validity", "warning", action="stop")
    with pytest.raises(ValueError, match="dimension 'tidiness'"):
        Rule("x", "tidiness", "critical")
    with pytest.raises(RuleConfigError, match="only bronze rows can be held back"):
        _from_rule(
            "gold", "fct_orders", "bss", Rule("x", "validity", "critical", action="quarantine"), "not_null", ["a"]
        )
    doc = {
        "name": "t",
        "source": "s",
        "primary_key": ["a"],
        "columns": [
            {
                "name": "a",
                "type": "int",
                "nullable": False,
                "rules": [{"rule": "not_null", "dimension": "completeness", "severity": "urgent"}],
            }
        ],
    }
    with pytest.raises(ContractError, match="severity 'urgent'"):
        parse_contract(doc)


def test_every_quarantining_contract_is_filtered_in_its_staging_model():
    quarantining = {c.table for c in checks_for("bronze") if c.action == "quarantine"}
    assert quarantining == {"bss.orders"}
    for table in quarantining:
        source, name = table.split(".")
        sql = (REPO_DIR / "dbt" / "models" / "staging" / source / f"stg_{source}__{name}.sql").read_text()
        assert f"quarantined_keys('{table}')" in sql


def _result(check: Check, checked: int, failed: int) -> CheckResult:
    return CheckResult(check, "db.t", checked, failed)


def test_alerts_for_critical_failures_and_rates_under_threshold():
    bronze = _by_name("bronze")
    phone, order_no, status = (
        bronze["crm.customers.phone.not_null"],
        bronze["bss.orders.order_id.pattern"],
        bronze["bss.orders.status.allowed_values"],
    )
    results = [_result(phone, 100, 1), _result(order_no, 100, 2), _result(status, 100, 0)]
    assert [(r.outcome, r.passed) for r in results] == [("passed", True), ("quarantined", False), ("passed", True)]
    raised = alerts.alerts_for(results, "r1")
    assert [(a.rule, a.rows_failed, a.outcome) for a in raised] == [("pattern", 2, "quarantined")]
    stopped = _result(phone, 100, 3)
    assert stopped.outcome == "stopped" and "3 of 100 rows fail" in stopped.describe()
    assert alerts.alerts_for([stopped], "r1")[0].text().startswith("[critical] bronze crm.customers: rule not_null")


def test_cdn_assets_become_relative_local_paths(tmp_path):
    site = tmp_path / "site"
    page = site / "validations" / "a" / "b.html"
    html = (
        '<link href="https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css" integrity="x" '
        'crossorigin="anonymous" rel="stylesheet">\n<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>'
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=123">'
        '<link rel="icon" href="../static/images/favicon.ico">'
    )
    out = docs.offline_html(html, page, site)
    assert 'href="../../static/vendor/bootstrap/4.3.1/css/bootstrap.min.css"' in out
    assert "vega" not in out and "integrity=" not in out.replace("data-integrity=", "")
    assert 'src="../../static/images/logo-long.png"' in out and 'href="../../static/images/favicon.ico"' in out
    assert docs.offline_html(out, page, site) == out  # idempotent
    with pytest.raises(docs.OfflineAssetsMissing, match="unpkg.com/unknown"):
        docs.offline_html('<script src="https://unpkg.com/unknown.js"></script>', page, site)


def test_gx_templates_load_only_assets_the_offline_table_knows():
    import great_expectations

    templates = Path(great_expectations.__file__).parent / "render" / "view" / "templates"
    urls = set()
    for t in templates.rglob("*.j2"):
        urls |= set(re.findall(r"""<(?:link|script)\b[^>]*?(?:href|src)=["'](https?://[^"']+)["']""", t.read_text()))
    assert urls and urls <= set(docs.CDN_ASSETS), urls - set(docs.CDN_ASSETS)


def _row(run, at, source, dimension, rate, check="c", passed=True, failed=0):
    return {
        "run_id": run,
        "validated_at": datetime(2026, 11, 1, at),
        "source": source,
        "dimension": dimension,
        "pass_rate": rate,
        "check_name": check,
        "passed": passed,
        "rows_failed": failed,
        "rows_checked": 100,
        "layer": "bronze",
        "table_name": "crm.customers",
        "rule": "not_null",
        "columns": "phone",
        "severity": "critical",
        "threshold": 0.98,
        "outcome": "passed" if passed else "stopped",
    }


def test_scorecard_scores_are_mean_pass_rates_with_a_trend_per_group():
    rows = [
        _row("r2", 2, "crm", "completeness", 0.5, "a", False, 50),
        _row("r2", 2, "crm", "validity", 1.0, "b"),
        _row("r1", 1, "crm", "completeness", 1.0, "a"),
        _row("r1", 1, "bss", "validity", 0.9, "c", True, 10),
    ]
    assert scorecard.scores(rows, "source") == {"r1": {"bss": 90.0, "crm": 100.0}, "r2": {"crm": 75.0}}
    page = scorecard.render(rows)
    # lines for groups seen in both runs: crm; completeness and validity
    assert page.count("<svg") == 2 and page.count("<polyline") == 3
    assert "Latest run <b>r2</b>: 1 of 2 checks" in page
    assert "<td class='num'>50</td><td class='num'>100</td><td class='num'>50.00%</td>" in page
    assert not re.search(r"""(src|href)=["']https?:""", page)


def _kpi(kpi, day, value, target=None, unit="share", direction=None, meets=None, **month):
    return {
        "kpi": kpi,
        "as_of_date": date(2026, 10, day),
        "kpi_value": value,
        "target": target,
        "unit": unit,
        "direction": direction,
        "meets_target": meets,
        **month,
    }


def test_scorecard_charts_each_kpi_against_its_target_and_names_each_sources_owners():
    rows = [_row("r1", 1, "crm", "completeness", 1.0, "a"), _row("r1", 1, "bss", "validity", 0.9, "c", True, 10)]
    share = [
        _kpi("activated_within_2h_share", d, v, 0.9, direction="at_least", meets=v >= 0.9)
        for d, v in [(3, 0.92), (1, 0.8), (2, 0.95)]  # in no order: charted by day
    ]
    median = [_kpi("order_to_activation_p50_minutes", d, 30.0 + d, unit="minutes") for d in (1, 2, 3)]
    month = _kpi(
        "activated_within_2h_share",
        3,
        0.89,
        0.9,
        direction="at_least",
        meets=False,
        month_start=date(2026, 10, 1),
        is_month_complete=False,
    )
    page = scorecard.render(rows, kpi_days=share + median, kpi_months=[month])
    # two score charts, one per KPI; a target line (dashed, no dots) only where there is a target
    assert page.count("<svg") == 4 and page.count("stroke-dasharray") == 1
    dots = re.findall(r"<title>value ([^<]+)</title>", page)
    assert dots[:3] == ["80.0% (2026-10-01)", "95.0% (2026-10-02)", "92.0% (2026-10-03)"]
    assert "<title>value 33 min (2026-10-03)</title>" in page
    # the latest day meets its target, the month to date misses it
    assert (
        "<td>activated_within_2h_share</td><td>at_least</td><td class='num'>92.0%</td><td class='num'>90.0%</td>"
        "<td>meets</td><td class='num'>89.0%</td><td class='num'>90.0%</td><td class='bad'>misses</td>"
    ) in page
    assert "month 2026-10 (to 2026-10-03)" in page
    # every contract's owners, with its source's latest score
    assert "<td>bss</td><td>bss.orders</td><td>IT</td><td>sales</td><td class='num'>90.00%</td>" in page
    assert page.count("<td>IT</td>") == len(load_contracts())
    assert "No KPI history yet" in scorecard.render(rows)


def _run(version, auc, rule_auc, promoted, decision="first model"):
    return {
        "model": "churn",
        "version": version,
        "trained_at": datetime(2026, 10, int(version[-1])),
        "held_out": "cutoff 2026-10-01",
        "metrics": {"roc_auc": auc, "top_decile_precision": 0.2},
        "baseline_metrics": {"roc_auc": rule_auc, "precision": 0.05},
        "promoted": promoted,
        "decision": decision,
        "train_seconds": 38.0,
        "inputs": {"gold.dim_user": 4, "gold.fct_app_activity_daily": 7},
    }


def test_scorecard_shows_each_models_runs_beside_its_rule_and_the_drift_of_its_scores():
    rows = [_row("r1", 1, "crm", "completeness", 1.0, "a")]
    runs = [_run("v2", 0.78, 0.57, False, "kept the current model"), _run("v1", 0.81, 0.56, True)]
    scoring = [{"model": "churn", "scored_at": datetime(2026, 10, d, 1), "psi": p} for d, p in [(2, 0.02), (3, 0.31)]]
    page = scorecard.render(rows, model_runs=runs, model_scoring=scoring)
    # per figure: the model's line with dots, the rule's dashed; the drift chart with its limit
    assert "<title>model 0.810 (v1)</title>" in page and "<title>model 0.780 (v2)</title>" in page
    assert "<title>churn 0.310 (2026-10-03 01:00)</title>" in page
    assert page.count("stroke-dasharray") == 3  # two rules and the drift limit
    # newest run first; a run kept out is marked, with the Delta versions it read
    v2, v1 = page.index("<td>v2</td>"), page.index("<td>v1</td>")
    assert v2 < v1 and "<tr class=warn><td>v2</td>" in page
    assert "<td class='num'>0.810</td><td class='num'>0.200</td><td class='num'>0.560</td>" in page
    assert "gold.dim_user v4, gold.fct_app_activity_daily v7" in page
    assert "No model trained yet" in scorecard.render(rows)


def test_history_pruning_keeps_each_suites_newest_validations(tmp_path):
    root = tmp_path / "validations"
    for suite in ("a__suite", "b__suite"):
        for n in range(5):
            (root / suite / f"run-{n}" / f"2026110{n}T000000Z").mkdir(parents=True)
    assert docs.prune_history(keep=2, roots=[root]) == 6
    assert sorted(p.name for p in (root / "a__suite").iterdir()) == ["run-3", "run-4"]
    assert docs.prune_history(keep=2, roots=[root]) == 0


def test_run_summary_names_planted_defects_and_fails_on_a_stop_or_a_missing_layer(monkeypatch):
    from expectations import run_summary

    counts = {layer: len(checks_for(layer)) for layer in LAYERS}
    answers = {
        "group by layer": [(layer, n, 1 if layer == "gold" else 0, 0) for layer, n in counts.items()],
        "rows_failed > 0": [
            ("crm.customers.phone.not_null", 2, 200, "passed"),
            ("fct_orders_merged.amount+list_price.amount_matches_price", 44, 2000, "warned"),
        ],
    }
    monkeypatch.setattr(run_summary, "thrift_query", lambda sql: next(v for k, v in answers.items() if k in sql))
    ok, text = run_summary.summary("r1", {"null_phone": {"count": 2}, "amount_mismatch": {"count": 44}})
    assert ok
    assert (
        f"bronze {counts['bronze']} (0 under threshold)" in text
        and f"gold {counts['gold']} (1 under threshold)" in text
    )
    assert "crm.customers.phone.not_null: 2 of 200 rows fail, passed (planted null_phone 2)" in text
    assert "amount_matches_price: 44 of 2,000 rows fail, warned (planted amount_mismatch 44)" in text
    answers["group by layer"] = [("bronze", counts["bronze"], 1, 1)]  # stopped at bronze: no silver, gold
    assert run_summary.summary("r1", {})[0] is False


def test_only_checks_without_spark_sql_run_in_pandas():
    gold, bronze = _by_name("gold"), _by_name("bronze")
    assert bronze["bss.orders.order_id.pattern"].runs_in_pandas  # a plain pattern: Python reads it alike
    assert bronze["network.cell_kpis.cell_id+period_start.unique_key"].runs_in_pandas
    assert not gold["fct_orders_merged.user_id.references_customer"].runs_in_pandas  # a join and a condition
    assert not _by_name("silver")["stg_crm__customers.user_token.phone_format"].runs_in_pandas  # a row condition
    java_only = _from_rule(
        "bronze",
        "crm.customers",
        "crm",
        Rule("pattern", "validity", "warning"),
        "regex",
        ["full_name"],
        pattern=r"^\p{L}+$",
    )
    assert not java_only.runs_in_pandas
