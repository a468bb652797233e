"""How Airflow (through astronomer-cosmos) runs the dbt project: paths and profile in one place."""

from __future__ import annotations

import shutil
from pathlib import Path

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import LoadMode, TestBehavior

from lakehouse.settings import REPO_DIR

DBT_PROJECT_DIR = REPO_DIR / "dbt"


def _dbt_executable() -> str:
    venv_dbt = Path(shutil.which("python3") or "").with_name("dbt")
    return shutil.which("dbt") or str(venv_dbt)


project_config = ProjectConfig(dbt_project_path=DBT_PROJECT_DIR)
profile_config = ProfileConfig(
    profile_name="telco_lakehouse",
    target_name="local",
    profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
)
execution_config = ExecutionConfig(dbt_executable_path=_dbt_executable())
# dbt ls renders the graph (cached by Cosmos); each model's tests run right after it.
render_config = RenderConfig(load_method=LoadMode.DBT_LS, test_behavior=TestBehavior.AFTER_EACH)
