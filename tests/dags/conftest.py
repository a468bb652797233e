"""DAG tests parse the DAG folder with the stack's Airflow settings (no services needed)."""

from __future__ import annotations

import os

from tests.conftest import load_rendered_env

os.environ.update(load_rendered_env("airflow.env"))
os.environ.setdefault("AIRFLOW__CORE__DAGS_FOLDER", os.path.join(os.path.dirname(__file__), "..", "..", "dags"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
