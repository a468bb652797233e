"""
### Lakehouse slice: sources to gold, checked

The lakehouse end to end:

1. **capture_changes**: the CDC consumer lands every Debezium change of the CRM and BSS
   topics in the bronze change-log tables, exactly once, until caught up.
2. **apply_current_state**: MERGE of the new changes into one current-state table per source
   table (deletes included; an older version never overwrites a newer one), as SQL through the
   Thrift server's Spark Connect: no JVM of its own, and the server is warm for the gate.
3. **load_files** (beside 1-2): new landing-zone files (network cells and KPIs, app events)
   into bronze, each file once; bad rows quarantined, broken files marked failed, every row
   accounted for in `bronze.landing_files`.
4. **validate_bronze**: Great Expectations on every bronze table (rules from the contracts):
   a critical rule under its threshold stops here, before silver; a quarantine rule holds its
   rows back from silver; warnings are recorded. Results in `quality.validation_results`.
5. **silver** (Cosmos, one `dbt build` task per node): staging of every source, conformed users,
   the SCD2 profile snapshot, each with its unit and data tests.
6. **validate_silver**: phone formats, gender consistency CRM vs BSS, conformed keys.
7. **gold** (Cosmos): `dim_user` (360° view), `dim_product`, the incremental facts (orders,
   service tickets, hourly cell KPIs, daily app activity), segments, product sales and the
   operations KPI board.
8. **validate_gold**: amount = price, orders → users / products, gold keys.
Every validation (a stopped one too) rebuilds the report under the reports folder: Data Docs
(offline) and the scorecard per source and dimension with its trend over runs; a critical
failure or a rule under its threshold posts an alert to the configured webhook.

Triggered manually or by `make run`; rerunning is safe (bronze recovers its Kafka position
from its own tables, the current state its applied offsets from its own commits, the file loader
skips files its manifest holds; dbt rebuilds the tables).
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task
from cosmos import DbtTaskGroup

from core.assets import (
    BRONZE_APP_EVENTS,
    BRONZE_CRM_CUSTOMERS,
    BRONZE_NETWORK_CELL_KPIS,
    BRONZE_NETWORK_CELLS,
    CURRENT_CRM_CUSTOMERS,
    GOLD_DIM_USER,
    QUALITY_RESULTS,
)
from core.dag_defaults import dag_args
from core.dbt_config import execution_config, operator_args, profile_config, project_config, render_config


@dag(
    dag_id="lakehouse_slice",
    schedule=None,
    tags=["lakehouse", "cdc", "files", "dbt", "quality"],
    **dag_args(__doc__, timedelta(seconds=30)),
    max_active_tasks=4,  # dbt tasks share two cores and one Thrift server
)
def lakehouse_slice():
    @task(outlets=[BRONZE_CRM_CUSTOMERS])
    def capture_changes() -> dict:
        from spark_jobs.cdc.consumer import ConsumerConfig, run

        stats = run(ConsumerConfig(until_caught_up=True))
        print(stats.summary())
        return {"changes": stats.changes, "dead_letters": stats.dead_letters}

    @task(outlets=[CURRENT_CRM_CUSTOMERS])
    def apply_current_state() -> dict:
        from spark_jobs.cdc.current_state import run

        results = run()
        for r in results:
            print(r.summary())
        return {r.table: r.changes for r in results}

    @task(outlets=[BRONZE_NETWORK_CELLS, BRONZE_NETWORK_CELL_KPIS, BRONZE_APP_EVENTS])
    def load_files() -> dict:
        from spark_jobs.landing.loader import run

        results = run()
        for r in results:
            print(r.summary())
        return {
            r.feed: {
                "files": len(r.files),
                "landed": r.total("landed"),
                "quarantined": r.total("quarantined"),
                "duplicates": r.total("duplicates"),
            }
            for r in results
        }

    def dbt_layer(layer: str) -> DbtTaskGroup:
        return DbtTaskGroup(
            group_id=layer,
            project_config=project_config,
            profile_config=profile_config,
            execution_config=execution_config,
            render_config=render_config(layer),
            operator_args=operator_args,
            default_args={"retries": 2},
        )

    @task(outlets=[QUALITY_RESULTS])
    def validate(layer: str) -> dict:
        from airflow.exceptions import AirflowFailException
        from airflow.sdk import get_current_context

        from expectations.validate import QualityGateFailed, run_gate

        try:
            return run_gate(layer, run_id=get_current_context()["run_id"])
        except QualityGateFailed as e:
            raise AirflowFailException(str(e)) from e  # the data, not the task, is wrong: no retry

    bronze = [capture_changes() >> apply_current_state(), load_files()]
    gate_bronze = validate.override(task_id="validate_bronze")("bronze")
    gate_silver = validate.override(task_id="validate_silver")("silver")
    gate_gold = validate.override(task_id="validate_gold", outlets=[GOLD_DIM_USER, QUALITY_RESULTS])("gold")
    bronze >> gate_bronze >> dbt_layer("silver") >> gate_silver >> dbt_layer("gold") >> gate_gold


lakehouse_slice()
