"""What every DAG of the lakehouse shares: its tasks' owner, retries and failure alert."""

from __future__ import annotations

from datetime import timedelta

from core.alerts import dag_run_failed, task_failed

__all__ = ["dag_run_failed", "task_defaults"]


def task_defaults(retry_delay: timedelta) -> dict:
    """A DAG's ``default_args``; the DAG itself takes ``on_failure_callback=dag_run_failed``."""
    return {"owner": "data-platform", "retries": 2, "retry_delay": retry_delay, "on_failure_callback": task_failed}
