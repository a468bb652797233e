"""Run the dbt project from Python (tests, benchmarks), optionally on a bronze database and
with silver / gold schemas of its own, so a build can sit beside the pipeline's."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from core.directory import password
from core.disk import require_free_space
from core.settings import REPO_DIR, get_settings, settings_env

DBT_PROJECT_DIR = REPO_DIR / "dbt"

# The pipeline's builds leave the unit tests out, as dbt advises: their inputs are fixed, so they
# say nothing new about a day's data; CI runs them (tests/integration/test_gold_known_answers.py).
PIPELINE_BUILD_FLAGS = ["--exclude-resource-type", "unit_test"]


def dbt_executable() -> str:
    """The dbt installed beside this interpreter (the project's venv), whatever PATH says:
    a dbt found first on PATH may be another install or a pyenv shim."""
    venv_dbt = Path(sys.executable).with_name("dbt")
    return str(venv_dbt) if venv_dbt.exists() else (shutil.which("dbt") or "dbt")


def dbt_login_env() -> dict[str, str]:
    """The variable dbt's profile reads the pipeline's SQL password from (dbt masks the value of
    any ``DBT_ENV_SECRET_`` variable in its logs)."""
    return {"DBT_ENV_SECRET_SQL_PASSWORD": password("pipeline")}


def run_dbt(
    args: list[str], bronze_db: str | None = None, schema_prefix: str = "", target_path: str | None = None
) -> subprocess.CompletedProcess:
    """``dbt <args>`` in the project; output captured. bronze_db / schema_prefix select the
    sources' database and put silver and gold under ``<prefix>silver`` / ``<prefix>gold``."""
    require_free_space(get_settings().warehouse_dir, f"dbt {args[0] if args else ''}".strip())
    env = {**os.environ, **settings_env(schema_prefix=schema_prefix), **dbt_login_env()}
    if bronze_db:
        env.update(settings_env(bronze_db=bronze_db))
    extra = ["--target-path", target_path] if target_path else []
    return subprocess.run(
        [dbt_executable(), *args, "--profiles-dir", str(DBT_PROJECT_DIR), *extra],
        cwd=DBT_PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
