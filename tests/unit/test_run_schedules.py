"""make run's closing lines: every scheduled DAG switched on, each DAG with its schedule in words."""

from __future__ import annotations

from lakehouse.run import SCHEDULED_DAGS, switch_on


class FakeAirflow:
    def __init__(self, dags: list[dict]):
        self.dags = {d["dag_id"]: d for d in dags}

    def set_paused(self, dag_id: str, paused: bool) -> dict:
        self.dags[dag_id]["is_paused"] = paused
        return self.dags[dag_id]

    def _request(self, method: str, path: str) -> dict:
        assert (method, path) == ("GET", "/api/v2/dags?limit=100")
        return {"dags": list(self.dags.values())}


def _dag(dag_id, summary, description, next_run=None):
    return {
        "dag_id": dag_id,
        "timetable_summary": summary,
        "timetable_description": description,
        "is_paused": True,
        "next_dagrun_run_after": next_run,
    }


def test_the_schedules_are_switched_on_and_read_as_words():
    airflow = FakeAirflow(
        [
            _dag("lakehouse_build", None, "Never, external triggers only"),
            _dag("lakehouse_files", "0:05:00", "", "2026-11-30T14:20:00Z"),
            _dag("lakehouse_refresh", "Asset", "Triggered by assets"),
            _dag("lakehouse_daily", "0 0 * * *", "At 00:00", "2026-12-01T00:00:00Z"),
            _dag("lakehouse_maintenance", "0 0 * * *", "At 00:00", "2026-12-01T00:00:00Z"),
            _dag("lakehouse_models", "@weekly", "At 00:00, only on Sunday", "2026-12-06T00:00:00Z"),
            _dag("lakehouse_forecast", "@hourly", "At 0 minutes past the hour", "2026-11-30T15:00:00Z"),
            _dag("example_other", "@daily", "At 00:00"),
        ]
    )
    lines = switch_on(airflow)
    assert {d for d, v in airflow.dags.items() if not v["is_paused"]} == set(SCHEDULED_DAGS)
    assert lines == [
        "lakehouse_build        by hand (make run); paused",
        "lakehouse_daily        At 00:00 UTC (0 0 * * *); on, next 2026-12-01T00:00",
        "lakehouse_files        every 5 minutes; on, next 2026-11-30T14:20",
        "lakehouse_forecast     At 0 minutes past the hour UTC (@hourly); on, next 2026-11-30T15:00",
        "lakehouse_maintenance  At 00:00 UTC (0 0 * * *); on, next 2026-12-01T00:00",
        "lakehouse_models       At 00:00, only on Sunday UTC (@weekly); on, next 2026-12-06T00:00",
        "lakehouse_refresh      when a bronze table has new data (assets); on",
    ]
