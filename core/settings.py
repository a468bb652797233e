"""The one home of the project's settings: ports, hosts, paths, credentials and switches.

Every environment variable the Python code reads is a field below, typed and documented once.
A value comes from the environment if set, else from ``infra/stack.env`` / ``infra/versions.env``
(the files the shell scripts read, in the grammar of ``read_env_file``; with
``LAKEHOUSE_PROFILE=cluster``, ``infra/cluster.env`` over them), else from the field's
default. Nothing is read at import time: ``get_settings()`` looks at the environment when it is
called, so a test's ``monkeypatch.setenv`` or a benchmark's ``override_settings`` takes effect
for every later call. Nothing here connects to anything: importing it is cheap and safe in DAGs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

REPO_DIR = Path(__file__).resolve().parents[1]
INFRA_DIR = REPO_DIR / "infra"

# KEY=VALUE, the value taken literally to the end of the line; one pair of surrounding double or
# single quotes is removed. No expansion, no escapes, no inline comments. `infra/lib.sh` parses the
# same way (a regex, no eval): tests/unit/test_settings.py runs both on the same tricky lines.
_ENV_LINE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)=(.*)")
_QUOTED = re.compile(r"\"(.*)\"|'(.*)'")


class SettingsError(ValueError):
    pass


# The local profile is stack.env alone; any other is infra/<profile>.env over it.
PROFILES = ("local", "cluster")


def parse_env_lines(text: str, origin: str = "<text>") -> dict[str, str]:
    """The grammar of ``infra/*.env``: blank lines and lines starting with ``#`` are skipped;
    every other line is ``KEY=VALUE``."""
    values: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        m = _ENV_LINE.fullmatch(line)
        if not m:
            raise SettingsError(f"{origin}:{number}: not KEY=VALUE: {line!r}")
        key, value = m.groups()
        quoted = _QUOTED.fullmatch(value)
        values[key] = next(g for g in quoted.groups() if g is not None) if quoted else value
    return values


@cache
def read_env_file(path: Path) -> dict[str, str]:
    return parse_env_lines(path.read_text(), str(path))


def _env(name: str, doc: str, default: Any = None) -> Any:
    """A field read from environment variable ``name`` (then the env files, then ``default``)."""
    return field(default=default, metadata={"env": name, "doc": doc})


@dataclass(frozen=True)
class Settings:
    # Where all state lives: databases, Kafka's log, warehouse, logs, reports (default
    # <repo>/.lakehouse, <repo>/.lakehouse-cluster in the cluster profile).
    home: Path = _env("LAKEHOUSE_HOME", "the stack's state: data, warehouse, logs, reports")
    profile: str = _env(
        "LAKEHOUSE_PROFILE", "local (the default), or cluster: infra/cluster.env over stack.env", "local"
    )
    bind_host: str = _env("LAKEHOUSE_BIND_HOST", "the address every service binds to and is reached at")
    pg_host: str = _env("PG_HOST", "PostgreSQL (sources, metastore, Airflow) host")
    pg_port: int = _env("PG_PORT", "PostgreSQL port")
    kafka_port: int = _env("KAFKA_PORT", "Kafka broker port (of node 1; node i's is this plus 2(i-1))")
    kafka_brokers: int = _env("KAFKA_BROKERS", "Kafka nodes (brokers)", 1)
    hdfs_namenode_http_port: int = _env("HDFS_NAMENODE_HTTP_PORT", "HDFS NameNode's HTTP port (WebHDFS)", 9870)
    connect_port: int = _env("CONNECT_PORT", "Kafka Connect REST port")
    ldap_port: int = _env("LDAP_PORT", "OpenLDAP port (the SQL endpoint's logins)")
    thrift_port: int = _env("THRIFT_PORT", "the pipeline's SQL endpoint (Spark Thrift Server, HiveServer2) port")
    serving_port: int = _env("SERVING_PORT", "the read-only SQL endpoint for analysts and BI tools (HiveServer2) port")
    airflow_port: int = _env("AIRFLOW_PORT", "Airflow API server port")
    airflow_users: str = _env(
        "AIRFLOW_USERS", "Airflow's named users and roles, user:role,... (passwords in <home>/secrets)"
    )
    airflow_admin_user: str = _env("AIRFLOW_ADMIN_USER", "the Airflow admin the run command and tests log in as")
    spark_master: str = _env("SPARK_MASTER", "Spark master URL of the jobs and the Thrift server")
    spark_master_webui_port: int = _env("SPARK_MASTER_WEBUI_PORT", "Spark standalone master's web UI port", 8090)
    spark_connect_port: int | None = _env(
        "SPARK_CONNECT_PORT", "Spark Connect on the Thrift server's JVM (empty: not served)"
    )
    alert_webhook: str = _env(
        "LAKEHOUSE_ALERT_WEBHOOK", "quality alerts' webhook URL (empty: alerts are only logged)", ""
    )
    quality_local_max_rows: int = _env(
        "LAKEHOUSE_QUALITY_LOCAL_MAX_ROWS", "tables up to this size are validated in pandas after one fetch", 0
    )
    warehouse_dir: str | None = _env(
        "WAREHOUSE_DIR", "the Delta warehouse: a folder or a Hadoop file system URI (default <home>/warehouse)"
    )
    landing_dir: str | None = _env(
        "LAKEHOUSE_LANDING", "the landing zone: a folder, or any Hadoop file system URI (default <home>/landing)"
    )
    landing_max_line_bytes: int = _env(
        "LAKEHOUSE_LANDING_MAX_LINE_BYTES", "a landed file's line longer than this is quarantined unread", 64 << 20
    )
    spark_conf_dir: Path | None = _env(
        "SPARK_CONF_DIR", "spark-defaults.conf and hive-site.xml (default <home>/conf/spark)"
    )
    bronze_db: str = _env(
        "LAKEHOUSE_BRONZE_DB", "the bronze database (tests and benchmarks land a copy of their own)", "bronze"
    )
    schema_prefix: str = _env("LAKEHOUSE_SCHEMA_PREFIX", "prefix of the silver, gold and quality schemas", "")
    source_db_suffix: str = _env(
        "LAKEHOUSE_SOURCE_DB_SUFFIX", "points the generator and the workload at an uncaptured copy (crm<suffix>)", ""
    )
    gx_root: Path | None = _env("LAKEHOUSE_GX_ROOT", "Great Expectations' project folder (default <home>/gx)")
    models_dir: str | None = _env(
        "LAKEHOUSE_MODELS", "trained Spark ML models: a folder or a Hadoop file system URI (default <home>/models)"
    )
    data_docs_dir: Path | None = _env(
        "LAKEHOUSE_DATA_DOCS", "the offline Data Docs site (default <home>/reports/data_docs)"
    )
    airflow_preload: str = _env(
        "LAKEHOUSE_AIRFLOW_PRELOAD", "modules Airflow's scheduler imports for the task processes it forks", ""
    )
    vacuum_retention_hours: int = _env(
        "LAKEHOUSE_VACUUM_RETENTION_HOURS",
        "files no snapshot needs are kept this long for time travel and the longest reader (at least 168)",
        168,
    )
    airflow_log_retention_days: int = _env(
        "LAKEHOUSE_AIRFLOW_LOG_RETENTION_DAYS", "maintenance deletes Airflow task logs older than this", 30
    )
    gx_history_retention_days: int = _env(
        "LAKEHOUSE_GX_HISTORY_RETENTION_DAYS",
        "maintenance deletes stored GX validations and their Data Docs pages older than this",
        30,
    )
    gx_history_keep_runs: int = _env(
        "LAKEHOUSE_GX_HISTORY_KEEP_RUNS", "each suite's newest validations kept whatever their age", 10
    )
    min_free_disk_gb: float = _env(
        "LAKEHOUSE_MIN_FREE_DISK_GB", "heavy writes (CDC, file loads, dbt) refuse to start with less free disk", 2.0
    )
    slot_lag_alert_mb: int = _env(
        "LAKEHOUSE_SLOT_LAG_ALERT_MB", "a replication slot holding back more WAL than this is alerted on", 1024
    )
    capture_lag_alert_s: float = _env(
        "LAKEHOUSE_CAPTURE_LAG_ALERT_S", "the capture service alerts when it has been behind Kafka this long", 120.0
    )
    gold_merged_target_s: float = _env(
        "LAKEHOUSE_GOLD_MERGED_TARGET_S",
        "with the refresh schedule on, a source change older than this and not yet merged into "
        "gold.fct_orders_merged (through the quality gates) is alerted",
        600.0,
    )

    def __post_init__(self) -> None:
        # Paths defaulting under home are filled here, so every reader sees the same value.
        home_defaults = {
            "warehouse_dir": str(self.home / "warehouse"),
            "landing_dir": str(self.home / "landing"),
            "spark_conf_dir": self.home / "conf" / "spark",
            "gx_root": self.home / "gx",
            "models_dir": str(self.home / "models"),
            "data_docs_dir": self.home / "reports" / "data_docs",
        }
        for name, value in home_defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)

    @property
    def kafka_bootstrap(self) -> str:
        return ",".join(f"{self.bind_host}:{self.kafka_port + 2 * i}" for i in range(self.kafka_brokers))

    @property
    def connect_url(self) -> str:
        return f"http://{self.bind_host}:{self.connect_port}"

    @property
    def airflow_url(self) -> str:
        return f"http://{self.bind_host}:{self.airflow_port}"

    @property
    def spark_connect_url(self) -> str | None:
        return f"sc://{self.bind_host}:{self.spark_connect_port}" if self.spark_connect_port else None

    @property
    def thrift_jdbc_url(self) -> str:
        return f"jdbc:hive2://{self.bind_host}:{self.thrift_port}/default"

    @property
    def serving_jdbc_url(self) -> str:
        return f"jdbc:hive2://{self.bind_host}:{self.serving_port}/gold"

    @property
    def jars_dir(self) -> Path:
        return self.home / "jars"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"


FIELD_VARS: dict[str, str] = {f.name: f.metadata["env"] for f in fields(Settings)}
ENV_VARS: dict[str, str] = {env: name for name, env in FIELD_VARS.items()}


def _convert(name: str, raw: str, annotation: str) -> Any:
    try:
        if annotation.startswith("int"):
            return int(raw) if raw else None
        if annotation.startswith("float"):
            return float(raw) if raw else None
        if annotation.startswith("Path"):
            return Path(raw) if raw else None
        return raw
    except ValueError as e:
        raise SettingsError(f"{name}={raw!r} is not a valid {annotation.split(' ')[0]}") from e


def _from_sources(environ: Mapping[str, str]) -> Settings:
    files = {**read_env_file(INFRA_DIR / "versions.env"), **read_env_file(INFRA_DIR / "stack.env")}
    profile = environ.get("LAKEHOUSE_PROFILE") or "local"
    if profile not in PROFILES:
        raise SettingsError(f"LAKEHOUSE_PROFILE={profile!r}: one of {', '.join(PROFILES)}")
    if profile != "local":
        files.update(read_env_file(INFRA_DIR / f"{profile}.env"))
    values: dict[str, Any] = {}
    for f in fields(Settings):
        env = f.metadata["env"]
        raw = environ.get(env, files.get(env))
        if raw is not None:
            values[f.name] = _convert(env, raw, str(f.type))
    if values.get("home") is None:
        values["home"] = REPO_DIR / (".lakehouse" if profile == "local" else f".lakehouse-{profile}")
    missing = [
        f.metadata["env"]
        for f in fields(Settings)
        if f.name not in values and f.default is None and "None" not in str(f.type)
    ]
    if missing:
        raise SettingsError(f"settings not set in the environment nor in infra/stack.env: {', '.join(missing)}")
    return Settings(**values)


@lru_cache(maxsize=8)
def _cached(snapshot: tuple[tuple[str, str | None], ...]) -> Settings:
    return _from_sources({k: v for k, v in snapshot if v is not None})


def get_settings() -> Settings:
    """The settings as the environment says now (cached per distinct environment)."""
    return _cached(tuple((name, os.environ.get(name)) for name in ENV_VARS))


def settings_env(**overrides: object) -> dict[str, str]:
    """Environment variables that give a child process (dbt, a job) these settings, by field name:
    ``settings_env(bronze_db="bench_bronze")`` -> ``{"LAKEHOUSE_BRONZE_DB": "bench_bronze"}``."""
    unknown = sorted(set(overrides) - set(FIELD_VARS))
    if unknown:
        raise SettingsError(f"no such setting: {', '.join(unknown)}")
    return {FIELD_VARS[k]: "" if v is None else str(v) for k, v in overrides.items()}


def override_settings(**overrides: object) -> Settings:
    """Set settings for this process and the processes it starts (benchmarks' own databases):
    explicit, and independent of which module was imported first."""
    os.environ.update(settings_env(**overrides))
    return get_settings()


def jvm_version(key: str) -> str:
    """A pinned JVM artifact version from infra/versions.env."""
    return read_env_file(INFRA_DIR / "versions.env")[key]
