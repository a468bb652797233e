"""A small client of Airflow 3's REST API: log in, trigger a DAG run, wait for its end."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from core.settings import get_settings

FINISHED = {"success", "failed"}


class AirflowError(RuntimeError):
    pass


@dataclass
class AirflowClient:
    base_url: str
    username: str
    password: str
    _token: str | None = None

    @classmethod
    def from_settings(cls) -> AirflowClient:
        s = get_settings()
        return cls(s.airflow_url, s.airflow_admin_user, s.airflow_admin_password)

    def _request(self, method: str, path: str, body: dict | None = None, auth: bool = True) -> dict:
        headers = {"Content-Type": "application/json"}
        if auth:
            headers["Authorization"] = f"Bearer {self.token()}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.loads(resp.read() or b"{}")
        except urllib.error.HTTPError as e:
            raise AirflowError(f"{method} {path}: HTTP {e.code}: {e.read().decode(errors='replace')[:500]}") from e
        except urllib.error.URLError as e:
            raise AirflowError(
                f"Airflow is not answering at {self.base_url} ({e.reason}). Start it: infra/stack.sh start airflow"
            ) from e

    def token(self) -> str:
        if self._token is None:
            resp = self._request(
                "POST", "/auth/token", {"username": self.username, "password": self.password}, auth=False
            )
            self._token = resp["access_token"]
        return self._token

    def health(self) -> dict:
        return self._request("GET", "/api/v2/monitor/health", auth=False)

    def wait_for_dag(self, dag_id: str, timeout_s: float = 120) -> dict:
        """Until the dag-processor has parsed the DAG (and it has no import error)."""
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                dag = self._request("GET", f"/api/v2/dags/{dag_id}")
                if dag.get("is_paused"):
                    self._request("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
                return dag
            except AirflowError as e:
                if "HTTP 404" not in str(e):
                    raise
            errors = self._request("GET", "/api/v2/importErrors").get("import_errors", [])
            for err in errors:
                if dag_id in err.get("filename", "") or dag_id in err.get("stack_trace", ""):
                    raise AirflowError(f"DAG {dag_id} does not import: {err['stack_trace'][-800:]}")
            if time.monotonic() > deadline:
                raise AirflowError(f"DAG {dag_id} was not parsed within {timeout_s:.0f}s; see the dag-processor log")
            time.sleep(2)

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        run = self._request("POST", f"/api/v2/dags/{dag_id}/dagRuns", {"logical_date": None, "conf": conf or {}})
        return run["dag_run_id"]

    def run_state(self, dag_id: str, run_id: str) -> str:
        return self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        tis = self._request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances")["task_instances"]
        return {ti["task_id"]: ti["state"] for ti in tis}

    def wait_for_run(self, dag_id: str, run_id: str, timeout_s: float = 900, progress=print) -> str:
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            state = self.run_state(dag_id, run_id)
            tasks = self.task_states(dag_id, run_id)
            done = sum(1 for s in tasks.values() if s in ("success", "skipped"))
            line = f"{dag_id} {run_id}: {state}, {done}/{len(tasks)} tasks done"
            if line != last:
                progress(line)
                last = line
            if state in FINISHED:
                return state
            time.sleep(3)
        raise AirflowError(f"{dag_id} run {run_id} did not finish within {timeout_s:.0f}s")
