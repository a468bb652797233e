"""The generator's one row planter: disjoint picks, eligibility, exact counts and manifest keys."""

from __future__ import annotations

import numpy as np

from simulator.generator.catalogue import PRODUCTS, Product
from simulator.generator.manifest import Manifest
from simulator.generator.planter import DefectPlanter

KEYS = np.arange(1001, 1201, dtype=np.int64)  # 200 rows


def _planter(seed: int = 5) -> tuple[DefectPlanter, Manifest]:
    m = Manifest(seed, 0.001)
    return DefectPlanter(np.random.default_rng(seed), m, "crm.customers", KEYS, key_name="customer_id"), m


def test_plants_are_disjoint_exact_in_count_and_recorded_with_their_keys():
    planter, m = _planter()
    a = planter.plant("null_phone", 0.1)
    b = planter.plant("malformed_phone", 0.25)
    c = planter.pick(0.05)  # recorded later by the caller
    assert (len(a), len(b), len(c)) == (20, 50, 10)
    assert not set(a) & set(b) and not set(a) & set(c) and not set(b) & set(c)
    assert all(np.all(np.diff(rows) > 0) for rows in (a, b, c))  # ascending, no repeats
    assert m.defects["null_phone"] == {
        "table": "crm.customers",
        "key": "customer_id",
        "count": 20,
        "keys": KEYS[a].tolist(),
    }
    assert m.defects["malformed_phone"]["keys"] == KEYS[b].tolist()
    assert set(m.defects) == {"null_phone", "malformed_phone"}


def test_only_eligible_free_rows_are_picked_and_reserved_rows_are_kept_out():
    planter, m = _planter()
    reserved = planter.reserve(np.arange(0, 200, 2))  # even rows
    eligible = np.arange(200) < 150
    assert np.array_equal(planter.free(eligible), np.arange(1, 150, 2))
    rows = planter.plant("late_events", 0.3, eligible=eligible)
    assert len(rows) == 60 and set(rows) <= set(range(1, 150, 2)) and not set(rows) & set(reserved)
    # more asked for than there are free eligible rows: all of them, no more
    rest = planter.plant("duplicate_events", 0.5, eligible=eligible)
    assert len(rest) == 75 - 60 and m.defects["duplicate_events"]["count"] == 15


def test_the_same_seed_picks_the_same_rows_and_another_seed_others():
    first, _ = _planter(5)
    again, _ = _planter(5)
    other, _ = _planter(6)
    picks = [p.plant("null_phone", 0.1) for p in (first, again, other)]
    assert np.array_equal(picks[0], picks[1]) and not np.array_equal(picks[0], picks[2])


def test_products_are_named_records_that_still_unpack_as_tuples():
    # simulator/workload.py unpacks them positionally: code, _, _, business_type, price, _
    first = PRODUCTS[0]
    assert isinstance(first, Product) and first == ("M4G-19", "4G Basic 19", "mobile_4g", "MOB", 19.0, 5)
    code, _, _, btype, price, _ = first
    assert (code, btype, price) == (first.code, first.business_type, first.price) == ("M4G-19", "MOB", 19.0)
    assert all(isinstance(p, Product) for p in PRODUCTS) and len({p.code for p in PRODUCTS}) == len(PRODUCTS)
