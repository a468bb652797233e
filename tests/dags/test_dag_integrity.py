"""The DAG folder imports cleanly and every DAG follows the house rules."""

from __future__ import annotations

import pytest
from airflow.models.dagbag import DagBag

from core.alerts import dag_run_failed, task_failed
from core.settings import REPO_DIR


@pytest.fixture(scope="module")
def dagbag():
    return DagBag(dag_folder=str(REPO_DIR / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}
    assert {"lakehouse_slice", "lakehouse_files", "lakehouse_refresh", "lakehouse_maintenance"} <= set(dagbag.dags)


def test_every_dag_has_tags_docs_and_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md, f"{dag_id} has no doc_md"
        assert not dag.catchup, f"{dag_id} catches up"
        for t in dag.tasks:
            assert t.retries >= 2, f"{dag_id}.{t.task_id} retries {t.retries}"


def test_every_failure_is_alerted(dagbag):
    """A failed task (after its retries) and a failed DAG run post an operations alert."""
    for dag_id, dag in dagbag.dags.items():
        assert dag.owner != "airflow", f"{dag_id} has no owner"
        assert dag_run_failed in _callbacks(dag.on_failure_callback), f"{dag_id} does not alert a failed run"
        for t in dag.tasks:
            assert task_failed in _callbacks(t.on_failure_callback), f"{dag_id}.{t.task_id} does not alert"


def _callbacks(value) -> list:
    return value if isinstance(value, list) else [value]


GOLD_MODELS = {p.stem for p in (REPO_DIR / "dbt" / "models" / "marts").rglob("*.sql")}


def _build(name: str, kind: str = "model") -> str:
    """The Cosmos task of a dbt node: in the gold group for marts, else silver."""
    return f"{'gold' if name in GOLD_MODELS else 'silver'}.{name}_{kind}_build"


def test_slice_builds_every_dbt_node_between_quality_gates(dagbag):
    dag = dagbag.dags["lakehouse_slice"]
    ids = set(dag.task_ids)
    models = {p.stem for p in (REPO_DIR / "dbt" / "models").rglob("*.sql")}
    seeds = {p.stem for p in (REPO_DIR / "dbt" / "seeds").glob("*.csv")}
    assert len(models) > 20 and {"dim_user", "fct_orders", "fct_operations_kpis"} <= GOLD_MODELS
    assert {_build(m) for m in models} | {_build(s, "seed") for s in seeds} | {
        _build("snap_user_profile", "snapshot")
    } <= ids
    assert dag.get_task("capture_changes").downstream_task_ids == {"apply_current_state"}
    assert dag.get_task("validate_bronze").upstream_task_ids == {"apply_current_state", "load_files"}
    assert {_build("stg_crm__customers"), _build("stg_app__events")} <= dag.get_task(
        "validate_bronze"
    ).downstream_task_ids
    # silver is whole before its gate; gold starts after it
    silver_leaves = {
        t
        for t in ids
        if t.startswith("silver.")
        and not dag.get_task(t).downstream_task_ids & {u for u in ids if u.startswith("silver.")}
    }
    assert silver_leaves and dag.get_task("validate_silver").upstream_task_ids == silver_leaves
    assert _build("snap_user_profile", "snapshot") in silver_leaves
    assert {_build("fct_orders"), _build("dim_product")} <= dag.get_task("validate_silver").downstream_task_ids
    # dbt's own graph: the 360 view after the facts and the profile it joins
    assert {_build("fct_orders"), _build("fct_service_tickets"), _build("int_user_app_activity")} <= dag.get_task(
        _build("dim_user")
    ).upstream_task_ids
    assert _build("int_user_profile") in dag.get_task(_build("snap_user_profile", "snapshot")).upstream_task_ids
    assert {_build("fct_operations_kpis"), _build("fct_segment_sizes")} <= dag.get_task(
        "validate_gold"
    ).upstream_task_ids
    assert not dag.get_task("validate_gold").downstream_task_ids


def test_tests_of_two_models_run_after_both(dagbag):
    dag = dagbag.dags["lakehouse_slice"]
    rel = [t for t in dag.task_ids if ".relationships_" in t]
    assert len(rel) >= 5 and all(t.startswith("gold.") for t in rel)
    for task_id in rel:
        parents = dag.get_task(task_id).upstream_task_ids
        assert all(p.startswith("gold.") and p.endswith("_model_build") for p in parents), (task_id, parents)
        # a test that also reads silver (built before the gate) waits for its gold model only
        assert len(parents) == (1 if "ref_stg_" in task_id else 2), (task_id, parents)
    assert {_build("fct_orders"), _build("dim_user")} == dag.get_task(
        "gold.relationships_fct_orders_user_id__user_id__ref_dim_user__test"
    ).upstream_task_ids


def test_slice_loads_landed_files_beside_cdc_before_the_bronze_gate(dagbag):
    dag = dagbag.dags["lakehouse_slice"]
    load = dag.get_task("load_files")
    assert not load.upstream_task_ids
    assert load.downstream_task_ids == {"validate_bronze"}


def test_maintenance_runs_daily_by_itself_and_each_part_alone(dagbag):
    dag = dagbag.dags["lakehouse_maintenance"]
    assert dag.timetable.expression == "0 0 * * *" and dag.max_active_runs == 1
    assert set(dag.task_ids) == {"maintain_tables", "prune_airflow_logs", "prune_gx_history"}
    # a failed prune must not keep the tables from being compacted, nor the reverse
    assert all(not t.upstream_task_ids for t in dag.tasks)
    assert {t.owner for t in dag.tasks} == {"data-platform"}


BRONZE_TABLES = {f"{p.parent.name}_{p.stem}" for p in (REPO_DIR / "schemas" / "contracts").glob("*/*.yaml")}


def _uris(condition) -> set[str]:
    return {a.uri for a in condition.objects}


def test_refresh_runs_on_new_data_in_any_bronze_table(dagbag):
    """Scheduled on one asset per bronze table, any of them (not all): the capture service's
    and the file loads' events are what start it."""
    from airflow.sdk.definitions.asset import AssetAny

    dag = dagbag.dags["lakehouse_refresh"]
    condition = dag.timetable.asset_condition
    assert isinstance(condition, AssetAny) and len(BRONZE_TABLES) == 9
    assert _uris(condition) == {f"lakehouse://bronze/{t}" for t in BRONZE_TABLES}
    assert dag.max_active_runs == 1
    assert dag.get_task("validate_bronze").downstream_task_ids == {"refresh"}
    assert dag.get_task("refresh").downstream_task_ids == {"validate_gold"}
    assert dag.get_task("refresh").selector == "refresh"


def test_file_loads_announce_only_the_tables_of_their_feeds(dagbag):
    dag = dagbag.dags["lakehouse_files"]
    # a data interval of five minutes (a bare timedelta schedule in Airflow 3 has none)
    assert dag.timetable._delta.total_seconds() == 300 and dag.max_active_runs == 1
    assert type(dag.timetable).__name__ == "DeltaDataIntervalTimetable"
    feeds = {"network_cells", "network_cell_kpis", "app_events"}
    assert {t.task_id for t in dag.get_task("load_files").downstream_list} == {f"landed_{f}" for f in feeds}
    for f in feeds:
        assert [o.uri for o in dag.get_task(f"landed_{f}").outlets] == [f"lakehouse://bronze/{f}"]
    # every table the files DAG announces is one the refresh runs on
    assert feeds <= BRONZE_TABLES
