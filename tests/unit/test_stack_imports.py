"""Every pinned package imports from a file (``python -c`` hides failures: pyspark's connect
module treats ``-c`` as a doctest run) at the version pyproject.toml pins."""

from __future__ import annotations

import importlib
import re
import tomllib
from importlib.metadata import version

import pytest

from core.settings import REPO_DIR

PINS = {
    m.group(1).lower(): m.group(2)
    for dep in tomllib.loads((REPO_DIR / "pyproject.toml").read_text())["project"]["dependencies"]
    if (m := re.match(r"([A-Za-z0-9_.-]+)(?:\[[^\]]+\])?==([\w.]+)", dep))
}
MODULES = {
    "pyspark": "pyspark",
    "delta-spark": "delta",
    "apache-airflow": "airflow",
    "great-expectations": "great_expectations",
    "kafka-python": "kafka",
    "dbt-core": "dbt.cli.main",
    "dbt-spark": "dbt.adapters.spark",
    "astronomer-cosmos": "cosmos",
    "pyarrow": "pyarrow",
}


def test_the_stack_is_pinned():
    assert set(MODULES) <= set(PINS)


@pytest.mark.parametrize("dist", sorted(MODULES))
def test_pinned_package_imports_at_its_pinned_version(dist):
    importlib.import_module(MODULES[dist])
    assert version(dist) == PINS[dist]
