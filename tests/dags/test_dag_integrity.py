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
    assert {
        "lakehouse_build",
        "lakehouse_files",
        "lakehouse_refresh",
        "lakehouse_daily",
        "lakehouse_maintenance",
    } <= set(dagbag.dags)


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


def test_the_build_runs_each_layer_between_quality_gates(dagbag):
    """Capture and file loads side by side, then bronze gate, one dbt build per layer with a
    gate after each: a failed gate stops the next layer."""
    dag = dagbag.dags["lakehouse_build"]
    assert set(dag.task_ids) == {
        "capture",
        "load_files",
        "validate_bronze",
        "silver",
        "validate_silver",
        "gold",
        "validate_gold",
    }
    assert not dag.get_task("capture").upstream_task_ids and not dag.get_task("load_files").upstream_task_ids
    assert dag.get_task("validate_bronze").upstream_task_ids == {"capture", "load_files"}
    for before, after in [("validate_bronze", "silver"), ("silver", "validate_silver"), ("validate_silver", "gold")]:
        assert dag.get_task(before).downstream_task_ids == {after}
    assert dag.get_task("gold").downstream_task_ids == {"validate_gold"}
    assert not dag.get_task("validate_gold").downstream_task_ids
    assert (dag.get_task("silver").selector, dag.get_task("gold").selector) == ("silver", "gold")


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
    # the frequent gates validate what changed (lakehouse_daily validates whole tables)
    assert dag.get_task("validate_bronze").op_kwargs["scoped"] is True
    assert dag.get_task("validate_gold").op_kwargs["scoped"] is True
    assert not dagbag.dags["lakehouse_daily"].get_task("validate_gold").op_kwargs


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


DAILY_MODELS = {"int_user_app_activity", "dim_user", "fct_user_segments", "fct_segment_sizes", "fct_operations_kpis"}


def test_daily_builds_the_day_dependent_models_as_of_its_logical_date(dagbag):
    """A data interval per day; every day-dependent model and its history is a task of its own
    between the whole-table gates; dbt gets the interval's first day as the as-of date, and a
    backfill's run builds the day models beside gold's."""
    from types import SimpleNamespace

    import pendulum

    from dags.lakehouse_daily import BACKFILL_SCHEMA, _not_a_backfill

    dag = dagbag.dags["lakehouse_daily"]
    assert type(dag.timetable).__name__ == "CronDataIntervalTimetable" and dag.timetable._expression == "0 0 * * *"
    history = {p.stem for p in (REPO_DIR / "dbt" / "models" / "marts" / "history").glob("*.sql")}
    assert len(history) == 6
    builds = {t.task_id for t in dag.tasks if t.task_id.startswith("daily.")}
    assert {f"daily.{m}_model_build" for m in DAILY_MODELS | history} <= builds
    assert not any("fct_orders_merged_model" in b or "stg_" in b for b in builds)  # the frequent path's
    assert dag.get_task("validate_bronze").downstream_task_ids == {"score_churn"}
    scoring = dag.get_task("score_churn")  # the day's scores before the lists that take its top decile
    assert {t.split(".")[1] for t in scoring.downstream_task_ids} == {"int_user_app_activity_model_build"}
    assert dag.get_task("daily.dim_user_history_model_build").downstream_task_ids == {"validate_gold"}

    build = dag.get_task("daily.dim_user_model_build")
    assert build.trigger_rule == "none_failed"  # runs after a gate a backfill skipped
    env = dag.get_template_env()
    start = pendulum.datetime(2026, 10, 27, tz="UTC")
    for run_type, schema in [("scheduled", "gold"), ("backfill", BACKFILL_SCHEMA)]:
        context = {"data_interval_start": start, "dag_run": SimpleNamespace(run_type=run_type)}
        rendered = {k: env.from_string(v).render(**context) for k, v in build.vars.items()}
        assert rendered == {"as_of_date": "2026-10-27", "day_models_schema": schema}
        assert _not_a_backfill(context) is (run_type != "backfill")


def test_models_train_weekly_and_score_each_day_and_hour_with_the_current_model(dagbag):
    models = dagbag.dags["lakehouse_models"]
    assert models.schedule == "@weekly"
    chain = ["train_churn", "score_churn", "train_faults", "score_faults"]  # one at a time: each takes both cores
    assert [models.get_task(a).downstream_task_ids for a in chain[:-1]] == [{b} for b in chain[1:]]
    forecast = dagbag.dags["lakehouse_forecast"]
    assert forecast.schedule == "@hourly"
    assert {t.task_id for t in forecast.tasks} == {"score_faults"}
    daily = dagbag.dags["lakehouse_daily"]
    assert daily.get_task("score_churn").trigger_rule == "none_failed"  # a backfill (gate skipped) scores too
