"""Retention gaps: the positions a consumer starts from, and what a recovery acknowledges."""

from __future__ import annotations

from spark_jobs.cdc.positions import KafkaView, Mark, acknowledge, plan_topic

T = "bss.public.orders"


def view(earliest: int, end: int, cluster: str = "c1", topic_id: str = "t1") -> KafkaView:
    return KafkaView(cluster, {T: topic_id}, {(T, 0): earliest}, {(T, 0): end})


def test_a_first_sight_stores_the_ids_and_starts_where_bronze_stopped():
    plan = plan_topic(T, None, view(0, 100), {0: 40})
    assert (plan.positions, plan.gaps) == ({0: 40}, [])
    assert plan.mark == Mark("c1", "t1")


def test_records_deleted_past_the_position_are_a_gap_naming_the_offsets():
    plan = plan_topic(T, Mark("c1", "t1"), view(60, 100), {0: 40})
    (gap,) = plan.gaps
    assert (gap.topic, gap.partition, gap.recovered, gap.earliest, gap.end) == (T, 0, 40, 60, 100)
    assert "records 40 to 59 were deleted" in gap.text() and "spark_jobs.cdc.recover bss.public.orders" in gap.text()
    # Retention that only removed what bronze already holds is no gap.
    assert plan_topic(T, Mark("c1", "t1"), view(40, 100), {0: 40}).gaps == []


def test_a_wiped_log_a_recreated_topic_and_another_cluster_are_gaps():
    wiped = plan_topic(T, Mark("c1", "t1"), view(0, 5), {0: 40})
    assert "before the position bronze reached" in wiped.gaps[0].reason
    recreated = plan_topic(T, Mark("c1", "t1"), view(0, 500, topic_id="t2"), {0: 40})
    assert "recreated (id t1 -> t2)" in recreated.gaps[0].reason  # even with more records than before
    other = plan_topic(T, Mark("c1", "t1"), view(0, 500, cluster="c2"), {0: 40})
    assert "cluster changed" in other.gaps[0].reason


def test_a_recovery_resumes_at_the_earliest_kept_record():
    mark = acknowledge(Mark("c1", "t1"), T, view(60, 100), {0: 40})
    assert (mark.base, mark.resume) == ({}, {0: 60})
    plan = plan_topic(T, mark, view(60, 100), {0: 40})
    assert (plan.positions, plan.gaps) == ({0: 60}, [])


def test_a_recovered_recreated_topic_lands_after_everything_bronze_holds():
    mark = acknowledge(Mark("c1", "t1"), T, view(0, 5, topic_id="t2"), {0: 40})
    assert (mark.topic_id, mark.base, mark.resume) == ("t2", {0: 40}, {0: 0})
    plan = plan_topic(T, mark, view(0, 5, topic_id="t2"), {0: 40})
    assert (plan.positions, plan.base, plan.gaps) == ({0: 0}, {0: 40}, [])
    # Once rows landed at bronze offsets 40.. (Kafka 0..), the position follows them.
    assert plan_topic(T, mark, view(0, 9, topic_id="t2"), {0: 45}).positions == {0: 5}
