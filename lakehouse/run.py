"""The main job: generated sources -> Debezium -> Kafka / landing zone -> bronze -> dbt -> GX -> SQL.

``python -m lakehouse.run [--scale SF]``: generates the operator's source data at a small
scale (CRM and BSS into PostgreSQL, network KPIs and app logs into the landing zone), waits until
Debezium has published every change, runs the ``lakehouse_build`` DAG through Airflow's REST
API, checks that gold holds every CRM customer and reports the model, segments and KPIs (through
the Thrift server), reconciles every
CRM and BSS table with its current state in bronze, key by key, prints the quality results of
the run (every rule of every layer, failing rows against the planted defects), and accounts for every row of
the landed files against the generator's planted defects. Then it switches every schedule on
(the maintenance DAG among them, which runs daily) and leaves the stack always on.
Safe to rerun: the generator syncs only what changed and every step downstream is idempotent.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import time
from pathlib import Path

from core import services
from core.airflow_client import AirflowClient
from core.secrets import airflow_password_path, secret_path
from core.settings import get_settings
from core.sql import thrift_query
from expectations.docs import docs_index
from expectations.results import quarantine_table, results_table
from expectations.run_summary import summary as quality_summary
from expectations.scorecard import scorecard_path
from lakehouse import audit
from lakehouse.gold_report import report as gold_report
from lakehouse.reconcile import reconcile_all
from simulator.generator.cli import default_landing, generate
from simulator.generator.config import GeneratorConfig, GeneratorError
from spark_jobs import erasure, maintenance
from spark_jobs.cdc import changes, positions, source_health
from spark_jobs.cdc.fence import wait_for_sources
from spark_jobs.landing import tables as landing_tables
from spark_jobs.landing.feeds import file_feeds
from spark_jobs.ml.registry import runs_table

DAG_ID = "lakehouse_build"
# Switched on at the end: the stack then follows the sources by itself.
SCHEDULED_DAGS = (
    "lakehouse_files",
    "lakehouse_refresh",
    "lakehouse_daily",
    "lakehouse_maintenance",
    "lakehouse_models",
    "lakehouse_forecast",
)
MODELS_DAG = "lakehouse_models"
TRY_CHANGE = "make try-change"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def landing_accounting(manifest, landing: Path) -> tuple[bool, str]:
    """This run's files in the loader's manifest: every row accounted for, and the quarantined,
    duplicate and failed counts next to what the generator planted."""
    fps = ", ".join(f"'{_sha256(landing / rel)}'" for rel in manifest.files)
    rows = thrift_query(
        f"select feed, count(*), sum(rows_read), sum(rows_landed), sum(rows_quarantined), sum(duplicates_skipped), "
        f"sum(case when status = 'failed' then 1 else 0 end), "
        f"sum(coalesce(rows_superseded, 0)), "
        f"sum(case when rows_read = rows_landed + rows_quarantined + duplicates_skipped "
        f"+ coalesce(rows_superseded, 0) then 0 else 1 end) "
        f"from {landing_tables.manifest_table()} where fingerprint in ({fps}) group by feed order by feed"
    )
    d = manifest.defects
    planted = {
        "app.events": (
            d.get("malformed_json_lines", {}).get("count", 0),
            d.get("duplicate_events", {}).get("count", 0),
            d.get("truncated_gzip", {}).get("count", 0) + d.get("empty_files", {}).get("count", 0),
        )
    }
    ok = len(rows) == len({f["feed"] for f in manifest.files.values()})
    parts = []
    for feed, files, read, landed, bad, dups, failed, superseded, unbalanced in rows:
        ok = ok and unbalanced == 0
        q, du, fa = planted.get(feed, (0, 0, 0))
        parts.append(
            f"{feed} {files} files, {read:,} rows = {landed:,} landed + {bad:,} quarantined (planted {q}) "
            f"+ {dups:,} duplicates (planted {du}) + {superseded:,} superseded; {failed} failed files (planted {fa})"
        )
    return ok, "; ".join(parts)


def capture_health() -> tuple[bool, str]:
    """The replication slots as the consumer last found them, and any retention gap still open."""
    slots = thrift_query(
        f"select source, slot_name, wal_status, lag_bytes, problem from {source_health.HEALTH_TABLE} "
        f"where checked_at = (select max(checked_at) from {source_health.HEALTH_TABLE}) order by source"
    )
    gaps = (
        thrift_query(
            f"select kafka_topic, kafka_partition, max_by(status, at) from {positions.GAPS_TABLE} "
            "group by kafka_topic, kafka_partition"
        )
        if _exists(positions.GAPS_TABLE)
        else []
    )
    open_gaps = [f"{t}[{p}]" for t, p, status in gaps if status == "open"]
    text = "; ".join(
        f"slot {name or '-'} ({src}) {status or 'missing'}, lag {lag or 0:,} B" + (f": {problem}" if problem else "")
        for src, name, status, lag, problem in slots
    )
    text += f"; retention gaps open: {', '.join(open_gaps) if open_gaps else 'none'}"
    return bool(slots) and not open_gaps and not any(r[4] for r in slots), text


def _exists(table: str) -> bool:
    db, name = table.split(".")
    return bool(thrift_query(f"show tables in {db} like '{name}'"))


def train_models(client: AirflowClient) -> tuple[bool, str]:
    """Train and score both models (the weekly DAG, run now); their held-out figures beside the
    rules they replace. At make run's scale the held-out periods hold a handful of terminations
    and faults: benchmarks/bench_ml.py measures the models at scale."""
    client.wait_for_dag(MODELS_DAG)
    run_id = client.trigger(MODELS_DAG)
    state = client.wait_for_run(MODELS_DAG, run_id, timeout_s=1800, progress=lambda line: print("      " + line))
    if state != "success":
        return False, f"{MODELS_DAG} run {run_id} ended {state}: {client.task_states(MODELS_DAG, run_id)}"
    rows = thrift_query(
        "select model, version, metrics, baseline_metrics, promoted from "
        f"(select *, row_number() over (partition by model order by trained_at desc) as n from {runs_table()}) "
        "where n = 1 order by model"
    )
    parts = []
    for model, version, m, b, promoted in rows:
        m, b = _as_map(m), _as_map(b)
        if model == "churn":
            figures = (
                f"ROC AUC {m.get('roc_auc', float('nan')):.2f} (3-day rule {b.get('roc_auc', float('nan')):.2f}), "
                f"top-decile precision {m.get('top_decile_precision', float('nan')):.2f} vs the rule's "
                f"{b.get('precision', float('nan')):.2f} on {m.get('positives', 0):.0f} held-out terminations"
            )
        else:
            figures = (
                f"recall {m.get('recall', float('nan')):.2f} at precision {m.get('precision', float('nan')):.2f} "
                f"(threshold flag {b.get('recall', float('nan')):.2f} / {b.get('precision', float('nan')):.2f}) "
                f"on {m.get('faults', 0):.0f} held-out faults"
            )
        parts.append(f"{model} {version} {'promoted' if promoted else 'kept the current'}: {figures}")
    return bool(rows), "; ".join(parts) + f" (runs in {runs_table()})"


def _as_map(value) -> dict[str, float]:
    """A map<string,double> as the Thrift client returns it (a dict, or its JSON text)."""
    return value if isinstance(value, dict) else json.loads(value) if value else {}


def switch_on(client: AirflowClient) -> list[str]:
    """Every scheduled DAG on; a line per DAG of the lakehouse with its schedule and next run."""
    for dag_id in SCHEDULED_DAGS:
        client.set_paused(dag_id, False)
    lines = []
    for d in sorted(client._request("GET", "/api/v2/dags?limit=100")["dags"], key=lambda d: d["dag_id"]):
        if not d["dag_id"].startswith("lakehouse_"):
            continue
        summary = d.get("timetable_summary")
        when = d.get("timetable_description") or summary or ""
        if not summary:
            when = "by hand (make run)"
        elif summary == "Asset":
            when = "when a bronze table has new data (assets)"
        elif re.fullmatch(r"\d+:\d\d:\d\d", summary):
            h, m, _ = summary.split(":")
            when = f"every {int(h) * 60 + int(m)} minutes"
        elif summary != when:
            when = f"{when} UTC ({summary})"
        state = "paused" if d["is_paused"] else "on"
        upcoming = d.get("next_dagrun_run_after")
        lines.append(f"{d['dag_id']:<22} {when}; {state}" + (f", next {upcoming[:16]}" if upcoming else ""))
    return lines


def _where(s) -> str:
    """Which profile and what it runs on: local mode, or the cluster's master, storage and brokers."""
    if s.profile == "local":
        return f"local profile: Spark {s.spark_master}, warehouse on this disk, Kafka {s.kafka_bootstrap}"
    return (
        f"{s.profile} profile: Spark {s.spark_master} (UI http://{s.bind_host}:{s.spark_master_webui_port}), "
        f"warehouse {s.warehouse_dir}, Kafka {s.kafka_brokers} brokers {s.kafka_bootstrap}"
    )


def run(scale: float, seed: int, schedules_on: bool = True) -> int:
    s = get_settings()
    t0 = time.monotonic()
    cfg = GeneratorConfig(scale=scale, seed=seed)
    manifest = generate(cfg, default_landing(), load_db=True)
    changed = sum(v["upserted"] + v["deleted"] for v in manifest.loads.values())
    print(
        f"[1/10] generator: {sum(manifest.rows.values()):,} rows at scale {scale} "
        f"({changed:,} source rows changed; landing zone {default_landing()})"
    )
    wait_for_sources()
    print("[2/10] debezium: every committed CRM and BSS change is in Kafka")
    client = AirflowClient.from_settings()
    client.wait_for_dag(DAG_ID)
    run_id = client.trigger(DAG_ID)
    print(f"[3/10] airflow: triggered {DAG_ID} run {run_id}")
    state = client.wait_for_run(
        DAG_ID, run_id, timeout_s=900 + 7200 * scale, progress=lambda line: print("      " + line)
    )
    if state != "success":
        print(
            f"ERROR: {DAG_ID} run {run_id} ended {state}; task states: {client.task_states(DAG_ID, run_id)}. "
            f"Task logs: {s.log_dir / 'airflow'} or the Airflow UI",
            file=sys.stderr,
        )
        return 1
    gold_ok, gold_text = gold_report()
    print(f"[4/10] gold (through Thrift): {gold_text}")
    quality_ok, quality_text = quality_summary(run_id, manifest.defects)
    print(f"[5/10] quality (Great Expectations, {results_table()}): {quality_text}")
    diffs = reconcile_all()
    print(
        "[6/10] reconcile: "
        + "; ".join(f"{d.table} {d.source_rows:,} rows {'exact' if d.exact else 'DIFFERS'}" for d in diffs)
    )
    landed_ok, landing_report = landing_accounting(manifest, default_landing())
    print(f"[7/10] landing: {landing_report}")
    capture_ok, capture_text = capture_health()
    print(f"[8/10] capture: {capture_text}")
    models_ok, models_text = train_models(client)
    print(f"[9/10] models: {models_text}")
    schedules = switch_on(client) if schedules_on else ["schedules left off (--no-schedules)"]
    capture = (
        "capture service up" if services.running("capture") else "capture service DOWN: infra/stack.sh start capture"
    )
    print(f"[10/10] always on: {capture}; {', '.join(SCHEDULED_DAGS)} {'switched on' if schedules_on else 'left off'}")
    statements, events = audit.collect()
    print(
        "\nSummary\n"
        f"  time              {time.monotonic() - t0:.0f}s\n"
        f"  runs on           {_where(s)}\n"
        "  source rows       " + ", ".join(f"{k} {v:,}" for k, v in sorted(manifest.rows.items())) + "\n"
        "  defects planted   " + ", ".join(f"{k} {v['count']:,}" for k, v in sorted(manifest.defects.items())) + "\n"
        f"  DAG run           {DAG_ID} {run_id}: {state}\n"
        "  bronze            change logs bronze.<source>_<table>_changes, current state bronze.<source>_<table>, "
        f"dead letters {changes.dead_letter_table()}, batch metrics {changes.BATCHES_TABLE}\n"
        "  silver / gold     silver.stg_* and int_*, silver.snap_user_profile (SCD2); gold.dim_user (360°), "
        "gold.dim_product, gold.fct_* (docs: cd dbt && dbt docs generate)\n"
        f"  files             {', '.join(landing_tables.feed_table(f) for f in file_feeds())}; "
        f"manifest {landing_tables.manifest_table()}, quarantine {landing_tables.quarantine_table()}\n"
        f"  Airflow UI        {s.airflow_url}  (login {s.airflow_admin_user}, "
        f"password in {airflow_password_path(s.airflow_admin_user)})\n"
        f"  SQL for analysts  {s.serving_jdbc_url}  read-only, gold and quality (LDAP logins analyst, governance; "
        f"passwords in {secret_path('sql_<user>')}), e.g. beeline -u {s.serving_jdbc_url} -n analyst "
        f"-w {secret_path('sql_analyst')} -e 'select * from gold.dim_user limit 5'\n"
        f"  SQL for pipeline  {s.thrift_jdbc_url}  (login pipeline: dbt, tools)\n"
        f"  logins            every endpoint asks for one; the stack's generated secrets in {secret_path('')} "
        "(0600; write a file first to use your own)\n"
        "  personal data     phones as tokens (user_key) and 138****1234, names and birth dates encrypted in "
        "silver (pii.decrypt: the pipeline only); erase a person: python -m lakehouse.erase --phone <number> "
        f"--requested-by <who> (audit {erasure.REQUESTS_TABLE})\n"
        f"  audit             {audit.SQL_TABLE} ({statements:,} statements so far: login, time, text hash, tables "
        f"read), {audit.AIRFLOW_TABLE} (+{events} Airflow events), {erasure.REQUESTS_TABLE}: governance only\n"
        f"  predictions       gold.user_churn_scores (daily: score, decile, top features), gold.cell_fault_forecast "
        f"(hourly: outage in the next 1-6 h); runs, figures and drift in {runs_table()}; at scale: "
        "python benchmarks/bench_ml.py\n"
        f"  quality report    {scorecard_path()} (scorecard, trends) and {docs_index()} (Data Docs); "
        f"results {results_table()}, quarantine {quarantine_table()}\n"
        f"  landing zone      {default_landing()} (manifest _manifest.json)\n"
        f"  operations        {changes.BATCHES_TABLE}, {source_health.HEALTH_TABLE}, {positions.GAPS_TABLE}, "
        f"{maintenance.OPS_TABLE}; recover a topic: python -m spark_jobs.cdc.recover <table>\n"
        f"  warehouse         {s.warehouse_dir}\n"
        f"  service logs      {s.log_dir}\n"
        f"  always on         {capture}; the DAGs and their schedules:\n"
        + "".join(f"                      {line}\n" for line in schedules)
        + f"  try it            {TRY_CHANGE}   (changes an order at the source, prints the seconds to gold)\n"
        "  stop everything   make stop" + (f" PROFILE={s.profile}" if s.profile != "local" else "")
    )
    ok = gold_ok and quality_ok and all(d.exact for d in diffs) and landed_ok and capture_ok and models_ok
    return 0 if ok else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--scale", type=float, default=0.002, help="generator scale factor (default 0.002: 200 customers)"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--no-schedules",
        action="store_true",
        help="leave the schedules off: gold stays as this run built it (to compare two stacks' gold)",
    )
    args = parser.parse_args(argv)
    try:
        GeneratorConfig(scale=args.scale, seed=args.seed)
    except GeneratorError as e:
        parser.error(str(e))
    return run(args.scale, args.seed, schedules_on=not args.no_schedules)


if __name__ == "__main__":
    sys.exit(main())
