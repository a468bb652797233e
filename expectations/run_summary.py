"""A DAG run's quality results as the main job prints them, read through the Thrift server."""

from __future__ import annotations

from core.sql import thrift_query
from expectations.results import results_table
from expectations.rules import LAYERS, checks_for

# The rules the generator's planted defects break (check name -> defect in the manifest).
PLANTED = {
    "crm.customers.phone.not_null": "null_phone",
    "stg_crm__customers.user_token.phone_format": "malformed_phone",
    "int_users.crm_gender+bss_gender.gender_matches_bss": "gender_mismatch",
    "fct_orders_merged.user_id.references_customer": "orphan_orders",
    "fct_orders_merged.amount+list_price.amount_matches_price": "amount_mismatch",
}


def summary(run_id: str, defects: dict[str, dict]) -> tuple[bool, str]:
    """(every layer validated with all its checks and none stopped, the lines to print)."""
    per_layer = {
        layer: (n, under, stopped)
        for layer, n, under, stopped in thrift_query(
            f"select layer, count(*), count_if(not passed), count_if(outcome = 'stopped') from {results_table()} "
            f"where run_id = '{run_id}' group by layer"
        )
    }
    failing = thrift_query(
        f"select check_name, rows_failed, rows_checked, outcome from {results_table()} "
        f"where run_id = '{run_id}' and rows_failed > 0 order by layer, check_name"
    )
    lines = [
        "checks: "
        + ", ".join(
            f"{layer} {per_layer.get(layer, (0, 0, 0))[0]} ({per_layer.get(layer, (0, 0, 0))[1]} under threshold)"
            for layer in LAYERS
        )
    ]
    for check, failed, checked, outcome in failing:
        planted = PLANTED.get(check)
        note = f" (planted {planted} {defects[planted]['count']:,})" if planted in defects else ""
        lines.append(f"{check}: {failed:,} of {checked:,} rows fail, {outcome}{note}")
    complete = all(per_layer.get(layer, (0,))[0] == len(checks_for(layer)) for layer in LAYERS)
    stopped = sum(v[2] for v in per_layer.values())
    return complete and not stopped, "\n      ".join(lines)
