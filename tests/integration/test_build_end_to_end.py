"""Rows inserted, then updated and deleted, in the CRM database come out of gold right, and a
file dropped in the landing zone lands once, through one real Airflow run (with its quality gates).
Updates of rows already in gold are the known-answer test's incremental build."""

from __future__ import annotations

import gzip
import json
import subprocess
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg2
import pytest
import yaml
from psycopg2.extras import execute_values

from core import pg_roles, pii
from core.airflow_client import AirflowClient
from core.settings import REPO_DIR, get_settings
from core.sql import thrift_query
from simulator.generator.cli import default_landing, generate
from simulator.generator.config import GeneratorConfig
from spark_jobs.cdc.fence import end_offsets, wait_for_sources, wait_for_transaction

pytestmark = pytest.mark.integration
TOPIC = "crm.public.customers"
BASE_ID = 10_000_000 + int(time.time()) % 1_000_000 * 10  # keys no other run has used
# Phones no other run or the generator uses (145 is not among the generator's prefixes).
PHONES = [f"145{(BASE_ID + i) % 10**8:08d}" for i in (1, 2, 3)]


def _in_crm(sql: str, params=None, rows=None) -> int:
    with psycopg2.connect(pg_roles.dsn("crm", "generator")) as conn, conn.cursor() as cur:
        if rows is not None:
            execute_values(cur, sql, rows)
        else:
            cur.execute(sql, params)
        cur.execute("select txid_current()")
        return cur.fetchone()[0]


def _run_build() -> None:
    client = AirflowClient.from_settings()
    client.wait_for_dag("lakehouse_build")
    run_id = client.trigger("lakehouse_build")
    state = client.wait_for_run("lakehouse_build", run_id, timeout_s=900, progress=lambda _: None)
    assert state == "success", client.task_states("lakehouse_build", run_id)


def _gold(ids) -> dict[int, tuple]:
    """Gold's users of these customers, with the name and birth date silver holds encrypted, as
    the pipeline (and only it) decrypts them."""
    rows = thrift_query(
        "select u.customer_id, u.user_id, pii.decrypt(s.full_name_encrypted), u.gender, "
        "pii.decrypt(s.birth_date_encrypted), u.city, u.full_name_masked, u.phone_masked "
        "from gold.dim_user u join silver.int_users s on u.user_key = s.user_key "
        f"where u.customer_id in ({', '.join(map(str, ids))})"
    )
    return {r[0]: tuple(r) for r in rows}


def _user(customer_id: int, phone: str, name: str, gender: str, birth: date, city: str) -> tuple:
    e164 = "+86" + phone
    return (
        customer_id,
        pii.token(e164),
        name,
        gender,
        birth.isoformat(),
        city,
        pii.mask_name(name),
        pii.mask_phone(e164),
    )


def _event(tag: str, n: int) -> str:
    return json.dumps(
        {
            "event_id": f"it-{tag}-{n}",
            "user_phone": "13800001111",
            "device_id": "dev-1",
            "event_type": "login",
            "event_at": "2026-10-20T09:30:00.000+08:00",
            "app_version": "9.1.0",
            "channel": "app",
            "bytes": None,
            "duration_s": None,
        }
    )


@pytest.fixture(scope="module")
def first_run():
    """The sources as `make run` generates them (orders and a month of app activity: a fresh
    stack has none), then three customers inserted in the CRM (phones as people type them), in a
    second transaction one updated twice and another deleted; an app-log file dropped in the
    landing zone (two events, a duplicate, a cut line); then one DAG run."""
    manifest = generate(GeneratorConfig(scale=0.002, seed=42), default_landing(), load_db=True, show_progress=False)
    wait_for_sources()
    folder = Path(get_settings().landing_dir) / "app" / "events"
    made = [p for p in (folder.parent.parent, folder.parent, folder) if not p.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    tag = uuid.uuid4().hex[:8]
    path = folder / f"events_it_{tag}.jsonl.gz"
    path.write_bytes(
        gzip.compress("\n".join([_event(tag, 1), _event(tag, 2), _event(tag, 1), '{"event_id": "cut']).encode() + b"\n")
    )
    ts = datetime(2026, 11, 25, 8, 0, 0)
    p1, p2, p3 = PHONES
    inserted = [
        (BASE_ID + 1, f"+86 {p1[:3]} {p1[3:7]} {p1[7:]}", "王芳", "F", date(1996, 3, 14), "杭州", "app", ts, ts),
        (BASE_ID + 2, f"{p2[:3]}-{p2[3:7]}-{p2[7:]}", "张伟", "M", date(1988, 7, 2), "成都", "store", ts, ts),
        (BASE_ID + 3, p3, "刘洋", "M", date(2001, 12, 30), "深圳", "wechat", ts, ts),
    ]
    try:
        start = end_offsets(TOPIC)
        _in_crm("insert into customers values %s", rows=inserted)
        with psycopg2.connect(pg_roles.dsn("crm", "generator")) as conn, conn.cursor() as cur:
            cur.execute("update customers set city = '上海', updated_at = now() where customer_id = %s", (BASE_ID + 1,))
            cur.execute("update customers set city = '北京' where customer_id = %s", (BASE_ID + 1,))
            cur.execute("delete from customers where customer_id = %s", (BASE_ID + 2,))
            cur.execute("select txid_current()")
            tx = cur.fetchone()[0]
        wait_for_transaction(TOPIC, tx, 3, start)
        _run_build()
        yield inserted, tag, manifest
    finally:
        path.unlink(missing_ok=True)
        for p in reversed(made):
            p.rmdir()


def test_inserts_then_updates_and_deletes_reach_gold(first_run):
    inserted, *_ = first_run
    ids = [r[0] for r in inserted]
    # each change went through bronze in commit order
    ops = thrift_query(
        f"select coalesce(after.customer_id, before.customer_id), op from bronze.crm_customers_changes "
        f"where coalesce(after.customer_id, before.customer_id) in ({', '.join(map(str, ids))}) "
        "order by commit_lsn, lsn"
    )
    assert ops == [(ids[0], "c"), (ids[1], "c"), (ids[2], "c"), (ids[0], "u"), (ids[0], "u"), (ids[1], "d")]
    gold = _gold(ids)
    assert set(gold) == {ids[0], ids[2]}, "the deleted customer must not reach gold"
    # every phone format unified to E.164, whose token is the user ID
    first, third = inserted[0], inserted[2]
    assert gold[ids[0]] == _user(ids[0], PHONES[0], first[2], first[3], first[4], "北京"), (
        "the last update of the transaction wins"
    )
    assert gold[ids[2]] == _user(ids[2], PHONES[2], *third[2:6])


def test_a_file_dropped_in_the_landing_zone_lands_once_through_the_dag(first_run):
    _, tag, _ = first_run
    assert thrift_query(
        "select status, rows_read, rows_landed, rows_quarantined, duplicates_skipped from bronze.landing_files "
        f"where file_path like '%events_it_{tag}.jsonl.gz'"
    ) == [("loaded", 4, 2, 1, 1)]
    assert thrift_query(
        f"select event_date, count(*) from bronze.app_events where event_id like 'it-{tag}-%' group by event_date"
    ) == [("2026-10-20", 2)]
    assert thrift_query(
        f"select line_number, reason from bronze.landing_quarantine where file_path like '%{tag}%'"
    ) == [(4, "not a JSON object")]


STACK = str(REPO_DIR / "infra" / "stack.sh")


def _fct_order_updated_at(order_id: str) -> str | None:
    rows = thrift_query(f"select cast(updated_at as string) from gold.fct_orders where order_id = '{order_id}'")
    return rows[0][0] if rows else None


def test_with_the_stack_always_on_a_source_change_reaches_gold_untriggered(first_run):
    """After the full build: the capture service applies a committed order change and posts the
    bronze table's asset event; ``lakehouse_refresh``, scheduled on it, merges it into
    ``gold.fct_orders``. Nobody triggers anything."""
    client = AirflowClient.from_settings()
    client.wait_for_dag("lakehouse_refresh")  # on (a test stack's DAGs start paused)
    (order_id,) = thrift_query("select order_id from gold.fct_orders order by order_id limit 1")[0]
    with psycopg2.connect(pg_roles.dsn("bss", "generator")) as conn, conn.cursor() as cur:
        stamp = datetime.now().replace(microsecond=0)
        cur.execute("update orders set updated_at = %s where order_id = %s", (stamp, order_id))
    subprocess.run([STACK, "start", "capture"], check=True, capture_output=True, timeout=300)
    try:
        deadline = time.monotonic() + 600
        while _fct_order_updated_at(order_id) != stamp.isoformat(sep=" "):
            assert time.monotonic() < deadline, f"{order_id} not refreshed in gold.fct_orders"
            time.sleep(5)
        runs = client._request("GET", "/api/v2/dags/lakehouse_refresh/dagRuns?limit=20")["dag_runs"]
        assert runs and all(r["run_type"] == "asset_triggered" for r in runs), runs
    finally:
        subprocess.run([STACK, "stop", "capture"], capture_output=True, timeout=300)
        client.set_paused("lakehouse_refresh", True)


def _scheduled_runs_since(dag_id: str, since: datetime) -> list[str]:
    """The DAG's scheduled runs queued since then (one not queued yet counts too)."""
    runs = AirflowClient.from_settings()._request("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=50")["dag_runs"]
    return [
        r["dag_run_id"]
        for r in runs
        if r["run_type"] == "scheduled" and (not r["queued_at"] or datetime.fromisoformat(r["queued_at"]) >= since)
    ]


def _epoch(utc: str) -> int:
    return int(datetime.fromisoformat(utc).replace(tzinfo=UTC).timestamp())


def test_the_models_learn_from_the_generators_truth_and_score_gold_through_their_dag(first_run):
    """Known answers first: every termination in gold is one the generator planted (when, to the
    second), every outage onset in gold.fct_cell_kpi_hourly a planted fault's hour. Then
    ``lakehouse_models`` trains both models on that gold and scores with them: each run records
    the Delta versions it read and its saved model; the scores cover every subscriber open on the
    day scored and every cell-hour; an alert is a probability at the model's threshold."""
    _, _, manifest = first_run
    planted = {pii.token(pii.e164(t["phone"])): _epoch(t["terminated_at"]) for t in manifest.truth["terminations"]}
    in_gold = dict(
        thrift_query(
            "select user_key, unix_seconds(terminated_at) from gold.dim_user where terminated_at >= '2026-10-01'"
        )
    )
    assert planted and in_gold == planted
    faults = {
        (f["cell_id"], datetime.fromisoformat(f["at"]).replace(minute=0) + timedelta(hours=8))
        for f in manifest.truth["cell_faults"]
    }
    onsets = thrift_query(
        "select cell_id, cast(local_hour as string) from (select cell_id, local_hour, is_fault, "
        "lag(is_fault) over (partition by cell_id order by local_hour) as before from gold.fct_cell_kpi_hourly) "
        "where is_fault and not coalesce(before, false)"
    )
    assert faults and {(c, datetime.fromisoformat(h)) for c, h in onsets} == faults

    client = AirflowClient.from_settings()
    started = datetime.now(UTC)
    run_id = client.trigger_and_switch_on("lakehouse_models")  # one run, not the schedule's as well
    state = client.wait_for_run("lakehouse_models", run_id, timeout_s=1200, progress=lambda _: None)
    assert state == "success", client.task_states("lakehouse_models", run_id)
    assert not _scheduled_runs_since("lakehouse_models", started), "switched on, it trained twice"
    runs = thrift_query(
        "select model, inputs, params, artifact from quality.model_runs where trained_at = "
        "(select max(trained_at) from quality.model_runs r where r.model = model_runs.model)"
    )
    assert {r[0] for r in runs} == {"churn", "cell_faults"}
    for model, inputs, params, artifact in runs:
        for table, version in json.loads(inputs).items():
            newest = thrift_query(f"describe history {table} limit 1")[0][0]
            assert 0 <= version <= newest, (model, table)
        assert (Path(artifact) / "metadata").is_dir() and (Path(artifact) / "stages").is_dir()
        if model == "cell_faults":
            threshold = json.loads(params)["threshold"]
    (day,) = thrift_query("select max(as_of_date) from gold.user_churn_scores")[0]
    scored, deciles = thrift_query(
        f"select count(*), count(distinct decile) from gold.user_churn_scores where as_of_date = '{day}'"
    )[0]
    (open_then,) = thrift_query(
        "select count(*) from gold.dim_user where subscriber_id is not null and "
        f"to_date(subscriber_activated_at) <= '{day}' and (terminated_at is null or to_date(terminated_at) > '{day}')"
    )[0]
    assert scored == open_then > 0 and deciles == min(10, scored)
    hours, forecast, wrong = thrift_query(
        "select (select count(*) from gold.fct_cell_kpi_hourly), count(*), "
        f"count_if(is_alert <> (probability_fault >= {threshold})) from gold.cell_fault_forecast"
    )[0]
    assert forecast == hours and wrong == 0


HISTORY = ["dim_user_history", "fct_user_segments_history", "fct_segment_sizes_history", "fct_operations_kpis_history"]
BACKFILL_DAYS = ["2026-10-27"]  # inside the generated month of app activity


def _history_rows() -> dict[str, list[tuple]]:
    """Each history table's rows of the backfilled days, without the build stamp, sorted."""
    days = ", ".join(f"date'{d}'" for d in BACKFILL_DAYS)
    out = {}
    for table in HISTORY:
        columns = [r[0] for r in thrift_query(f"describe gold.{table}") if r[0] and not r[0].startswith("#")]
        kept = [c for c in dict.fromkeys(columns) if c != "_built_at"]
        rows = thrift_query(f"select {', '.join(kept)} from gold.{table} where as_of_date in ({days})")
        out[table] = sorted(tuple("" if v is None else str(v) for v in r) for r in rows)
    return out


def test_a_backfill_of_a_past_day_rebuilds_the_rows_of_its_daily_run(first_run):
    """``lakehouse_daily`` backfilled over a past day writes its history partition, as of that
    day; with that partition gone, backfilling the same day again writes the same rows. Gold's
    day-dependent tables are never left as of a backfilled day (a backfill builds them beside
    gold's)."""
    client = AirflowClient.from_settings()
    days = ", ".join(f"date'{d}'" for d in BACKFILL_DAYS)
    started = datetime.now(UTC)
    # switched on for the backfill, the DAG would start today's run first: not this test's
    client.pass_due_run("lakehouse_daily", "not run: the DAG was switched on for a backfill of past days")
    try:
        for attempt in ("original", "again"):
            backfill = client.backfill("lakehouse_daily", BACKFILL_DAYS[0], BACKFILL_DAYS[-1])
            client.wait_for_dag("lakehouse_daily")  # on: a paused DAG's backfill runs do not start
            states = client.wait_for_backfill("lakehouse_daily", backfill)
            assert states == dict.fromkeys(BACKFILL_DAYS, "success"), (attempt, states)
            # switched on, it also started the latest day's run: paused midway, that would hang
            assert client.wait_until_idle("lakehouse_daily"), "a lakehouse_daily run did not finish"
            client.set_paused("lakehouse_daily", True)
            if attempt == "original":
                original = _history_rows()
                for table in HISTORY:
                    assert {r[-1] for r in original[table]} == set(BACKFILL_DAYS), table
                    thrift_query(f"delete from gold.{table} where as_of_date in ({days})")
                assert all(not rows for rows in _history_rows().values())
        assert _history_rows() == original
        assert not _scheduled_runs_since("lakehouse_daily", started), "a scheduled run started too"
        # the daily run scored each day with the model trained above before building its lists:
        # the churn list is that day's top decile, less closed and unidentified accounts
        listed = thrift_query(
            "select cast(list_date as string), user_key, offer from gold.campaign_lists "
            f"where list_name = 'churn_top_decile' and list_date in ({days})"
        )
        top = thrift_query(
            "select cast(s.as_of_date as string), s.user_key, 'RETENTION-CALL' from gold.user_churn_scores s "
            "join gold.dim_user_history h on s.user_key = h.user_key and s.as_of_date = h.as_of_date "
            f"where s.decile = 1 and s.as_of_date in ({days}) and coalesce(h.subscriber_status, '') <> 'closed' "
            "and s.user_key not like 'bss-%'"
        )
        assert listed and sorted(listed) == sorted(top)
        assert {r[0] for r in listed} == set(BACKFILL_DAYS)
        # as of each day, each user's last login is the last day with a login up to that day,
        # counted from gold's daily activity (the backfilled rows must not see later logins)
        login_days: dict[str, list[str]] = {}
        for user, day in thrift_query(
            "select user_key, cast(activity_date as string) from gold.fct_app_activity_daily "
            "where logins > 0 and user_key <> 'unidentified'"
        ):
            login_days.setdefault(user, []).append(day)
        built = {
            (user, day): (last, since)
            for user, day, last, since in thrift_query(
                "select user_key, cast(as_of_date as string), cast(last_login_date as string), "
                f"days_since_last_login from gold.dim_user_history where as_of_date in ({days})"
            )
        }
        expected = {  # users of the profile (an app user unknown to the CRM has no history row)
            (user, day): max((d for d in login_days.get(user, []) if d <= day), default=None) for user, day in built
        }
        assert {k: last for k, (last, _) in built.items()} == expected
        logged_in = {k: v for k, v in built.items() if v[0] is not None}
        assert logged_in, "no user with a login by the backfilled days"
        for (_, day), (last, since) in logged_in.items():
            assert since == (date.fromisoformat(day) - date.fromisoformat(last)).days
        (gold_as_of,) = thrift_query("select cast(max(as_of_date) as string) from gold.dim_user")[0]
        assert gold_as_of not in BACKFILL_DAYS
    finally:
        client.set_paused("lakehouse_daily", True)


def test_gold_tables_and_columns_carry_their_dbt_descriptions_as_comments(first_run):
    """dbt's persist_docs, as every build of a gold table sets them (what a BI tool shows)."""
    model = yaml.safe_load((REPO_DIR / "dbt" / "models" / "marts" / "dim_user.yml").read_text())["models"][0]
    described = {c["name"]: " ".join(c["description"].split()) for c in model["columns"] if c.get("description")}
    assert described
    extended = {r[0]: r[1] for r in thrift_query("describe table extended gold.dim_user")}
    assert " ".join((extended.get("Comment") or "").split()) == " ".join(model["description"].split())
    comments = {r[0]: " ".join((r[2] or "").split()) for r in thrift_query("describe gold.dim_user")}
    assert {c: comments.get(c) for c in described} == described
    # a view's columns too: gold.fct_orders carries the docs of the table under it
    view = {r[0]: " ".join((r[2] or "").split()) for r in thrift_query("describe gold.fct_orders")}
    table = {r[0]: " ".join((r[2] or "").split()) for r in thrift_query("describe gold.fct_orders_merged")}
    documented = [c for c, text in table.items() if text and not c.startswith("#") and c != "_built_at"]
    assert len(documented) >= 10 and {c: view.get(c) for c in documented} == {c: table[c] for c in documented}
