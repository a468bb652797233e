"""benchmarks/dbt_statements.py reads each statement's time from dbt's debug log."""

from __future__ import annotations

import importlib.util

from core.settings import REPO_DIR

_spec = importlib.util.spec_from_file_location("dbt_statements", REPO_DIR / "benchmarks" / "dbt_statements.py")
dbt_statements = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(dbt_statements)

LOG = """\x1b[0m10:19:03.717322 [debug] [Thread-1 (worker)]: On model.telco_lakehouse.fct_orders: /* {"app": "dbt"} */

    select cast(max(_applied_at) as string)
    from gold.fct_orders
\x1b[0m10:19:03.717779 [debug] [Thread-2 (worker)]: On test.telco_lakehouse.unique_x: select 1
\x1b[0m10:19:03.973838 [debug] [Thread-2 (worker)]: SQL status: OK in 0.500 seconds
\x1b[0m10:19:04.974354 [debug] [Thread-1 (worker)]: SQL status: OK in 4.250 seconds
"""


def test_each_status_is_paired_with_its_threads_statement():
    assert dbt_statements.statements(LOG) == [
        (0.5, "unique_x", "select 1"),
        (4.25, "fct_orders", "select cast(max(_applied_at) as string) from gold.fct_orders"),
    ]
