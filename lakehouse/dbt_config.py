"""How Airflow (through astronomer-cosmos) runs the dbt project: paths and profile in one place."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import LoadMode, TestBehavior

from lakehouse.settings import REPO_DIR

DBT_PROJECT_DIR = REPO_DIR / "dbt"


def _dbt_executable() -> str:
    """The dbt installed beside this interpreter (the project's venv), whatever PATH says:
    a dbt found first on PATH may be another install or a pyenv shim."""
    venv_dbt = Path(sys.executable).with_name("dbt")
    return str(venv_dbt) if venv_dbt.exists() else (shutil.which("dbt") or "dbt")


project_config = ProjectConfig(dbt_project_path=DBT_PROJECT_DIR)
profile_config = ProfileConfig(
    profile_name="telco_lakehouse",
    target_name="local",
    profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
)
execution_config = ExecutionConfig(dbt_executable_path=_dbt_executable())
# dbt ls renders the graph (cached by Cosmos); each model's tests run right after it.
render_config = RenderConfig(load_method=LoadMode.DBT_LS, test_behavior=TestBehavior.AFTER_EACH)
