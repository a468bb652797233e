"""Airflow's local-settings hook, imported once by each Airflow process as it starts (linked into
``$AIRFLOW_HOME/config`` by ``infra/services/airflow.sh``).

The scheduler's LocalExecutor forks every task process from itself, so a task does not import
again a module the scheduler already holds. ``LAKEHOUSE_AIRFLOW_PRELOAD`` (set for the
scheduler only) names them: Great Expectations and the Spark Connect client cost each quality
gate task ~3-7 s of imports otherwise. Importing them starts no thread, so forking stays safe.
"""

from __future__ import annotations

import importlib

from core.settings import get_settings

for _module in filter(None, get_settings().airflow_preload.split(",")):
    importlib.import_module(_module.strip())
