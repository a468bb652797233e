"""Airflow's named users: a wrong or missing credential is refused, each role can do what it
should and no more, and no generated password appears in the stack's logs or the repository."""

from __future__ import annotations

import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from core.airflow_client import AirflowClient, AirflowError
from core.secrets import airflow_password, airflow_users
from core.settings import REPO_DIR, get_settings

pytestmark = pytest.mark.integration
S = get_settings()


def _client(user: str, password: str | None = None) -> AirflowClient:
    return AirflowClient(S.airflow_url, user, password if password is not None else airflow_password(user))


@pytest.mark.parametrize(
    "user, password, code",
    [("admin", "admin", 401), ("nobody", "x", 401), ("viewer", None, 401), ("admin", "", 400)],
)
def test_a_wrong_or_missing_password_gets_no_token(user, password, code):
    if password is None:  # the admin's password is not the viewer's
        password = airflow_password("admin")
    with pytest.raises(AirflowError, match=f"HTTP {code}"):
        _client(user, password).token()


def test_the_api_refuses_a_request_without_a_token():
    request = urllib.request.Request(f"{S.airflow_url}/api/v2/dags?limit=1")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 401


def test_a_viewer_reads_but_cannot_pause_or_trigger_and_an_operator_can():
    assert airflow_users(S.airflow_users) == {"admin": "admin", "operator": "op", "viewer": "viewer"}
    AirflowClient.from_settings().wait_for_dag("lakehouse_build")  # parsed (a manual DAG: on is harmless)
    viewer, operator = _client("viewer"), _client("operator")
    dag = viewer.dag("lakehouse_build")
    assert dag["dag_id"] == "lakehouse_build"
    with pytest.raises(AirflowError, match="HTTP 403"):
        viewer.set_paused("lakehouse_build", dag["is_paused"])
    with pytest.raises(AirflowError, match="HTTP 403"):
        viewer._request("POST", "/api/v2/dags/lakehouse_build/dagRuns", {"logical_date": None, "conf": {}})
    assert operator.set_paused("lakehouse_build", dag["is_paused"])["is_paused"] == dag["is_paused"]


def _files(root: Path, max_bytes: int = 50 << 20):
    for path in root.rglob("*"):
        if path.is_file() and path.stat().st_size <= max_bytes:
            yield path


def test_no_generated_password_is_in_a_log_or_a_file_of_the_repository():
    passwords = {user: airflow_password(user).encode() for user in airflow_users(S.airflow_users)}
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO_DIR, capture_output=True, text=True, check=True)
    places = [*(REPO_DIR / p for p in tracked.stdout.split()), *_files(S.log_dir)]
    found = [
        f"{user} in {path}"
        for path in places
        if path.is_file()
        for user, secret in passwords.items()
        if secret in path.read_bytes()
    ]
    assert found == []
