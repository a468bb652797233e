"""The capture service as the stack runs it (``infra/stack.sh start capture``): a committed source
change reaches the current state with nobody triggering anything, a SIGKILLed child is started
again, the lag and health are in the status file, ``make status`` and ``ops.capture_health``, and
stopping the service stops its children."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid

import pytest

from core.settings import REPO_DIR, get_settings
from core.sql import thrift_query
from lakehouse.capture import HEALTH_TABLE, status_path

from .cdc_helpers import sql

pytestmark = pytest.mark.integration

STACK = str(REPO_DIR / "infra" / "stack.sh")


def _stack(*args: str) -> str:
    r = subprocess.run([STACK, *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    return r.stdout


@pytest.fixture(scope="module")
def capture():
    _stack("start", "capture")
    try:
        yield
    finally:
        _stack("stop", "capture")


def _state() -> dict:
    return json.loads(status_path().read_text())


def _wait(what: str, check, timeout_s: float = 240):
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


# A key of the test's own, far above the generator's, so the test needs no generated sources.
KEY = 990_000_000 + uuid.uuid4().int % 1_000_000


def _city_in_bronze(key: int, city: str) -> bool:
    try:
        rows = thrift_query(f"select city from bronze.crm_customers where customer_id = {key} and not _is_deleted")
    except Exception as e:  # on a fresh stack the first apply has not created it yet
        if "TABLE_OR_VIEW_NOT_FOUND" in str(e):
            return False
        raise
    return rows == [(city,)]


def _set_city(city: str) -> None:
    sql(
        "crm",
        "insert into customers values (%s, '13800000000', 'capture test', 'F', '1990-01-01', %s, 'app', now(), now()) "
        "on conflict (customer_id) do update set city = excluded.city, updated_at = now()",
        (KEY, city),
    )


def test_a_committed_change_reaches_the_current_state_with_nobody_triggering(capture):
    city = f"svc-{uuid.uuid4().hex[:8]}"
    _set_city(city)
    _wait("the change in bronze.crm_customers", lambda: _city_in_bronze(KEY, city))
    _wait("the capture caught up", lambda: _state()["lag"]["records"] == 0, 60)


def test_a_killed_child_is_started_again_and_capture_goes_on(capture):
    before = _state()["children"]["consumer"]
    pid = _wait("the consumer running", lambda: _state()["children"]["consumer"]["pid"])
    os.kill(pid, signal.SIGKILL)
    restarted = _wait(
        "the consumer started again",
        lambda: (s := _state()["children"]["consumer"])["pid"] not in (None, pid) and s,
        120,
    )
    assert restarted["restarts"] == before["restarts"] + 1 and restarted["last_exit"] == -signal.SIGKILL

    city = f"svc-{uuid.uuid4().hex[:8]}"
    _set_city(city)
    _wait("the change after the restart in bronze", lambda: _city_in_bronze(KEY, city))


def test_status_and_the_ops_table_show_the_service(capture):
    out = _stack("status", "capture")
    assert "consumer up" in out and "apply up" in out, out
    # The first probe writes a row at once; the newest one is the running service's.
    consumer_up, lag = thrift_query(f"select consumer_up, lag_records from {HEALTH_TABLE} order by at desc limit 1")[0]
    assert consumer_up is True and lag is not None


def test_stopping_the_service_stops_its_children(capture):
    pids = [c["pid"] for c in _state()["children"].values()]
    assert all(pids)
    _stack("stop", "capture")
    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "down" in _stack("status", "capture")
    assert not get_settings().home.joinpath("run", "capture.pid").exists()
