"""
### Lakehouse models: weekly training of the churn and cell-fault models

Once a week (and by hand), each model is trained on gold and judged on a later held-out period
beside the rule it replaces (`spark_jobs/ml`):

1. **train_churn**: churn propensity (Spark MLlib logistic regression) from app logins and use,
   complaints, tenure and plan; judged by ROC AUC and the top decile's precision against the
   plan's 3-day no-login rule.
2. **train_faults**: the cell-fault forecast (gradient-boosted trees) from hourly load,
   utilisation and alarms; judged by the share of faults warned of 1-6 hours ahead and the
   share of warnings followed by a fault, against the same-hour `is_fault_risk` flag.

Every run lands in `quality.model_runs` with the Delta versions it read, its parameters, figures
and saved model; it replaces the current model only when it beats it on the same held-out
period. Then **score_churn** (as of the newest day of app activity) and **score_faults** (the
hours not yet scored) with the current model; `lakehouse_daily` scores churn each day and
`lakehouse_forecast` the faults each hour. By hand: `python -m spark_jobs.ml train all`.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from airflow.sdk import dag, task

from core.dag_defaults import dag_args

log = logging.getLogger(__name__)  # the task log, in order (stdout is a pipe read apart)


@dag(
    dag_id="lakehouse_models",
    schedule="@weekly",
    tags=["lakehouse", "ml", "gold"],
    **dag_args(__doc__, timedelta(minutes=5)),
)
def lakehouse_models():
    @task
    def train(model: str) -> dict:
        from core.session import shared_spark
        from spark_jobs.ml import churn, faults

        job = {"churn": churn.train, "faults": faults.train}[model]
        with shared_spark("lakehouse-models") as spark:
            run = job(spark, progress=log.info)
        return run.summary()

    @task
    def score(model: str) -> int:
        from core.session import shared_spark
        from spark_jobs.ml import churn, faults

        job = {"churn": churn.score_day, "faults": faults.score_hours}[model]
        with shared_spark("lakehouse-models") as spark:
            return job(spark, progress=log.info)

    # one after the other: each takes both cores
    (
        train.override(task_id="train_churn")("churn")
        >> score.override(task_id="score_churn")("churn")
        >> train.override(task_id="train_faults")("faults")
        >> score.override(task_id="score_faults")("faults")
    )


lakehouse_models()
