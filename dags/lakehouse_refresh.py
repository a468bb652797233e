"""
### Lakehouse refresh: silver and gold follow bronze

Scheduled on the bronze tables' assets: it runs whenever any of them has new data. The capture
service (`infra/stack.sh start capture`) posts an event for every current-state table its apply
round changed, and `lakehouse_files` one for every feed a run loaded. Events that arrive while a
run is going are queued into the next run (one run at a time), so a busy source means back-to-back
runs, not a pile of them.

1. **validate_bronze**: the quality gate on the tables whose events triggered this run, on
   their rows that landed since its last run (the full build's gate validates whole tables).
2. **refresh**: one in-process `dbt build` of the frequent path (`selectors.yml: refresh`): the
   incremental facts (`fct_orders_merged`, service tickets, hourly cell KPIs, daily app
   activity) merge the rows changed since their last build, `dim_product` is rebuilt, and each
   model's tests run after it. The `gold.fct_orders` view shows an order's change before this:
   it reads the orders changed since `fct_orders_merged`'s last build from bronze.
3. **validate_gold**: the gate on the gold tables this run refreshed, on their rows built since
   its last run (`lakehouse_daily` validates them whole).

The models that depend on the calendar day (the profile, the 360 view, segments, the KPI board)
are built by `lakehouse_daily` (and the full build, `lakehouse_build`).
"""

from __future__ import annotations

import functools
import logging
import operator
from datetime import timedelta

from airflow.sdk import dag, get_current_context, task

from core.airflow_client import bronze_uri
from core.assets import GOLD_REFRESHED, QUALITY_RESULTS, bronze_asset
from core.dag_defaults import dag_args
from core.dbt_config import build_task
from schemas.contracts import load_contracts

log = logging.getLogger(__name__)  # the task log, in order (stdout is a pipe read apart)

BRONZE_TABLES = {f"{c.source}_{c.name}": c.qualified_name for c in load_contracts()}
ASSETS = [bronze_asset(t) for t in BRONZE_TABLES]
REFRESHED_GOLD = {"fct_orders_merged", "fct_service_tickets", "dim_product"}  # the gold gate's tables among them


@dag(
    dag_id="lakehouse_refresh",
    schedule=functools.reduce(operator.or_, ASSETS),  # any of them
    tags=["lakehouse", "dbt", "quality", "incremental"],
    **dag_args(__doc__, timedelta(seconds=15)),
)
def lakehouse_refresh():
    @task
    def changed_tables() -> list[str]:
        """The contracts (``source.table``) of the bronze tables whose events triggered the run."""
        events = get_current_context()["triggering_asset_events"]
        uris = {getattr(asset, "uri", str(asset)) for asset in events}
        tables = sorted(name for t, name in BRONZE_TABLES.items() if bronze_uri(t) in uris)
        log.info(f"triggered by new data in: {', '.join(tables) or 'nothing (a manual run: every table)'}")
        return tables

    @task(outlets=[QUALITY_RESULTS])
    def validate(layer: str, tables: list[str] | None, scoped: bool = False) -> dict:
        from expectations.validate import run_gate

        return run_gate(layer, set(tables) if tables else None, scoped=scoped)

    changed = changed_tables()
    refresh = build_task("refresh", outlets=[GOLD_REFRESHED])
    gate_bronze = validate.override(task_id="validate_bronze")("bronze", changed, scoped=True)
    gate_gold = validate.override(task_id="validate_gold")("gold", sorted(REFRESHED_GOLD), scoped=True)
    gate_bronze >> refresh >> gate_gold


lakehouse_refresh()
