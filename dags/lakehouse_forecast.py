"""
### Lakehouse forecast: the cell-fault forecast, every hour

**score_faults**: the current cell-fault model (`lakehouse_models`) scores every cell-hour of
`gold.fct_cell_kpi_hourly` that `gold.cell_fault_forecast` lacks (a file landing late, up to two
days, is scored when it lands): the probability of an outage in the next 1-6 hours, an alert
where it reaches the model's threshold, beside today's `is_fault_risk` flag. The score distribution's drift against
the model's held-out scores goes to `quality.model_scoring`. Nothing is scored before the first
model is trained.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk import dag, task

from core.dag_defaults import dag_args

log = logging.getLogger(__name__)


@dag(
    dag_id="lakehouse_forecast",
    schedule="@hourly",
    tags=["lakehouse", "ml", "network"],
    **dag_args(__doc__, timedelta(minutes=2)),
)
def lakehouse_forecast():
    @task
    def score_faults() -> int:
        from core.session import shared_spark
        from spark_jobs.ml import faults

        with shared_spark("lakehouse-forecast") as spark:
            return faults.score_hours(spark, progress=log.info)

    score_faults()


lakehouse_forecast()
