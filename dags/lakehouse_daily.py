"""
### Lakehouse daily: the day-dependent models, as of the logical date

Once a day, just after midnight UTC, for the day that ended (the run's data interval; its start
is the `as_of_date`): what changes with the calendar rather than with the data.

1. **validate_bronze**: the quality gate on every bronze table, whole (the frequent path's gate
   checks only the rows that changed).
2. **daily** (Cosmos, one `dbt build` task per model, its tests after it; `selectors.yml:
   daily`): the profile's app activity, `dim_user` (age, days since the last login, the churn
   signal, orders and complaints up to that day), the segments, the KPI board; then each one's
   partition of that day in the `*_history` tables.
3. **validate_gold**: the gate on every gold table, whole.

**Backfill** (`airflow backfill create --dag-id lakehouse_daily --from-date ... --to-date ...`,
or the UI): each day's run rebuilds that day's history partitions exactly. It builds the
day-dependent models in the schema `gold_backfill`, so gold's stay as of the latest day, and
skips the gates, which check today's tables.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import dag, task
from airflow.timetables.interval import CronDataIntervalTimetable
from cosmos import DbtTaskGroup

from core.dag_defaults import dag_args
from core.dbt_config import execution_config, operator_args, profile_config, project_config, render_config

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
    (
        validate.override(task_id="validate_bronze")("bronze")
        >> daily
        >> validate.override(task_id="validate_gold")("gold")
    )


lakehouse_daily()
