"""How Airflow (through astronomer-cosmos) runs the dbt project: paths and profile in one place."""

from __future__ import annotations

from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

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
    """The nodes of one layer (a selector in dbt/selectors.yml): silver and gold are separate
    task groups so the quality gate can stop gold from being built on a failed silver."""
    return RenderConfig(
        load_method=LoadMode.DBT_LS,
        selector=layer,
        test_behavior=TestBehavior.BUILD,
        should_detach_multiple_parents_tests=True,
    )
