"""What the always-on stack alerts on besides the capture's lag: set-aside rows growing, and
gold falling behind its freshness target while the refresh schedule is on, once per change."""

from __future__ import annotations

from lakehouse.watch import Reading, Watch


def test_set_aside_rows_are_alerted_when_they_grow_not_when_first_seen_or_steady():
    w = Watch(freshness_target_s=90)
    assert w.observe(Reading({"CDC dead letters": 4, "quality quarantine": 10}, None)) == []
    assert w.observe(Reading({"CDC dead letters": 4, "quality quarantine": 10}, None)) == []
    found = w.observe(Reading({"CDC dead letters": 7, "quality quarantine": 10}, None))
    assert [item for _, item in found] == [
        {"check": "set_aside_growing", "what": "CDC dead letters", "rows": 7, "new": 3}
    ]
    assert found[0][0] == "CDC dead letters grew by 3 to 7 rows"
    # a table that appears later (its first rows) is a baseline, then growth is alerted
    assert w.observe(Reading({"CDC dead letters": 7, "quarantined file rows": 2}, None)) == []


def test_gold_behind_its_target_is_alerted_once_and_its_recovery_once():
    w = Watch(freshness_target_s=90)
    assert w.observe(Reading({}, 30.0, 5)) == []
    late = w.observe(Reading({}, 120.0, 40))
    assert len(late) == 1 and late[0][1]["check"] == "gold_freshness" and late[0][1]["behind_s"] == 120.0
    assert "120s behind" in late[0][0] and "/dags/lakehouse_refresh/runs" in late[0][0]
    assert w.observe(Reading({}, 200.0, 80)) == [], "still late: no second alert"
    back = w.observe(Reading({}, None))
    assert [line for line, _ in back] == ["gold.fct_orders_merged is within its freshness target again"]


def test_gold_is_not_expected_to_follow_with_the_refresh_schedule_off():
    w = Watch(freshness_target_s=90)
    assert w.observe(Reading({}, 5000.0, 10, refresh_on=False)) == []
    assert len(w.observe(Reading({}, 5000.0, 10, refresh_on=True))) == 1
