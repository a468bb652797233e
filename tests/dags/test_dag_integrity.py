"""The DAG folder imports cleanly and every DAG follows the house rules."""

from __future__ import annotations

import pytest
from airflow.models.dagbag import DagBag

from lakehouse.settings import REPO_DIR


@pytest.fixture(scope="module")
def dagbag():
    return DagBag(dag_folder=str(REPO_DIR / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "lakehouse_slice" in dagbag.dags


def test_every_dag_has_tags_docs_and_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert not dag.catchup, f"{dag_id} catches up"
        for t in dag.tasks:
            assert t.retries >= 2, f"{dag_id}.{t.task_id} retries {t.retries}"


def test_slice_runs_capture_then_every_dbt_model_then_quality(dagbag):
    dag = dagbag.dags["lakehouse_slice"]
    ids = set(dag.task_ids)
    assert {"capture_changes", "apply_current_state", "dbt.stg_crm__customers.run", "dbt.dim_user.run", "check_quality"} <= ids
    assert dag.get_task("capture_changes").downstream_task_ids == {"apply_current_state"}
    assert "dbt.stg_crm__customers.run" in dag.get_task("apply_current_state").downstream_task_ids
    assert dag.get_task("dbt.dim_user.run").upstream_task_ids == {"dbt.stg_crm__customers.test"}
    assert "check_quality" in dag.get_task("dbt.dim_user.test").downstream_task_ids


def test_slice_loads_landed_files_beside_cdc_before_dbt(dagbag):
    dag = dagbag.dags["lakehouse_slice"]
    load = dag.get_task("load_files")
    assert not load.upstream_task_ids
    assert "dbt.stg_crm__customers.run" in load.downstream_task_ids
