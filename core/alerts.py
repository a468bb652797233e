"""Operational alerts: posted as JSON to the webhook ``LAKEHOUSE_ALERT_WEBHOOK`` (Slack- or
Teams-style receivers take the ``text`` field), always logged; with no webhook configured they
are only logged. The quality gates (``expectations.alerts``), the CDC checks (retention gaps,
replication-slot health), the capture service's lag and every DAG's failed tasks and runs
(``task_failed``, ``dag_run_failed``) send through here."""

from __future__ import annotations

import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from core.settings import get_settings

log = logging.getLogger(__name__)


class AlertDeliveryError(RuntimeError):
    pass


def post(
    kind: str, lines: list[str], items: list[dict[str, Any]], url: str | None = None, attempts: int = 3, timeout=10.0
) -> int:
    """Log each line and post them as one message ``{"text", "kind", "alerts": items}``; returns
    how many were posted (0 without a webhook). Retries a failed delivery, then raises
    ``AlertDeliveryError``: the caller has already recorded what it alerts about."""
    if not lines:
        return 0
    for line in lines:
        log.warning("%s alert: %s", kind, line)
    url = url or get_settings().alert_webhook or None
    if not url:
        log.warning("%s alerts: no channel configured (LAKEHOUSE_ALERT_WEBHOOK); %d logged only", kind, len(lines))
        return 0
    body = json.dumps(
        {"text": f"{len(lines)} {kind} alert(s):\n" + "\n".join(lines), "kind": kind, "alerts": items}
    ).encode()
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"}, method="POST")
    last = None
    for attempt in range(attempts):
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                if 200 <= response.status < 300:
                    return len(lines)
                last = f"HTTP {response.status}"
        except (urllib.error.URLError, OSError) as e:
            last = str(e)
        time.sleep(0.5 * 2**attempt)
    raise AlertDeliveryError(f"webhook {url} refused {len(lines)} {kind} alert(s) after {attempts} attempts: {last}")


def airflow_url(*path: str) -> str:
    from urllib.parse import quote

    s = get_settings()
    return f"http://{s.bind_host}:{s.airflow_port}/" + "/".join(quote(p, safe="") for p in path)


def task_failed(context: dict) -> None:
    """Every DAG's tasks' ``on_failure_callback`` (called once the retries are spent): an
    operations alert with a link to the failed try's log. Delivery trouble is logged, never
    raised: the task has failed already."""
    ti = context["ti"]
    error = context.get("exception")
    line = (
        f"task {ti.dag_id}.{ti.task_id} failed (try {ti.try_number}) in run {ti.run_id}: "
        f"{type(error).__name__ + ': ' + str(error)[:300] if error else 'no exception'} — log {ti.log_url}"
    )
    item = {"check": "task_failed", "dag_id": ti.dag_id, "task_id": ti.task_id, "run_id": ti.run_id, "url": ti.log_url}
    _post_from_callback(line, item)


def dag_run_failed(context: dict) -> None:
    """Every DAG's ``on_failure_callback``: an operations alert with a link to the run."""
    dag_id, run_id = context["dag"].dag_id, context["run_id"]
    url = airflow_url("dags", dag_id, "runs", run_id)
    line = f"DAG run {dag_id} {run_id} failed ({context.get('reason') or 'no reason given'}) — {url}"
    _post_from_callback(line, {"check": "dag_run_failed", "dag_id": dag_id, "run_id": run_id, "url": url})


def _post_from_callback(line: str, item: dict) -> None:
    try:
        post("operations", [line], [item])
    except AlertDeliveryError as e:
        log.error("operations alert not delivered: %s", e)
