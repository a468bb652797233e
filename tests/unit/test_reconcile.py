"""Reconciliation reports every kind of difference, including a key held twice."""

from __future__ import annotations

from datetime import date, datetime

from lakehouse.reconcile import compare
from schemas.contracts import get_contract

CUSTOMERS = get_contract("crm.customers")


def _row(cid: int, city: str = "Beijing") -> tuple:
    values = {
        "customer_id": cid,
        "phone": f"1380000{cid:04d}",
        "full_name": "Li Wei",
        "gender": "M",
        "birth_date": date(1990, 5, 2),
        "city": city,
        "acquisition_channel": "app",
        "created_at": datetime(2026, 1, 1, 8),
        "updated_at": datetime(2026, 1, 2, 8),
    }
    return tuple(values[c] for c in CUSTOMERS.column_names)


SOURCE = [_row(1), _row(2), _row(3)]


def test_equal_tables_are_exact_whatever_the_row_order_and_value_forms():
    lake = [_row(3), _row(1), _row(2)]
    lake[0] = tuple(str(v) if isinstance(v, date | datetime) else v for v in lake[0])  # as Thrift returns them
    diff = compare("crm.customers", SOURCE, lake, CUSTOMERS)
    assert diff.exact, diff.summary()
    assert diff.summary().endswith("exact")


def test_missing_extra_and_different_rows_are_each_reported():
    diff = compare("crm.customers", SOURCE, [_row(1), _row(2, city="Shanghai"), _row(4)], CUSTOMERS)
    assert (diff.missing, diff.extra, diff.different, diff.duplicated) == ([(3,)], [(4,)], [(2,)], [])
    assert not diff.exact
    assert "1 missing, 1 extra, 1 different, 0 duplicated" in diff.summary()


def test_a_key_held_twice_is_duplicated_even_when_both_copies_match_the_source():
    diff = compare("crm.customers", SOURCE, [*SOURCE, _row(2)], CUSTOMERS)
    assert (diff.missing, diff.extra, diff.different, diff.duplicated) == ([], [], [], [(2,)])
    assert (diff.source_rows, diff.lakehouse_rows) == (3, 4)
    assert not diff.exact


def test_a_key_held_twice_with_other_values_is_both_duplicated_and_different():
    diff = compare("crm.customers", SOURCE, [*SOURCE, _row(2, city="Shanghai")], CUSTOMERS)
    assert (diff.different, diff.duplicated) == ([(2,)], [(2,)])
