"""The fault harness's small version: in one pipeline session under a running workload and file
arrivals, each of our jobs (CDC consumer, current-state apply, landing loader) and the Thrift
server they write through is SIGKILLed once at a random moment; then every source table
reconciles and every arrived file row is in bronze exactly once. The full harness (20 rounds,
Kafka Connect, the broker and PostgreSQL killed too) is ``python benchmarks/fault_harness.py``;
its table is in the README. In the fault-injection tier (`make test-faults`), not `make test`.

Runs last among the integration tests (file order): it kills and restarts the stack's services.
"""

from __future__ import annotations

import pytest

from lakehouse.faults import JOBS, run_sequence, table

pytestmark = [pytest.mark.integration, pytest.mark.faults]


def test_a_kill_of_each_component_in_turn_loses_and_duplicates_nothing():
    result = run_sequence([*JOBS, "thrift"], seed=23, rate=100, warm_s=15)
    print(table([result]))
    assert result.workload_changes > 1000 and result.files > 10, "no load during the trial"
    assert (result.lost, result.duplicated) == (0, 0), result.notes
    assert result.recover_s is not None
