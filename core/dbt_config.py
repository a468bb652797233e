"""How Airflow (through astronomer-cosmos) runs the dbt project: paths and profile in one place."""

from __future__ import annotations

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior, TestIndirectSelection
from cosmos.operators.local import DbtBuildLocalOperator

from core.dbt_cli import DBT_PROJECT_DIR, PIPELINE_BUILD_FLAGS, dbt_executable

project_config = ProjectConfig(dbt_project_path=DBT_PROJECT_DIR)
profile_config = ProfileConfig(
    profile_name="telco_lakehouse",
    target_name="local",
    profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml",
)
# dbt runs inside the task's process (no second Python start per task: seconds each on 2 cores).
# A node's build runs only the tests whose every parent it has built ("cautious"): a relationships
# test would otherwise run with its first parent, before the other exists.
execution_config = ExecutionConfig(
    dbt_executable_path=dbt_executable(),
    invocation_mode=InvocationMode.DBT_RUNNER,
    test_indirect_selection=TestIndirectSelection.CAUTIOUS,
)
# Every task's dbt command: the pipeline's builds leave the unit tests to CI.
operator_args = {"dbt_cmd_flags": PIPELINE_BUILD_FLAGS}


# dbt ls renders the graph (cached by Cosmos); one `dbt build` task per node runs the model with
# its data tests after it, so a failing test stops what depends on it. Tests of several models
# (relationships) are tasks of their own, after all their parents.
def render_config(layer: str) -> RenderConfig:
    """The nodes of a selector in dbt/selectors.yml as a task group of their own (the daily
    models: a task per model, for visibility)."""
    return RenderConfig(
        load_method=LoadMode.DBT_LS,
        selector=layer,
        test_behavior=TestBehavior.BUILD,
        should_detach_multiple_parents_tests=True,
    )


def build_task(selector: str, **kwargs) -> DbtBuildLocalOperator:
    """One in-process ``dbt build --selector <selector>`` task (the full build's layers, the
    frequent path): no task per node, no dbt ls to render."""
    return DbtBuildLocalOperator(
        task_id=kwargs.pop("task_id", selector),
        project_dir=DBT_PROJECT_DIR,
        profile_config=profile_config,
        invocation_mode=execution_config.invocation_mode,
        selector=selector,
        dbt_cmd_flags=PIPELINE_BUILD_FLAGS,
        install_deps=False,
        **kwargs,
    )
