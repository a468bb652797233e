"""Airflow's local-settings hook, imported once by each Airflow process as it starts (linked into
``$AIRFLOW_HOME/config`` by ``infra/services/airflow.sh``).

The scheduler's LocalExecutor forks every task process from itself, so a task does not import
again a module the scheduler already holds. ``LAKEHOUSE_AIRFLOW_PRELOAD`` (set for the
scheduler only) names them: Great Expectations and the Spark Connect client cost each quality
gate task ~3-7 s of imports otherwise. Importing them starts no thread, so forking stays safe.

Only third-party libraries: the variable is read from the environment, not through
``core.settings``, because a project module held by the scheduler would reach every task in its
version of when the scheduler started, however the code has changed since (a new setting then
fails each task with AttributeError until the scheduler restarts).
"""

from __future__ import annotations

import importlib
import os

for _module in filter(None, os.environ.get("LAKEHOUSE_AIRFLOW_PRELOAD", "").split(",")):
    importlib.import_module(_module.strip())
