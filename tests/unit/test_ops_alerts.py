"""Operations alerts from Airflow's failure callbacks reach the webhook with a link to the run."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from core import alerts


@pytest.fixture
def receiver(monkeypatch, webhook):
    url, received = webhook
    monkeypatch.setattr(
        alerts, "get_settings", lambda: SimpleNamespace(alert_webhook=url, bind_host="127.0.0.1", airflow_port=8080)
    )
    return received


def test_a_failed_task_is_alerted_with_its_log_link(receiver):
    ti = SimpleNamespace(
        dag_id="lakehouse_build",
        task_id="validate_gold",
        run_id="manual__2026-11-29T10:00:00+00:00",
        try_number=3,
        log_url="http://127.0.0.1:8080/dags/lakehouse_build/runs/manual__2026/tasks/validate_gold?try_number=3",
    )
    alerts.task_failed({"ti": ti, "exception": RuntimeError("thrift went away")})
    [message] = receiver
    assert message["kind"] == "operations"
    assert "lakehouse_build.validate_gold failed (try 3)" in message["text"]
    assert "RuntimeError: thrift went away" in message["text"] and ti.log_url in message["text"]
    assert message["alerts"][0]["url"] == ti.log_url and message["alerts"][0]["check"] == "task_failed"


def test_a_failed_dag_run_is_alerted_with_a_link_to_the_run(receiver):
    context = {
        "dag": SimpleNamespace(dag_id="lakehouse_build"),
        "run_id": "scheduled__2026-11-29T00:00:00+00:00",
        "reason": "task_failure",
    }
    alerts.dag_run_failed(context)
    [message] = receiver
    url = "http://127.0.0.1:8080/dags/lakehouse_build/runs/scheduled__2026-11-29T00%3A00%3A00%2B00%3A00"
    assert message["alerts"][0] == {
        "check": "dag_run_failed",
        "dag_id": "lakehouse_build",
        "run_id": "scheduled__2026-11-29T00:00:00+00:00",
        "url": url,
    }
    assert "(task_failure)" in message["text"] and url in message["text"]


def test_an_unreachable_webhook_does_not_raise_from_the_callback(monkeypatch, caplog):
    monkeypatch.setattr(
        alerts,
        "get_settings",
        lambda: SimpleNamespace(alert_webhook="http://127.0.0.1:9", bind_host="127.0.0.1", airflow_port=8080),
    )
    monkeypatch.setattr(alerts.time, "sleep", lambda s: None)
    alerts.dag_run_failed({"dag": SimpleNamespace(dag_id="d"), "run_id": "r", "reason": None})
    assert "operations alert not delivered" in caplog.text
