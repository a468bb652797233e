"""
### Lakehouse daily: the day-dependent models, as of the logical date

Once a day, just after midnight UTC, for the day that ended (the run's data interval; its start
is the `as_of_date`): what changes with the calendar rather than with the data.

1. **validate_bronze**: the quality gate on every bronze table, whole (the frequent path's gate
   checks only the rows that changed).
2. **score_churn**: the current churn model (`lakehouse_models`) scores every subscriber open
   on the day into `gold.user_churn_scores` (the day's partition: score, decile, the features
   that raise it most), and the score distribution's drift goes to `quality.model_scoring`.
3. **daily** (Cosmos, one `dbt build` task per model, its tests after it; `selectors.yml:
   daily`): the profile's app activity, `dim_user` (age, days since the last login, the churn
   signal, orders and complaints up to that day), the segments, the KPI board; then each one's
   partition of that day in the `*_history` tables.
   The day's marketing lists (`campaign_lists`) take the churn model's top decile from step 2.
4. **validate_gold**: the gate on every gold table, whole.

**Backfill** (`airflow backfill create --dag-id lakehouse_daily --from-date ... --to-date ...`,
or the UI): each day's run rebuilds that day's history partitions exactly. It builds the
day-dependent models in the schema `gold_backfill`, so gold's stay as of the latest day, and
skips the gates, which check today's tables.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk import dag, get_current_context, task
from airflow.timetables.interval import CronDataIntervalTimetable
from cosmos import DbtTaskGroup

from core.dag_defaults import dag_args
from core.dbt_config import execution_config, operator_args, profile_config, project_config, render_config

log = logging.getLogger(__name__)  # the task log, in order (stdout is a pipe read apart)
BACKFILL_SCHEMA = "gold_backfill"
DBT_VARS = {
    "as_of_date": "{{ data_interval_start | ds }}",
    "day_models_schema": "{{ '" + BACKFILL_SCHEMA + "' if dag_run.run_type == 'backfill' else 'gold' }}",
}


def _not_a_backfill(context: dict) -> bool:
    return context["dag_run"].run_type != "backfill"


@dag(
    dag_id="lakehouse_daily",
    # A data interval per day (Airflow 3's "@daily" is a bare trigger without one).
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    tags=["lakehouse", "dbt", "quality", "daily"],
    **dag_args(__doc__, timedelta(minutes=1)),
    max_active_tasks=2,  # dbt tasks share two cores and one Thrift server
)
def lakehouse_daily():
    @task.run_if(_not_a_backfill, skip_message="a backfill builds past days: today's tables are not its to check")
    @task
    def validate(layer: str) -> dict:
        from expectations.validate import run_gate

        return run_gate(layer)

    daily = DbtTaskGroup(
        group_id="daily",
        project_config=project_config,
        profile_config=profile_config,
        execution_config=execution_config,
        render_config=render_config("daily"),
        operator_args={**operator_args, "vars": DBT_VARS},
        # after a skipped gate (a backfill) as after a passed one
        default_args={"retries": 2, "trigger_rule": "none_failed"},
    )

    # after a skipped gate (a backfill scores its day too)
    @task(trigger_rule="none_failed")
    def score_churn() -> int:
        from core.session import shared_spark
        from spark_jobs.ml import churn

        as_of = get_current_context()["data_interval_start"].date()
        with shared_spark("lakehouse-daily-churn") as spark:
            return churn.score_day(spark, as_of, progress=log.info)

    (
        validate.override(task_id="validate_bronze")("bronze")
        >> score_churn()
        >> daily
        >> validate.override(task_id="validate_gold")("gold")
    )


lakehouse_daily()
