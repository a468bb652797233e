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


def _build(name: str, kind: str = "model") -> str:
    return f"dbt.{name}_{kind}_build"


def test_slice_builds_every_dbt_node_after_capture_then_checks_quality(dagbag):
    dag = dagbag.dags["lakehouse_slice"]
    ids = set(dag.task_ids)
    models = {p.stem for p in (REPO_DIR / "dbt" / "models").rglob("*.sql")}
    seeds = {p.stem for p in (REPO_DIR / "dbt" / "seeds").glob("*.csv")}
    assert len(models) > 20 and {"dim_user", "fct_orders", "mart_operations_kpis"} <= models
    assert {_build(m) for m in models} | {_build(s, "seed") for s in seeds} | {_build("snap_user_profile", "snapshot")} <= ids
    assert dag.get_task("capture_changes").downstream_task_ids == {"apply_current_state"}
    assert _build("stg_crm__customers") in dag.get_task("apply_current_state").downstream_task_ids
    # dbt's own graph: the 360 view after the facts and the profile it joins
    assert {_build("int_user_profile"), _build("fct_orders"), _build("fct_service_tickets"),
            _build("int_user_app_activity")} <= dag.get_task(_build("dim_user")).upstream_task_ids
    assert _build("int_user_profile") in dag.get_task(_build("snap_user_profile", "snapshot")).upstream_task_ids
    assert {_build("mart_operations_kpis"), _build("mart_segment_sizes")} <= dag.get_task("check_quality").upstream_task_ids


def test_tests_of_two_models_run_after_both(dagbag):
    dag = dagbag.dags["lakehouse_slice"]
    rel = [t for t in dag.task_ids if t.startswith("dbt.relationships_")]
    assert len(rel) >= 4
    for task_id in rel:
        parents = dag.get_task(task_id).upstream_task_ids
        assert len(parents) == 2 and all(p.endswith("_model_build") for p in parents), (task_id, parents)
    assert {_build("fct_orders"), _build("dim_user")} == dag.get_task(
        "dbt.relationships_fct_orders_user_id__user_id__ref_dim_user__test").upstream_task_ids


def test_slice_loads_landed_files_beside_cdc_before_dbt(dagbag):
    dag = dagbag.dags["lakehouse_slice"]
    load = dag.get_task("load_files")
    assert not load.upstream_task_ids
    assert {_build("stg_crm__customers"), _build("stg_app__events"), _build("stg_network__cell_kpis")} <= load.downstream_task_ids
