"""
### Lakehouse refresh: silver and gold follow bronze

Scheduled on the bronze tables' assets: it runs whenever any of them has new data. The capture
service (`infra/stack.sh start capture`) posts an event for every current-state table its apply
round changed, and `lakehouse_files` one for every feed a run loaded. Events that arrive while a
run is going are queued into the next run (one run at a time), so a busy source means back-to-back
runs, not a pile of them.

1. **validate_bronze**: the quality gate on the tables whose events triggered this run.
2. **refresh**: one in-process `dbt build` of the frequent path (`selectors.yml: refresh`): the
   incremental facts (orders, service tickets, hourly cell KPIs, daily app activity) merge the
   rows changed since their last build, `dim_product` is rebuilt, and each model's tests run
   after it.
3. **validate_gold**: the gate on the gold tables this run refreshed.

The models that depend on the calendar day (the profile, the 360 view, segments, the KPI board)
are built by the full build (`lakehouse_slice`, `make run`).
"""

from __future__ import annotations

import functools
import operator
from datetime import timedelta

from airflow.sdk import dag, get_current_context, task
from cosmos.operators.local import DbtBuildLocalOperator

from core.airflow_client import bronze_uri
from core.assets import GOLD_REFRESHED, QUALITY_RESULTS, bronze_asset
from core.dag_defaults import dag_args
from core.dbt_cli import DBT_PROJECT_DIR, PIPELINE_BUILD_FLAGS
from core.dbt_config import execution_config, profile_config
from schemas.contracts import load_contracts

BRONZE_TABLES = {f"{c.source}_{c.name}": c.qualified_name for c in load_contracts()}
ASSETS = [bronze_asset(t) for t in BRONZE_TABLES]
REFRESHED_GOLD = {"fct_orders", "fct_service_tickets", "dim_product"}  # the gold gate's tables among them


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
        print(f"triggered by new data in: {', '.join(tables) or 'nothing (a manual run: every table)'}")
        return tables

    @task(outlets=[QUALITY_RESULTS])
    def validate(layer: str, tables: list[str] | None) -> dict:
        from airflow.exceptions import AirflowFailException

        from expectations.validate import QualityGateFailed, run_gate

        try:
            return run_gate(layer, run_id=get_current_context()["run_id"], tables=set(tables) if tables else None)
        except QualityGateFailed as e:
            raise AirflowFailException(str(e)) from e  # the data, not the task, is wrong: no retry

    changed = changed_tables()
    refresh = DbtBuildLocalOperator(
        task_id="refresh",
        project_dir=DBT_PROJECT_DIR,
        profile_config=profile_config,
        invocation_mode=execution_config.invocation_mode,
        selector="refresh",
        dbt_cmd_flags=PIPELINE_BUILD_FLAGS,
        install_deps=False,
        outlets=[GOLD_REFRESHED],
    )
    gate_bronze = validate.override(task_id="validate_bronze")("bronze", changed)
    gate_gold = validate.override(task_id="validate_gold")("gold", sorted(REFRESHED_GOLD))
    gate_bronze >> refresh >> gate_gold


lakehouse_refresh()
