"""The fault harness's own logic: when a check of a converging pipeline counts as done, and the
table it prints. The harness is a proof; these show it can report a failure."""

from __future__ import annotations

import pytest

from lakehouse import faults
from lakehouse.faults import Kill, Round, converge, table


def _checks(monkeypatch, answers):
    """``count_errors`` answering from ``answers`` in turn (an exception is raised), then the last."""
    calls = []

    def fake(files):
        calls.append(files)
        answer = answers[min(len(calls), len(answers)) - 1]
        if isinstance(answer, Exception):
            raise answer
        return answer

    monkeypatch.setattr(faults, "count_errors", fake)
    monkeypatch.setattr(faults.time, "sleep", lambda s: None)
    return calls


def test_converge_waits_through_differences_and_failed_checks_until_exact(monkeypatch):
    calls = _checks(monkeypatch, [(5, 0, ["behind"]), RuntimeError("thrift starting"), (1, 0, ["behind"]), (0, 0, [])])
    assert converge({}, timeout_s=60) == (0, 0, [])
    assert len(calls) == 4


def test_a_duplicate_is_final_at_once(monkeypatch):
    calls = _checks(monkeypatch, [(3, 2, ["landed twice"]), (0, 0, [])])
    assert converge({}, timeout_s=60) == (3, 2, ["landed twice"])
    assert len(calls) == 1


def test_rows_still_missing_at_the_deadline_are_lost(monkeypatch):
    _checks(monkeypatch, [(4, 0, ["customers: 4 missing"])])
    assert converge({}, timeout_s=0) == (4, 0, ["customers: 4 missing"])


def test_a_check_still_failing_at_the_deadline_raises(monkeypatch):
    _checks(monkeypatch, [RuntimeError("no thrift")])
    with pytest.raises(RuntimeError, match="no thrift"):
        converge({}, timeout_s=0)


def test_the_table_charges_a_rounds_errors_to_each_of_its_components():
    rounds = [
        Round(1, [Kill("kafka", 2.0, 31.0), Kill("thrift", 4.0, 14.0)], recover_s=30.0),
        Round(2, [Kill("thrift", 1.0, 12.0), Kill("kafka", 5.0, 35.0)], recover_s=50.0),
        Round(3, [Kill("kafka", 1.0, 40.0), Kill("cdc-consumer", 3.0)], lost=2, duplicated=1),
    ]
    lines = table(rounds).splitlines()
    assert lines[2] == "| kafka | 3 | 2 | 1 | 50.0 | 50.0 | 35.0 | 40.0 |"
    assert lines[3] == "| thrift | 2 | 0 | 0 | 50.0 | 50.0 | 14.0 | 14.0 |"
    assert lines[4] == "| cdc-consumer | 1 | 2 | 1 | - | - | - | - |"
