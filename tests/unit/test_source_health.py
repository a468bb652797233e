"""Replication-slot health: what is a problem, and that problems reach the alert webhook."""

from __future__ import annotations

from core import alerts
from spark_jobs.cdc.source_health import Slot

MB = 2**20


def test_each_unhealthy_slot_state_is_a_problem_and_a_healthy_one_is_not():
    healthy = Slot("crm", "debezium_crm", True, "reserved", 10 * MB, 4000 * MB)
    assert healthy.problem(1024 * MB) is None
    assert "no replication slot" in Slot("crm", None, None, None, None, None).problem(1024 * MB)
    assert "is lost" in Slot("bss", "debezium_bss", False, "lost", None, None).problem(1024 * MB)
    assert "about to be lost" in Slot("bss", "debezium_bss", False, "unreserved", 0, -5).problem(1024 * MB)
    lagging = Slot("bss", "debezium_bss", False, "extended", 2048 * MB, 100 * MB).problem(1024 * MB)
    assert "holds back 2048 MiB" in lagging and "active: False" in lagging


def test_problems_are_posted_to_the_webhook(webhook):
    url, received = webhook
    sent = alerts.post("replication slot", ["bss: slot lost"], [{"source": "bss"}], url)
    assert sent == 1
    assert received == [
        {
            "text": "1 replication slot alert(s):\nbss: slot lost",
            "kind": "replication slot",
            "alerts": [{"source": "bss"}],
        }
    ]
