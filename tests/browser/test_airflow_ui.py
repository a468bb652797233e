"""The Airflow UI is where data engineers operate the lakehouse: in a real Chromium, log in, see
every DAG with its schedule and next run, trigger a DAG, wait for its success and read a task's
log. The file-feed pipeline is the one triggered, as an operator does when files arrived late:
it loads what the landing zone holds and accounts for every row in its task's log (the
maintenance DAG, switched on, would first run its whole daily maintenance, minutes long)."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import Page, expect

from core.airflow_client import AirflowClient
from core.settings import get_settings

from .conftest import log_in

pytestmark = pytest.mark.browser

DAG = "lakehouse_files"


def test_a_wrong_password_is_refused(page: Page, artifacts):
    s = get_settings()
    page.goto(s.airflow_url + "/")
    page.fill("input[name=username]", s.airflow_admin_user)
    page.fill("input[name=password]", "not-the-password")
    page.click("button[type=submit]")
    expect(page.get_by_text("Invalid credentials")).to_be_visible()
    page.screenshot(path=str(artifacts / "login_refused.png"))
    page.goto(s.airflow_url + "/dags")
    expect(page.get_by_text(DAG)).to_have_count(0)


def test_every_dag_is_listed_with_its_schedule_and_next_run(page: Page, artifacts):
    client = AirflowClient.from_settings()
    client.wait_for_dag(DAG)  # its schedule on (a test stack's DAGs start paused): a next run to show
    dags = client._request("GET", "/api/v2/dags?limit=100")["dags"]
    assert {d["dag_id"] for d in dags} >= {
        DAG,
        "lakehouse_build",
        "lakehouse_refresh",
        "lakehouse_daily",
        "lakehouse_maintenance",
    }
    log_in(page)
    page.goto(get_settings().airflow_url + "/dags")
    shown_next = 0
    for d in dags:
        card = page.get_by_test_id("dag-card").filter(has=page.get_by_role("link", name=d["dag_id"], exact=True))
        expect(card).to_be_visible()
        expect(card).to_contain_text("Schedule")
        if d["timetable_summary"] == "Asset":  # scheduled on assets: how many of them have news
            expect(card).to_contain_text(re.compile(r"\d+ of \d+ assets updated"))
        elif d["timetable_summary"]:
            expect(card).to_contain_text(d["timetable_summary"])
            expect(card).to_contain_text("Next Run")
            if not d["is_paused"]:
                next_run = d["next_dagrun_logical_date"] or d.get("next_dagrun_run_after")
                assert next_run, d
                expect(card).to_contain_text(next_run[:10])
                shown_next += 1
    assert shown_next, "no scheduled DAG is on"
    page.screenshot(path=str(artifacts / "dags.png"), full_page=True)


def test_trigger_a_dag_wait_for_success_and_read_a_task_log(page: Page, artifacts):
    s = get_settings()
    AirflowClient.from_settings().wait_for_dag(DAG)  # a test stack's DAGs start paused; a run needs it on
    log_in(page)
    page.goto(f"{s.airflow_url}/dags/{DAG}")
    page.get_by_role("button", name="Trigger Dag").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text(f"Trigger Dag - {DAG}")
    page.screenshot(path=str(artifacts / "trigger.png"))
    dialog.get_by_role("button", name="Trigger", exact=True).click()
    expect(dialog).to_be_hidden()

    # The new run, as the UI lists it: the newest manual run of the DAG.
    page.goto(f"{s.airflow_url}/dags/{DAG}/runs")
    run_link = page.get_by_role("link", name=re.compile(r"^manual__")).first
    expect(run_link).to_be_visible()
    run_id = run_link.inner_text().strip()
    deadline = time.monotonic() + 900
    while True:
        page.goto(f"{s.airflow_url}/dags/{DAG}/runs/{run_id}")
        # The run's heading and, beside it, its state badge.
        header = page.get_by_role("heading", name=run_id, exact=True).locator("xpath=..")
        expect(header).to_be_visible()
        state = header.inner_text().replace(run_id, "").strip().split("\n")[0].strip().lower()
        if state == "success":
            break
        assert state not in ("failed", "upstream_failed"), f"run {run_id} {state}"
        assert time.monotonic() < deadline, f"run {run_id} still {state}"
        time.sleep(5)
    page.screenshot(path=str(artifacts / "run_success.png"), full_page=True)

    page.goto(f"{s.airflow_url}/dags/{DAG}/runs/{run_id}/tasks/load_files")
    log = page.get_by_text(re.compile(r"app\.events: \d+ new files .* rows read = ")).first
    expect(log).to_be_visible(timeout=60_000)
    page.screenshot(path=str(artifacts / "task_log.png"), full_page=True)
