"""The scheduler's preload (``infra/airflow/airflow_local_settings.py``) imports the libraries it
is told and no module of the project: tasks forked from the scheduler must import the project's
code as it is now, not as it was when the scheduler started."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib

from core.settings import INFRA_DIR, REPO_DIR

ROOTS = tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["tool"]["importlinter"]["root_packages"]

SCRIPT = f"""
import json, runpy, sys
runpy.run_path({str(INFRA_DIR / "airflow" / "airflow_local_settings.py")!r})
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_preload(preload: str) -> set[str]:
    env = {"LAKEHOUSE_AIRFLOW_PRELOAD": preload, "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, env=env, check=True)
    return set(json.loads(out.stdout))


def test_the_preload_imports_the_named_libraries_and_nothing_of_the_project():
    assert "wave" not in _modules_after_preload("")
    modules = _modules_after_preload("csv, wave")
    assert {"csv", "wave"} <= modules
    assert not {m for m in modules if m.split(".")[0] in ROOTS}
