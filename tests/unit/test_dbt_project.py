"""The dbt project's code tables agree with the contracts, the one source of the mappings."""

from __future__ import annotations

import csv

import yaml

from core.dbt_cli import DBT_PROJECT_DIR
from schemas.contracts import get_contract


def _seed(name: str) -> dict[str, str]:
    with (DBT_PROJECT_DIR / "seeds" / f"{name}.csv").open() as f:
        rows = list(csv.reader(f))
    return dict(rows[1:])


def test_order_status_seed_is_the_contract_mapping():
    contract = get_contract("bss.orders")
    assert _seed("order_status_codes") == contract.mappings["status"]
    # every status code the contract allows is mapped, to one of the three unified statuses
    assert set(_seed("order_status_codes")) == set(contract.column("status").allowed)
    assert set(_seed("order_status_codes").values()) == {"pending_payment", "activated", "cancelled"}


def test_gender_seed_is_the_contract_mapping():
    contract = get_contract("bss.subscribers")
    assert _seed("bss_gender_codes") == contract.mappings["gender"]
    assert set(_seed("bss_gender_codes").values()) == set(get_contract("crm.customers").column("gender").allowed)


def test_business_rule_thresholds_are_the_requirements():
    v = yaml.safe_load((DBT_PROJECT_DIR / "dbt_project.yml").read_text())["vars"]
    # REQUIREMENTS §3.1 / §3.4.1: 3 days without login; order to activation under 2 hours;
    # accept <= 10 min, network check <= 30 min, answer <= 1 hour; age 25-30, over 50 GB a month.
    assert v["at_risk_days_without_login"] == 3
    assert v["activation_target_minutes"] == 120
    assert (v["sla_accept_minutes"], v["sla_network_check_minutes"], v["sla_answer_minutes"]) == (10, 30, 60)
    assert (v["audience_min_age"], v["audience_max_age"], v["heavy_data_min_monthly_gb"]) == (25, 30, 50)
