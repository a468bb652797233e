"""What gold holds after a run, read through the Thrift server (the analysts' SQL endpoint):
every current CRM customer covered by a user, the model's row counts, segments and KPIs."""

from __future__ import annotations

from core.sql import thrift_query

GOLD_TABLES = (
    "dim_user",
    "dim_product",
    "fct_orders",
    "fct_service_tickets",
    "fct_cell_kpi_hourly",
    "fct_app_activity_daily",
    "fct_user_segments",
    "fct_product_sales_monthly",
    "fct_operations_kpis",
)


def customers_without_user() -> tuple[int, int]:
    """(current CRM customers in silver, those whose user is missing from gold.dim_user)."""
    return thrift_query(
        "select count(*), count_if(u.user_key is null) from silver.stg_crm__customers c "
        "left join gold.dim_user u on coalesce(c.user_token, concat('crm-', c.customer_id)) = u.user_key"
    )[0]


def report() -> tuple[bool, str]:
    customers, missing = customers_without_user()
    counts = {t: thrift_query(f"select count(*) from gold.{t}")[0][0] for t in GOLD_TABLES}
    segments = thrift_query("select segment, users from gold.fct_segment_sizes order by segment")
    kpis = thrift_query(
        "select kpi, kpi_value, target, meets_target from gold.fct_operations_kpis where period = 'day' order by kpi"
    )
    lines = [
        f"{customers:,} CRM customers, {missing} without a user in gold.dim_user",
        "rows: " + ", ".join(f"{t} {n:,}" for t, n in counts.items()),
        "segments: " + ", ".join(f"{s} {n:,}" for s, n in segments),
        "KPIs of the day: "
        + ", ".join(
            f"{k} {v:.3g}" + (f" ({'meets' if met else 'misses'} target {t:.3g})" if t is not None else "")
            for k, v, t, met in kpis
            if v is not None
        ),
    ]
    return missing == 0 and counts["dim_user"] > 0, "\n      ".join(lines)
