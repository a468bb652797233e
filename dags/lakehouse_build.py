"""
### Lakehouse build: every layer, from the sources to gold, checked

The full build (`make run`, or by hand after a backfill or a change of the models):

1. **capture**: every Debezium change of the CRM and BSS topics in bronze. With the capture
   service up (`infra/stack.sh start capture`, part of `make start`), this waits until the
   service has landed every change Kafka held when the task started; without it, the task
   consumes until caught up and applies the changes to the current state itself.
2. **load_files** (beside 1): new landing-zone files (network cells and KPIs, app events) into
   bronze, each file once; bad rows quarantined, broken files marked failed, every row
   accounted for in `bronze.landing_files`.
3. **validate_bronze**: Great Expectations on every bronze table, whole (rules from the
   contracts): a critical rule under its threshold stops here, before silver; a quarantine rule
   holds its rows back from silver; warnings are recorded. Results in
   `quality.validation_results`.
4. **silver**: one in-process `dbt build --selector silver`: staging of every source, conformed
   users, the SCD2 profile snapshot, each with its data tests.
5. **validate_silver**: phone formats, gender consistency CRM vs BSS, conformed keys.
6. **gold**: one in-process `dbt build --selector gold`: `dim_user` (360° view), `dim_product`,
   the incremental facts, segments, product sales, the operations KPI board and today's
   history partitions.
7. **validate_gold**: amount = price, orders → users / products, gold keys.

Every validation (a stopped one too) rebuilds the report under the reports folder: Data Docs
(offline) and the scorecard per source and dimension with its trend over runs; a critical
failure or a rule under its threshold posts an alert to the configured webhook. A dbt task's
log lists every node with its time; `lakehouse_daily` runs the day's models a task per model.

Rerunning is safe (bronze recovers its Kafka position from its own tables, the current state
its applied offsets from its own commits, the file loader skips files its manifest holds; dbt
rebuilds the tables).
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk import dag, task

from core.assets import (
    BRONZE_APP_EVENTS,
    BRONZE_NETWORK_CELL_KPIS,
    BRONZE_NETWORK_CELLS,
    CURRENT_CRM_CUSTOMERS,
    GOLD_DIM_USER,
    QUALITY_RESULTS,
)
from core.dag_defaults import dag_args
from core.dbt_config import build_task

log = logging.getLogger(__name__)  # the task log, in order (stdout is a pipe read apart)


@dag(
    dag_id="lakehouse_build",
    schedule=None,
    tags=["lakehouse", "cdc", "files", "dbt", "quality"],
    **dag_args(__doc__, timedelta(seconds=30)),
)
def lakehouse_build():
    @task(outlets=[CURRENT_CRM_CUSTOMERS])
    def capture() -> dict:
        from core import services

        if services.running("capture"):
            from spark_jobs.cdc.consumer import wait_until_landed

            records = wait_until_landed()
            log.info(f"the capture service landed the {records:,} changes Kafka held at the start")
            return {"by": "capture service", "changes": records}
        from spark_jobs.cdc import current_state
        from spark_jobs.cdc.consumer import ConsumerConfig, run

        stats = run(ConsumerConfig(until_caught_up=True))
        log.info(stats.summary())
        applied = current_state.run()
        for r in applied:
            log.info(r.summary())
        return {"by": "this task", "changes": stats.changes, "dead_letters": stats.dead_letters}

    @task(outlets=[BRONZE_NETWORK_CELLS, BRONZE_NETWORK_CELL_KPIS, BRONZE_APP_EVENTS])
    def load_files() -> dict:
        from spark_jobs.landing.loader import run

        results = run()
        for r in results:
            log.info(r.summary())
        return {
            r.feed: {
                "files": len(r.files),
                "landed": r.total("landed"),
                "quarantined": r.total("quarantined"),
                "duplicates": r.total("duplicates"),
            }
            for r in results
        }

    @task(outlets=[QUALITY_RESULTS])
    def validate(layer: str) -> dict:
        from expectations.validate import run_gate

        return run_gate(layer)

    gate_bronze = validate.override(task_id="validate_bronze")("bronze")
    gate_silver = validate.override(task_id="validate_silver")("silver")
    gate_gold = validate.override(task_id="validate_gold", outlets=[GOLD_DIM_USER, QUALITY_RESULTS])("gold")
    [capture(), load_files()] >> gate_bronze >> build_task("silver") >> gate_silver >> build_task("gold") >> gate_gold


lakehouse_build()
