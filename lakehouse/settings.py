"""One source of truth for ports, hosts, paths and credentials.

Values come from ``infra/stack.env`` and ``infra/versions.env`` (the same files the shell
scripts read); an environment variable of the same name wins. Nothing here connects to
anything: importing it is cheap and safe in DAG files.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

REPO_DIR = Path(__file__).resolve().parents[1]
INFRA_DIR = REPO_DIR / "infra"


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, raw = line.partition("=")
        parts = shlex.split(raw)
        values[key.strip()] = " ".join(parts)
    return values


@dataclass(frozen=True)
class Settings:
    home: Path
    bind_host: str
    pg_host: str
    pg_port: int
    pg_user: str
    pg_password: str
    kafka_port: int
    connect_port: int
    thrift_port: int
    airflow_port: int
    airflow_admin_user: str
    airflow_admin_password: str
    spark_master: str
    alert_webhook: str = ""  # quality alerts' channel (empty: alerts are only logged)
    spark_connect_port: int | None = None  # Spark Connect on the Thrift server's JVM (None: not served)
    quality_local_max_rows: int = 0  # tables up to this size are validated in pandas after one fetch

    @property
    def kafka_bootstrap(self) -> str:
        return f"{self.bind_host}:{self.kafka_port}"

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
    def spark_conf_dir(self) -> Path:
        return self.home / "conf" / "spark"

    @property
    def warehouse_dir(self) -> Path:
        return Path(os.environ.get("WAREHOUSE_DIR", self.home / "warehouse"))

    @property
    def landing_dir(self) -> str:
        """The landing zone: a local folder by default, any Hadoop file system URI (s3a://...) at scale."""
        return os.environ.get("LAKEHOUSE_LANDING", str(self.home / "landing"))

    @property
    def jars_dir(self) -> Path:
        return self.home / "jars"

    @property
    def log_dir(self) -> Path:
        return self.home / "logs"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"

    @property
    def dbt_project_dir(self) -> Path:
        return REPO_DIR / "dbt"

    def source_dsn(self, source: str) -> str:
        """The CRM or BSS database. LAKEHOUSE_SOURCE_DB_SUFFIX points the generator and the
        workload at a copy (e.g. ``crm_bench``) that no connector captures, for benchmarks."""
        return self.pg_dsn(source + os.environ.get("LAKEHOUSE_SOURCE_DB_SUFFIX", ""))

    def pg_dsn(self, database: str) -> str:
        return (
            f"host={self.pg_host} port={self.pg_port} dbname={database} "
            f"user={self.pg_user} password={self.pg_password}"
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    defaults = {**_read_env_file(INFRA_DIR / "versions.env"), **_read_env_file(INFRA_DIR / "stack.env")}

    def value(key: str) -> str:
        return os.environ.get(key, defaults.get(key, ""))

    return Settings(
        home=Path(os.environ.get("LAKEHOUSE_HOME", REPO_DIR / ".lakehouse")),
        bind_host=value("LAKEHOUSE_BIND_HOST"),
        pg_host=value("PG_HOST"),
        pg_port=int(value("PG_PORT")),
        pg_user=value("PG_USER"),
        pg_password=value("PG_PASSWORD"),
        kafka_port=int(value("KAFKA_PORT")),
        connect_port=int(value("CONNECT_PORT")),
        thrift_port=int(value("THRIFT_PORT")),
        airflow_port=int(value("AIRFLOW_PORT")),
        airflow_admin_user=value("AIRFLOW_ADMIN_USER"),
        airflow_admin_password=value("AIRFLOW_ADMIN_PASSWORD"),
        spark_master=value("SPARK_MASTER"),
        alert_webhook=value("LAKEHOUSE_ALERT_WEBHOOK"),
        spark_connect_port=int(value("SPARK_CONNECT_PORT")) if value("SPARK_CONNECT_PORT") else None,
        quality_local_max_rows=int(value("LAKEHOUSE_QUALITY_LOCAL_MAX_ROWS") or 0),
    )


def jvm_version(key: str) -> str:
    """A pinned JVM artifact version from infra/versions.env."""
    return _read_env_file(INFRA_DIR / "versions.env")[key]
