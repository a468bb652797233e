"""Great Expectations checks on lakehouse tables, with results kept and Data Docs rebuilt.

``python -m expectations.checks`` validates the CRM customers (silver) and the gold user dimension. Suites are built in code
from the contracts' quality rules; one checkpoint per table, since a checkpoint's batch
parameters apply to all its validation definitions.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import great_expectations as gx
from great_expectations.checkpoint import UpdateDataDocsAction

from lakehouse.settings import get_settings
from schemas.contracts import get_contract

SITE_NAME = "lakehouse_quality"


@dataclass(frozen=True)
class CheckResult:
    table: str
    success: bool
    evaluated: int
    failed: list[str]
    docs_index: Path

    def summary(self) -> str:
        state = "passed" if self.success else f"FAILED ({', '.join(self.failed)})"
        return f"quality: {self.table}: {self.evaluated} expectations {state}; report {self.docs_index}"


def get_context():
    settings = get_settings()
    root = settings.home / "gx"
    context = gx.get_context(mode="file", project_root_dir=str(root))
    docs_dir = settings.reports_dir / "data_docs"
    if SITE_NAME not in context.get_site_names():
        context.add_data_docs_site(
            site_name=SITE_NAME,
            site_config={
                "class_name": "SiteBuilder",
                "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
                "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
            },
        )
    return context


def completeness_expectations(contract_name: str, column_map: dict[str, str]) -> list:
    """not_null rules of a contract, on the columns they became in the validated table."""
    contract = get_contract(contract_name)
    exps = []
    for col in contract.columns:
        for rule in col.rules:
            if rule.rule == "not_null" and col.name in column_map:
                exps.append(
                    gx.expectations.ExpectColumnValuesToNotBeNull(
                        column=column_map[col.name],
                        mostly=rule.threshold,
                        meta={"rule": rule.rule, "dimension": rule.dimension, "severity": rule.severity,
                              "contract": contract.qualified_name},
                    )
                )
    return exps


def validate_table(spark, table: str, expectations: list) -> CheckResult:
    context = get_context()
    name = table.replace(".", "__")
    source = context.data_sources.add_or_update_spark(name="lakehouse_spark")
    try:
        asset = source.get_asset(name)
    except LookupError:
        asset = source.add_dataframe_asset(name=name)
    try:
        batch_def = asset.get_batch_definition("whole_table")
    except KeyError:
        batch_def = asset.add_batch_definition_whole_dataframe("whole_table")
    suite = context.suites.add_or_update(gx.ExpectationSuite(name=f"{name}_suite", expectations=expectations))
    vd = context.validation_definitions.add_or_update(
        gx.ValidationDefinition(name=f"{name}_validation", data=batch_def, suite=suite)
    )
    checkpoint = context.checkpoints.add_or_update(
        gx.Checkpoint(
            name=f"{name}_checkpoint",
            validation_definitions=[vd],
            actions=[UpdateDataDocsAction(name="update_docs", site_names=[SITE_NAME])],
            result_format={"result_format": "SUMMARY"},
        )
    )
    result = checkpoint.run(batch_parameters={"dataframe": spark.table(table)})
    run = next(iter(result.run_results.values()))
    failed = [r.expectation_config.type + ":" + str(r.expectation_config.kwargs.get("column")) for r in run.results if not r.success]
    index = get_settings().reports_dir / "data_docs" / "index.html"
    return CheckResult(table, result.success, len(run.results), failed, index)


def check_users(spark) -> list[CheckResult]:
    """The CRM's phone completeness rule where the phone is as typed (silver), and the gold
    user dimension's key."""
    customers = completeness_expectations("crm.customers", {"phone": "phone_raw"})
    customers.append(gx.expectations.ExpectColumnValuesToNotBeNull(column="customer_id"))
    users = [gx.expectations.ExpectColumnValuesToNotBeNull(column="user_key"),
             gx.expectations.ExpectColumnValuesToBeUnique(column="user_key")]
    return [validate_table(spark, "silver.stg_crm__customers", customers), validate_table(spark, "gold.dim_user", users)]


def main() -> int:
    from spark_jobs.session import get_spark

    results = check_users(get_spark("quality-checks"))
    for result in results:
        print(result.summary())
    return 0 if all(r.success for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
